//! The four grants (client credentials, authorization code, refresh token, on-behalf-of)
//! and the non-interactive authorize endpoint.

use std::fmt::Write as _;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;

use crate::authority::{Authority, Reply, TokenRequest};
use crate::client_auth::RegisteredApp;
use crate::form::{non_empty, TokenForm};
use crate::jwt::{self, push_json_str};
use crate::oauth_error::EntraError;
use crate::stats::Endpoint;
use crate::store::{CodeError, CodeGrant, RefreshClaims, RefreshError};
use crate::tokens::{client_info, is_oidc_scope};
use crate::users::{tenant_id, User};

fn sign_failed(_: crate::keys::SignError) -> EntraError {
    EntraError::injected(500)
}

impl Authority {
    pub(crate) fn client_credentials(
        &self,
        req: &TokenRequest<'_>,
        form: &TokenForm<'_>,
        client_id: &str,
        _app: Option<&RegisteredApp>,
    ) -> Result<Reply, EntraError> {
        let scope = non_empty(&form.scope).ok_or_else(|| EntraError::missing("scope"))?;
        let audience = scope
            .strip_suffix("/.default")
            .filter(|a| !a.is_empty() && !a.contains(char::is_whitespace))
            .ok_or_else(|| EntraError::invalid_scope(scope))?;
        let tid = crate::users::tenant_id_ref(req.tenant);
        let now_s = self.time.now_secs();
        let mut body = String::with_capacity(1024);
        let _ = write!(
            body,
            "{{\"token_type\":\"Bearer\",\"expires_in\":{},\"ext_expires_in\":{},",
            self.lifetimes.expires_in, self.lifetimes.ext_expires_in
        );
        if let Some(r) = self.lifetimes.refresh_in {
            let _ = write!(body, "\"refresh_in\":{r},");
        }
        if self.echo_scope {
            body.push_str("\"scope\":");
            push_json_str(&mut body, scope);
            body.push(',');
        }
        body.push_str("\"access_token\":\"");
        self.app_access_token(&mut body, req, tid, client_id, audience, now_s)
            .map_err(sign_failed)?;
        body.push_str("\"}");
        Ok(Reply::json(200, body))
    }

    pub(crate) fn authorization_code(
        &self,
        req: &TokenRequest<'_>,
        form: &TokenForm<'_>,
        client_id: &str,
    ) -> Result<Reply, EntraError> {
        let code = non_empty(&form.code).ok_or_else(|| EntraError::missing("code"))?;
        let now_ms = self.time.now_millis();
        let grant = self.store.redeem_code(code, now_ms).map_err(|e| match e {
            CodeError::Unknown => EntraError::invalid_grant(70000, "The provided value for the 'code' parameter is not valid."),
            CodeError::Reused => EntraError::invalid_grant(54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token."),
            CodeError::Expired => EntraError::invalid_grant(70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource."),
        })?;
        if grant.client_id != client_id {
            return Err(EntraError::invalid_grant(
                70000,
                "The provided authorization code was issued to a different client.",
            ));
        }
        if non_empty(&form.redirect_uri).is_some_and(|r| r != grant.redirect_uri) {
            return Err(EntraError::invalid_grant(
                50148,
                "The redirect_uri does not match the one of the authorization request.",
            ));
        }
        if let Some((challenge, method)) = &grant.code_challenge {
            let verifier = non_empty(&form.code_verifier)
                .ok_or_else(|| EntraError::missing("code_verifier"))?;
            let computed = if method == "S256" {
                B64.encode(aws_lc_rs::digest::digest(
                    &aws_lc_rs::digest::SHA256,
                    verifier.as_bytes(),
                ))
            } else {
                verifier.to_owned()
            };
            if &computed != challenge {
                return Err(EntraError::invalid_grant(501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request."));
            }
        }
        let scope = non_empty(&form.scope).unwrap_or(&grant.scope);
        self.user_reply(
            req,
            form,
            client_id,
            &grant.user,
            scope,
            grant.nonce.as_deref(),
        )
    }

    pub(crate) fn refresh_token(
        &self,
        req: &TokenRequest<'_>,
        form: &TokenForm<'_>,
        client_id: &str,
    ) -> Result<Reply, EntraError> {
        let rt =
            non_empty(&form.refresh_token).ok_or_else(|| EntraError::missing("refresh_token"))?;
        let claims = self.store.open_refresh(rt, self.time.now_millis()).map_err(|e| match e {
            RefreshError::Malformed => EntraError::invalid_grant(9002313, "Invalid request. Request is malformed or invalid. (refresh_token)"),
            RefreshError::Expired => EntraError::invalid_grant(700082, "The refresh token has expired due to inactivity."),
            RefreshError::Revoked => EntraError::invalid_grant(50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed."),
        })?;
        if claims.c != client_id {
            return Err(EntraError::invalid_grant(
                70000,
                "The refresh token was issued to a different client.",
            ));
        }
        let scope = non_empty(&form.scope).ok_or_else(|| EntraError::missing("scope"))?;
        self.user_reply(req, form, client_id, &claims.u, scope, None)
    }

    pub(crate) fn on_behalf_of(
        &self,
        req: &TokenRequest<'_>,
        form: &TokenForm<'_>,
        client_id: &str,
    ) -> Result<Reply, EntraError> {
        if non_empty(&form.requested_token_use) != Some("on_behalf_of") {
            return Err(EntraError::missing("requested_token_use"));
        }
        let assertion =
            non_empty(&form.assertion).ok_or_else(|| EntraError::missing("assertion"))?;
        let scope = non_empty(&form.scope).ok_or_else(|| EntraError::missing("scope"))?;
        let jwt = jwt::decode(assertion).ok_or_else(|| {
            EntraError::invalid_grant(50027, "JWT token is invalid or malformed.")
        })?;
        if let Some(kid) = jwt.header_str("kid") {
            if self
                .keys
                .verify_own(kid, jwt.signing_input.as_bytes(), &jwt.signature)
                == Some(false)
            {
                return Err(EntraError::invalid_grant(
                    50013,
                    "Assertion failed signature validation.",
                ));
            }
        }
        let now = self.time.now_millis() as f64 / 1000.0;
        if !jwt.num_claim("exp").is_some_and(|exp| exp > now) {
            return Err(EntraError::invalid_grant(
                500133,
                "Assertion is not within its valid time range.",
            ));
        }
        let app_uri = format!("api://{client_id}");
        if !jwt.audience_contains(|a| a == client_id || a == app_uri) {
            return Err(EntraError::invalid_grant(
                50013,
                "Assertion audience does not match the Client app presenting the assertion.",
            ));
        }
        let oid = jwt
            .str_claim("oid")
            .or(jwt.str_claim("sub"))
            .ok_or_else(|| {
                EntraError::invalid_grant(50027, "JWT token is invalid or malformed. (no oid)")
            })?;
        let username = jwt
            .str_claim("preferred_username")
            .or(jwt.str_claim("upn"))
            .unwrap_or(oid);
        let user = User {
            username: username.to_owned(),
            oid: oid.to_owned(),
            tenant: jwt
                .str_claim("tid")
                .map_or_else(|| tenant_id(req.tenant), str::to_owned),
            name: jwt.str_claim("name").unwrap_or(username).to_owned(),
        };
        self.user_reply(req, form, client_id, &user, scope, None)
    }

    /// Tokens for a user: access token, and id_token / refresh_token / client_info as the
    /// scopes and `client_info=1` ask.
    fn user_reply(
        &self,
        req: &TokenRequest<'_>,
        form: &TokenForm<'_>,
        client_id: &str,
        user: &User,
        scope: &str,
        nonce: Option<&str>,
    ) -> Result<Reply, EntraError> {
        let now_ms = self.time.now_millis();
        let now_s = now_ms / 1000;
        let resource_scopes: Vec<&str> = scope
            .split_whitespace()
            .filter(|s| !is_oidc_scope(s))
            .collect();
        if resource_scopes.iter().any(|s| s.ends_with("/.default")) && resource_scopes.len() > 1 {
            return Err(EntraError::invalid_scope(scope));
        }
        let access = self
            .user_access_token(req.base_url, req.tenant, client_id, user, scope, now_s)
            .map_err(sign_failed)?;
        let mut body = serde_json::json!({
            "token_type": "Bearer",
            "scope": resource_scopes.join(" "),
            "expires_in": self.lifetimes.expires_in,
            "ext_expires_in": self.lifetimes.ext_expires_in,
            "access_token": access,
        });
        if let Some(r) = self.lifetimes.refresh_in {
            body["refresh_in"] = r.into();
        }
        let words = || scope.split_whitespace();
        if words().any(|s| s == "offline_access") {
            let claims = RefreshClaims {
                j: self.next_id(),
                c: client_id.to_owned(),
                u: user.clone(),
                i: now_ms,
                e: now_ms + self.lifetimes.refresh_token * 1000,
            };
            body["refresh_token"] = self.store.seal_refresh(&claims).into();
        }
        if words().any(|s| s == "openid") {
            let id = self
                .id_token(req.base_url, req.tenant, client_id, user, nonce, now_s)
                .map_err(sign_failed)?;
            body["id_token"] = id.into();
        }
        if form.client_info {
            body["client_info"] = client_info(user).into();
        }
        Ok(Reply::json(200, body.to_string()))
    }

    /// `GET /{tenant}/oauth2/v2.0/authorize?...`: signs in a test user without interaction
    /// (`login_hint` selects the user; the first configured user otherwise) and redirects
    /// to `redirect_uri` with a single-use code.
    pub fn authorize(&self, tenant: &str, query: &str) -> Reply {
        self.stats.record_endpoint(Endpoint::Authorize);
        let mut p = std::collections::HashMap::new();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            p.insert(k.into_owned(), v.into_owned());
        }
        let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let result = (|| {
            self.check_tenant(tenant)?;
            let client_id = get("client_id").ok_or_else(|| EntraError::missing("client_id"))?;
            if !self.accept_any_client && !self.apps.contains_key(client_id) {
                return Err(EntraError::unknown_client(client_id, tenant));
            }
            let redirect_uri =
                get("redirect_uri").ok_or_else(|| EntraError::missing("redirect_uri"))?;
            let hint = get("login_hint").or(get("user"));
            let user = match hint {
                Some(h) => match self.users.get(&h.to_ascii_lowercase()) {
                    Some(u) => User::from_config(u, tenant),
                    None if self.accept_any_user => User::derived(h, tenant),
                    None => {
                        return Err(EntraError::invalid_grant(
                            50034,
                            format!("The user account {h} does not exist in the directory."),
                        ))
                    }
                },
                None => match self.users.values().next() {
                    Some(u) => User::from_config(u, tenant),
                    None if self.accept_any_user => User::derived("user@mock.local", tenant),
                    None => return Err(EntraError::missing("login_hint")),
                },
            };
            let challenge = get("code_challenge").map(|c| {
                (
                    c.to_owned(),
                    get("code_challenge_method").unwrap_or("plain").to_owned(),
                )
            });
            let now_ms = self.time.now_millis();
            let mut raw = [0u8; 24];
            rand::Rng::fill(&mut rand::rng(), &mut raw);
            let code = format!("1.{}", B64.encode(raw));
            let grant = CodeGrant::new(
                client_id.to_owned(),
                redirect_uri.to_owned(),
                user,
                get("scope")
                    .unwrap_or("openid profile offline_access")
                    .to_owned(),
                get("nonce").map(str::to_owned),
                challenge,
                now_ms + self.lifetimes.code * 1000,
            );
            self.store.insert_code(code.clone(), grant, now_ms);
            let mut location = redirect_uri.to_owned();
            location.push(if location.contains('?') { '&' } else { '?' });
            let mut q = form_urlencoded::Serializer::new(String::new());
            q.append_pair("code", &code);
            if let Some(s) = get("state") {
                q.append_pair("state", s);
            }
            q.append_pair("session_state", &self.next_id());
            location.push_str(&q.finish());
            Ok(location)
        })();
        match result {
            Ok(location) => Reply {
                status: 302,
                retry_after_s: None,
                location: Some(location),
                body: String::new(),
            },
            Err(e) => self.error_reply(&e, get("client-request-id")),
        }
    }
}
