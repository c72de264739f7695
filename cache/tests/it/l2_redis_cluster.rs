//! The `redis-cluster` L2 store against a real 3-master Redis Cluster: semantics across slots,
//! and one master killed and restarted in the middle of a test.

use testkit::RedisCluster;
use tokencache::l2::RedisClusterStore;
use tokencache::{L2Error, L2Store};

use crate::l2_conformance as c;

async fn cluster_and_store() -> (RedisCluster, RedisClusterStore) {
    let cluster = tokio::task::spawn_blocking(|| RedisCluster::start(3))
        .await
        .unwrap();
    let store = RedisClusterStore::connect(&cluster.urls()).await.unwrap();
    (cluster, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantics_hold_across_slots() {
    let (cluster, store) = cluster_and_store().await;
    c::round_trips_binary_values(&store, "ts:").await;
    c::remove_deletes_and_tolerates_missing_keys(&store, "ts:").await;
    tokio::join!(
        c::expires_after_its_ttl(&store, "ts:"),
        c::sliding_read_extends_the_ttl(&store, "ts:"),
        // 30 keys land on all three masters; usage sums them.
        c::usage_counts_keys_under_a_prefix(&store, "ts:usage:", 30),
    );
    let masters: std::collections::HashSet<usize> = (0..30)
        .map(|i| cluster.node_for_key(&format!("ts:usage:u{i}")))
        .collect();
    assert_eq!(masters.len(), 3, "keys should spread over every master");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_probe_sums_masters_and_keys_are_listed_across_them() {
    let (_cluster, store) = cluster_and_store().await;
    let (written, usage, growth) = c::usage_is_plausible_against_bytes_written(
        &store,
        "ts:probe:",
        600,
        "memory-usage-sample",
    )
    .await;
    eprintln!(
        "redis-cluster: {written} B written; sampled {} B; used_memory (3 masters) grew {} B",
        usage.bytes,
        growth.unwrap()
    );
    c::list_keys_walks_a_prefix_up_to_a_limit(&store, "ts:list:").await;
}

#[tokio::test]
async fn bad_seeds_are_setup_errors() {
    let err = RedisClusterStore::connect::<&str>(&[]).await.unwrap_err();
    assert!(err.to_string().contains("no seed"), "{err}");
    let err = RedisClusterStore::connect(&["redis://:hunter2@127.0.0.1:notaport"])
        .await
        .unwrap_err();
    assert!(matches!(err, L2Error::Setup { .. }));
    assert!(err.to_string().contains("invalid port"), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");

    let port = testkit::free_port();
    let err = c::within(
        c::FAIL_FAST,
        "connect to no cluster",
        RedisClusterStore::connect(&[format!("redis://127.0.0.1:{port}")]),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, L2Error::Setup { .. }), "{err:?}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_master_fails_its_keys_cleanly_and_the_store_recovers() {
    let (mut cluster, store) = cluster_and_store().await;
    let keys: Vec<String> = (0..30).map(|i| format!("ts:o{i}")).collect();
    for key in &keys {
        store.set(key, c::blob(1), None).await.unwrap();
    }
    let victim = cluster.node_for_key(&keys[0]);
    let (dead, alive): (Vec<&String>, Vec<&String>) =
        keys.iter().partition(|k| cluster.node_for_key(k) == victim);
    assert!(!alive.is_empty());

    tokio::task::block_in_place(|| cluster.kill_node(victim));

    // Keys of the dead master: errors, never hangs.
    for key in dead.iter().take(3) {
        let r = c::within(c::FAIL_FAST, "get on a dead master", store.get(key, None)).await;
        assert!(r.is_err(), "{key} read from a dead master: {r:?}");
        c::assert_no_value_or_secret(&r.unwrap_err());
    }
    // Keys of the live masters: still served (or a clean error, never a hang).
    let mut served = 0;
    for key in &alive {
        match c::within(c::FAIL_FAST, "get on a live master", store.get(key, None)).await {
            Ok(Some(v)) => {
                assert_eq!(v, c::blob(1));
                served += 1;
            }
            Ok(None) => panic!("{key} lost on a live master"),
            Err(e) => c::assert_no_value_or_secret(&e),
        }
    }
    eprintln!(
        "with master {victim} down: {served}/{} keys on live masters served",
        alive.len()
    );
    assert!(served > 0, "no key on a live master was served");

    tokio::task::block_in_place(|| cluster.restart_node(victim));
    let took = c::recovers_by_itself(&store, dead[0]).await;
    eprintln!("cluster store recovered {took:?} after the master restarted");
    // Every key routes again (the restarted master came back empty).
    for key in &keys {
        let r = c::within(c::FAIL_FAST, "get after recovery", store.get(key, None)).await;
        assert!(r.is_ok(), "{key}: {r:?}");
    }
}
