//! Shared by the benches: the app, tenant ids written without `format!`, a realistic app
//! token, a fixed pseudo-random visiting order, and the hot-path keys a caller builds.
#![allow(dead_code)]

use tokencache::model::entries::{AccessToken, Secret, Timestamp};

pub const CLIENT: &str = "6f1c2a9e-8a42-4c55-9b1e-2d6b1b0c7a11";
pub const SCOPE: &str = "api://graph/.default";

pub fn tenant(i: usize) -> String {
    let mut s = String::with_capacity(40);
    write_tenant(&mut s, i);
    s
}

/// `{i:08x}-0000-4000-8000-{i:012x}` without the formatting machinery (a caller gets its
/// tenant id with the request; building it must not dominate what is measured).
pub fn write_tenant(buf: &mut String, i: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hex = |buf: &mut String, v: usize, digits: u32| {
        for d in (0..digits).rev() {
            buf.push(HEX[(v >> (4 * d)) & 0xf] as char);
        }
    };
    buf.clear();
    hex(buf, i, 8);
    buf.push_str("-0000-4000-8000-");
    hex(buf, i, 12);
}

pub fn token(tenant: &str, expires_on: u64) -> AccessToken {
    AccessToken {
        credential_type: "AccessToken".into(),
        // A realistic JWT-sized secret.
        secret: Secret::new("e".repeat(1200)),
        home_account_id: None,
        environment: "login.microsoftonline.com".into(),
        client_id: CLIENT.into(),
        target: SCOPE.into(),
        realm: tenant.into(),
        token_type: Some("Bearer".into()),
        cached_at: Timestamp(expires_on - 3600),
        expires_on: Timestamp(expires_on),
        extended_expires_on: Some(Timestamp(expires_on + 3600)),
        ext_expires_on: None,
        refresh_on: None,
        user_assertion_hash: None,
        user_assertion_hash_node: None,
        extra: Default::default(),
    }
}

/// A fixed pseudo-random visiting order over `n` items (at most 2^20 steps), so large
/// caches are read all over memory.
pub fn order(n: usize, seed: u64) -> Vec<usize> {
    let mut x = seed | 1;
    (0..n.clamp(1, 1 << 20))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        })
        .collect()
}

/// The partition key and access-token index of an app token for tenant `t`, as a caller
/// builds them per request (into reused buffers).
pub fn app_keys(key: &mut String, index: &mut String, t: &str) {
    key.clear();
    key.push_str(CLIENT);
    key.push('_');
    key.push_str(t);
    key.push_str("_AppTokenCache");
    index.clear();
    index.push('|');
    index.push_str(CLIENT);
    index.push('|');
    index.push_str(t);
    index.push('|');
    index.push_str(SCOPE);
}
