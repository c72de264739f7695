//! L1: decoded partitions in process memory, bounded by bytes, evicted by moka's
//! frequency/recency policy (TinyLFU + LRU), never outliving the tokens they hold.
//!
//! Reads go through a concurrent index (dashmap) and feed moka's policy with one read in
//! [`POLICY_SAMPLE`]: moka records every read it serves in its access-order structures,
//! which at a million entries costs more than the rest of a hit (measured: moka alone
//! 1.6–2.5 µs per hit at 1,000,000 entries vs 0.5–0.7 µs for a hash map, on this 2-core
//! machine; see benches/l1_hit.rs). Sampled recording keeps the policy's frequency picture
//! (hot keys are recorded in proportion to their reads) at a fraction of the cost; moka
//! still owns sizing, admission, eviction and expiry, and every entry it drops (evicted,
//! rejected, expired, replaced, invalidated) leaves the index through its eviction listener.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use moka::notification::RemovalCause;
use moka::Expiry;

use crate::clock::SharedClock;
use crate::model::{Partition, Secret};

/// One read in this many is recorded in moka's policy.
pub(crate) const POLICY_SAMPLE: u32 = 8;

/// Index strings up to this long are kept inline in a [`HotToken`].
pub(crate) const HOT_INDEX_MAX: usize = 120;
/// Partitions with at most this many access tokens get them inline in their L1 entry.
pub(crate) const HOT_TOKENS: usize = 2;

/// An access token copied into its L1 entry, so the hit for a small partition (the common
/// app-token shape: a tenant and a resource or two) reads one allocation instead of
/// chasing the partition's maps. The index is compared in full (inline bytes): exact.
#[derive(Debug)]
pub(crate) struct HotToken {
    index: [u8; HOT_INDEX_MAX],
    index_len: u8,
    pub expires_on: u64,
    pub refresh_on: Option<u64>,
    pub secret: Secret,
}

impl HotToken {
    pub(crate) fn new(
        index: &str,
        expires_on: u64,
        refresh_on: Option<u64>,
        secret: Secret,
    ) -> Option<Self> {
        if index.len() > HOT_INDEX_MAX {
            return None;
        }
        let mut buf = [0u8; HOT_INDEX_MAX];
        buf[..index.len()].copy_from_slice(index.as_bytes());
        Some(HotToken {
            index: buf,
            index_len: index.len() as u8,
            expires_on,
            refresh_on,
            secret,
        })
    }

    fn is(&self, index: &str) -> bool {
        &self.index[..usize::from(self.index_len)] == index.as_bytes()
    }
}

#[derive(Debug)]
pub(crate) struct L1Entry {
    /// Inline copies of the partition's access tokens when it holds at most [`HOT_TOKENS`].
    pub hot: [Option<HotToken>; HOT_TOKENS],
    /// Cache-clock Unix seconds after which the entry holds nothing usable.
    pub valid_until_secs: u64,
    pub weight: u32,
    pub partition: Arc<Partition>,
}

/// What an L1 access-token read found.
#[derive(Debug)]
pub(crate) enum TokenRead {
    /// The token, from the entry's inline copy.
    Hot {
        secret: Secret,
        expires_on: u64,
        refresh_on: Option<u64>,
    },
    /// The partition is cached but keeps no inline copy of this token: look it up there.
    Partition(Arc<Partition>),
    /// The entry is past its tokens' lifetime.
    Expired,
}

struct L1Expiry {
    clock: SharedClock,
}

impl L1Expiry {
    fn ttl(&self, e: &L1Entry) -> Option<Duration> {
        let left = e.valid_until_secs.saturating_sub(self.clock.now_secs());
        Some(self.clock.to_real(Duration::from_secs(left)))
    }
}

impl Expiry<String, Arc<L1Entry>> for L1Expiry {
    fn expire_after_create(&self, _k: &String, v: &Arc<L1Entry>, _at: Instant) -> Option<Duration> {
        self.ttl(v)
    }
    fn expire_after_update(
        &self,
        _k: &String,
        v: &Arc<L1Entry>,
        _at: Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        self.ttl(v)
    }
}

thread_local! {
    static READS: Cell<u32> = const { Cell::new(0) };
}

pub(crate) struct L1 {
    index: Arc<DashMap<String, Arc<L1Entry>, foldhash::fast::RandomState>>,
    policy: moka::sync::Cache<String, Arc<L1Entry>>,
}

impl std::fmt::Debug for L1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L1")
            .field("entries", &self.index.len())
            .finish()
    }
}

impl L1 {
    pub(crate) fn new(max_bytes: u64, clock: SharedClock) -> Self {
        let index: Arc<DashMap<String, Arc<L1Entry>, foldhash::fast::RandomState>> =
            Arc::new(DashMap::default());
        let idx = index.clone();
        let policy = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_k: &String, v: &Arc<L1Entry>| v.weight)
            .expire_after(L1Expiry { clock })
            .eviction_listener(
                move |k: Arc<String>, v: Arc<L1Entry>, _cause: RemovalCause| {
                    // Only if the index still holds this very entry (a replacement must stay).
                    idx.remove_if(k.as_str(), |_, cur| Arc::ptr_eq(cur, &v));
                },
            )
            .build();
        L1 { index, policy }
    }

    /// The partition under `key` if its entry is still valid at `now_secs`; `Err(())` when
    /// the entry is there but past its tokens' lifetime.
    pub(crate) fn get(&self, key: &str, now_secs: u64) -> Option<Result<Arc<Partition>, ()>> {
        let found = {
            let e = self.index.get(key)?;
            if e.valid_until_secs > now_secs {
                Ok(e.partition.clone())
            } else {
                Err(())
            }
        };
        self.record_read(key);
        Some(found)
    }

    /// The access token with `index` in the partition under `key`: from the entry's inline
    /// copy when it has one, else the partition to look in.
    pub(crate) fn get_token(&self, key: &str, index: &str, now_secs: u64) -> Option<TokenRead> {
        let found = {
            let e = self.index.get(key)?;
            if e.valid_until_secs <= now_secs {
                TokenRead::Expired
            } else {
                match e.hot.iter().flatten().find(|h| h.is(index)) {
                    Some(h) => TokenRead::Hot {
                        secret: h.secret.clone(),
                        expires_on: h.expires_on,
                        refresh_on: h.refresh_on,
                    },
                    None => TokenRead::Partition(e.partition.clone()),
                }
            }
        };
        self.record_read(key);
        Some(found)
    }

    fn record_read(&self, key: &str) {
        let n = READS.with(|c| {
            let n = c.get().wrapping_add(1);
            c.set(n);
            n
        });
        if n.is_multiple_of(POLICY_SAMPLE) {
            // Feeds frequency and recency; the value itself comes from the index.
            let _ = self.policy.get(key);
        }
    }

    pub(crate) fn insert(&self, key: String, entry: Arc<L1Entry>) {
        self.index.insert(key.clone(), entry.clone());
        self.policy.insert(key, entry);
    }

    pub(crate) fn invalidate(&self, key: &str) {
        self.index.remove(key);
        self.policy.invalidate(key);
    }

    /// Applies moka's pending work (evictions, expiries) now.
    pub(crate) fn run_pending_tasks(&self) {
        self.policy.run_pending_tasks();
    }

    pub(crate) fn weighted_size(&self) -> u64 {
        self.policy.weighted_size()
    }

    pub(crate) fn entry_count(&self) -> u64 {
        self.policy.entry_count()
    }
}
