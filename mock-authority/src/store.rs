//! Grant state: single-use authorization codes (in memory, pruned) and refresh tokens
//! (self-contained and HMAC-sealed, so load tests do not grow memory; revocation by id or
//! by client + user).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::users::User;

/// What an authorization code stands for.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI of the authorize request.
    pub redirect_uri: String,
    /// The user who signed in.
    pub user: User,
    /// The scopes requested at authorize time.
    pub scope: String,
    /// The OIDC nonce to put into the id_token.
    pub nonce: Option<String>,
    /// PKCE challenge (`S256` or `plain`).
    pub code_challenge: Option<(String, String)>,
    /// Expiry, ms on the time source.
    pub expires_ms: u64,
    redeemed: bool,
}

impl CodeGrant {
    /// A fresh, unredeemed code grant.
    pub fn new(
        client_id: String,
        redirect_uri: String,
        user: User,
        scope: String,
        nonce: Option<String>,
        code_challenge: Option<(String, String)>,
        expires_ms: u64,
    ) -> Self {
        Self {
            client_id,
            redirect_uri,
            user,
            scope,
            nonce,
            code_challenge,
            expires_ms,
            redeemed: false,
        }
    }
}

/// Why a code cannot be redeemed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeError {
    /// Never issued.
    Unknown,
    /// Already redeemed.
    Reused,
    /// Past its lifetime.
    Expired,
}

/// The contents of a refresh token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefreshClaims {
    /// Token id (for revocation).
    pub j: String,
    /// Client id.
    pub c: String,
    /// The user.
    pub u: User,
    /// Issued at, ms.
    pub i: u64,
    /// Expires, ms.
    pub e: u64,
}

/// Why a refresh token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshError {
    /// Not one of ours, or tampered with.
    Malformed,
    /// Past its lifetime.
    Expired,
    /// Revoked.
    Revoked,
}

#[derive(Debug)]
pub(crate) struct Store {
    codes: Mutex<HashMap<String, CodeGrant>>,
    key: hmac::Key,
    revoked_ids: Mutex<HashSet<String>>,
    /// (client id, user oid) → tokens issued before this ms are revoked.
    revoked_before: Mutex<HashMap<(String, String), u64>>,
}

const MAX_CODES_BEFORE_PRUNE: usize = 100_000;

impl Store {
    pub(crate) fn new() -> Self {
        let mut secret = [0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut secret);
        Self {
            codes: Mutex::new(HashMap::new()),
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            revoked_ids: Mutex::new(HashSet::new()),
            revoked_before: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn insert_code(&self, code: String, grant: CodeGrant, now_ms: u64) {
        let mut codes = self.codes.lock().unwrap_or_else(|e| e.into_inner());
        if codes.len() >= MAX_CODES_BEFORE_PRUNE {
            codes.retain(|_, g| g.expires_ms > now_ms);
        }
        codes.insert(code, grant);
    }

    /// Redeems a code: single use, unexpired.
    pub(crate) fn redeem_code(&self, code: &str, now_ms: u64) -> Result<CodeGrant, CodeError> {
        let mut codes = self.codes.lock().unwrap_or_else(|e| e.into_inner());
        let grant = codes.get_mut(code).ok_or(CodeError::Unknown)?;
        if grant.redeemed {
            return Err(CodeError::Reused);
        }
        if now_ms >= grant.expires_ms {
            return Err(CodeError::Expired);
        }
        grant.redeemed = true;
        Ok(grant.clone())
    }

    pub(crate) fn seal_refresh(&self, claims: &RefreshClaims) -> String {
        let payload = B64.encode(serde_json::to_vec(claims).unwrap_or_default());
        let tag = hmac::sign(&self.key, payload.as_bytes());
        format!("1.{payload}.{}", B64.encode(tag.as_ref()))
    }

    pub(crate) fn open_refresh(
        &self,
        token: &str,
        now_ms: u64,
    ) -> Result<RefreshClaims, RefreshError> {
        let rest = token.strip_prefix("1.").ok_or(RefreshError::Malformed)?;
        let (payload, tag) = rest.split_once('.').ok_or(RefreshError::Malformed)?;
        let tag = B64.decode(tag).map_err(|_| RefreshError::Malformed)?;
        hmac::verify(&self.key, payload.as_bytes(), &tag).map_err(|_| RefreshError::Malformed)?;
        let bytes = B64.decode(payload).map_err(|_| RefreshError::Malformed)?;
        let claims: RefreshClaims =
            serde_json::from_slice(&bytes).map_err(|_| RefreshError::Malformed)?;
        if self
            .revoked_ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&claims.j)
        {
            return Err(RefreshError::Revoked);
        }
        let key = (claims.c.clone(), claims.u.oid.clone());
        if let Some(&before) = self
            .revoked_before
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            if claims.i <= before {
                return Err(RefreshError::Revoked);
            }
        }
        if now_ms >= claims.e {
            return Err(RefreshError::Expired);
        }
        Ok(claims)
    }

    /// Revokes one refresh token; false if it is not one of ours.
    pub(crate) fn revoke_token(&self, token: &str) -> bool {
        match self.open_refresh(token, 0) {
            Ok(c) => {
                self.revoked_ids
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(c.j);
                true
            }
            Err(RefreshError::Revoked) => true,
            Err(_) => false,
        }
    }

    /// Revokes every refresh token issued so far to `client_id` for the user `oid`.
    pub(crate) fn revoke_user(&self, client_id: &str, oid: &str, now_ms: u64) {
        self.revoked_before
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((client_id.to_owned(), oid.to_owned()), now_ms);
    }
}
