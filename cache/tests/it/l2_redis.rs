//! The `redis` L2 store against a real `redis-server`: semantics, bad configuration, and an
//! outage in the middle of a test (kill, restart on the same port, recovery by itself).

use std::time::{Duration, Instant};

use testkit::RedisServer;
use tokencache::l2::{RedisOptions, RedisStore};
use tokencache::{L2Error, L2Store};

use crate::l2_conformance as c;

async fn server_and_store() -> (RedisServer, RedisStore) {
    let server = tokio::task::spawn_blocking(RedisServer::start)
        .await
        .unwrap();
    let store = RedisStore::connect(&server.url()).await.unwrap();
    (server, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_binary_values_and_removes() {
    let (_server, store) = server_and_store().await;
    c::round_trips_binary_values(&store, "ts:").await;
    c::remove_deletes_and_tolerates_missing_keys(&store, "ts:").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_expires_and_sliding_reads_extend_it() {
    let (server, store) = server_and_store().await;
    tokio::join!(
        c::expires_after_its_ttl(&store, "ts:"),
        c::sliding_read_extends_the_ttl(&store, "ts:")
    );
    // The slide happened on the server (GETEX PX), not only in our head.
    store
        .set("ts:pttl", c::blob(1), Some(Duration::from_secs(5)))
        .await
        .unwrap();
    store
        .get("ts:pttl", Some(Duration::from_secs(100)))
        .await
        .unwrap();
    let pttl: i64 = server.command(&["PTTL", "ts:pttl"]).parse().unwrap();
    assert!(pttl > 90_000, "PTTL after a 100 s slide: {pttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_counts_keys_and_estimates_bytes() {
    let (_server, store) = server_and_store().await;
    c::usage_counts_keys_under_a_prefix(&store, "ts:", 20).await;
    // More keys than the sample: the count stays exact, bytes are scaled from the sample.
    let big = RedisStore::connect_with(
        &_server.url(),
        RedisOptions {
            usage_sample: 5,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let usage = big.usage("ts:").await.unwrap();
    assert_eq!(usage.keys, 20);
    assert!(usage.bytes >= 20 * 3072, "{usage:?}");
    assert_eq!(big.usage("").await.unwrap().keys, 21);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_probe_matches_bytes_written_and_keys_are_listed() {
    let (_server, store) = server_and_store().await;
    // More keys than the default sample of 64: bytes are scaled from MEMORY USAGE.
    let (written, usage, growth) = c::usage_is_plausible_against_bytes_written(
        &store,
        "ts:probe:",
        400,
        "memory-usage-sample",
    )
    .await;
    eprintln!(
        "redis: {written} B written; MEMORY USAGE sample scaled {} B ({:.2}×); used_memory grew {} B ({:.2}×)",
        usage.bytes,
        usage.bytes as f64 / written as f64,
        growth.unwrap(),
        growth.unwrap() as f64 / written as f64
    );
    c::list_keys_walks_a_prefix_up_to_a_limit(&store, "ts:list:").await;
}

#[tokio::test]
async fn malformed_url_is_a_setup_error_naming_the_problem() {
    for (url, why) in [
        ("redis://:hunter2@127.0.0.1:notaport", "invalid port"),
        ("http://127.0.0.1:6379", "unsupported scheme"),
        ("redis://127.0.0.1:6379/zero", "not a number"),
        ("localhost:6379", "unsupported scheme"),
    ] {
        let err = RedisStore::connect(url).await.unwrap_err();
        assert!(matches!(err, L2Error::Setup { .. }), "{url}: {err:?}");
        let text = err.to_string();
        assert!(text.contains(why), "{url}: {text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}

#[tokio::test]
async fn unreachable_server_fails_fast_at_start_naming_the_address() {
    let port = testkit::free_port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}");
    let start = Instant::now();
    let err = c::within(
        c::FAIL_FAST,
        "connect to nothing",
        RedisStore::connect(&url),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, L2Error::Setup { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_fails_fast_then_the_same_store_recovers_by_itself() {
    let (mut server, store) = server_and_store().await;
    store.set("ts:k", c::blob(1), None).await.unwrap();
    let port = server.port();

    tokio::task::block_in_place(|| server.kill());
    c::fails_fast_while_down(&store, "ts:k").await;

    tokio::task::block_in_place(|| server.restart());
    assert_eq!(server.port(), port);
    let took = c::recovers_by_itself(&store, "ts:k2").await;
    eprintln!("redis store recovered {took:?} after the restart");
    // The server restarted empty (no persistence): the old key is a clean miss.
    assert_eq!(store.get("ts:k", None).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_server_times_out_instead_of_hanging() {
    let (server, store) = server_and_store().await;
    store.set("ts:p", c::blob(1), None).await.unwrap();
    server.pause(Duration::from_secs(3));
    let start = Instant::now();
    let err = c::within(c::FAIL_FAST, "get while paused", store.get("ts:p", None))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        start.elapsed() < Duration::from_millis(2500),
        "{:?}",
        start.elapsed()
    );
    c::recovers_by_itself(&store, "ts:p2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_work_and_never_appear_in_errors() {
    let server =
        tokio::task::spawn_blocking(|| RedisServer::start_with(&["--requirepass", "hunter2"]))
            .await
            .unwrap();
    let port = server.port();
    let store = RedisStore::connect(&format!("redis://:hunter2@127.0.0.1:{port}"))
        .await
        .unwrap();
    assert!(!format!("{store:?}").contains("hunter2"));
    store.set("ts:a", c::blob(1), None).await.unwrap();
    assert_eq!(store.get("ts:a", None).await.unwrap(), Some(c::blob(1)));

    let err = RedisStore::connect(&format!("redis://:wrong-hunter2-x@127.0.0.1:{port}"))
        .await
        .unwrap_err();
    assert!(matches!(err, L2Error::Setup { .. }), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}
