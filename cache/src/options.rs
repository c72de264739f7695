//! Typed, validated options of a [`crate::TokenCache`]. Builders and parsers (the load
//! generator's YAML, [`crate::config`]) produce these; the cache never sees raw input.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::envelope::EncryptionKey;
use crate::l2::L2Error;

/// What an L2 failure means for the operation that met it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// Retry once; then a read is a miss and a write is reported lost (L1 keeps the data).
    #[default]
    RetryThenMiss,
    /// No retry: a read is a miss, a write is reported lost.
    Miss,
    /// No retry: the operation (and so the acquisition) fails.
    Fail,
}

impl FailurePolicy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "retry_then_miss" => Some(Self::RetryThenMiss),
            "miss" => Some(Self::Miss),
            "fail" => Some(Self::Fail),
            _ => None,
        }
    }
    pub const NAMES: [&'static str; 3] = ["retry_then_miss", "miss", "fail"];
}

/// An L2 failure, as handed to the `on_l2_failure` callback.
#[derive(Debug)]
pub struct L2Failure<'a> {
    pub store: &'static str,
    /// The partition key (never a token: OBO partitions are hashes).
    pub partition_key: &'a str,
    pub error: &'a L2Error,
    /// Whether the policy will retry after this failure.
    pub will_retry: bool,
}

/// Callback for L2 failures (Microsoft.Identity.Web's `OnL2CacheFailure`, but it cannot
/// swallow: failures are always counted and traced too).
pub type L2FailureHook = Arc<dyn Fn(&L2Failure<'_>) + Send + Sync>;

/// L1 options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L1Options {
    /// Upper bound on the sum of serialized partition sizes held. Default 500 MiB.
    pub max_bytes: u64,
}

impl Default for L1Options {
    fn default() -> Self {
        L1Options {
            max_bytes: 500 * 1024 * 1024,
        }
    }
}

/// Options of a token cache. Durations are in the cache clock's (possibly virtual) time.
#[derive(Clone)]
pub struct CacheOptions {
    /// `None` disables L1.
    pub l1: Option<L1Options>,
    /// Prefix of every L2 key (`{namespace}:{partition}`); empty = none.
    pub namespace: String,
    /// First key encrypts, all decrypt. Empty = no encryption.
    pub encryption_keys: Vec<EncryptionKey>,
    /// Each L2 read resets the key's time to live to this.
    pub sliding_expiration: Option<Duration>,
    /// A written partition lives at most this long in L2 from its last write.
    pub absolute_expiration: Option<Duration>,
    /// L2 lifetime of partitions holding a refresh token (MSAL would keep them forever).
    pub refresh_token_retention: Duration,
    /// Write L2 in the background (flushed by `flush` / `shutdown`).
    pub async_write: bool,
    /// Per L2 operation.
    pub timeout: Duration,
    pub on_failure: FailurePolicy,
    /// Per-partition lock around read-modify-write (MSAL's default); `false` = optimistic,
    /// last writer wins.
    pub synchronization: bool,
    pub on_l2_failure: Option<L2FailureHook>,
    /// Attributes added to every metric the cache records (e.g. `loadgen.scenario`), so a
    /// host can tell its caches apart on one meter. Never put a secret here.
    pub metric_attributes: Vec<opentelemetry::KeyValue>,
    /// Register the `tokencache.l1.size` / `tokencache.l1.entries` observable gauges (on by
    /// default; off for hosts that report L1 from their own memory samples, as the load
    /// generator does, so the series exist once).
    pub l1_gauges: bool,
}

impl fmt::Debug for CacheOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheOptions")
            .field("l1", &self.l1)
            .field("namespace", &self.namespace)
            .field(
                "encryption_key_ids",
                &self
                    .encryption_keys
                    .iter()
                    .map(|k| k.id())
                    .collect::<Vec<_>>(),
            )
            .field("sliding_expiration", &self.sliding_expiration)
            .field("absolute_expiration", &self.absolute_expiration)
            .field("refresh_token_retention", &self.refresh_token_retention)
            .field("async_write", &self.async_write)
            .field("timeout", &self.timeout)
            .field("on_failure", &self.on_failure)
            .field("synchronization", &self.synchronization)
            .field("on_l2_failure", &self.on_l2_failure.is_some())
            .field("metric_attributes", &self.metric_attributes)
            .field("l1_gauges", &self.l1_gauges)
            .finish()
    }
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            l1: Some(L1Options::default()),
            namespace: String::new(),
            encryption_keys: Vec::new(),
            sliding_expiration: None,
            absolute_expiration: None,
            refresh_token_retention: Duration::from_secs(90 * 24 * 3600),
            async_write: false,
            timeout: Duration::from_millis(1000),
            on_failure: FailurePolicy::RetryThenMiss,
            synchronization: true,
            on_l2_failure: None,
            metric_attributes: Vec::new(),
            l1_gauges: true,
        }
    }
}
