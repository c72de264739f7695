//! `redis`: the standalone Redis L2 store, over a self-reconnecting `ConnectionManager`.
//!
//! One multiplexed connection serves every caller. When the server dies, the command that
//! notices fails and the manager reconnects in the background; commands issued while the
//! server is down fail fast (connection timeout, few retries, and an overall per-operation
//! bound), and the same store object works again once the server is back.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, RedisResult, Value};

use super::{L2Error, L2Op, L2Store, L2Usage};

const STORE: &str = "redis";

/// Timeouts and sampling for the Redis stores (standalone and cluster).
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// Bound on opening one TCP connection (start-up and every reconnect attempt).
    pub connect_timeout: Duration,
    /// Bound on waiting for one reply on an open connection.
    pub response_timeout: Duration,
    /// Overall bound on one store operation, reconnect attempts included; past it the
    /// operation returns [`L2Error::Timeout`].
    pub op_timeout: Duration,
    /// Reconnect attempts per operation while the server is unreachable.
    pub reconnect_retries: usize,
    /// How many keys `usage` asks `MEMORY USAGE` about (see [`RedisStore::usage`]).
    pub usage_sample: usize,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            connect_timeout: Duration::from_millis(500),
            response_timeout: Duration::from_secs(1),
            op_timeout: Duration::from_secs(2),
            reconnect_retries: 1,
            usage_sample: 64,
        }
    }
}

/// Standalone Redis L2 store.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    /// The URL with any password replaced by `***`, for messages.
    addr: String,
    secrets: Vec<String>,
    options: RedisOptions,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("addr", &self.addr)
            .field("options", &self.options)
            .finish()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://[user:password@]host[:port][/db]`) with default options.
    pub async fn connect(url: &str) -> Result<Self, L2Error> {
        Self::connect_with(url, RedisOptions::default()).await
    }

    /// Connects to `url`. A malformed URL or a server that does not answer within the
    /// connect bound is an [`L2Error::Setup`] naming the (password-redacted) address.
    pub async fn connect_with(url: &str, options: RedisOptions) -> Result<Self, L2Error> {
        let checked = check_url(STORE, url)?;
        let client = redis::Client::open(url).map_err(|e| L2Error::Setup {
            store: STORE,
            message: format!(
                "invalid redis URL {}: {}",
                checked.redacted,
                checked.scrub(&e)
            ),
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.response_timeout))
            .set_number_of_retries(options.reconnect_retries)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let bound = options.connect_timeout * (options.reconnect_retries as u32 + 1)
            + Duration::from_secs(1);
        let conn =
            match tokio::time::timeout(bound, ConnectionManager::new_with_config(client, config))
                .await
            {
                Ok(Ok(conn)) => conn,
                Ok(Err(e)) => {
                    return Err(L2Error::Setup {
                        store: STORE,
                        message: format!(
                            "cannot connect to {}: {}",
                            checked.redacted,
                            checked.scrub(&e)
                        ),
                    })
                }
                Err(_) => {
                    return Err(L2Error::Setup {
                        store: STORE,
                        message: format!(
                            "cannot connect to {}: no answer within {bound:?}",
                            checked.redacted
                        ),
                    })
                }
            };
        Ok(RedisStore {
            conn,
            addr: checked.redacted.clone(),
            secrets: checked.secrets,
            options,
        })
    }

    /// The server address with any password redacted.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    async fn run<T>(
        &self,
        op: L2Op,
        fut: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, L2Error> {
        bounded(STORE, op, self.options.op_timeout, &self.secrets, fut).await
    }

    async fn query<T: redis::FromRedisValue>(&self, op: L2Op, cmd: Cmd) -> Result<T, L2Error> {
        let mut conn = self.conn.clone();
        self.run(op, async move { cmd.query_async::<T>(&mut conn).await })
            .await
    }
}

#[async_trait]
impl L2Store for RedisStore {
    fn name(&self) -> &'static str {
        STORE
    }

    async fn get(&self, key: &str, slide: Option<Duration>) -> Result<Option<Bytes>, L2Error> {
        let value: Option<Vec<u8>> = self.query(L2Op::Get, get_cmd(key, slide)).await?;
        Ok(value.map(Bytes::from))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), L2Error> {
        self.query::<()>(L2Op::Set, set_cmd(key, &value, ttl)).await
    }

    async fn remove(&self, key: &str) -> Result<(), L2Error> {
        self.query::<()>(L2Op::Remove, redis::cmd("DEL").arg(key).to_owned())
            .await
    }

    /// Keys under `prefix`: `DBSIZE` for the empty prefix, else a full `SCAN MATCH` (O(keys in
    /// the database) round trips of 1,000; exact except for SCAN's rare duplicates during a
    /// rehash).
    /// Bytes: the sum of `MEMORY USAGE` (Redis's own per-key accounting, key + value +
    /// overhead) over the first `usage_sample` keys found; exact when there are no more keys
    /// than that, otherwise the sample's mean times the key count. `server_bytes`: the
    /// server's `used_memory` (`INFO memory`).
    async fn usage(&self, prefix: &str) -> Result<L2Usage, L2Error> {
        let conn = self.conn.clone();
        let exec = move |cmd: Cmd| {
            let mut conn = conn.clone();
            async move { cmd.query_async::<Value>(&mut conn).await }
        };
        // A full SCAN may take many round trips: bound it by a multiple of the op timeout.
        let bound = self.options.op_timeout * 10;
        bounded(
            STORE,
            L2Op::Get,
            bound,
            &self.secrets,
            node_usage(prefix, self.options.usage_sample, exec),
        )
        .await
        .map(|u| u.estimate())
    }

    /// `SCAN MATCH prefix*` until `limit` keys are found or the scan ends.
    async fn list_keys(&self, prefix: &str, limit: usize) -> Result<Vec<String>, L2Error> {
        let conn = self.conn.clone();
        let exec = move |cmd: Cmd| {
            let mut conn = conn.clone();
            async move { cmd.query_async::<Value>(&mut conn).await }
        };
        let mut out = Vec::new();
        bounded(
            STORE,
            L2Op::Get,
            self.options.op_timeout * 10,
            &self.secrets,
            scan_keys(prefix, limit, &mut out, exec),
        )
        .await?;
        Ok(out)
    }
}

/// Appends keys under `prefix` found by `SCAN MATCH` on one node to `out` until it holds
/// `limit` keys or the scan ends. `exec` sends one command to that node.
pub(super) async fn scan_keys<F, Fut>(
    prefix: &str,
    limit: usize,
    out: &mut Vec<String>,
    exec: F,
) -> RedisResult<()>
where
    F: Fn(Cmd) -> Fut,
    Fut: Future<Output = RedisResult<Value>>,
{
    let pattern = format!("{}*", glob_escape(prefix));
    let mut cursor: u64 = 0;
    while out.len() < limit {
        let reply = exec(scan_cmd(cursor, &pattern)).await?;
        let (next, batch): (u64, Vec<Vec<u8>>) = redis::from_redis_value(reply)?;
        for key in batch {
            if out.len() < limit {
                out.push(String::from_utf8_lossy(&key).into_owned());
            }
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    Ok(())
}

/// `GETEX key PX ms` (read and slide in one round trip) or `GET key`.
pub(super) fn get_cmd(key: &str, slide: Option<Duration>) -> Cmd {
    match slide {
        Some(ttl) => redis::cmd("GETEX")
            .arg(key)
            .arg("PX")
            .arg(ttl_millis(ttl))
            .to_owned(),
        None => redis::cmd("GET").arg(key).to_owned(),
    }
}

/// `SET key value PX ms` or `SET key value`.
pub(super) fn set_cmd(key: &str, value: &[u8], ttl: Option<Duration>) -> Cmd {
    let mut cmd = redis::cmd("SET");
    cmd.arg(key).arg(value);
    if let Some(ttl) = ttl {
        cmd.arg("PX").arg(ttl_millis(ttl));
    }
    cmd
}

/// Redis rejects `PX 0`: a TTL under a millisecond becomes one millisecond.
fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Runs `fut` within `limit`, mapping a redis error to `Backend` (or `Timeout` for a
/// response timeout) with any password scrubbed from the message. `usage` reports its
/// errors under [`L2Op::Get`] (it only reads).
pub(super) async fn bounded<T>(
    store: &'static str,
    op: L2Op,
    limit: Duration,
    secrets: &[String],
    fut: impl Future<Output = RedisResult<T>>,
) -> Result<T, L2Error> {
    let start = tokio::time::Instant::now();
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        // The client's own response timeout fired first.
        Ok(Err(e)) if e.is_timeout() => Err(L2Error::Timeout {
            store,
            op,
            after: start.elapsed(),
        }),
        Ok(Err(e)) => Err(L2Error::Backend {
            store,
            op,
            message: scrub(&e, secrets),
        }),
        Err(_) => Err(L2Error::Timeout {
            store,
            op,
            after: limit,
        }),
    }
}

/// Keys and a `MEMORY USAGE` sample found on one node.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct NodeUsage {
    pub keys: u64,
    pub sampled_keys: u64,
    pub sampled_bytes: u64,
    /// `used_memory` from `INFO memory`.
    pub used_memory: u64,
}

impl NodeUsage {
    pub(super) fn add(&mut self, other: NodeUsage) {
        self.keys += other.keys;
        self.sampled_keys += other.sampled_keys;
        self.sampled_bytes += other.sampled_bytes;
        self.used_memory += other.used_memory;
    }

    /// Exact when every key was sampled; otherwise the sample mean scaled to all keys.
    pub(super) fn estimate(self) -> L2Usage {
        let bytes = if self.sampled_keys >= self.keys || self.sampled_keys == 0 {
            self.sampled_bytes
        } else {
            (self.sampled_bytes as f64 / self.sampled_keys as f64 * self.keys as f64) as u64
        };
        L2Usage {
            keys: self.keys,
            bytes,
            method: "memory-usage-sample",
            server_bytes: Some(self.used_memory),
        }
    }
}

/// Counts keys under `prefix` on one node with `SCAN MATCH` (or `DBSIZE` for the empty
/// prefix) and samples `MEMORY USAGE` of up to `sample` of them. `exec` sends one command to
/// that node.
pub(super) async fn node_usage<F, Fut>(
    prefix: &str,
    sample: usize,
    exec: F,
) -> RedisResult<NodeUsage>
where
    F: Fn(Cmd) -> Fut,
    Fut: Future<Output = RedisResult<Value>>,
{
    let pattern = format!("{}*", glob_escape(prefix));
    let use_dbsize = prefix.is_empty();
    let mut cursor: u64 = 0;
    let mut keys: u64 = 0;
    let mut sampled: Vec<Vec<u8>> = Vec::new();
    loop {
        let reply = exec(scan_cmd(cursor, &pattern)).await?;
        let (next, batch): (u64, Vec<Vec<u8>>) = redis::from_redis_value(reply)?;
        keys += batch.len() as u64;
        for key in batch {
            if sampled.len() < sample {
                sampled.push(key);
            }
        }
        cursor = next;
        if cursor == 0 || (use_dbsize && sampled.len() >= sample) {
            break;
        }
    }
    if use_dbsize {
        keys = redis::from_redis_value(exec(redis::cmd("DBSIZE").to_owned()).await?)?;
    }
    let info: String =
        redis::from_redis_value(exec(redis::cmd("INFO").arg("memory").to_owned()).await?)?;
    let mut usage = NodeUsage {
        keys,
        used_memory: used_memory(&info).unwrap_or(0),
        ..NodeUsage::default()
    };
    for key in sampled {
        let reply = exec(
            redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(key)
                .arg("SAMPLES")
                .arg(0)
                .to_owned(),
        )
        .await?;
        // The key may have expired since SCAN saw it.
        if let Some(bytes) = redis::from_redis_value::<Option<u64>>(reply)? {
            usage.sampled_keys += 1;
            usage.sampled_bytes += bytes;
        }
    }
    Ok(usage)
}

/// `used_memory:N` from `INFO memory` output.
fn used_memory(info: &str) -> Option<u64> {
    info.lines()
        .find_map(|l| l.trim().strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
}

/// One `SCAN cursor MATCH pattern COUNT 1000` step.
fn scan_cmd(cursor: u64, pattern: &str) -> Cmd {
    redis::cmd("SCAN")
        .arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(1000)
        .to_owned()
}

/// Escapes Redis glob metacharacters so a prefix matches literally.
fn glob_escape(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A URL that passed the store's checks, with its password (if any) and a redacted form.
#[derive(Debug)]
pub(super) struct CheckedUrl {
    pub redacted: String,
    pub secrets: Vec<String>,
}

impl CheckedUrl {
    pub(super) fn scrub(&self, err: &impl std::fmt::Display) -> String {
        scrub(err, &self.secrets)
    }
}

/// Replaces every occurrence of each secret in an error message with `***`.
pub(super) fn scrub(err: &impl std::fmt::Display, secrets: &[String]) -> String {
    let mut message = err.to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        message = message.replace(secret.as_str(), "***");
    }
    message
}

/// `scheme://user:password@host/...` → `scheme://user:***@host/...`, without parsing.
pub(super) fn redact_url(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let authority_end = url[start..]
        .find(['/', '?', '#'])
        .map(|i| start + i)
        .unwrap_or(url.len());
    let authority = &url[start..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    let redacted_userinfo = match userinfo.find(':') {
        Some(colon) => format!("{}:***", &userinfo[..colon]),
        None => userinfo.to_owned(),
    };
    format!(
        "{}{}{}",
        &url[..start],
        redacted_userinfo,
        &url[start + at..]
    )
}

/// Checks a Redis URL and reports what is wrong with it, never echoing a password.
pub(super) fn check_url(store: &'static str, url: &str) -> Result<CheckedUrl, L2Error> {
    let redacted = redact_url(url);
    let setup = |why: String| L2Error::Setup {
        store,
        message: format!("invalid redis URL {redacted:?}: {why}"),
    };
    let parsed = url::Url::parse(url).map_err(|e| setup(e.to_string()))?;
    match parsed.scheme() {
        "redis" => {
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(setup("no host".into()));
            }
        }
        "redis+unix" | "unix" => {}
        "rediss" => {
            return Err(setup(
                "TLS (rediss://) is not enabled in this build; use redis://".into(),
            ))
        }
        other => {
            return Err(setup(format!(
                "unsupported scheme {other:?} (expected redis:// or redis+unix://)"
            )))
        }
    }
    let db = parsed.path().trim_start_matches('/');
    if !db.is_empty() && db.parse::<u32>().is_err() {
        return Err(setup(format!("database {db:?} is not a number")));
    }
    Ok(CheckedUrl {
        redacted: redacted.clone(),
        // Messages could carry the password as written or percent-decoded: scrub both.
        secrets: parsed
            .password()
            .map(|p| vec![p.to_owned(), percent_decode(p)])
            .unwrap_or_default(),
    })
}

/// Decodes `%XX` escapes (invalid escapes stay as they are).
fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("redis://user:s3cret@host:6379/0"),
            "redis://user:***@host:6379/0"
        );
        assert_eq!(redact_url("redis://:pw@h"), "redis://:***@h");
        assert_eq!(redact_url("redis://h:1"), "redis://h:1");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn malformed_urls_are_named_without_the_password() {
        for (url, why) in [
            ("redis://:hunter2@host:99999", "invalid port"),
            ("http://host:6379", "unsupported scheme"),
            ("rediss://host", "TLS"),
            ("redis://host/abc", "not a number"),
            ("127.0.0.1:6379", "relative URL"),
        ] {
            let err = check_url(STORE, url).unwrap_err().to_string();
            assert!(err.contains(why), "{url}: {err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn usage_estimate_is_exact_when_every_key_was_sampled() {
        let all = NodeUsage {
            keys: 3,
            sampled_keys: 3,
            sampled_bytes: 300,
            used_memory: 9000,
        };
        assert_eq!(
            all.estimate(),
            L2Usage {
                keys: 3,
                bytes: 300,
                method: "memory-usage-sample",
                server_bytes: Some(9000)
            }
        );
        let some = NodeUsage {
            keys: 10,
            sampled_keys: 2,
            sampled_bytes: 200,
            used_memory: 0,
        };
        assert_eq!((some.estimate().keys, some.estimate().bytes), (10, 1000));
        assert_eq!(
            used_memory("# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n"),
            Some(1_048_576)
        );
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
