//! Client authentication: client secrets and client assertions (private_key_jwt: structure,
//! `aud`, `iss` = `sub` = client id, `exp`, and the signature against a registered certificate).

use aws_lc_rs::digest;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use base64::Engine as _;

use crate::authority::{Authority, TokenRequest};
use crate::config::AppConfig;
use crate::error::SetupError;
use crate::form::{non_empty, Grant, TokenForm};
use crate::jwt;
use crate::oauth_error::EntraError;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A registered certificate: thumbprints and public key.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredCert {
    x5t_sha1: String,
    x5t_s256: String,
    spki: Vec<u8>,
}

/// A registered application, with its certificates parsed once.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredApp {
    secret: Option<String>,
    certs: Vec<RegisteredCert>,
    public_client: bool,
}

impl RegisteredApp {
    pub(crate) fn from_config(app: &AppConfig) -> Result<Self, SetupError> {
        let mut certs = Vec::new();
        for pem in &app.certificates_pem {
            let der = pem_to_der(pem).ok_or_else(|| {
                SetupError::Config(format!("app {}: certificate is not PEM", app.client_id))
            })?;
            let spki = crate::der::certificate_spki(&der).ok_or_else(|| {
                SetupError::Config(format!("app {}: certificate is not X.509", app.client_id))
            })?;
            certs.push(RegisteredCert {
                x5t_sha1: B64.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &der)),
                x5t_s256: B64.encode(digest::digest(&digest::SHA256, &der)),
                spki: spki.to_vec(),
            });
        }
        Ok(Self {
            secret: app.client_secret.clone(),
            certs,
            public_client: app.public_client,
        })
    }
}

/// The first `CERTIFICATE` block of a PEM text, as DER.
pub(crate) fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let start = pem.find("-----BEGIN CERTIFICATE-----")? + "-----BEGIN CERTIFICATE-----".len();
    let end = start + pem[start..].find("-----END CERTIFICATE-----")?;
    let b64: String = pem[start..end].split_whitespace().collect();
    STANDARD.decode(b64).ok()
}

impl Authority {
    /// Checks the client's credential. `Ok(None)` for unregistered clients accepted by
    /// `accept_any_client`.
    pub(crate) fn authenticate_client(
        &self,
        req: &TokenRequest<'_>,
        form: &TokenForm<'_>,
        client_id: &str,
        grant: Grant,
    ) -> Result<Option<&RegisteredApp>, EntraError> {
        let secret = non_empty(&form.client_secret);
        let assertion = non_empty(&form.client_assertion);
        if let Some(t) = non_empty(&form.client_assertion_type) {
            if t != ASSERTION_TYPE {
                return Err(EntraError::bad_client_assertion(
                    700026,
                    format!("Client assertion type '{t}' is not supported."),
                ));
            }
        }
        let Some(app) = self.apps.get(client_id) else {
            if !self.accept_any_client {
                return Err(EntraError::unknown_client(client_id, req.tenant));
            }
            // Unregistered but accepted: any secret; an assertion must still be well formed.
            if let Some(a) = assertion {
                self.check_assertion(req, client_id, a, None)?;
            } else if secret.is_none() && grant == Grant::ClientCredentials {
                return Err(EntraError::no_credential());
            }
            return Ok(None);
        };
        match (secret, assertion) {
            (Some(s), _) => match &app.secret {
                Some(expected) if expected == s => Ok(Some(app)),
                _ => Err(EntraError::bad_secret(client_id)),
            },
            (None, Some(a)) => {
                self.check_assertion(req, client_id, a, Some(app))?;
                Ok(Some(app))
            }
            (None, None) if app.public_client && grant != Grant::ClientCredentials => Ok(Some(app)),
            (None, None) => Err(EntraError::no_credential()),
        }
    }

    fn check_assertion(
        &self,
        req: &TokenRequest<'_>,
        client_id: &str,
        assertion: &str,
        app: Option<&RegisteredApp>,
    ) -> Result<(), EntraError> {
        let jwt = jwt::decode(assertion).ok_or_else(|| {
            EntraError::bad_client_assertion(
                50027,
                "JWT token is invalid or malformed. (client_assertion)",
            )
        })?;
        if jwt.str_claim("iss") != Some(client_id) || jwt.str_claim("sub") != Some(client_id) {
            return Err(EntraError::bad_client_assertion(
                700021,
                "Client assertion application identifier doesn't match 'client_id' parameter.",
            ));
        }
        let token_path = format!("/{}/oauth2/v2.0/token", req.tenant);
        let issuer_path = format!("/{}/v2.0", req.tenant);
        if !jwt.audience_contains(|a| a.ends_with(&token_path) || a.ends_with(&issuer_path)) {
            return Err(EntraError::bad_client_assertion(
                700212,
                "The client assertion's audience claim does not match the token endpoint.",
            ));
        }
        let now = self.time.now_millis() as f64 / 1000.0;
        match jwt.num_claim("exp") {
            Some(exp) if exp > now => {}
            _ => {
                return Err(EntraError::bad_client_assertion(
                    700024,
                    "Client assertion is not within its valid time range.",
                ))
            }
        }
        if jwt.num_claim("nbf").is_some_and(|nbf| nbf > now + 300.0) {
            return Err(EntraError::bad_client_assertion(
                700024,
                "Client assertion is not within its valid time range.",
            ));
        }
        let Some(app) = app else { return Ok(()) };
        let alg = jwt.header_str("alg").unwrap_or("");
        // MSAL Python pads its thumbprints ("...="), others do not: compare unpadded.
        let thumb = |name: &str| jwt.header_str(name).map(|t| t.trim_end_matches('='));
        let cert = app.certs.iter().find(|c| {
            thumb("x5t#S256") == Some(c.x5t_s256.as_str())
                || thumb("x5t") == Some(c.x5t_sha1.as_str())
        });
        let verified = cert.is_some_and(|c| {
            crate::keys::verify_rsa_spki(alg, &c.spki, jwt.signing_input.as_bytes(), &jwt.signature)
        });
        if verified {
            Ok(())
        } else {
            Err(EntraError::bad_client_assertion(
                700027,
                format!("Client assertion failed signature validation. (app '{client_id}')"),
            ))
        }
    }
}
