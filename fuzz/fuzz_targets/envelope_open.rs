//! Fuzz target: `Envelope::open` with a fixed key never panics on arbitrary bytes, and a
//! sealed blob with any mutation never opens to anything but an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokencache::{EncryptionKey, Envelope};

fuzz_target!(|data: &[u8]| {
    let key = EncryptionKey::new("k1", &[7u8; 32]).expect("32-byte key");
    let sealed_env = Envelope::new(vec![key]);
    let _ = sealed_env.open("partition", data);
    let _ = Envelope::plain().open("partition", data);

    // First half: a payload to seal; second half: (position, xor) pairs applied to the blob.
    let (payload, mutations) = data.split_at(data.len() / 2);
    let deadline = (payload.len() % 2 == 0).then_some(1_795_000_000_000);
    let sealed = sealed_env.seal("partition", payload.to_vec(), deadline);
    let opened = sealed_env
        .open("partition", &sealed)
        .expect("our own blob opens");
    assert_eq!(opened.json, payload);
    assert_eq!(opened.deadline_millis, deadline);

    let mut mutated = sealed.clone();
    for m in mutations.chunks(3) {
        let pos = usize::from(m[0]) | usize::from(*m.get(1).unwrap_or(&0)) << 8;
        let xor = *m.get(2).unwrap_or(&1);
        if pos < mutated.len() {
            mutated[pos] ^= xor;
        } else if xor & 1 == 1 {
            mutated.truncate(pos % (mutated.len() + 1));
        }
    }
    if mutated != sealed {
        assert!(
            sealed_env.open("partition", &mutated).is_err(),
            "a mutated blob opened"
        );
    }
    assert!(sealed_env.open("another-partition", &sealed).is_err());
});
