//! Coordination between concurrent acquisitions: single flight (N concurrent misses for one
//! key make one token request), Retry-After windows per key, and at most one background
//! (proactive) refresh per key at a time.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

type Cell<T, E> = Arc<OnceCell<Result<T, E>>>;

/// Single flight: the first caller for a key runs the work; callers arriving while it runs
/// wait for and share its result.
#[derive(Debug)]
pub(crate) struct Flights<T, E> {
    running: Mutex<HashMap<String, Cell<T, E>>>,
}

impl<T, E> Default for Flights<T, E> {
    fn default() -> Self {
        Flights {
            running: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Clone, E: Clone> Flights<T, E> {
    /// Runs `work` unless a flight for `key` is running; returns the result and whether this
    /// caller led the flight.
    pub(crate) async fn run<F, Fut>(&self, key: &str, work: F) -> (Result<T, E>, bool)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let cell = {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            running
                .entry(key.to_owned())
                .or_insert_with(|| Arc::new(OnceCell::new()))
                .clone()
        };
        let mut led = false;
        let result = cell
            .get_or_init(|| {
                led = true;
                work()
            })
            .await
            .clone();
        if led {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            if running.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                running.remove(key);
            }
        }
        (result, led)
    }

    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.running.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// Retry-After windows: key -> cache-clock Unix ms until which requests must not be sent.
#[derive(Debug, Default)]
pub(crate) struct Throttles {
    until: Mutex<HashMap<String, u64>>,
}

impl Throttles {
    pub(crate) fn set(&self, key: &str, until_ms: u64) {
        let mut m = self.until.lock().unwrap_or_else(|p| p.into_inner());
        let e = m.entry(key.to_owned()).or_insert(0);
        *e = (*e).max(until_ms);
    }

    /// Milliseconds left in the key's window, if any.
    pub(crate) fn remaining(&self, key: &str, now_ms: u64) -> Option<u64> {
        let mut m = self.until.lock().unwrap_or_else(|p| p.into_inner());
        match m.get(key) {
            Some(&until) if until > now_ms => Some(until - now_ms),
            Some(_) => {
                m.remove(key);
                None
            }
            None => None,
        }
    }
}

/// Keys with a background refresh running.
#[derive(Debug, Default)]
pub(crate) struct Refreshing {
    keys: Mutex<HashSet<String>>,
}

impl Refreshing {
    /// True when the caller should start the refresh (nobody else is running one).
    pub(crate) fn begin(&self, key: &str) -> bool {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned())
    }

    pub(crate) fn end(&self, key: &str) {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_one_run() {
        let flights = Arc::new(Flights::<u32, String>::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let (f, r, g) = (flights.clone(), runs.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                f.run("k", || async move {
                    r.fetch_add(1, Ordering::SeqCst);
                    g.notified().await;
                    Ok(7)
                })
                .await
            }));
        }
        while flights.in_flight() == 0 || runs.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        gate.notify_one();
        let mut leaders = 0;
        for t in tasks {
            let (r, led) = t.await.unwrap();
            assert_eq!(r, Ok(7));
            leaders += usize::from(led);
        }
        assert_eq!((runs.load(Ordering::SeqCst), leaders), (1, 1));
        assert_eq!(flights.in_flight(), 0);
    }

    #[test]
    fn throttle_windows_expire_and_only_extend() {
        let t = Throttles::default();
        t.set("k", 1_000);
        t.set("k", 500);
        assert_eq!(t.remaining("k", 400), Some(600));
        assert_eq!(t.remaining("k", 1_000), None);
        assert_eq!(t.remaining("other", 0), None);
    }
}
