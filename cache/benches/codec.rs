//! Partition decode + encode (MSAL unified-cache JSON) with 1, 10 and 1,000 app access tokens
//! of realistic size (~1.5 KB JWT-shaped secrets), plain and sealed in the AES-256-GCM
//! envelope: what an L1 miss / L2 hit pays to read a partition, and a write pays to store it.
//!
//! Run: `cargo bench -p tokencache --bench codec -- --warm-up-time 1 --measurement-time 3`
//!
//! Last figures (2-core shared VM, other engineers building and testing at the same time,
//! load average 2-5; rustc 1.95, 2026-11-22). Criterion medians, best of three runs, with
//! the spread of the three medians in brackets; the 1,000-token runs are the noisiest.
//!
//!   tokens  JSON bytes  decode plain          encode plain          decode encrypted      encode encrypted
//!   1           2,043   2.62 µs [2.6-2.7]     1.39 µs [1.4-2.1]     3.94 µs [3.9-4.9]     2.86 µs [2.9-4.5]
//!   10         19,728   24.9 µs [25-36]       12.9 µs [13-18]       36.0 µs [36-48]       35.0 µs [35-37]
//!   1,000   1,966,678   2.83 ms [2.8-4.6]     1.22 ms [1.2-1.4]     4.77 ms [4.8-7.3]     2.35 ms [2.4-9.4]
//!
//! Decode runs at ~700 MB/s, encode at ~1.5 GB/s; AES-256-GCM (aes-gcm 0.11) adds roughly
//! 1-2 ms per 2 MB. A full decode + encode of a 1,000-token partition: ~4 ms plain, ~7 ms
//! encrypted.
//!
//! Anchor (MSAL.NET's own benchmark, one partition of 1,000 tokens): 226 µs without the
//! serializer, 25.6 ms with it, so our decode + encode is ~6x (plain) / ~3.5x (encrypted)
//! cheaper than MSAL.NET's serializer path. MSAL.NET's 226 µs is a lookup with the
//! partition already in memory; ours is an O(1) index lookup in the decoded partition that L1
//! holds, so a hit pays none of the figures above (see benches/l1_hit.rs).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tokencache::model::entries::{AccessToken, Secret, Timestamp};
use tokencache::{EncryptionKey, Envelope, Partition};

const CLIENT: &str = "6f1c2a9e-8a42-4c55-9b1e-2d6b1b0c7a11";
const PARTITION_KEY: &str = "6f1c2a9e-8a42-4c55-9b1e-2d6b1b0c7a11__AppTokenCache";

/// A JWT-shaped secret of about 1.5 KB, different for every token.
fn jwt_like(i: usize) -> String {
    let payload: String = (0..1_420)
        .map(|j| {
            char::from(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                    [(i * 31 + j * 7) % 64],
            )
        })
        .collect();
    format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{payload}.c2lnbmF0dXJl")
}

/// A partition of `n` app tokens: one client, tokens spread over tenants and resources.
fn partition(n: usize) -> Partition {
    let mut p = Partition::new();
    for i in 0..n {
        p.upsert_access_token(AccessToken {
            credential_type: "AccessToken".into(),
            secret: Secret::new(jwt_like(i)),
            home_account_id: None,
            environment: "login.microsoftonline.com".into(),
            client_id: CLIENT.into(),
            target: format!("api://resource-{}/.default", i % 50),
            realm: format!("{:08x}-0000-4000-8000-{:012x}", i / 50, i / 50),
            token_type: Some("Bearer".into()),
            cached_at: Timestamp(1_795_000_000),
            expires_on: Timestamp(1_795_003_599),
            extended_expires_on: Some(Timestamp(1_795_003_599)),
            ext_expires_on: None,
            refresh_on: None,
            user_assertion_hash: None,
            user_assertion_hash_node: None,
            extra: Default::default(),
        });
    }
    p
}

fn codec(c: &mut Criterion) {
    let key = EncryptionKey::new("bench", &[42; 32]).expect("32-byte key");
    let encrypted = Envelope::new(vec![key]);
    let mut g = c.benchmark_group("codec");
    for n in [1usize, 10, 1_000] {
        let p = partition(n);
        let json = p.to_json();
        let sealed = encrypted.seal(PARTITION_KEY, json.clone(), None);
        eprintln!(
            "codec: {n} tokens: {} bytes JSON, {} bytes sealed",
            json.len(),
            sealed.len()
        );
        g.throughput(Throughput::Bytes(json.len() as u64));
        g.bench_with_input(BenchmarkId::new("decode/plain", n), &json, |b, json| {
            b.iter(|| Partition::from_json(black_box(json)).expect("decodes"))
        });
        g.bench_with_input(BenchmarkId::new("encode/plain", n), &p, |b, p| {
            b.iter(|| black_box(p).to_json())
        });
        g.bench_with_input(
            BenchmarkId::new("decode/encrypted", n),
            &sealed,
            |b, sealed| {
                b.iter(|| {
                    let opened = encrypted
                        .open(PARTITION_KEY, black_box(sealed))
                        .expect("opens");
                    Partition::from_json(&opened.json).expect("decodes")
                })
            },
        );
        g.bench_with_input(BenchmarkId::new("encode/encrypted", n), &p, |b, p| {
            b.iter(|| encrypted.seal(PARTITION_KEY, black_box(p).to_json(), None))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = codec
}
criterion_main!(benches);
