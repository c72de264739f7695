//! Memory samples: L1 bytes and entries (cache stats), L2 bytes and keys (the store's
//! usage), and the process's resident set size.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokencache::{Clock, TokenCache};

/// One sample (stable field names of report.json `memory.samples`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MemSample {
    pub t_virtual_s: f64,
    pub t_wall_s: f64,
    pub l1_bytes: u64,
    pub l1_entries: u64,
    pub l2_bytes: u64,
    pub l2_keys: u64,
    pub rss_bytes: u64,
}

/// One workload's populate: memory before and after it (`memory.populate` in report.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulateStep {
    pub workload: String,
    pub flow: String,
    pub acquisitions: u64,
    pub failed: u64,
    pub before: MemSample,
    pub after: MemSample,
}

pub async fn sample(
    cache: &TokenCache,
    start: Instant,
    start_v: u64,
    clock: &dyn Clock,
) -> MemSample {
    let stats = cache.stats();
    let l2 = cache.l2_usage().await.unwrap_or_default();
    MemSample {
        t_virtual_s: clock.now_millis().saturating_sub(start_v) as f64 / 1000.0,
        t_wall_s: start.elapsed().as_secs_f64(),
        l1_bytes: stats.l1_bytes,
        l1_entries: stats.l1_entries,
        l2_bytes: l2.bytes,
        l2_keys: l2.keys,
        rss_bytes: memory_stats::memory_stats().map_or(0, |m| m.physical_mem as u64),
    }
}
