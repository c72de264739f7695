//! Shared helpers for the integration tests.

use std::sync::Arc;
use std::time::Duration;

use tokencache::l2::MemoryStore;
use tokencache::model::entries::{AccessToken, RefreshToken, Secret, Timestamp};
use tokencache::{CacheOptions, L2Store, ManualClock, SharedClock, TokenCache};

/// A fixed start time for manual clocks: 2026-01-01T00:00:00Z.
pub const T0_MS: u64 = 1_767_225_600_000;

/// An app access token (client credentials) as MSAL Python would cache it.
pub fn app_token(
    client: &str,
    tenant: &str,
    scope: &str,
    expires_on: u64,
    secret: &str,
) -> AccessToken {
    AccessToken {
        credential_type: "AccessToken".into(),
        secret: Secret::new(secret),
        home_account_id: None,
        environment: "127.0.0.1".into(),
        client_id: client.into(),
        target: scope.into(),
        realm: tenant.into(),
        token_type: Some("Bearer".into()),
        cached_at: Timestamp(expires_on.saturating_sub(3600)),
        expires_on: Timestamp(expires_on),
        extended_expires_on: Some(Timestamp(expires_on + 3600)),
        ext_expires_on: None,
        refresh_on: None,
        user_assertion_hash: None,
        user_assertion_hash_node: None,
        extra: Default::default(),
    }
}

/// A refresh token for a user.
pub fn refresh_token(client: &str, home: &str, secret: &str) -> RefreshToken {
    RefreshToken {
        credential_type: "RefreshToken".into(),
        secret: Secret::new(secret),
        home_account_id: Some(home.into()),
        environment: "127.0.0.1".into(),
        client_id: client.into(),
        target: None,
        family_id: None,
        last_modification_time: None,
        extra: Default::default(),
    }
}

/// A manual clock at [`T0_MS`] and a memory store on the same clock.
pub fn manual_memory() -> (Arc<ManualClock>, Arc<MemoryStore>) {
    let clock = Arc::new(ManualClock::new(T0_MS));
    let store = Arc::new(MemoryStore::new(clock.clone()));
    (clock, store)
}

pub fn cache_over(
    opts: CacheOptions,
    store: Arc<dyn L2Store>,
    clock: Arc<ManualClock>,
) -> TokenCache {
    let clock: SharedClock = clock;
    TokenCache::new(opts, store, clock)
}

/// Seconds since the epoch at [`T0_MS`] plus `plus`.
pub fn t0_plus(plus: Duration) -> u64 {
    T0_MS / 1000 + plus.as_secs()
}
