//! Memory samples: L1 bytes and entries (cache stats), L2 bytes and keys (the store's
//! usage probe: exact for the memory store, `MEMORY USAGE` over a sample of keys for Redis,
//! the table's relation size for PostgreSQL), the L2 server's own size when it has one
//! (Redis `used_memory`, PostgreSQL `pg_total_relation_size`), and the process's resident
//! set size.

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
    /// The L2 server's size (whole server / table, not only this run's keys): compare with
    /// the baseline taken before the run wrote anything (report `memory.l2_server`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l2_server_bytes: Option<u64>,
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
        l2_server_bytes: l2.server_bytes,
    }
}

/// How L2 bytes are measured and the server's size before the run wrote anything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct L2Baseline {
    /// [`tokencache::L2Usage::METHODS`], or `unavailable` when the probe failed.
    pub method: String,
    pub server_bytes: Option<u64>,
}

/// Probes the L2 store once before the run (populate included) writes.
pub async fn baseline(cache: &TokenCache) -> L2Baseline {
    match cache.l2_usage().await {
        Ok(u) => L2Baseline {
            method: u.method.to_owned(),
            server_bytes: u.server_bytes,
        },
        Err(_) => L2Baseline {
            method: "unavailable".into(),
            server_bytes: None,
        },
    }
}
