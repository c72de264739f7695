//! A Redis Cluster of N masters (no replicas) on free loopback ports, built with
//! `redis-cli --cluster create`, with kill / restart of single nodes.

use std::process::Command;
use std::time::Duration;

use crate::proc::{require_binary, run, wait_until};
use crate::redis::RedisProcess;
use crate::{free_cluster_port, resp, START_ATTEMPTS};

const OK_LIMIT: Duration = Duration::from_secs(15);

/// A Redis Cluster for one test. Dropping it kills every node.
///
/// Nodes run with `cluster-node-timeout 2000` and `cluster-require-full-coverage no`, so when
/// one master dies the others keep serving their own slots (keys on the dead master fail).
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisProcess>,
    _dir: tempfile::TempDir,
}

fn node_args() -> Vec<String> {
    [
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-node-timeout",
        "2000",
        "--cluster-require-full-coverage",
        "no",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

impl RedisCluster {
    /// Starts `masters` nodes, joins them with `redis-cli --cluster create` and waits until
    /// every node reports `cluster_state:ok`.
    pub fn start(masters: usize) -> Self {
        assert!(masters >= 3, "Redis Cluster needs at least 3 masters");
        require_binary("redis-server", "redis-server redis-tools");
        let cli = require_binary("redis-cli", "redis-tools");
        let dir = tempfile::Builder::new()
            .prefix("testkit-redis-cluster-")
            .tempdir()
            .expect("create a temporary directory for the cluster");
        let mut nodes = Vec::with_capacity(masters);
        for i in 0..masters {
            let node_dir = dir.path().join(format!("node{i}"));
            std::fs::create_dir_all(&node_dir).expect("create a node directory");
            let mut last = String::new();
            let mut started = None;
            for _ in 0..START_ATTEMPTS {
                match RedisProcess::spawn(free_cluster_port(), &node_dir, &node_args()) {
                    Ok(node) => {
                        started = Some(node);
                        break;
                    }
                    Err(e) => last = e,
                }
            }
            nodes.push(started.unwrap_or_else(|| {
                panic!("cluster node {i} did not start after {START_ATTEMPTS} attempts: {last}")
            }));
        }
        let mut create = Command::new(cli);
        create.arg("--cluster").arg("create");
        for node in &nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        create.args(["--cluster-replicas", "0", "--cluster-yes"]);
        run(&mut create, "redis-cli --cluster create");
        let cluster = RedisCluster { nodes, _dir: dir };
        cluster.wait_ok(OK_LIMIT);
        cluster
    }

    /// Seed URLs of every node, `redis://127.0.0.1:P`.
    pub fn urls(&self) -> Vec<String> {
        self.ports()
            .into_iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }

    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// SIGKILLs node `i` (its slots become unavailable; nodes.conf stays for the restart).
    pub fn kill_node(&mut self, i: usize) {
        self.nodes[i].kill();
    }

    /// Restarts node `i` on the same port with the same nodes.conf, so it rejoins with its
    /// slots, and waits until every node reports `cluster_state:ok`.
    pub fn restart_node(&mut self, i: usize) {
        self.nodes[i].kill();
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            match self.nodes[i].start() {
                Ok(()) => {
                    self.wait_ok(OK_LIMIT);
                    return;
                }
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("cluster node {i} did not restart: {last}");
    }

    /// Which node index serves `key` (asks a live node with `CLUSTER KEYSLOT` + `CLUSTER NODES`).
    pub fn node_for_key(&self, key: &str) -> usize {
        let live = self
            .nodes
            .iter()
            .find(|n| n.is_running())
            .expect("a live cluster node");
        let slot: u16 = resp::command(live.port, &["CLUSTER", "KEYSLOT", key])
            .expect("CLUSTER KEYSLOT")
            .parse()
            .expect("slot number");
        let table = resp::command(live.port, &["CLUSTER", "NODES"]).expect("CLUSTER NODES");
        for line in table.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].contains("master") {
                continue;
            }
            let port: u16 = fields[1]
                .split(['@', ':'])
                .nth(1)
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let serves = fields[8..].iter().any(|range| match range.split_once('-') {
                Some((a, b)) => {
                    a.parse::<u16>().is_ok_and(|a| a <= slot)
                        && b.parse::<u16>().is_ok_and(|b| slot <= b)
                }
                None => range.parse::<u16>() == Ok(slot),
            });
            if serves {
                if let Some(i) = self.nodes.iter().position(|n| n.port == port) {
                    return i;
                }
            }
        }
        panic!("no master serves slot {slot} of key {key:?}:\n{table}");
    }

    /// Waits until every running node reports `cluster_state:ok`; panics after `limit`.
    pub fn wait_ok(&self, limit: Duration) {
        let ok = wait_until(limit, || {
            self.nodes.iter().filter(|n| n.is_running()).all(|n| {
                resp::command(n.port, &["CLUSTER", "INFO"])
                    .is_ok_and(|info| info.contains("cluster_state:ok"))
            })
        });
        assert!(
            ok,
            "cluster did not reach cluster_state:ok within {limit:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_masters_reach_ok_and_a_node_rejoins_after_restart() {
        let mut cluster = RedisCluster::start(3);
        assert_eq!(cluster.urls().len(), 3);
        let i = cluster.node_for_key("some-key");
        let port = cluster.ports()[i];
        assert_eq!(
            resp::command(port, &["SET", "some-key", "v"]).unwrap(),
            "OK"
        );
        cluster.kill_node(i);
        assert!(!resp::ping(port));
        cluster.restart_node(i);
        assert_eq!(cluster.ports()[i], port);
        assert_eq!(cluster.node_for_key("some-key"), i);
    }
}
