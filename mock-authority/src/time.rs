//! The one time source of the mock: every token timestamp and expiry decision reads it.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock milliseconds since the Unix epoch, possibly virtual (the load generator runs
/// the mock in virtual time by supplying its own implementation).
pub trait TimeSource: Send + Sync + Debug {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;

    /// Whole seconds since the Unix epoch.
    fn now_secs(&self) -> u64 {
        self.now_millis() / 1000
    }
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemTimeSource;

impl TimeSource for SystemTimeSource {
    fn now_millis(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug)]
pub struct ManualTimeSource(AtomicU64);

impl ManualTimeSource {
    /// Starts at `millis` since the epoch.
    pub fn new(millis: u64) -> Self {
        Self(AtomicU64::new(millis))
    }

    /// Moves the clock forward.
    pub fn advance_millis(&self, by: u64) {
        self.0.fetch_add(by, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set_millis(&self, to: u64) {
        self.0.store(to, Ordering::SeqCst);
    }
}

impl TimeSource for ManualTimeSource {
    fn now_millis(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
