//! Corrupt, truncated and wrong-key blobs in L2 are counted misses, never panics.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokencache::model::keys::partition;
use tokencache::{CacheOptions, EncryptionKey, L2Store};

use crate::support::*;

fn encrypted(id: &str, byte: u8) -> CacheOptions {
    CacheOptions {
        encryption_keys: vec![EncryptionKey::new(id, &[byte; 32]).unwrap()],
        ..CacheOptions::default()
    }
}

#[tokio::test]
async fn garbage_and_truncated_json_are_counted_misses() {
    let (clock, mem) = manual_memory();
    let cache = cache_over(CacheOptions::default(), mem.clone(), clock);
    let blobs: Vec<&[u8]> = vec![
        b"not json",
        b"{\"AccessToken\": {\"k\": ",
        b"{\"AccessToken\": []}",
        b"TSC\x01",
        b"TSC\x09\x00{}",
        &[0xff, 0xfe, 0x00],
    ];
    for (i, blob) in blobs.iter().enumerate() {
        let key = format!("p{i}");
        mem.set(&key, Bytes::copy_from_slice(blob), None)
            .await
            .unwrap();
        let r = cache.get(&key).await.unwrap();
        assert!(r.partition.is_none(), "blob {i}");
    }
    let s = cache.stats();
    assert_eq!(s.decode_errors, blobs.len() as u64);
    assert_eq!(s.l2_misses, blobs.len() as u64);
}

#[tokio::test]
async fn wrong_key_unknown_key_and_truncated_ciphertext_are_counted_misses() {
    let (clock, mem) = manual_memory();
    let writer = cache_over(encrypted("k1", 1), mem.clone(), clock.clone());
    let key = partition::app("c", Some("t"));
    let exp = t0_plus(Duration::from_secs(3600));
    writer
        .update(&key, |p| {
            p.upsert_access_token(app_token("c", "t", "api://a/.default", exp, "s"))
        })
        .await
        .unwrap();

    let wrong_key = cache_over(encrypted("k1", 2), mem.clone(), clock.clone());
    assert!(wrong_key.get(&key).await.unwrap().partition.is_none());
    let unknown_key = cache_over(encrypted("k2", 1), mem.clone(), clock.clone());
    assert!(unknown_key.get(&key).await.unwrap().partition.is_none());
    let plain_reader = cache_over(CacheOptions::default(), mem.clone(), clock.clone());
    assert!(plain_reader.get(&key).await.unwrap().partition.is_none());
    for c in [&wrong_key, &unknown_key, &plain_reader] {
        assert_eq!(c.stats().decode_errors, 1);
    }

    let blob = mem.get(&key, None).await.unwrap().unwrap();
    let right_key = cache_over(encrypted("k1", 1), mem.clone(), clock);
    for cut in [1, 4, 5, 13, blob.len() / 2, blob.len() - 1] {
        mem.set(&key, blob.slice(..cut), None).await.unwrap();
        assert!(
            right_key.get(&key).await.unwrap().partition.is_none(),
            "cut {cut}"
        );
    }
    assert_eq!(right_key.stats().decode_errors, 6);
    let _ = Arc::new(());
}

#[tokio::test]
async fn rotation_reads_old_blobs_and_rewrites_with_the_new_key() {
    let (clock, mem) = manual_memory();
    let old = cache_over(encrypted("k1", 1), mem.clone(), clock.clone());
    let key = partition::app("c", Some("t"));
    let exp = t0_plus(Duration::from_secs(3600));
    old.update(&key, |p| {
        p.upsert_access_token(app_token("c", "t", "api://a/.default", exp, "s1"))
    })
    .await
    .unwrap();
    let rotated = cache_over(
        CacheOptions {
            encryption_keys: vec![
                EncryptionKey::new("k2", &[2; 32]).unwrap(),
                EncryptionKey::new("k1", &[1; 32]).unwrap(),
            ],
            ..CacheOptions::default()
        },
        mem.clone(),
        clock.clone(),
    );
    assert!(rotated.get(&key).await.unwrap().partition.is_some());
    rotated
        .update(&key, |p| {
            p.upsert_access_token(app_token("c", "t", "api://b/.default", exp, "s2"))
        })
        .await
        .unwrap();
    // Now only k2 opens it.
    let only_new = cache_over(encrypted("k2", 2), mem.clone(), clock.clone());
    assert_eq!(
        only_new
            .get(&key)
            .await
            .unwrap()
            .partition
            .unwrap()
            .access_tokens()
            .count(),
        2
    );
    let only_old = cache_over(encrypted("k1", 1), mem, clock);
    assert!(only_old.get(&key).await.unwrap().partition.is_none());
}
