//! The run engine: build the clock, authority, cache and clients; populate; drive the
//! workloads; measure.

mod abort;
pub mod authority;
mod drivers;
pub mod engine;
pub mod flows;
pub mod memory;
pub mod pick;
mod progress;
pub mod schedule;
mod session;
mod setup;
mod signin;
pub mod stats;
pub mod timeline;

pub use engine::{run, run_with, Interval, RunOutput};
