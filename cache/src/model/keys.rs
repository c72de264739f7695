//! Keys: MSAL credential keys inside a partition, partition keys (MSAL.NET's
//! `SuggestedCacheKey`), and scope normalization for O(1) token lookup.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Scopes every user flow adds; MSAL leaves them out when matching access tokens.
pub const RESERVED_SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

/// Normalizes a scope list into the form used to index access tokens: lower-cased, reserved
/// scopes removed, de-duplicated, sorted, joined by one space. Two scope lists match exactly
/// when their normalized forms are equal, whatever order or case the writer used.
pub fn normalize_scopes<'a>(scopes: impl IntoIterator<Item = &'a str>) -> String {
    let mut v: Vec<String> = scopes
        .into_iter()
        .flat_map(|s| s.split_whitespace())
        .map(|s| s.to_ascii_lowercase())
        .filter(|s| !RESERVED_SCOPES.contains(&s.as_str()))
        .collect();
    v.sort_unstable();
    v.dedup();
    v.join(" ")
}

/// Normalizes a space-separated `target` string as written in the cache.
pub fn normalize_target(target: &str) -> String {
    normalize_scopes(target.split_whitespace())
}

/// The index key of an access token: who it is for, which app, which tenant, which scopes.
/// `normalized_scopes` must come from [`normalize_scopes`].
pub fn access_token_index(
    home_account_id: &str,
    client_id: &str,
    realm: &str,
    normalized_scopes: &str,
) -> String {
    let mut k = String::with_capacity(
        home_account_id.len() + client_id.len() + realm.len() + normalized_scopes.len() + 3,
    );
    for (i, part) in [home_account_id, client_id, realm, normalized_scopes]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            k.push('|');
        }
        for c in part.chars() {
            k.push(c.to_ascii_lowercase());
        }
    }
    k
}

/// MSAL's credential key: `home_account_id-environment-credential_type-client_id-realm-target`,
/// lower-cased, as MSAL Python writes it (so MSAL Python finds our tokens by key).
pub fn credential_key(
    home_account_id: &str,
    environment: &str,
    credential_type: &str,
    client_id: &str,
    realm: &str,
    target: &str,
) -> String {
    [
        home_account_id,
        environment,
        credential_type,
        client_id,
        realm,
        target,
    ]
    .join("-")
    .to_lowercase()
}

/// MSAL's account key: `home_account_id-environment-realm`, lower-cased.
pub fn account_key(home_account_id: &str, environment: &str, realm: &str) -> String {
    [home_account_id, environment, realm]
        .join("-")
        .to_lowercase()
}

/// MSAL's app metadata key: `appmetadata-environment-client_id`.
pub fn app_metadata_key(environment: &str, client_id: &str) -> String {
    format!("appmetadata-{environment}-{client_id}").to_lowercase()
}

/// Partition keys, as MSAL.NET's `SuggestedCacheKey` computes them.
pub mod partition {
    use super::*;

    /// `{client_id}_{tenant_id}_AppTokenCache`, or `{client_id}__AppTokenCache` without tenant.
    pub fn app(client_id: &str, tenant_id: Option<&str>) -> String {
        format!("{client_id}_{}_AppTokenCache", tenant_id.unwrap_or(""))
    }

    /// Per-audience app partition: `{client_id}_{tenant_id}_{hash}_AppTokenCache`, where the hash
    /// is base64url SHA-256 of the normalized scopes (tokens for different resources never share
    /// a blob, so one hot resource cannot grow everyone's partition).
    pub fn app_for_audience(client_id: &str, tenant_id: Option<&str>, scopes: &[&str]) -> String {
        let hash = sha256_b64url(normalize_scopes(scopes.iter().copied()).as_bytes());
        format!(
            "{client_id}_{}_{hash}_AppTokenCache",
            tenant_id.unwrap_or("")
        )
    }

    /// User partition: the home account id `{uid}.{utid}`.
    pub fn user(home_account_id: &str) -> String {
        home_account_id.to_owned()
    }

    /// OBO partition: base64url(SHA-256(incoming assertion)). The assertion itself never
    /// becomes a key, a log line or a metric.
    pub fn obo(user_assertion: &str) -> String {
        sha256_b64url(user_assertion.as_bytes())
    }

    /// Long-running OBO: the caller-chosen session key, used verbatim.
    pub fn obo_long_running(session_key: &str) -> String {
        session_key.to_owned()
    }
}

/// base64url (no padding) of SHA-256: MSAL's assertion hash and OBO partition key.
pub fn sha256_b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_normalization_ignores_order_case_duplicates_and_reserved_scopes() {
        assert_eq!(
            normalize_scopes(["User.Read Mail.Send", "openid", "PROFILE", "mail.send"]),
            "mail.send user.read"
        );
        assert_eq!(normalize_target("api://x/.default"), "api://x/.default");
        assert_eq!(normalize_scopes(["offline_access"]), "");
    }

    #[test]
    fn credential_keys_match_what_msal_python_writes() {
        assert_eq!(
            credential_key(
                "",
                "127.0.0.1",
                "AccessToken",
                "CID",
                "Contoso",
                "api://resource-a/.default"
            ),
            "-127.0.0.1-accesstoken-cid-contoso-api://resource-a/.default"
        );
        assert_eq!(
            credential_key("u.t", "127.0.0.1", "RefreshToken", "cid", "", "s"),
            "u.t-127.0.0.1-refreshtoken-cid--s"
        );
        assert_eq!(account_key("U.T", "h", "Contoso"), "u.t-h-contoso");
        assert_eq!(
            app_metadata_key("127.0.0.1", "cid"),
            "appmetadata-127.0.0.1-cid"
        );
    }

    #[test]
    fn partition_keys_follow_msal_dotnet() {
        assert_eq!(partition::app("c", Some("t")), "c_t_AppTokenCache");
        assert_eq!(partition::app("c", None), "c__AppTokenCache");
        // SHA-256("abc") in base64url without padding.
        assert_eq!(
            partition::obo("abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
        let a = partition::app_for_audience("c", Some("t"), &["B", "a"]);
        let b = partition::app_for_audience("c", Some("t"), &["a", "b"]);
        assert_eq!(a, b);
        assert!(a.starts_with("c_t_") && a.ends_with("_AppTokenCache"));
    }
}
