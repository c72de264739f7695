//! Metric and attribute names (stable: dashboards, tests and the load generator use these
//! constants), and the instruments the cache records through the `opentelemetry` API crate.
//! Installing an SDK and exporters is the binary's business, never this crate's.

use opentelemetry::metrics::{Counter, Meter};
use opentelemetry::KeyValue;

pub const ACQUIRE_DURATION: &str = "tokencache.acquire.duration";
pub const CACHE_DURATION: &str = "tokencache.cache.duration";
pub const HTTP_DURATION: &str = "tokencache.http.duration";
pub const ACQUISITIONS: &str = "tokencache.acquisitions";
pub const IDP_REQUESTS: &str = "tokencache.idp.requests";
pub const L2_OPERATIONS: &str = "tokencache.l2.operations";
pub const L1_SIZE: &str = "tokencache.l1.size";
pub const L2_SIZE: &str = "tokencache.l2.size";
pub const L1_ENTRIES: &str = "tokencache.l1.entries";
pub const L2_KEYS: &str = "tokencache.l2.keys";
pub const PROCESS_MEMORY: &str = "process.memory.usage";
/// Load generator: iterations that failed (counter, by `loadgen.workload`).
pub const FAILURES: &str = "loadgen.failures";

/// Bucket boundaries (seconds) of the three duration histograms: 1 µs to 10 s, 1-2-5 per
/// decade, so Prometheus quantiles stay within a factor of 2.5 from cache hits to slow IdP calls.
pub const DURATION_BUCKETS: [f64; 22] = [
    1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1,
    0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];

/// Capacity figures the load generator derives from its memory samples (gauges, By):
/// bytes per partition by `tokencache.flow`, and memory growth per 1,000 partitions.
pub const MEMORY_BYTES_PER_PARTITION: &str = "loadgen.memory.bytes_per_partition";
pub const MEMORY_GROWTH_PER_1000_PARTITIONS: &str = "loadgen.memory.growth_per_1000_partitions";

pub mod attr {
    pub const TOKEN_SOURCE: &str = "tokencache.token_source";
    pub const CACHE_LEVEL: &str = "tokencache.cache_level";
    pub const REFRESH_REASON: &str = "tokencache.refresh_reason";
    pub const FLOW: &str = "tokencache.flow";
    pub const L2_OPERATION: &str = "tokencache.l2.operation";
    pub const L2_OUTCOME: &str = "tokencache.l2.outcome";
    pub const HTTP_STATUS: &str = "http.response.status_code";
    pub const GRANT_TYPE: &str = "oauth.grant_type";
    pub const SCENARIO: &str = "loadgen.scenario";
    pub const WORKLOAD: &str = "loadgen.workload";
    /// Resource attribute: the id of one run (also `run.id` in report.json).
    pub const RUN_ID: &str = "loadgen.run.id";
}

/// Span names (stable).
pub mod span {
    pub const ACQUIRE: &str = "tokencache.acquire";
    pub const L1_READ: &str = "tokencache.l1.read";
    pub const L2_READ: &str = "tokencache.l2.read";
    pub const L2_WRITE: &str = "tokencache.l2.write";
    pub const CODEC: &str = "tokencache.codec";
    pub const HTTP: &str = "tokencache.http";
}

/// `tokencache.l2.outcome` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L2Outcome {
    Hit,
    Miss,
    Ok,
    Error,
    Timeout,
}

impl L2Outcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            L2Outcome::Hit => "hit",
            L2Outcome::Miss => "miss",
            L2Outcome::Ok => "ok",
            L2Outcome::Error => "error",
            L2Outcome::Timeout => "timeout",
        }
    }
}

/// The cache's own instruments.
#[derive(Debug, Clone)]
pub(crate) struct CacheInstruments {
    l2_operations: Counter<u64>,
    /// `CacheOptions::metric_attributes`, added to every recording.
    attrs: Vec<KeyValue>,
}

impl CacheInstruments {
    pub(crate) fn new(meter: &Meter, attrs: Vec<KeyValue>) -> Self {
        CacheInstruments {
            attrs,
            l2_operations: meter
                .u64_counter(L2_OPERATIONS)
                .with_description("L2 operations by operation and outcome")
                .build(),
        }
    }

    pub(crate) fn l2(&self, op: crate::L2Op, outcome: L2Outcome) {
        let mut kv = Vec::with_capacity(2 + self.attrs.len());
        kv.push(KeyValue::new(attr::L2_OPERATION, op.as_str()));
        kv.push(KeyValue::new(attr::L2_OUTCOME, outcome.as_str()));
        kv.extend(self.attrs.iter().cloned());
        self.l2_operations.add(1, &kv);
    }
}
