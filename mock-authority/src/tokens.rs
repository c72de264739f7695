//! Token building: access tokens, id_tokens, client_info, and user assertions for OBO load
//! tests. Claims are written by hand into one buffer (the client-credential hot path).

use std::fmt::Write as _;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::authority::Authority;
use crate::jwt::push_json_str;
use crate::keys::SignError;
use crate::users::User;

/// Graph's application id: the audience of scopes without a resource prefix (`User.Read`).
pub const GRAPH: &str = "00000003-0000-0000-c000-000000000000";

/// The OIDC scopes that are not resource scopes.
pub fn is_oidc_scope(s: &str) -> bool {
    matches!(s, "openid" | "profile" | "offline_access" | "email")
}

/// The resource (audience) and the short scope names of resource scopes.
pub fn audience_of(scope: &str) -> (&str, Vec<&str>) {
    let mut aud = None;
    let mut scp = Vec::new();
    for s in scope.split_whitespace().filter(|s| !is_oidc_scope(s)) {
        match s.rsplit_once('/') {
            Some((resource, name)) if !resource.is_empty() && !resource.ends_with('/') => {
                aud.get_or_insert(resource);
                scp.push(name);
            }
            _ => {
                aud.get_or_insert(GRAPH);
                scp.push(s);
            }
        }
    }
    (aud.unwrap_or(GRAPH), scp)
}

/// Parameters of a user assertion minted for OBO load tests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserAssertion {
    /// The user.
    pub user: User,
    /// The middle-tier app the assertion is for (its `aud`).
    pub audience: String,
    /// The app the user signed in to (`azp`).
    pub client_id: String,
    /// Scopes granted to that app (`scp`).
    pub scp: String,
    /// Lifetime in seconds.
    pub lifetime_s: u64,
}

impl Authority {
    /// The issuer of tokens for a tenant path segment.
    pub(crate) fn issuer(base_url: &str, tenant: &str) -> String {
        format!("{base_url}/{tenant}/v2.0")
    }

    /// An app-only access token (client credentials).
    pub(crate) fn app_access_token(
        &self,
        out: &mut String,
        req: &crate::authority::TokenRequest<'_>,
        tid: &str,
        client_id: &str,
        audience: &str,
        now_s: u64,
    ) -> Result<(), SignError> {
        let (base_url, tenant) = (req.base_url, req.tenant);
        let mut p = String::with_capacity(384);
        p.push_str("{\"aud\":");
        push_json_str(&mut p, audience);
        p.push_str(",\"iss\":\"");
        push_raw_or_escaped(&mut p, base_url);
        p.push('/');
        push_raw_or_escaped(&mut p, tenant);
        let exp = now_s + self.lifetimes.expires_in;
        let _ = write!(
            p,
            "/v2.0\",\"iat\":{now_s},\"nbf\":{now_s},\"exp\":{exp},\"azp\":"
        );
        push_json_str(&mut p, client_id);
        p.push_str(",\"azpacr\":\"1\",\"idtyp\":\"app\",\"oid\":");
        push_json_str(&mut p, client_id);
        p.push_str(",\"sub\":");
        push_json_str(&mut p, client_id);
        p.push_str(",\"tid\":");
        push_json_str(&mut p, tid);
        let n = self.ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _ = write!(
            p,
            ",\"uti\":\"{:08x}{n:x}\",\"ver\":\"2.0\"}}",
            self.id_prefix
        );
        self.keys.sign_jwt_into(self.signing, &p, out)
    }

    /// A delegated access token for `user`.
    pub(crate) fn user_access_token(
        &self,
        base_url: &str,
        tenant: &str,
        client_id: &str,
        user: &User,
        scope: &str,
        now_s: u64,
    ) -> Result<String, SignError> {
        let (aud, scp) = audience_of(scope);
        let claims = serde_json::json!({
            "aud": aud,
            "iss": Self::issuer(base_url, tenant),
            "iat": now_s, "nbf": now_s, "exp": now_s + self.lifetimes.expires_in,
            "azp": client_id, "azpacr": "1",
            "name": user.name, "oid": user.oid, "preferred_username": user.username,
            "scp": scp.join(" "), "sub": user.oid, "tid": user.tenant,
            "uti": self.next_id(), "ver": "2.0",
        });
        self.keys.sign_jwt(self.signing, &claims.to_string())
    }

    /// An id_token for `user` and `client_id`.
    pub(crate) fn id_token(
        &self,
        base_url: &str,
        tenant: &str,
        client_id: &str,
        user: &User,
        nonce: Option<&str>,
        now_s: u64,
    ) -> Result<String, SignError> {
        let mut claims = serde_json::json!({
            "aud": client_id,
            "iss": Self::issuer(base_url, tenant),
            "iat": now_s, "nbf": now_s, "exp": now_s + self.lifetimes.id_token,
            "name": user.name, "oid": user.oid, "preferred_username": user.username,
            "sub": crate::users::uuid_from(&format!("{}:{client_id}", user.oid)),
            "tid": user.tenant, "ver": "2.0",
        });
        if let Some(n) = nonce {
            claims["nonce"] = n.into();
        }
        self.keys.sign_jwt(self.signing, &claims.to_string())
    }

    /// Mints a user assertion (an access token whose audience is a middle-tier app) that
    /// this authority accepts for on-behalf-of requests.
    pub fn mint_user_assertion(
        &self,
        a: &UserAssertion,
        base_url: &str,
    ) -> Result<String, SignError> {
        let now_s = self.time.now_secs();
        let claims = serde_json::json!({
            "aud": a.audience,
            "iss": Self::issuer(base_url, &a.user.tenant),
            "iat": now_s, "nbf": now_s, "exp": now_s + a.lifetime_s,
            "azp": a.client_id, "name": a.user.name, "oid": a.user.oid,
            "preferred_username": a.user.username, "scp": a.scp, "sub": a.user.oid,
            "tid": a.user.tenant, "uti": self.next_id(), "ver": "2.0",
        });
        self.keys.sign_jwt(self.signing, &claims.to_string())
    }
}

/// base64url JSON `{"uid":..,"utid":..}`.
pub fn client_info(user: &User) -> String {
    B64.encode(serde_json::json!({"uid": user.oid, "utid": user.tenant}).to_string())
}

fn push_raw_or_escaped(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push_str(s);
        return;
    }
    let mut tmp = String::new();
    push_json_str(&mut tmp, s);
    out.push_str(&tmp[1..tmp.len() - 1]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_from_scopes() {
        assert_eq!(
            audience_of("api://x/.default"),
            ("api://x", vec![".default"])
        );
        assert_eq!(
            audience_of("openid api://x/read offline_access"),
            ("api://x", vec!["read"])
        );
        assert_eq!(audience_of("User.Read profile"), (GRAPH, vec!["User.Read"]));
        assert_eq!(
            audience_of("https://graph.microsoft.com/.default").0,
            "https://graph.microsoft.com"
        );
    }
}
