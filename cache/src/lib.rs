//! tokencache: an OAuth token cache with MSAL semantics (L1 in memory, L2 distributed).

pub mod clock;
pub mod l2;

pub use clock::{Clock, ManualClock, ScaledClock, SharedClock, SystemClock};
pub use l2::{L2Error, L2Op, L2Store, L2Usage};
