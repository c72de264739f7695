//! `redis-cluster`: the Redis Cluster L2 store, over `redis::cluster_async`.
//!
//! Seeds are several node URLs; the client learns the slot map, routes each key to its master,
//! follows MOVED/ASK, and reconnects to a node that comes back. While a master is down, keys in
//! its slots fail fast (bounded retries and an overall per-operation bound); keys on the other
//! masters keep working when the cluster runs with `cluster-require-full-coverage no`.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, RedisResult};

use super::redis::{
    bounded, check_url, get_cmd, node_usage, scan_keys, set_cmd, NodeUsage, RedisOptions,
};
use super::{L2Error, L2Op, L2Store, L2Usage};

const STORE: &str = "redis-cluster";

/// Redis Cluster L2 store.
#[derive(Clone)]
pub struct RedisClusterStore {
    conn: ClusterConnection,
    /// Seed URLs with passwords redacted, for messages.
    seeds: Vec<String>,
    secrets: Vec<String>,
    options: RedisOptions,
}

impl std::fmt::Debug for RedisClusterStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClusterStore")
            .field("seeds", &self.seeds)
            .field("options", &self.options)
            .finish()
    }
}

impl RedisClusterStore {
    /// Connects through any of the seed URLs with default options.
    pub async fn connect<S: AsRef<str>>(seeds: &[S]) -> Result<Self, L2Error> {
        Self::connect_with(seeds, RedisOptions::default()).await
    }

    /// Connects through any of the seed URLs. A malformed URL, no seeds, or no seed answering
    /// within the connect bound is an [`L2Error::Setup`] naming the (redacted) seeds.
    pub async fn connect_with<S: AsRef<str>>(
        seeds: &[S],
        options: RedisOptions,
    ) -> Result<Self, L2Error> {
        if seeds.is_empty() {
            return Err(L2Error::Setup {
                store: STORE,
                message: "no seed URLs given".into(),
            });
        }
        let mut redacted = Vec::with_capacity(seeds.len());
        let mut secrets = Vec::new();
        for seed in seeds {
            let checked = check_url(STORE, seed.as_ref())?;
            redacted.push(checked.redacted);
            secrets.extend(checked.secrets);
        }
        let setup = |message: String| L2Error::Setup {
            store: STORE,
            message,
        };
        let client = ClusterClient::builder(seeds.iter().map(|s| s.as_ref().to_owned()))
            .connection_timeout(options.connect_timeout)
            .response_timeout(options.response_timeout)
            .overall_response_timeout(Some(options.op_timeout))
            .retries(options.reconnect_retries as u32)
            .min_retry_wait(20)
            .max_retry_wait(200)
            .build()
            .map_err(|e| {
                setup(format!(
                    "invalid cluster seeds {redacted:?}: {}",
                    super::redis::scrub(&e, &secrets)
                ))
            })?;
        let bound =
            options.connect_timeout * (options.reconnect_retries as u32 + 1) + options.op_timeout;
        let conn = match tokio::time::timeout(bound, client.get_async_connection()).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => {
                return Err(setup(format!(
                    "cannot connect to cluster seeds {redacted:?}: {}",
                    super::redis::scrub(&e, &secrets)
                )))
            }
            Err(_) => {
                return Err(setup(format!(
                    "cannot connect to cluster seeds {redacted:?}: no answer within {bound:?}"
                )))
            }
        };
        Ok(RedisClusterStore {
            conn,
            seeds: redacted,
            secrets,
            options,
        })
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

    /// `(host, port)` of every master the cluster reports as not failed.
    async fn masters(&self) -> RedisResult<Vec<(String, u16)>> {
        let mut conn = self.conn.clone();
        let reply = conn
            .route_command(
                redis::cmd("CLUSTER").arg("NODES").to_owned(),
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
            )
            .await?;
        let table: String = redis::from_redis_value(reply)?;
        Ok(parse_masters(&table))
    }
}

/// Masters (not flagged `fail`) from `CLUSTER NODES` output: `id ip:port@bus flags ...`.
fn parse_masters(table: &str) -> Vec<(String, u16)> {
    table
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = fields.get(2)?;
            if !flags.split(',').any(|f| f == "master") || flags.contains("fail") {
                return None;
            }
            let addr = fields.get(1)?.split('@').next()?;
            let (host, port) = addr.rsplit_once(':')?;
            Some((host.to_owned(), port.parse().ok()?))
        })
        .collect()
}

#[async_trait]
impl L2Store for RedisClusterStore {
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

    /// Sums the standalone estimate over every live master: keys exact per master (`DBSIZE`
    /// for the empty prefix, `SCAN MATCH` otherwise), bytes from `MEMORY USAGE` of up to
    /// `usage_sample` keys per master, scaled when a master holds more. A master that is down
    /// makes the whole call fail rather than under-report. `server_bytes`: the masters'
    /// `used_memory` summed.
    async fn usage(&self, prefix: &str) -> Result<L2Usage, L2Error> {
        let sample = self.options.usage_sample;
        let work = async {
            let mut total = NodeUsage::default();
            for (host, port) in self.masters().await? {
                let conn = self.conn.clone();
                let exec = move |cmd: Cmd| {
                    let mut conn = conn.clone();
                    let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                        host: host.clone(),
                        port,
                    });
                    async move { conn.route_command(cmd, route).await }
                };
                total.add(node_usage(prefix, sample, exec).await?);
            }
            Ok::<_, redis::RedisError>(total)
        };
        bounded(
            STORE,
            L2Op::Get,
            self.options.op_timeout * 10,
            &self.secrets,
            work,
        )
        .await
        .map(NodeUsage::estimate)
    }

    /// `SCAN MATCH prefix*` on each live master in turn until `limit` keys are found.
    async fn list_keys(&self, prefix: &str, limit: usize) -> Result<Vec<String>, L2Error> {
        let work = async {
            let mut out = Vec::new();
            for (host, port) in self.masters().await? {
                if out.len() >= limit {
                    break;
                }
                let conn = self.conn.clone();
                let exec = move |cmd: Cmd| {
                    let mut conn = conn.clone();
                    let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                        host: host.clone(),
                        port,
                    });
                    async move { conn.route_command(cmd, route).await }
                };
                scan_keys(prefix, limit, &mut out, exec).await?;
            }
            Ok::<_, redis::RedisError>(out)
        };
        bounded(
            STORE,
            L2Op::Get,
            self.options.op_timeout * 10,
            &self.secrets,
            work,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masters_are_read_from_cluster_nodes() {
        let table = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
b2 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-10922
c3 127.0.0.1:7002@17002 master,fail - 0 0 3 disconnected 10923-16383
d4 127.0.0.1:7003@17003 slave a1 0 0 1 connected
";
        assert_eq!(
            parse_masters(table),
            vec![
                ("127.0.0.1".to_owned(), 7000),
                ("127.0.0.1".to_owned(), 7001)
            ]
        );
    }
}
