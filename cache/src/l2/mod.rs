//! The L2 (distributed) tier: the `L2Store` trait and its implementations.
//!
//! A store moves opaque bytes: envelopes, encryption and expiry policy live in
//! [`crate::envelope`] and [`crate::TokenCache`]. Every store reports failures as
//! [`L2Error`]; the cache decides what a failure means (see [`crate::config::FailurePolicy`]).

mod faulty;
mod memory;
mod none;
mod postgres;
mod redis;
mod redis_cluster;

pub use faulty::{Fault, FaultyStore};
pub use memory::MemoryStore;
pub use none::NoneStore;
pub use postgres::{PostgresOptions, PostgresStore};
pub use redis::{RedisOptions, RedisStore};
pub use redis_cluster::RedisClusterStore;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

/// Which L2 operation an error or a counter refers to. Names are the stable
/// `tokencache.l2.operation` attribute values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L2Op {
    Get,
    Set,
    Remove,
}

impl L2Op {
    pub const fn as_str(self) -> &'static str {
        match self {
            L2Op::Get => "get",
            L2Op::Set => "set",
            L2Op::Remove => "remove",
        }
    }
}

impl fmt::Display for L2Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed L2 operation. Messages name the store and the operation, never a value.
#[derive(Debug, Clone, thiserror::Error)]
pub enum L2Error {
    #[error("L2 {store} {op} timed out after {after:?}")]
    Timeout {
        store: &'static str,
        op: L2Op,
        after: Duration,
    },
    #[error("L2 {store} {op} failed: {message}")]
    Backend {
        store: &'static str,
        op: L2Op,
        message: String,
    },
    /// The store could not be set up (bad URL, unreachable server at start-up, ...).
    #[error("L2 {store}: {message}")]
    Setup {
        store: &'static str,
        message: String,
    },
}

impl L2Error {
    pub fn backend(store: &'static str, op: L2Op, err: impl fmt::Display) -> Self {
        L2Error::Backend {
            store,
            op,
            message: err.to_string(),
        }
    }

    pub fn is_timeout(&self) -> bool {
        matches!(self, L2Error::Timeout { .. })
    }

    pub fn op(&self) -> Option<L2Op> {
        match self {
            L2Error::Timeout { op, .. } | L2Error::Backend { op, .. } => Some(*op),
            L2Error::Setup { .. } => None,
        }
    }
}

/// Size of what a store holds, for memory sampling. `bytes` is exact for the memory
/// store and an estimate for servers (see each store's docs and [`L2Usage::method`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct L2Usage {
    pub keys: u64,
    pub bytes: u64,
    /// How `bytes` was found: one of [`L2Usage::METHODS`].
    pub method: &'static str,
    /// The server's own size figure, when it has one: Redis `used_memory` (summed over the
    /// cluster's masters; the whole server, not only this prefix — compare it with a baseline
    /// taken before writing) or PostgreSQL `pg_total_relation_size` of the table.
    pub server_bytes: Option<u64>,
}

impl L2Usage {
    /// `exact` (memory store: key + value bytes), `memory-usage-sample` (Redis `MEMORY
    /// USAGE` over a sample of keys, scaled to the key count), `relation-size` (PostgreSQL
    /// `pg_total_relation_size`, scaled to the prefix's share of rows), `none` (no L2).
    pub const METHODS: [&'static str; 4] =
        ["exact", "memory-usage-sample", "relation-size", "none"];
}

/// A distributed store of partition blobs: get / set with TTL / remove, on bytes.
///
/// Keys arrive fully formed (namespace already applied). TTLs are in the store's own
/// (real) time: the cache converts virtual durations with [`crate::Clock::to_real`].
/// Implementations must be cancellation-safe: the cache wraps every call in a timeout.
#[async_trait]
pub trait L2Store: Send + Sync + fmt::Debug + 'static {
    /// Short store name for errors and metrics: `memory`, `redis`, `redis-cluster`, `postgres`, `none`.
    fn name(&self) -> &'static str;

    /// Reads a value. With `slide = Some(ttl)`, a hit also resets the key's time to live to
    /// `ttl` (sliding expiration) in the same round trip where the store allows it.
    async fn get(&self, key: &str, slide: Option<Duration>) -> Result<Option<Bytes>, L2Error>;

    /// Writes a value; `ttl = None` means no expiry.
    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), L2Error>;

    /// Removes a key; removing a missing key is not an error.
    async fn remove(&self, key: &str) -> Result<(), L2Error>;

    /// Keys and bytes held under `prefix`, for memory sampling. May be sampled or estimated.
    async fn usage(&self, prefix: &str) -> Result<L2Usage, L2Error>;

    /// Up to `limit` keys under `prefix` (full keys, in no particular order), for inspection.
    /// Server stores walk their key space incrementally (`SCAN`, `LIMIT`), never `KEYS`.
    async fn list_keys(&self, prefix: &str, limit: usize) -> Result<Vec<String>, L2Error> {
        let _ = (prefix, limit);
        Err(L2Error::Backend {
            store: self.name(),
            op: L2Op::Get,
            message: "this store cannot list its keys".into(),
        })
    }
}
