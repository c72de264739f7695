//! tokencache: an OAuth token cache with MSAL semantics (L1 in memory, L2 distributed).
//!
//! - [`model`]: one partition of MSAL's unified cache, its JSON codec and O(1) indexes.
//! - [`TokenCache`]: L1 (moka, decoded partitions, bounded by bytes) → L2 ([`L2Store`]).
//! - [`envelope`]: how partitions are stored as bytes (AES-256-GCM, key rotation).
//! - [`Clock`]: the one time source for validity decisions.

pub mod cache;
pub mod client;
pub mod clock;
pub mod config;
pub mod envelope;
mod l1;
pub mod l2;
pub mod metrics;
pub mod model;
pub mod options;
mod stats;
mod writebehind;

pub use cache::{CacheError, CacheLevel, L1Token, Lookup, TokenCache};
pub use clock::{Clock, ManualClock, ScaledClock, SharedClock, SystemClock};
pub use envelope::{EncryptionKey, Envelope, EnvelopeHeader, KeyError};
pub use l2::{L2Error, L2Op, L2Store, L2Usage};
pub use model::{DecodeError, Partition};
pub use options::{CacheOptions, FailurePolicy, L1Options, L2Failure, L2FailureHook};
pub use stats::CacheStats;
