//! Fuzz target: `Partition::from_json` on arbitrary bytes never panics, and whatever parses
//! re-encodes to JSON that parses again to the same entries (a round trip is a fixpoint).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokencache::Partition;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = Partition::from_json(data) else {
        return;
    };
    let json = p.to_json();
    let again = Partition::from_json(&json).expect("our own JSON parses");
    assert_eq!(again.token_count(), p.token_count());
    assert_eq!(again.accounts().count(), p.accounts().count());
    let first: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
    let second: serde_json::Value = serde_json::from_slice(&again.to_json()).expect("valid JSON");
    assert_eq!(first, second, "encode(decode(encode(p))) == encode(p)");
});
