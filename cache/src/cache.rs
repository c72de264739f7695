//! `TokenCache`: L1 (decoded partitions in memory) → L2 (`L2Store`) → miss, with
//! per-partition synchronization, encryption, expiry policy, write-behind, and failure
//! handling that degrades but never hides.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry::metrics::Meter;
use tracing::Instrument as _;

use crate::clock::SharedClock;
use crate::envelope::Envelope;
use crate::l1::{HotToken, L1Entry, TokenRead, HOT_TOKENS, L1};
use crate::l2::{L2Error, L2Op, L2Store, L2Usage};
use crate::metrics::{CacheInstruments, L2Outcome};
use crate::model::{DecodeError, Partition};
use crate::options::{CacheOptions, FailurePolicy, L2Failure};
use crate::stats::{CacheStats, Counters};
use crate::writebehind::{PendingWrite, WriteBehind};

const LOCK_STRIPES: usize = 4096;

/// Where a partition was found (stable names: `none` | `l1` | `l2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheLevel {
    None,
    L1,
    L2,
}

impl CacheLevel {
    pub const fn as_str(self) -> &'static str {
        match self {
            CacheLevel::None => "none",
            CacheLevel::L1 => "l1",
            CacheLevel::L2 => "l2",
        }
    }
}

/// A cache operation failed. Only happens under [`FailurePolicy::Fail`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    L2(#[from] L2Error),
}

/// An access token found in L1 by [`TokenCache::l1_access_token`].
#[derive(Debug, Clone)]
pub struct L1Token {
    pub secret: crate::model::Secret,
    /// Unix seconds.
    pub expires_on: u64,
    pub refresh_on: Option<u64>,
}

/// The result of a read.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub partition: Option<Arc<Partition>>,
    pub level: CacheLevel,
}

struct Inner {
    l1: Option<Arc<L1>>,
    store: Arc<dyn L2Store>,
    envelope: Envelope,
    opts: CacheOptions,
    clock: SharedClock,
    counters: Counters,
    locks: Box<[tokio::sync::Mutex<()>]>,
    write_behind: Option<Arc<WriteBehind>>,
    instruments: CacheInstruments,
    /// Cache-clock-independent throttle for failure log lines (wall ms of the last one).
    last_warn_ms: AtomicU64,
    suppressed_warnings: AtomicU64,
    /// Observable gauges (L1 bytes and entries), kept alive with the cache.
    gauges: std::sync::OnceLock<Vec<opentelemetry::metrics::ObservableGauge<u64>>>,
}

/// A token cache with MSAL semantics. Cheap to clone (shared state).
#[derive(Clone)]
pub struct TokenCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("store", &self.inner.store.name())
            .field("options", &self.inner.opts)
            .finish()
    }
}

impl TokenCache {
    /// Builds a cache over `store`. Must be called inside a Tokio runtime when
    /// `async_write` is on (it starts the write-behind task). Metrics go to the global meter.
    pub fn new(opts: CacheOptions, store: Arc<dyn L2Store>, clock: SharedClock) -> Self {
        Self::with_meter(
            opts,
            store,
            clock,
            &opentelemetry::global::meter("tokencache"),
        )
    }

    pub fn with_meter(
        opts: CacheOptions,
        store: Arc<dyn L2Store>,
        clock: SharedClock,
        meter: &Meter,
    ) -> Self {
        let l1 = opts
            .l1
            .map(|l1| Arc::new(L1::new(l1.max_bytes, clock.clone())));
        let write_behind = opts.async_write.then(|| Arc::new(WriteBehind::default()));
        let inner = Arc::new(Inner {
            l1,
            envelope: Envelope::new(opts.encryption_keys.clone()),
            store,
            clock,
            counters: Counters::default(),
            locks: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            write_behind,
            instruments: CacheInstruments::new(meter, opts.metric_attributes.clone()),
            last_warn_ms: AtomicU64::new(0),
            suppressed_warnings: AtomicU64::new(0),
            gauges: std::sync::OnceLock::new(),
            opts,
        });
        if inner.l1.is_some() && inner.opts.l1_gauges {
            let _ = inner.gauges.set(l1_gauges(
                meter,
                Arc::downgrade(&inner),
                inner.opts.metric_attributes.clone(),
            ));
        }
        if let Some(wb) = inner.write_behind.clone() {
            tokio::spawn(write_behind_worker(Arc::downgrade(&inner), wb));
        }
        TokenCache { inner }
    }

    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    pub fn options(&self) -> &CacheOptions {
        &self.inner.opts
    }

    pub fn store_name(&self) -> &'static str {
        self.inner.store.name()
    }

    /// The L2 key of a partition: `{namespace}:{partition}`.
    pub fn l2_key(&self, partition_key: &str) -> String {
        self.inner.l2_key(partition_key)
    }

    /// L1 only, synchronously: the hot path of a cache hit (no future, no L2).
    pub fn get_l1(&self, partition_key: &str) -> Option<Arc<Partition>> {
        self.inner.l1_get(partition_key)
    }

    /// The hot path of a hit, L1 only: the access token with `index` (see
    /// [`crate::model::keys::access_token_index`]) in the partition under `partition_key`.
    /// Counts hits, not misses (a caller that falls back to [`Self::get`] counts the miss).
    pub fn l1_access_token(&self, partition_key: &str, index: &str) -> Option<L1Token> {
        let inner = &self.inner;
        let found =
            match inner
                .l1
                .as_ref()?
                .get_token(partition_key, index, inner.clock.now_secs())?
            {
                TokenRead::Hot {
                    secret,
                    expires_on,
                    refresh_on,
                } => L1Token {
                    secret,
                    expires_on,
                    refresh_on,
                },
                TokenRead::Partition(p) => {
                    let at = p.access_token_by_index(index)?;
                    L1Token {
                        secret: at.secret.clone(),
                        expires_on: at.expires_on.0,
                        refresh_on: at.refresh_on.map(|r| r.0),
                    }
                }
                TokenRead::Expired => return None,
            };
        inner.counters.l1_hits.inc();
        Some(found)
    }

    /// Reads a partition: L1, then L2 (which fills L1), then a miss.
    pub async fn get(&self, partition_key: &str) -> Result<Lookup, CacheError> {
        if let Some(p) = self.inner.l1_get(partition_key) {
            return Ok(Lookup {
                partition: Some(p),
                level: CacheLevel::L1,
            });
        }
        let partition = self.inner.l2_get(partition_key).await?;
        Ok(Lookup {
            level: if partition.is_some() {
                CacheLevel::L2
            } else {
                CacheLevel::None
            },
            partition,
        })
    }

    /// Read-modify-write of one partition: reads it (L1 → L2 → empty), applies `f` to a
    /// copy, drops expired access tokens, and stores the result in L1 and L2. With
    /// `synchronization` on, calls for the same partition run one at a time.
    pub async fn update<R>(
        &self,
        partition_key: &str,
        f: impl FnOnce(&mut Partition) -> R,
    ) -> Result<(Arc<Partition>, R), CacheError> {
        let inner = &self.inner;
        let _guard = if inner.opts.synchronization {
            Some(inner.lock_for(partition_key).lock().await)
        } else {
            None
        };
        let current = match inner.l1_get(partition_key) {
            Some(p) => Some(p),
            None => inner.l2_get(partition_key).await?,
        };
        let mut p = current.map(|a| (*a).clone()).unwrap_or_default();
        let r = f(&mut p);
        p.purge_expired_access_tokens(inner.clock.now_secs());
        let p = Arc::new(p);
        inner.store_partition(partition_key, p.clone()).await?;
        Ok((p, r))
    }

    /// Removes a partition from L1 and L2.
    pub async fn remove(&self, partition_key: &str) -> Result<(), CacheError> {
        let inner = &self.inner;
        if let Some(l1) = &inner.l1 {
            l1.invalidate(partition_key);
        }
        let key = inner.l2_key(partition_key);
        if let Some(wb) = &inner.write_behind {
            wb.cancel(&key);
        }
        Counters::inc(&inner.counters.l2_removes);
        let store = inner.store.clone();
        match inner
            .l2_call(L2Op::Remove, partition_key, || store.remove(&key))
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if inner.opts.on_failure == FailurePolicy::Fail => Err(e.into()),
            Err(_) => Ok(()),
        }
    }

    /// Waits until every write-behind write has been written (or given up on and reported).
    pub async fn flush(&self) {
        if let Some(wb) = &self.inner.write_behind {
            wb.wait_idle().await;
        }
    }

    /// Flushes write-behind writes and stops the background writer.
    pub async fn shutdown(&self) {
        self.flush().await;
        if let Some(wb) = &self.inner.write_behind {
            wb.close();
        }
    }

    /// Counters and L1 size.
    pub fn stats(&self) -> CacheStats {
        let inner = &self.inner;
        let mut s = inner.counters.snapshot();
        if let Some(l1) = &inner.l1 {
            l1.run_pending_tasks();
            s.l1_bytes = l1.weighted_size();
            s.l1_entries = l1.entry_count();
        }
        if let Some(wb) = &inner.write_behind {
            s.l2_pending_writes = wb.queued();
        }
        s
    }

    /// What L2 holds under this cache's namespace.
    pub async fn l2_usage(&self) -> Result<L2Usage, L2Error> {
        let prefix = self.inner.l2_key("");
        self.inner.store.usage(&prefix).await
    }

    /// Decodes a stored blob the way a read does (for `loadgen inspect` and tests).
    pub fn decode_blob(&self, partition_key: &str, blob: &[u8]) -> Result<Partition, DecodeError> {
        let opened = self.inner.envelope.open(partition_key, blob)?;
        Partition::from_json(&opened.json)
    }
}

impl Inner {
    fn l2_key(&self, partition_key: &str) -> String {
        if self.opts.namespace.is_empty() {
            partition_key.to_owned()
        } else {
            format!("{}:{}", self.opts.namespace, partition_key)
        }
    }

    fn lock_for(&self, partition_key: &str) -> &tokio::sync::Mutex<()> {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let h = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one(partition_key);
        &self.locks[(h as usize) % self.locks.len()]
    }

    fn l1_get(&self, partition_key: &str) -> Option<Arc<Partition>> {
        let l1 = self.l1.as_ref()?;
        let _span = tracing::debug_span!("tokencache.l1.read").entered();
        match l1.get(partition_key, self.clock.now_secs()) {
            Some(Ok(p)) => {
                self.counters.l1_hits.inc();
                Some(p)
            }
            Some(Err(())) => {
                l1.invalidate(partition_key);
                Counters::inc(&self.counters.l1_misses);
                None
            }
            None => {
                Counters::inc(&self.counters.l1_misses);
                None
            }
        }
    }

    fn l1_put(&self, partition_key: &str, partition: Arc<Partition>, weight: usize) {
        let Some(l1) = &self.l1 else { return };
        let valid_until_secs = self.valid_until_secs(&partition);
        if valid_until_secs <= self.clock.now_secs() {
            l1.invalidate(partition_key);
            return;
        }
        let mut hot: [Option<HotToken>; HOT_TOKENS] = Default::default();
        if partition.access_token_count() <= HOT_TOKENS {
            for (slot, (index, at)) in hot.iter_mut().zip(partition.indexed_access_tokens()) {
                *slot = HotToken::new(
                    index,
                    at.expires_on.0,
                    at.refresh_on.map(|r| r.0),
                    at.secret.clone(),
                );
            }
        }
        l1.insert(
            partition_key.to_owned(),
            Arc::new(L1Entry {
                hot,
                partition,
                weight: u32::try_from(weight).unwrap_or(u32::MAX),
                valid_until_secs,
            }),
        );
    }

    /// An L1 entry never outlives the tokens it holds: the latest access-token expiry, or
    /// the refresh-token retention when a refresh token is held.
    fn valid_until_secs(&self, p: &Partition) -> u64 {
        let now = self.clock.now_secs();
        let at = p.latest_access_token_expiry().unwrap_or(0);
        if p.has_refresh_token() {
            at.max(now + self.opts.refresh_token_retention.as_secs())
        } else {
            at
        }
    }

    async fn l2_get(&self, partition_key: &str) -> Result<Option<Arc<Partition>>, CacheError> {
        let key = self.l2_key(partition_key);
        let pending = self
            .write_behind
            .as_ref()
            .and_then(|wb| wb.pending_blob(&key));
        let blob = match pending {
            Some(b) => Some(b),
            None => {
                Counters::inc(&self.counters.l2_reads);
                let slide = self.opts.sliding_expiration.map(|d| self.clock.to_real(d));
                let store = self.store.clone();
                let span = tracing::debug_span!("tokencache.l2.read", store = self.store.name());
                match self
                    .l2_call(L2Op::Get, partition_key, || store.get(&key, slide))
                    .instrument(span)
                    .await
                {
                    Ok(b) => b,
                    Err(e) if self.opts.on_failure == FailurePolicy::Fail => return Err(e.into()),
                    Err(_) => {
                        Counters::inc(&self.counters.l2_misses);
                        return Ok(None);
                    }
                }
            }
        };
        let Some(blob) = blob else {
            Counters::inc(&self.counters.l2_misses);
            self.instruments.l2(L2Op::Get, L2Outcome::Miss);
            return Ok(None);
        };
        match self.decode(partition_key, &blob) {
            Ok(Some(p)) => {
                Counters::inc(&self.counters.l2_hits);
                self.instruments.l2(L2Op::Get, L2Outcome::Hit);
                let p = Arc::new(p);
                self.l1_put(partition_key, p.clone(), blob.len());
                Ok(Some(p))
            }
            Ok(None) => {
                Counters::inc(&self.counters.l2_misses);
                self.instruments.l2(L2Op::Get, L2Outcome::Miss);
                Ok(None)
            }
            Err(e) => {
                Counters::inc(&self.counters.decode_errors);
                Counters::inc(&self.counters.l2_misses);
                self.instruments.l2(L2Op::Get, L2Outcome::Miss);
                self.warn(|suppressed| {
                    tracing::warn!(
                        partition_key,
                        store = self.store.name(),
                        error = %e,
                        suppressed,
                        "undecodable L2 blob treated as a miss"
                    )
                });
                Ok(None)
            }
        }
    }

    /// Opens and parses a blob; `Ok(None)` when its absolute deadline has passed.
    fn decode(&self, partition_key: &str, blob: &[u8]) -> Result<Option<Partition>, DecodeError> {
        let _span = tracing::trace_span!("tokencache.codec", op = "decode").entered();
        let opened = self.envelope.open(partition_key, blob)?;
        if let Some(deadline) = opened.deadline_millis {
            if deadline <= self.clock.now_millis() {
                return Ok(None);
            }
        }
        Partition::from_json(&opened.json).map(Some)
    }

    async fn store_partition(
        &self,
        partition_key: &str,
        p: Arc<Partition>,
    ) -> Result<(), CacheError> {
        let key = self.l2_key(partition_key);
        if p.is_empty() {
            if let Some(l1) = &self.l1 {
                l1.invalidate(partition_key);
            }
            if let Some(wb) = &self.write_behind {
                wb.cancel(&key);
            }
            let store = self.store.clone();
            return match self
                .l2_call(L2Op::Remove, partition_key, || store.remove(&key))
                .await
            {
                Err(e) if self.opts.on_failure == FailurePolicy::Fail => Err(e.into()),
                _ => Ok(()),
            };
        }
        let (weight, ttl, blob) = {
            let _span = tracing::trace_span!("tokencache.codec", op = "encode").entered();
            let json = p.to_json();
            let (ttl, deadline) = self.l2_expiry(&p);
            let weight = json.len();
            let blob = Bytes::from(self.envelope.seal(partition_key, json, deadline));
            (weight, ttl, blob)
        };
        self.l1_put(partition_key, p, weight);
        Counters::inc(&self.counters.l2_writes);
        if let Some(wb) = &self.write_behind {
            wb.enqueue(
                key,
                PendingWrite {
                    partition_key: partition_key.to_owned(),
                    blob,
                    ttl,
                },
            );
            return Ok(());
        }
        let store = self.store.clone();
        let span = tracing::debug_span!("tokencache.l2.write", store = self.store.name());
        match self
            .l2_call(L2Op::Set, partition_key, || {
                store.set(&key, blob.clone(), ttl)
            })
            .instrument(span)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if self.opts.on_failure == FailurePolicy::Fail => Err(e.into()),
            Err(_) => {
                Counters::inc(&self.counters.l2_lost_writes);
                Ok(())
            }
        }
    }

    /// The L2 time to live (real time) and the absolute deadline (cache-clock ms) to seal in.
    ///
    /// Token-based expiry first (MSAL's SuggestedCacheExpiry; refresh-token partitions get
    /// the retention instead of "never"), capped by absolute and sliding expiration. With
    /// sliding expiration, reads extend the TTL, so the hard limit is sealed into the blob.
    fn l2_expiry(&self, p: &Partition) -> (Option<Duration>, Option<u64>) {
        let now_ms = self.clock.now_millis();
        let token_based = if p.has_refresh_token() {
            self.opts.refresh_token_retention
        } else {
            let exp_ms = p.latest_access_token_expiry().unwrap_or(0) * 1000;
            Duration::from_millis(exp_ms.saturating_sub(now_ms).max(1000))
        };
        let hard = match self.opts.absolute_expiration {
            Some(a) => token_based.min(a),
            None => token_based,
        };
        let ttl = match self.opts.sliding_expiration {
            Some(s) => hard.min(s),
            None => hard,
        };
        let deadline = self
            .opts
            .sliding_expiration
            .map(|_| now_ms + hard.as_millis() as u64);
        (Some(self.clock.to_real(ttl)), deadline)
    }

    /// Runs one L2 operation under the timeout and the failure policy, counting and
    /// reporting every failure.
    async fn l2_call<T, F, Fut>(&self, op: L2Op, partition_key: &str, f: F) -> Result<T, L2Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, L2Error>>,
    {
        let attempts = if self.opts.on_failure == FailurePolicy::RetryThenMiss {
            2
        } else {
            1
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = match tokio::time::timeout(self.opts.timeout, f()).await {
                Ok(r) => r,
                Err(_) => Err(L2Error::Timeout {
                    store: self.store.name(),
                    op,
                    after: self.opts.timeout,
                }),
            };
            match result {
                Ok(v) => {
                    if op != L2Op::Get {
                        self.instruments.l2(op, L2Outcome::Ok);
                    }
                    return Ok(v);
                }
                Err(e) => {
                    let will_retry = attempt < attempts;
                    self.report(op, partition_key, &e, will_retry);
                    if !will_retry {
                        return Err(e);
                    }
                }
            }
        }
    }

    fn report(&self, op: L2Op, partition_key: &str, e: &L2Error, will_retry: bool) {
        Counters::inc(&self.counters.l2_errors);
        let outcome = if e.is_timeout() {
            Counters::inc(&self.counters.l2_timeouts);
            L2Outcome::Timeout
        } else {
            L2Outcome::Error
        };
        self.instruments.l2(op, outcome);
        if let Some(hook) = &self.opts.on_l2_failure {
            hook(&L2Failure {
                store: self.store.name(),
                partition_key,
                error: e,
                will_retry,
            });
        }
        self.warn(|suppressed| {
            tracing::warn!(
                partition_key,
                store = self.store.name(),
                operation = op.as_str(),
                error = %e,
                will_retry,
                suppressed,
                "L2 operation failed"
            )
        });
    }

    /// Emits at most one warning per second; counts the rest and reports them with the next.
    fn warn(&self, emit: impl FnOnce(u64)) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let last = self.last_warn_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 1000
            && self
                .last_warn_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            emit(self.suppressed_warnings.swap(0, Ordering::Relaxed));
        } else {
            self.suppressed_warnings.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `tokencache.l1.size` (By) and `tokencache.l1.entries`, read when the reader collects.
fn l1_gauges(
    meter: &Meter,
    inner: std::sync::Weak<Inner>,
    attrs: Vec<opentelemetry::KeyValue>,
) -> Vec<opentelemetry::metrics::ObservableGauge<u64>> {
    use crate::metrics::{L1_ENTRIES, L1_SIZE};
    let size_attrs = attrs.clone();
    let size_of = inner.clone();
    let size = meter
        .u64_observable_gauge(L1_SIZE)
        .with_unit("By")
        .with_description("Bytes held by L1 (serialized partition sizes)")
        .with_callback(move |o| {
            if let Some(l1) = size_of.upgrade().and_then(|i| i.l1.clone()) {
                o.observe(l1.weighted_size(), &size_attrs);
            }
        })
        .build();
    let entries = meter
        .u64_observable_gauge(L1_ENTRIES)
        .with_description("Partitions held by L1")
        .with_callback(move |o| {
            if let Some(l1) = inner.upgrade().and_then(|i| i.l1.clone()) {
                o.observe(l1.entry_count(), &attrs);
            }
        })
        .build();
    vec![size, entries]
}

async fn write_behind_worker(inner: std::sync::Weak<Inner>, wb: Arc<WriteBehind>) {
    loop {
        wb.wait_for_work().await;
        let batch = wb.take_batch();
        if !batch.is_empty() {
            let Some(inner) = inner.upgrade() else {
                for (key, _) in &batch {
                    wb.done(key);
                }
                return;
            };
            for (key, w) in batch {
                let store = inner.store.clone();
                let r = inner
                    .l2_call(L2Op::Set, &w.partition_key, || {
                        store.set(&key, w.blob.clone(), w.ttl)
                    })
                    .await;
                if r.is_err() {
                    Counters::inc(&inner.counters.l2_lost_writes);
                }
                wb.done(&key);
            }
        }
        if wb.is_closed() && wb.queued() == 0 {
            return;
        }
    }
}
