//! The one source of wall-clock time for token validity decisions.
//!
//! Every "is this token expired?" question goes through a [`Clock`], so tests can use a
//! [`ManualClock`] and the load generator can run in virtual time with a [`ScaledClock`].
//! Latency is measured elsewhere with a monotonic clock ([`crate::time`]).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Wall-clock time in Unix milliseconds.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    fn now_millis(&self) -> u64;

    /// Unix seconds, the unit of MSAL's cache timestamps.
    fn now_secs(&self) -> u64 {
        self.now_millis() / 1000
    }

    /// Converts a virtual duration into the real time it takes on this clock (identity for
    /// real-time clocks). Used to schedule timers and server-side TTLs.
    fn to_real(&self, virtual_duration: Duration) -> Duration {
        virtual_duration
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

fn system_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        system_millis()
    }
}

/// A clock that moves only when told to. For tests.
#[derive(Debug)]
pub struct ManualClock {
    millis: AtomicU64,
}

impl ManualClock {
    pub fn new(start_millis: u64) -> Self {
        ManualClock {
            millis: AtomicU64::new(start_millis),
        }
    }

    /// Starts at the current system time.
    pub fn at_system_now() -> Self {
        Self::new(system_millis())
    }

    pub fn advance(&self, by: Duration) {
        self.millis
            .fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn set_millis(&self, millis: u64) {
        self.millis.store(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> u64 {
        self.millis.load(Ordering::SeqCst)
    }
}

/// Virtual time running `speed` times faster than real time from a starting point.
#[derive(Debug, Clone)]
pub struct ScaledClock {
    origin: Instant,
    origin_millis: u64,
    speed: f64,
}

impl ScaledClock {
    /// `speed` is virtual seconds per wall second; values ≤ 0 are treated as 1.
    pub fn new(start_millis: u64, speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        ScaledClock {
            origin: Instant::now(),
            origin_millis: start_millis,
            speed,
        }
    }

    pub fn starting_now(speed: f64) -> Self {
        Self::new(system_millis(), speed)
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }
}

impl Clock for ScaledClock {
    fn now_millis(&self) -> u64 {
        let elapsed = self.origin.elapsed().as_secs_f64() * self.speed * 1000.0;
        self.origin_millis + elapsed as u64
    }

    fn to_real(&self, virtual_duration: Duration) -> Duration {
        virtual_duration.div_f64(self.speed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(1_000_000);
        assert_eq!(c.now_secs(), 1000);
        c.advance(Duration::from_secs(301));
        assert_eq!(c.now_secs(), 1301);
        c.set_millis(5_000);
        assert_eq!(c.now_millis(), 5_000);
    }

    #[test]
    fn scaled_clock_runs_faster_and_scales_durations() {
        let c = ScaledClock::new(0, 1000.0);
        std::thread::sleep(Duration::from_millis(20));
        // 20 ms of wall time is at least 20 s of virtual time at speed 1000.
        assert!(c.now_millis() >= 20_000, "{}", c.now_millis());
        assert_eq!(
            c.to_real(Duration::from_secs(60)),
            Duration::from_millis(60)
        );
        assert_eq!(ScaledClock::new(0, -3.0).speed(), 1.0);
    }
}
