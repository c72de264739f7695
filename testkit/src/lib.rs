//! testkit: starts real servers (Redis, Redis Cluster, PostgreSQL, Prometheus) on free loopback ports for tests.
//!
//! Every server runs as a child process bound to 127.0.0.1 on its own port, with its files in
//! a private temporary directory, and is killed when its handle drops. A missing server binary
//! panics with the install command: a test that needs a server never passes silently without it.
//!
//! The API panics instead of returning errors: it is for tests, where a panic is a clear failure.
//! If the test process dies without running destructors (SIGKILL, a harness timeout), a small
//! watchdog `sh` per server notices its pipe closing and stops the server and removes its files.

mod cluster;
pub mod http;
mod postgres;
mod proc;
mod prometheus;
mod redis;
pub mod resp;

pub use cluster::RedisCluster;
pub use postgres::Postgres;
pub use prometheus::PrometheusServer;
pub use redis::RedisServer;

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};

/// How many times a server start is retried on a fresh port (another test may grab a port
/// between [`free_port`] and the server's own bind).
const START_ATTEMPTS: usize = 3;

/// A port on 127.0.0.1 that was free a moment ago (bind :0, read it, drop the listener).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .expect("bind 127.0.0.1:0 to find a free port");
    listener
        .local_addr()
        .expect("local_addr of a bound listener")
        .port()
}

/// Whether `port` can be bound on 127.0.0.1 right now.
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// A port P for a Redis Cluster node such that P and P + 10000 (the cluster bus) are free.
///
/// Ports come from 20000..30000 (below the kernel's ephemeral range, so outgoing connections
/// do not take them), spread by process id and a counter so parallel tests rarely collide.
pub fn free_cluster_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id().wrapping_mul(7919)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
    for _ in 0..2000 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20000 + (seed.wrapping_add(n.wrapping_mul(37)) % 10000) as u16;
        if port_is_free(port) && port_is_free(port + 10000) {
            return port;
        }
    }
    panic!("no free port pair P, P+10000 in 20000..30000 on 127.0.0.1");
}
