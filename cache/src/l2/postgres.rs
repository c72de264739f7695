//! `postgres`: the SQL L2 store, in one PostgreSQL table (the idea of the MS SQL distributed
//! cache of ASP.NET: id, value, expiry), over a deadpool connection pool.
//!
//! Schema (`tokencache` by default):
//!
//! ```sql
//! key        text PRIMARY KEY,
//! value      bytea NOT NULL,
//! expires_at timestamptz NULL   -- NULL = never
//! ```
//!
//! MS SQL also stores the sliding window and the absolute deadline so the server can slide by
//! itself; here the caller passes the window on every read (`get(key, Some(ttl))`) and computes
//! absolute deadlines itself, so one column is enough. Expired rows are invisible at once and
//! deleted by [`PostgresStore::purge_expired`]. Every server-side time is the server's `now()`.
//!
//! The pool opens connections with a connect timeout and drops closed ones on checkout, so
//! while the server is down operations fail fast, and after it restarts the same store works
//! again without being rebuilt.

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use super::redis::{redact_url, scrub};
use super::{L2Error, L2Op, L2Store, L2Usage};

const STORE: &str = "postgres";
/// How [`describe`] ends the message of an `undefined_table` error.
const UNDEFINED_TABLE: &str = "(42P01)";

/// Table name, pool size and timeouts for [`PostgresStore`].
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Table name: letters, digits and `_`, not starting with a digit, at most 63 bytes.
    pub table: String,
    pub max_connections: usize,
    /// Bound on opening one connection (and on waiting for a free one in the pool).
    pub connect_timeout: Duration,
    /// Overall bound on one store operation; past it the operation returns [`L2Error::Timeout`].
    pub op_timeout: Duration,
    /// Create the table (and its index) on connect when it is missing. Read-only tools
    /// (`loadgen inspect`) turn this off: connecting then only checks the server answers.
    pub create_table: bool,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            table: "tokencache".into(),
            max_connections: 16,
            connect_timeout: Duration::from_millis(1000),
            op_timeout: Duration::from_secs(2),
            create_table: true,
        }
    }
}

/// Statements, prepared per connection (deadpool caches them).
#[derive(Debug)]
struct Sql {
    get: String,
    get_slide: String,
    set: String,
    remove: String,
    purge: String,
    usage: String,
    list: String,
}

impl Sql {
    fn new(table: &str) -> Self {
        let t = format!("\"{table}\"");
        let live = "(expires_at IS NULL OR expires_at > now())";
        Sql {
            get: format!("SELECT value FROM {t} WHERE key = $1 AND {live}"),
            get_slide: format!(
                "UPDATE {t} SET expires_at = now() + $2::bigint * interval '1 millisecond' \
                 WHERE key = $1 AND {live} RETURNING value"
            ),
            set: format!(
                "INSERT INTO {t} (key, value, expires_at) \
                 VALUES ($1, $2, now() + $3::bigint * interval '1 millisecond') \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at"
            ),
            remove: format!("DELETE FROM {t} WHERE key = $1"),
            purge: format!("DELETE FROM {t} WHERE expires_at <= now()"),
            usage: format!(
                "SELECT count(*) FILTER (WHERE key LIKE $1 ESCAPE '\\' AND {live}), \
                        count(*) FILTER (WHERE key LIKE $1 ESCAPE '\\'), \
                        count(*), \
                        pg_total_relation_size('{t}') \
                 FROM {t}"
            ),
            list: format!(
                "SELECT key FROM {t} WHERE key LIKE $1 ESCAPE '\\' AND {live} ORDER BY key LIMIT $2"
            ),
        }
    }
}

/// PostgreSQL L2 store.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    sql: std::sync::Arc<Sql>,
    /// The URL with any password replaced by `***`, for messages.
    addr: String,
    secrets: Vec<String>,
    options: PostgresOptions,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("addr", &self.addr)
            .field("options", &self.options)
            .finish()
    }
}

fn valid_table(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63
}

/// A tokio-postgres error as text: the server's SQLSTATE and message when there is one
/// (these never quote parameter values for the statements used here), else the client error.
fn describe(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

fn ttl_millis(ttl: Option<Duration>) -> Option<i64> {
    ttl.map(|t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX))
}

/// Escapes LIKE metacharacters so a prefix matches literally (with `ESCAPE '\'`).
fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/db`) with default options.
    pub async fn connect(url: &str) -> Result<Self, L2Error> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// Connects to `url` and creates the table if needed. A malformed URL, a bad table name
    /// or a server that does not answer within the connect bound is an [`L2Error::Setup`]
    /// naming the (password-redacted) address.
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<Self, L2Error> {
        let addr = redact_url(url);
        let setup = |message: String| L2Error::Setup {
            store: STORE,
            message,
        };
        if !valid_table(&options.table) {
            return Err(setup(format!(
                "invalid table name {:?}: use letters, digits and _, not starting with a digit",
                options.table
            )));
        }
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(setup(format!(
                "invalid postgres URL {addr:?}: expected postgres://user@host:port/database"
            )));
        }
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| setup(format!("invalid postgres URL {addr:?}: {e}")))?;
        let secrets: Vec<String> = config
            .get_password()
            .map(|p| vec![String::from_utf8_lossy(p).into_owned()])
            .unwrap_or_default();
        if config.get_hosts().is_empty() {
            return Err(setup(format!("invalid postgres URL {addr:?}: no host")));
        }
        config.connect_timeout(options.connect_timeout);
        config.application_name("tokencache");
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(options.connect_timeout))
            .wait_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| setup(format!("cannot build the pool for {addr:?}: {e}")))?;
        let store = PostgresStore {
            pool,
            sql: std::sync::Arc::new(Sql::new(&options.table)),
            addr,
            secrets,
            options,
        };
        let ready = if store.options.create_table {
            store.create_table().await
        } else {
            store
                .with_client(L2Op::Get, |client| async move {
                    client.simple_query("SELECT 1").await.map(|_| ())
                })
                .await
        };
        ready.map_err(|e| {
            setup(format!(
                "cannot set up table {:?} on {}: {}",
                store.options.table,
                store.addr,
                match e {
                    L2Error::Backend { message, .. } => message,
                    other => other.to_string(),
                }
            ))
        })?;
        Ok(store)
    }

    /// The server address with any password redacted.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    fn backend(&self, op: L2Op, message: impl std::fmt::Display) -> L2Error {
        L2Error::Backend {
            store: STORE,
            op,
            message: scrub(&message, &self.secrets),
        }
    }

    /// Checks out a connection and runs `f` on it, all within the op timeout.
    async fn with_client<T, F, Fut>(&self, op: L2Op, f: F) -> Result<T, L2Error>
    where
        F: FnOnce(deadpool_postgres::Object) -> Fut,
        Fut: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let limit = self.options.op_timeout;
        let work = async {
            let client = self.pool.get().await.map_err(|e| match e {
                // Every connection busy for connect_timeout (or none could be opened in time):
                // a timeout, as the cache's failure policy expects, never a wait without end.
                deadpool_postgres::PoolError::Timeout(_) => L2Error::Timeout {
                    store: STORE,
                    op,
                    after: self.options.connect_timeout,
                },
                e => self.backend(op, format!("no connection: {e}")),
            })?;
            f(client).await.map_err(|e| self.backend(op, describe(&e)))
        };
        match tokio::time::timeout(limit, work).await {
            Ok(result) => result,
            Err(_) => Err(L2Error::Timeout {
                store: STORE,
                op,
                after: limit,
            }),
        }
    }

    async fn create_table(&self) -> Result<(), L2Error> {
        let table = self.options.table.clone();
        self.with_client(L2Op::Set, |mut client| async move {
            // Serialize concurrent creators: CREATE TABLE IF NOT EXISTS can still race.
            let tx = client.transaction().await?;
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1))",
                &[&format!("tokencache:{table}")],
            )
            .await?;
            tx.batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS \"{table}\" (\
                    key text PRIMARY KEY, \
                    value bytea NOT NULL, \
                    expires_at timestamptz NULL); \
                 CREATE INDEX IF NOT EXISTS \"{table}_expires_at\" ON \"{table}\" (expires_at);"
            ))
            .await?;
            tx.commit().await
        })
        .await
    }

    async fn try_set(
        &self,
        key: &str,
        value: &Bytes,
        ttl: Option<Duration>,
    ) -> Result<(), L2Error> {
        let sql = self.sql.clone();
        self.with_client(L2Op::Set, |client| async move {
            let stmt = client.prepare_cached(&sql.set).await?;
            let ms = ttl_millis(ttl);
            client.execute(&stmt, &[&key, &value.as_ref(), &ms]).await
        })
        .await
        .map(|_| ())
    }

    /// Deletes expired rows (reads already skip them); returns how many were deleted.
    pub async fn purge_expired(&self) -> Result<u64, L2Error> {
        let sql = self.sql.clone();
        self.with_client(L2Op::Remove, |client| async move {
            let stmt = client.prepare_cached(&sql.purge).await?;
            client.execute(&stmt, &[]).await
        })
        .await
    }
}

#[async_trait]
impl L2Store for PostgresStore {
    fn name(&self) -> &'static str {
        STORE
    }

    async fn get(&self, key: &str, slide: Option<Duration>) -> Result<Option<Bytes>, L2Error> {
        let sql = self.sql.clone();
        let row = self
            .with_client(L2Op::Get, |client| async move {
                match ttl_millis(slide) {
                    Some(ms) => {
                        let stmt = client.prepare_cached(&sql.get_slide).await?;
                        client.query_opt(&stmt, &[&key, &ms]).await
                    }
                    None => {
                        let stmt = client.prepare_cached(&sql.get).await?;
                        client.query_opt(&stmt, &[&key]).await
                    }
                }
            })
            .await?;
        match row {
            None => Ok(None),
            Some(row) => {
                let value: Vec<u8> = row
                    .try_get(0)
                    .map_err(|e| self.backend(L2Op::Get, describe(&e)))?;
                Ok(Some(Bytes::from(value)))
            }
        }
    }

    /// A write to a table that has gone (dropped, or a fresh database behind the same URL)
    /// re-creates it once and retries, so the store heals instead of failing every write.
    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), L2Error> {
        match self.try_set(key, &value, ttl).await {
            Err(L2Error::Backend { message, .. }) if message.ends_with(UNDEFINED_TABLE) => {
                self.create_table().await.map_err(|e| match e {
                    L2Error::Backend { message, .. } => self.backend(L2Op::Set, message),
                    other => other,
                })?;
                self.try_set(key, &value, ttl).await
            }
            other => other,
        }
    }

    async fn remove(&self, key: &str) -> Result<(), L2Error> {
        let sql = self.sql.clone();
        self.with_client(L2Op::Remove, |client| async move {
            let stmt = client.prepare_cached(&sql.remove).await?;
            client.execute(&stmt, &[&key]).await
        })
        .await
        .map(|_| ())
    }

    /// `keys`: live rows whose key starts with `prefix` (exact; one scan of the table).
    /// `bytes`: `pg_total_relation_size` of the table (heap, TOAST, indexes, dead rows),
    /// times the share of the table's rows under `prefix`; exact for the empty prefix.
    /// `server_bytes`: `pg_total_relation_size` itself.
    async fn usage(&self, prefix: &str) -> Result<L2Usage, L2Error> {
        let sql = self.sql.clone();
        let pattern = like_prefix(prefix);
        let row = self
            .with_client(L2Op::Get, |client| async move {
                let stmt = client.prepare_cached(&sql.usage).await?;
                client.query_one(&stmt, &[&pattern]).await
            })
            .await?;
        let get = |i: usize| -> Result<i64, L2Error> {
            row.try_get::<_, i64>(i)
                .map_err(|e| self.backend(L2Op::Get, describe(&e)))
        };
        let (keys, prefix_rows, rows, size) = (get(0)?, get(1)?, get(2)?, get(3)?);
        let bytes = if prefix.is_empty() || rows == 0 {
            size
        } else {
            (size as f64 * prefix_rows as f64 / rows as f64) as i64
        };
        Ok(L2Usage {
            keys: keys.max(0) as u64,
            bytes: bytes.max(0) as u64,
            method: "relation-size",
            server_bytes: Some(size.max(0) as u64),
        })
    }

    /// Live keys under `prefix`, in key order (`SELECT ... ORDER BY key LIMIT`).
    async fn list_keys(&self, prefix: &str, limit: usize) -> Result<Vec<String>, L2Error> {
        let sql = self.sql.clone();
        let pattern = like_prefix(prefix);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .with_client(L2Op::Get, |client| async move {
                let stmt = client.prepare_cached(&sql.list).await?;
                client.query(&stmt, &[&pattern, &limit]).await
            })
            .await?;
        rows.iter()
            .map(|row| {
                row.try_get::<_, String>(0)
                    .map_err(|e| self.backend(L2Op::Get, describe(&e)))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_and_like_prefixes_are_safe() {
        assert!(valid_table("tokencache"));
        assert!(valid_table("_t2"));
        assert!(!valid_table("2t"));
        assert!(!valid_table("t; DROP TABLE x"));
        assert!(!valid_table("t\"x"));
        assert!(!valid_table(""));
        assert_eq!(like_prefix("a%b_c\\"), "a\\%b\\_c\\\\%");
    }
}
