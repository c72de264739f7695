//! The `postgres` L2 store against a private PostgreSQL cluster: semantics, bad
//! configuration, purge, and a server crash + restart in the middle of a test.

use std::time::{Duration, Instant};

use testkit::Postgres;
use tokencache::l2::{PostgresOptions, PostgresStore};
use tokencache::{L2Error, L2Store};

use crate::l2_conformance as c;

async fn server_and_store() -> (Postgres, PostgresStore) {
    let server = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let store = PostgresStore::connect(&server.url()).await.unwrap();
    (server, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantics_round_trip_ttl_slide_remove_usage() {
    let (_server, store) = server_and_store().await;
    c::round_trips_binary_values(&store, "ts:").await;
    c::remove_deletes_and_tolerates_missing_keys(&store, "ts:").await;
    tokio::join!(
        c::expires_after_its_ttl(&store, "ts:"),
        c::sliding_read_extends_the_ttl(&store, "ts:"),
        c::usage_counts_keys_under_a_prefix(&store, "ts:usage:", 20),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_probe_matches_bytes_written_and_keys_are_listed() {
    let (_server, store) = server_and_store().await;
    let (written, usage, growth) =
        c::usage_is_plausible_against_bytes_written(&store, "", 400, "relation-size").await;
    eprintln!(
        "postgres: {written} B written; pg_total_relation_size {} B ({:.2}×), grew {} B",
        usage.server_bytes.unwrap(),
        usage.bytes as f64 / written as f64,
        growth.unwrap()
    );
    c::list_keys_walks_a_prefix_up_to_a_limit(&store, "ts:list:").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_deletes_expired_rows_and_a_custom_table_works() {
    let (server, _default) = server_and_store().await;
    let store = PostgresStore::connect_with(
        &server.url(),
        PostgresOptions {
            table: "custom_cache".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // Constructing again on an existing table is fine.
    PostgresStore::connect_with(
        &server.url(),
        PostgresOptions {
            table: "custom_cache".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    store
        .set("a", c::blob(1), Some(Duration::from_millis(50)))
        .await
        .unwrap();
    store.set("b", c::blob(2), None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(store.purge_expired().await.unwrap(), 1);
    assert_eq!(store.usage("").await.unwrap().keys, 1);
    assert_eq!(store.get("b", None).await.unwrap(), Some(c::blob(2)));
    // The default table did not see any of it.
    assert_eq!(_default.usage("").await.unwrap().keys, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_pool_is_a_timeout_not_a_wait_and_a_read_only_store_creates_no_table() {
    let server = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let url = server.url();
    let store = PostgresStore::connect_with(
        &url,
        PostgresOptions {
            max_connections: 1,
            connect_timeout: Duration::from_millis(300),
            op_timeout: Duration::from_secs(5),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    store.set("k", c::blob(1), None).await.unwrap();
    // Another session locks the table: the store's only connection waits on the lock.
    let (locker, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    locker
        .batch_execute("BEGIN; LOCK TABLE tokencache IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let blocked = tokio::spawn({
        let store = store.clone();
        async move { store.get("k", None).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = Instant::now();
    let err = store.get("k", None).await.unwrap_err();
    assert!(err.is_timeout(), "waiting for a pooled connection: {err:?}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    locker.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(blocked.await.unwrap().unwrap(), Some(c::blob(1)));
    assert_eq!(store.get("k", None).await.unwrap(), Some(c::blob(1)));

    let read_only = PostgresStore::connect_with(
        &url,
        PostgresOptions {
            table: "never_created".into(),
            create_table: false,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let err = read_only.get("k", None).await.unwrap_err();
    assert!(err.to_string().ends_with("(42P01)"), "{err}");
}

#[tokio::test]
async fn bad_configuration_is_a_setup_error_naming_the_problem() {
    for (url, why) in [
        (
            "postgres://postgres:hunter2@127.0.0.1:notaport/db",
            "invalid",
        ),
        ("mysql://127.0.0.1/db", "expected postgres://"),
        ("127.0.0.1:5432", "expected postgres://"),
    ] {
        let err = PostgresStore::connect(url).await.unwrap_err();
        assert!(matches!(err, L2Error::Setup { .. }), "{url}: {err:?}");
        let text = err.to_string();
        assert!(text.contains(why), "{url}: {text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
    let err = PostgresStore::connect_with(
        "postgres://postgres@127.0.0.1:5/db",
        PostgresOptions {
            table: "x; DROP TABLE y".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("invalid table name"), "{err}");
}

#[tokio::test]
async fn unreachable_server_fails_fast_at_start_naming_the_address() {
    let port = testkit::free_port();
    let url = format!("postgres://postgres:hunter2@127.0.0.1:{port}/tokenscope");
    let start = Instant::now();
    let err = c::within(
        c::FAIL_FAST,
        "connect to nothing",
        PostgresStore::connect(&url),
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
    eprintln!("postgres store recovered {took:?} after the restart");
    // PostgreSQL keeps committed rows across a crash.
    assert_eq!(store.get("ts:k", None).await.unwrap(), Some(c::blob(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_table_is_recreated_by_the_next_write() {
    let (server, store) = server_and_store().await;
    store.set("a", c::blob(1), None).await.unwrap();
    let (client, conn) = tokio_postgres::connect(&server.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client.batch_execute("DROP TABLE tokencache").await.unwrap();
    // Reads of a missing table are errors (not silent misses) ...
    assert!(store.get("a", None).await.is_err());
    // ... and the next write heals the store.
    store.set("b", c::blob(2), None).await.unwrap();
    assert_eq!(store.get("b", None).await.unwrap(), Some(c::blob(2)));
    assert_eq!(store.get("a", None).await.unwrap(), None);
}
