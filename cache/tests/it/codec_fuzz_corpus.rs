//! The fuzz targets' properties (fuzz/fuzz_targets/) as ordinary tests over mutations of the
//! golden caches, so stable CI exercises them without nightly or cargo-fuzz: every truncation
//! and a bit flip at every byte neither panic nor break the round trip, and a sealed blob with
//! any such mutation never opens.

use serde_json::Value;
use tokencache::{EncryptionKey, Envelope, Partition};

use crate::golden::golden_files;

/// The partition_json property: whatever parses re-encodes to JSON that parses again to the
/// same entries.
fn partition_json_property(data: &[u8]) -> bool {
    let Ok(p) = Partition::from_json(data) else {
        return false;
    };
    let json = p.to_json();
    let again = Partition::from_json(&json).expect("our own JSON parses");
    assert_eq!(again.token_count(), p.token_count());
    assert_eq!(again.accounts().count(), p.accounts().count());
    let first: Value = serde_json::from_slice(&json).unwrap();
    let second: Value = serde_json::from_slice(&again.to_json()).unwrap();
    assert_eq!(first, second, "encode(decode(encode(p))) == encode(p)");
    true
}

/// Mutations of `seed`: every truncation, and one bit flipped at every byte.
fn mutations(seed: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let truncations = (0..seed.len()).map(|n| seed[..n].to_vec());
    let flips = (0..seed.len()).map(|i| {
        let mut m = seed.to_vec();
        m[i] ^= 1 << (i % 8);
        m
    });
    truncations.chain(flips)
}

/// The golden caches as seeds, with long secrets cut to 24 characters: the structure is what
/// matters, and every-byte mutations of 1.6 KB fake JWTs would only slow the test down.
fn seeds() -> Vec<(String, Vec<u8>)> {
    golden_files()
        .into_iter()
        .map(|(name, bytes)| {
            let mut v: Value = serde_json::from_slice(&bytes).unwrap();
            for section in v.as_object_mut().unwrap().values_mut() {
                for entry in section
                    .as_object_mut()
                    .into_iter()
                    .flat_map(|m| m.values_mut())
                {
                    if let Some(Value::String(secret)) = entry.get_mut("secret") {
                        secret.truncate(24);
                    }
                }
            }
            (name, serde_json::to_vec_pretty(&v).unwrap())
        })
        .collect()
}

#[test]
fn truncated_and_bit_flipped_caches_never_panic_and_round_trip_when_they_parse() {
    for (name, seed) in seeds() {
        assert!(partition_json_property(&seed), "{name} parses");
        let (mut parsed, mut total) = (0, 0);
        for m in mutations(&seed) {
            total += 1;
            parsed += usize::from(partition_json_property(&m));
        }
        // Flips inside strings still parse; truncations never do (except the empty prefix).
        assert!(
            parsed > 0 && parsed < total,
            "{name}: {parsed}/{total} parsed"
        );
    }
}

#[test]
fn odd_but_valid_json_round_trips() {
    for doc in [
        &b""[..],
        b"  ",
        b"{}",
        br#"{"AccessToken":{}}"#,
        br#"{"AccessToken":{"k":{}}}"#,
        br#"{"AccessToken":{"k":{"expires_on":1e300,"cached_at":"  12 "}},"X":[1,{"a":null}]}"#,
        br#"{"AccessToken":{"a":{"client_id":"c"},"b":{"client_id":"C"}}}"#,
        br#"{"Account":{"k":{"home_account_id":"h","tenantProfiles":["{}"]}},"AppMetadata":{"m":{}}}"#,
        br#"{"AccessToken":{"k":{"secret":"\ud83d\ude00 \u0000"}}}"#,
    ] {
        assert!(partition_json_property(doc), "{}", String::from_utf8_lossy(doc));
    }
    for bad in [
        &br#"{"AccessToken":null}"#[..],
        br#"{"AccessToken":{"k":{"expires_on":-1}}}"#,
        br#"{"AccessToken":{"k":{"expires_on":"soon"}}}"#,
        br#"[]"#,
        b"\xff",
    ] {
        assert!(
            Partition::from_json(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn mutated_sealed_blobs_never_open_and_arbitrary_bytes_never_panic() {
    let envelope = Envelope::new(vec![EncryptionKey::new("k1", &[7; 32]).unwrap()]);
    // The smallest seed keeps the debug-build AES work small.
    let (name, seed) = seeds().into_iter().min_by_key(|(_, b)| b.len()).unwrap();
    for deadline in [None, Some(1_795_000_000_000)] {
        let sealed = envelope.seal("partition", seed.clone(), deadline);
        let opened = envelope.open("partition", &sealed).unwrap();
        assert_eq!(opened.json, seed);
        assert!(envelope.open("another-partition", &sealed).is_err());
        // Every single-bit flip of the header (magic, version, flags, deadline, key id, nonce).
        let header_flips = (0..sealed.len().min(40)).flat_map(|i| {
            let sealed = &sealed;
            (0..8).map(move |bit| {
                let mut m = sealed.clone();
                m[i] ^= 1 << bit;
                m
            })
        });
        for m in mutations(&sealed).chain(header_flips) {
            assert!(
                envelope.open("partition", &m).is_err(),
                "{name}: a mutation opened"
            );
        }
    }
    // Arbitrary bytes (the golden files and their mutations) through both envelopes.
    for m in mutations(&seed) {
        assert!(envelope.open("partition", &m).is_err());
        let plain = Envelope::plain().open("partition", &m).unwrap();
        assert_eq!(plain.json, m, "plain JSON is stored as itself");
    }
    for header in [
        &b"TSC"[..],
        b"TSC\x01",
        b"TSC\x01\x03",
        b"TSC\x01\x02\xff",
        b"TSC\x02\x00",
    ] {
        assert!(envelope.open("partition", header).is_err());
        assert!(Envelope::plain().open("partition", header).is_err());
    }
}
