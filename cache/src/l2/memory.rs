//! `memory`: the embedded L2, a process-local map with per-key expiry on the cache's clock.
//!
//! It stands in for Redis when no server is wanted (the quickstart) and keeps exact byte and
//! key counts for memory sampling. Expiry follows the clock it is given: the store's time
//! (like a Redis server's), which is real time unless a test hands it a [`crate::ManualClock`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::{L2Error, L2Store, L2Usage};
use crate::clock::SharedClock;

#[derive(Clone)]
struct Slot {
    value: Bytes,
    /// Unix milliseconds; `u64::MAX` = never.
    expires_at: Arc<AtomicU64>,
}

/// Process-local L2 store with exact usage accounting.
#[derive(Clone)]
pub struct MemoryStore {
    map: moka::sync::Cache<String, Slot>,
    clock: SharedClock,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("keys", &self.map.entry_count())
            .finish()
    }
}

fn deadline(now: u64, ttl: Option<Duration>) -> u64 {
    match ttl {
        Some(ttl) => now.saturating_add(ttl.as_millis() as u64),
        None => u64::MAX,
    }
}

impl MemoryStore {
    pub fn new(clock: SharedClock) -> Self {
        MemoryStore {
            map: moka::sync::Cache::builder()
                .weigher(|k: &String, v: &Slot| {
                    u32::try_from(k.len() + v.value.len()).unwrap_or(u32::MAX)
                })
                .build(),
            clock,
        }
    }

    /// Drops expired keys. Reads already ignore them; this reclaims their memory.
    pub fn purge_expired(&self) {
        let now = self.clock.now_millis();
        // invalidate_entries_if needs support_invalidation_closures; iterate instead.
        let expired: Vec<Arc<String>> = self
            .map
            .iter()
            .filter(|(_, slot)| slot.expires_at.load(Ordering::Relaxed) <= now)
            .map(|(k, _)| k)
            .collect();
        for key in expired {
            self.map.invalidate(key.as_str());
        }
        self.map.run_pending_tasks();
    }
}

#[async_trait]
impl L2Store for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, key: &str, slide: Option<Duration>) -> Result<Option<Bytes>, L2Error> {
        let Some(slot) = self.map.get(key) else {
            return Ok(None);
        };
        let now = self.clock.now_millis();
        if slot.expires_at.load(Ordering::Relaxed) <= now {
            self.map.invalidate(key);
            return Ok(None);
        }
        if let Some(ttl) = slide {
            slot.expires_at
                .store(deadline(now, Some(ttl)), Ordering::Relaxed);
        }
        Ok(Some(slot.value))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), L2Error> {
        let expires_at = deadline(self.clock.now_millis(), ttl);
        self.map.insert(
            key.to_owned(),
            Slot {
                value,
                expires_at: Arc::new(AtomicU64::new(expires_at)),
            },
        );
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<(), L2Error> {
        self.map.invalidate(key);
        Ok(())
    }

    async fn usage(&self, prefix: &str) -> Result<L2Usage, L2Error> {
        self.purge_expired();
        let mut usage = L2Usage {
            method: "exact",
            ..L2Usage::default()
        };
        for (k, slot) in self.map.iter() {
            if k.starts_with(prefix) {
                usage.keys += 1;
                usage.bytes += (k.len() + slot.value.len()) as u64;
            }
        }
        Ok(usage)
    }

    async fn list_keys(&self, prefix: &str, limit: usize) -> Result<Vec<String>, L2Error> {
        let now = self.clock.now_millis();
        Ok(self
            .map
            .iter()
            .filter(|(k, slot)| {
                k.starts_with(prefix) && slot.expires_at.load(Ordering::Relaxed) > now
            })
            .map(|(k, _)| k.as_str().to_owned())
            .take(limit)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[tokio::test]
    async fn expiry_follows_the_cache_clock_and_sliding_extends_it() {
        let clock = Arc::new(ManualClock::new(0));
        let store = MemoryStore::new(clock.clone());
        store
            .set(
                "a",
                Bytes::from_static(b"xyz"),
                Some(Duration::from_secs(10)),
            )
            .await
            .unwrap();
        store
            .set("b", Bytes::from_static(b"q"), None)
            .await
            .unwrap();
        clock.advance(Duration::from_secs(9));
        // Slide a's expiry to now + 10 s.
        assert!(store
            .get("a", Some(Duration::from_secs(10)))
            .await
            .unwrap()
            .is_some());
        clock.advance(Duration::from_secs(9));
        assert!(store.get("a", None).await.unwrap().is_some());
        clock.advance(Duration::from_secs(2));
        assert!(store.get("a", None).await.unwrap().is_none());
        assert_eq!(
            store.usage("").await.unwrap(),
            L2Usage {
                keys: 1,
                bytes: 2,
                method: "exact",
                server_bytes: None
            }
        );
        store.remove("b").await.unwrap();
        store.remove("missing").await.unwrap();
        assert_eq!(store.usage("").await.unwrap().keys, 0);
    }
}
