//! `loadgen inspect`: decodes one partition blob — from a file (MSAL JSON written by MSAL
//! Python/Node/.NET or by us, or our envelope), Redis, Redis Cluster or PostgreSQL — and shows
//! what it holds without ever printing a token (length and the first 8 hex digits of its
//! SHA-256 only). `--list` lists partition keys under the namespace instead.

pub mod decode;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use serde_json::{json, Value};
use tokencache::config::parse_key;
use tokencache::l2::{PostgresOptions, PostgresStore, RedisClusterStore, RedisStore};
use tokencache::{EncryptionKey, L2Store};

use crate::cli::{EXIT_INVALID, EXIT_PASS, EXIT_RUNTIME};
use crate::report::time::parse_rfc3339;

/// The key id the load generator seals with (`cache.l2.encrypt.key_env` becomes key `k1`).
pub const DEFAULT_KEY_ID: &str = "k1";

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true)
    .args(["file", "redis", "redis_cluster", "postgres"])))]
pub struct InspectArgs {
    /// Partition key (without the namespace), e.g. `{client}_{tenant}_AppTokenCache`; with
    /// --file, needed only for encrypted envelopes (the key is bound into the encryption).
    #[arg(value_name = "KEY")]
    pub key: Option<String>,
    /// Read the blob from a file (MSAL JSON or our envelope).
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Read from Redis, e.g. redis://127.0.0.1:6379/0
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// Read from Redis Cluster through these seeds (comma-separated).
    #[arg(long, value_name = "URL[,URL]", value_delimiter = ',')]
    pub redis_cluster: Option<Vec<String>>,
    /// Read from PostgreSQL, e.g. postgres://user@127.0.0.1:5432/db
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// PostgreSQL table (as the cache's postgres store).
    #[arg(long, default_value = "tokencache", requires = "postgres")]
    pub table: String,
    /// Key prefix as the cache uses it (`{namespace}:{partition}`); loadgen's default is
    /// `tokenscope` (a scenario's `cache.l2.namespace`); `--namespace ''` = none.
    #[arg(long, default_value = "tokenscope")]
    pub namespace: String,
    /// List partition keys under the namespace instead of decoding one.
    #[arg(long, conflicts_with_all = ["key", "file"])]
    pub list: bool,
    /// At most this many keys with --list.
    #[arg(long, default_value_t = 100, requires = "list")]
    pub limit: usize,
    /// Decryption key from an environment variable (64 hex digits or base64 of 32 bytes):
    /// `VAR` (key id k1, as loadgen seals) or `ID=VAR`. Repeatable. Never pass the key itself.
    #[arg(long = "key-env", value_name = "[ID=]VAR")]
    pub key_env: Vec<String>,
    /// The time expiries are shown against: RFC 3339 (2026-12-04T10:00:00Z) or Unix seconds.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// A failure and its exit code.
struct Failure(i32, String);

fn bad(msg: impl Into<String>) -> Failure {
    Failure(EXIT_INVALID, msg.into())
}

/// Reads `--key-env` specs: keys come from the environment, never from the command line.
pub fn keys_from_env(
    specs: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<EncryptionKey>, String> {
    specs
        .iter()
        .map(|spec| {
            let (id, var) = match spec.split_once('=') {
                Some((id, var)) => (id.trim(), var.trim()),
                None => (DEFAULT_KEY_ID, spec.trim()),
            };
            if id.is_empty() || var.is_empty() {
                return Err(format!("--key-env {spec:?}: expected VAR or ID=VAR"));
            }
            let text = env(var).ok_or_else(|| {
                format!("--key-env {spec:?}: environment variable {var} is not set")
            })?;
            parse_key(&format!("--key-env {var}"), id, &text).map_err(|e| e.to_string())
        })
        .collect()
}

/// `--now`: RFC 3339 or Unix seconds; default the system time.
pub fn parse_now(raw: Option<&str>) -> Result<u64, String> {
    let Some(raw) = raw else {
        return Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()));
    };
    if let Ok(secs) = raw.trim().parse::<u64>() {
        return Ok(secs);
    }
    parse_rfc3339(raw.trim())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .ok_or_else(|| {
            format!("--now {raw:?}: expected RFC 3339 (2026-12-04T10:00:00Z) or Unix seconds")
        })
}

/// Runs `loadgen inspect`; returns the exit code.
pub fn main(args: InspectArgs) -> i32 {
    match inspect(&args) {
        Ok(text) => {
            print!("{text}");
            EXIT_PASS
        }
        Err(Failure(code, msg)) => {
            eprintln!("error: {msg}");
            code
        }
    }
}

fn inspect(args: &InspectArgs) -> Result<String, Failure> {
    let keys = keys_from_env(&args.key_env, |v| std::env::var(v).ok()).map_err(bad)?;
    let now = parse_now(args.now.as_deref()).map_err(bad)?;
    if let Some(path) = &args.file {
        let blob =
            std::fs::read(path).map_err(|e| bad(format!("--file {}: {e}", path.display())))?;
        let d = decode::describe(args.key.as_deref(), &blob, &keys, now)
            .map_err(|e| bad(format!("{}: {}", path.display(), e.0)))?;
        return Ok(output(args, &d));
    }
    if !args.list && args.key.is_none() {
        return Err(bad(
            "give a partition KEY to decode, or --list to list the keys",
        ));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(EXIT_RUNTIME, format!("starting the runtime: {e}")))?;
    rt.block_on(from_store(args, &keys, now))
}

fn output(args: &InspectArgs, d: &Value) -> String {
    if args.json {
        format!("{}\n", serde_json::to_string_pretty(d).unwrap_or_default())
    } else {
        decode::render(d)
    }
}

async fn connect(args: &InspectArgs) -> Result<(Arc<dyn L2Store>, String), Failure> {
    // Setup errors are runtime failures (exit 1) unless the URL itself is malformed.
    let fail = |e: tokencache::L2Error| {
        let msg = e.to_string();
        if msg.contains("invalid") {
            bad(msg)
        } else {
            Failure(EXIT_RUNTIME, msg)
        }
    };
    if let Some(url) = &args.redis {
        let s = RedisStore::connect(url).await.map_err(fail)?;
        let addr = s.addr().to_owned();
        return Ok((Arc::new(s), addr));
    }
    if let Some(seeds) = &args.redis_cluster {
        let s = RedisClusterStore::connect(seeds).await.map_err(fail)?;
        let addr = seeds
            .iter()
            .map(|u| tokencache::config::redact_url(u))
            .collect::<Vec<_>>()
            .join(",");
        return Ok((Arc::new(s), addr));
    }
    if let Some(url) = &args.postgres {
        let opts = PostgresOptions {
            table: args.table.clone(),
            create_table: false,
            ..PostgresOptions::default()
        };
        let s = PostgresStore::connect_with(url, opts).await.map_err(fail)?;
        let addr = s.addr().to_owned();
        return Ok((Arc::new(s), addr));
    }
    Err(bad(
        "give a source: --file, --redis, --redis-cluster or --postgres",
    ))
}

fn full_key(namespace: &str, partition: &str) -> String {
    if namespace.is_empty() {
        partition.to_owned()
    } else {
        format!("{namespace}:{partition}")
    }
}

async fn from_store(
    args: &InspectArgs,
    keys: &[EncryptionKey],
    now: u64,
) -> Result<String, Failure> {
    let (store, addr) = connect(args).await?;
    let runtime = |e: tokencache::L2Error| {
        let msg = e.to_string();
        if msg.ends_with("(42P01)") {
            // PostgreSQL's undefined_table: the --table names nothing (inspect never creates it).
            bad(format!("{addr}: no table {:?} ({msg})", args.table))
        } else {
            Failure(EXIT_RUNTIME, format!("{addr}: {e}"))
        }
    };
    let prefix = full_key(&args.namespace, "");
    if args.list {
        let mut found = store
            .list_keys(&prefix, args.limit)
            .await
            .map_err(runtime)?;
        found.sort();
        let parts: Vec<&str> = found
            .iter()
            .map(|k| k.strip_prefix(&prefix).unwrap_or(k))
            .collect();
        return Ok(if args.json {
            format!(
                "{}\n",
                serde_json::to_string_pretty(&json!({
                    "source": addr, "namespace": args.namespace, "limit": args.limit,
                    "keys": parts,
                }))
                .unwrap_or_default()
            )
        } else {
            let mut out = format!(
                "{} partition key(s) under namespace {:?} on {addr} (limit {})\n",
                parts.len(),
                args.namespace,
                args.limit
            );
            for p in parts {
                out.push_str("  ");
                out.push_str(p);
                out.push('\n');
            }
            out
        });
    }
    let partition = args.key.as_deref().unwrap_or_default();
    let key = full_key(&args.namespace, partition);
    let blob = store
        .get(&key, None)
        .await
        .map_err(runtime)?
        .ok_or_else(|| {
            bad(format!(
                "no partition {key:?} on {addr} (namespace {:?}; try --list)",
                args.namespace
            ))
        })?;
    let d = decode::describe(Some(partition), &blob, keys, now)
        .map_err(|e| bad(format!("{addr} key {key:?}: {}", e.0)))?;
    Ok(output(args, &d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_specs_read_the_environment_and_name_what_is_missing() {
        let hex = "11".repeat(32);
        let env = |v: &str| (v == "K").then(|| hex.clone());
        let keys = keys_from_env(&["K".into(), "k9=K".into()], env).unwrap();
        let ids: Vec<&str> = keys.iter().map(|k| k.id()).collect();
        assert_eq!(ids, ["k1", "k9"]);
        let err = keys_from_env(&["MISSING".into()], env).unwrap_err();
        assert!(err.contains("MISSING is not set"), "{err}");
        assert!(keys_from_env(&["=K".into()], env).is_err());
    }

    #[test]
    fn now_is_rfc3339_or_unix_seconds() {
        assert_eq!(parse_now(Some("1700000000")), Ok(1_700_000_000));
        assert_eq!(parse_now(Some("1970-01-01T00:01:00Z")), Ok(60));
        assert!(parse_now(Some("yesterday")).unwrap_err().contains("--now"));
    }
}
