//! Turning a token response into cache entries, as MSAL does: `client_info` gives the home
//! account id, the ID token's claims give the account, and the access token is stored under
//! the scopes it was requested with (so the next lookup by the same scopes is O(1)).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use super::authority::{AuthorityError, TokenResponse};
use crate::model::entries::{AccessToken, Account, AppMetadata, IdToken, RefreshToken, Timestamp};
use crate::model::keys::normalize_target;
use crate::model::Partition;

/// Who a user token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    pub home_account_id: String,
    pub tenant_id: String,
    pub oid: Option<String>,
    pub username: Option<String>,
}

fn b64_json(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Reads `client_info` (uid, utid) and the ID token's claims (unverified, as MSAL does).
pub(crate) fn identity(
    resp: &TokenResponse,
    tenant: &str,
) -> Result<Option<Identity>, AuthorityError> {
    let Some(ci) = &resp.client_info else {
        return Ok(None);
    };
    #[derive(Deserialize)]
    struct ClientInfo {
        uid: String,
        utid: String,
    }
    let ci: ClientInfo = b64_json(ci)
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| {
            AuthorityError::InvalidResponse(
                "client_info is not base64url JSON with uid and utid".into(),
            )
        })?;
    let claims = resp
        .id_token
        .as_ref()
        .and_then(|t| t.expose().split('.').nth(1).and_then(b64_json));
    let claim = |k: &str| {
        claims
            .as_ref()
            .and_then(|c| c.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Ok(Some(Identity {
        home_account_id: format!("{}.{}", ci.uid, ci.utid),
        tenant_id: claim("tid").unwrap_or_else(|| tenant.to_owned()),
        oid: claim("oid"),
        username: claim("preferred_username"),
    }))
}

/// What to store, and where.
pub(crate) struct Stored {
    pub access_token: AccessToken,
    pub identity: Option<Identity>,
}

/// Everything needed to write one response into a partition.
pub(crate) struct Inputs<'a> {
    pub resp: &'a TokenResponse,
    pub client_id: &'a str,
    pub environment: &'a str,
    pub tenant: &'a str,
    /// As requested, space-joined (reserved scopes excluded).
    pub requested_target: &'a str,
    pub now_secs: u64,
    pub user_assertion_hash: Option<String>,
}

/// Writes the response's tokens into `p` and returns the access token entry.
pub(crate) fn store_response(p: &mut Partition, i: &Inputs<'_>) -> Result<Stored, AuthorityError> {
    let r = i.resp;
    let expires_in = r
        .expires_in
        .ok_or_else(|| AuthorityError::InvalidResponse("expires_in is missing".into()))?;
    let identity = identity(r, i.tenant)?;
    let home = identity.as_ref().map(|id| id.home_account_id.clone());
    // Keep the response's scope when it names the same set; otherwise store the requested
    // scopes, so the token is found by what callers ask for.
    let target = match &r.scope {
        Some(s) if normalize_target(s) == normalize_target(i.requested_target) => s.clone(),
        _ => i.requested_target.to_owned(),
    };
    let realm = identity
        .as_ref()
        .map(|id| id.tenant_id.clone())
        .unwrap_or_else(|| i.tenant.to_owned());
    let at = AccessToken {
        credential_type: "AccessToken".into(),
        secret: r.access_token.clone(),
        home_account_id: home.clone(),
        environment: i.environment.to_owned(),
        client_id: i.client_id.to_owned(),
        target: target.clone(),
        realm: realm.clone(),
        token_type: Some(r.token_type.clone().unwrap_or_else(|| "Bearer".into())),
        cached_at: Timestamp(i.now_secs),
        expires_on: Timestamp(i.now_secs + expires_in),
        extended_expires_on: Some(Timestamp(
            i.now_secs + r.ext_expires_in.unwrap_or(expires_in),
        )),
        ext_expires_on: None,
        refresh_on: r.refresh_in.map(|s| Timestamp(i.now_secs + s)),
        user_assertion_hash: i.user_assertion_hash.clone(),
        user_assertion_hash_node: None,
        extra: Default::default(),
    };
    p.upsert_access_token(at.clone());
    if let Some(id) = &identity {
        if let Some(rt) = &r.refresh_token {
            p.upsert_refresh_token(RefreshToken {
                credential_type: "RefreshToken".into(),
                secret: rt.clone(),
                home_account_id: Some(id.home_account_id.clone()),
                environment: i.environment.to_owned(),
                client_id: i.client_id.to_owned(),
                target: Some(target),
                family_id: r.foci.clone(),
                last_modification_time: Some(Timestamp(i.now_secs)),
                extra: Default::default(),
            });
        }
        if let Some(idt) = &r.id_token {
            p.upsert_id_token(IdToken {
                credential_type: "IdToken".into(),
                secret: idt.clone(),
                home_account_id: Some(id.home_account_id.clone()),
                environment: i.environment.to_owned(),
                realm: realm.clone(),
                client_id: i.client_id.to_owned(),
                extra: Default::default(),
            });
        }
        p.upsert_account(Account {
            home_account_id: id.home_account_id.clone(),
            environment: i.environment.to_owned(),
            realm,
            local_account_id: id.oid.clone().unwrap_or_default(),
            username: id.username.clone().unwrap_or_default(),
            authority_type: "MSSTS".into(),
            extra: Default::default(),
        });
        p.upsert_app_metadata(AppMetadata {
            client_id: i.client_id.to_owned(),
            environment: i.environment.to_owned(),
            family_id: r.foci.clone(),
            extra: Default::default(),
        });
    }
    Ok(Stored {
        access_token: at,
        identity,
    })
}
