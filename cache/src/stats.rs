//! In-process counters of the cache (cheap atomics), readable at any time as a snapshot.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;

/// A counter striped over cache lines, for the one incremented on every hit: threads on
/// different cores add to different lines instead of bouncing one between them.
#[derive(Debug, Default)]
pub(crate) struct StripedCounter {
    stripes: [Padded; STRIPES],
}

const STRIPES: usize = 16;

#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

thread_local! {
    static STRIPE: usize = {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        NEXT.fetch_add(1, Relaxed) as usize % STRIPES
    };
}

impl StripedCounter {
    pub(crate) fn inc(&self) {
        let i = STRIPE.with(|s| *s);
        self.stripes[i].0.fetch_add(1, Relaxed);
    }

    pub(crate) fn sum(&self) -> u64 {
        self.stripes.iter().map(|p| p.0.load(Relaxed)).sum()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub l1_hits: StripedCounter,
    pub l1_misses: AtomicU64,
    pub l2_reads: AtomicU64,
    pub l2_hits: AtomicU64,
    pub l2_misses: AtomicU64,
    pub l2_writes: AtomicU64,
    pub l2_removes: AtomicU64,
    pub l2_errors: AtomicU64,
    pub l2_timeouts: AtomicU64,
    pub l2_lost_writes: AtomicU64,
    pub decode_errors: AtomicU64,
}

impl Counters {
    pub(crate) fn inc(c: &AtomicU64) {
        c.fetch_add(1, Relaxed);
    }
}

/// A snapshot of the cache's counters and sizes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    pub l1_hits: u64,
    pub l1_misses: u64,
    /// Bytes held by L1 (sum of serialized partition sizes).
    pub l1_bytes: u64,
    pub l1_entries: u64,
    pub l2_reads: u64,
    pub l2_hits: u64,
    pub l2_misses: u64,
    pub l2_writes: u64,
    pub l2_removes: u64,
    /// Failed L2 operations (timeouts included).
    pub l2_errors: u64,
    pub l2_timeouts: u64,
    /// L2 writes given up on after the failure policy ran out (L1 still held the data).
    pub l2_lost_writes: u64,
    /// Blobs that were corrupt, truncated or encrypted with an unknown or wrong key.
    pub decode_errors: u64,
    /// Writes queued by write-behind and not yet written.
    pub l2_pending_writes: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> CacheStats {
        CacheStats {
            l1_hits: self.l1_hits.sum(),
            l1_misses: self.l1_misses.load(Relaxed),
            l2_reads: self.l2_reads.load(Relaxed),
            l2_hits: self.l2_hits.load(Relaxed),
            l2_misses: self.l2_misses.load(Relaxed),
            l2_writes: self.l2_writes.load(Relaxed),
            l2_removes: self.l2_removes.load(Relaxed),
            l2_errors: self.l2_errors.load(Relaxed),
            l2_timeouts: self.l2_timeouts.load(Relaxed),
            l2_lost_writes: self.l2_lost_writes.load(Relaxed),
            decode_errors: self.decode_errors.load(Relaxed),
            ..CacheStats::default()
        }
    }
}
