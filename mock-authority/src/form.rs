//! The token request's form body, parsed without copying where possible.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The grant a token request asks for (also the key of statistics and fault matching).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// `client_credentials`.
    ClientCredentials,
    /// `authorization_code`.
    AuthorizationCode,
    /// `refresh_token`.
    RefreshToken,
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer` (on-behalf-of).
    #[serde(alias = "obo")]
    OnBehalfOf,
    /// Missing or unsupported.
    Other,
}

impl Grant {
    /// All grants, in statistics order.
    pub const ALL: [Grant; 5] = [
        Grant::ClientCredentials,
        Grant::AuthorizationCode,
        Grant::RefreshToken,
        Grant::OnBehalfOf,
        Grant::Other,
    ];

    /// Classifies a `grant_type` value.
    pub fn from_grant_type(value: &str) -> Self {
        match value {
            "client_credentials" => Grant::ClientCredentials,
            "authorization_code" => Grant::AuthorizationCode,
            "refresh_token" => Grant::RefreshToken,
            "urn:ietf:params:oauth:grant-type:jwt-bearer" => Grant::OnBehalfOf,
            _ => Grant::Other,
        }
    }

    /// The statistics name.
    pub fn as_str(self) -> &'static str {
        match self {
            Grant::ClientCredentials => "client_credentials",
            Grant::AuthorizationCode => "authorization_code",
            Grant::RefreshToken => "refresh_token",
            Grant::OnBehalfOf => "on_behalf_of",
            Grant::Other => "other",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// The fields of a token request the mock reads; everything else (telemetry, `claims`,
/// `client_info`, `x-client-*`) is accepted and ignored.
#[derive(Debug, Default)]
pub struct TokenForm<'a> {
    /// `grant_type`.
    pub grant_type: Option<Cow<'a, str>>,
    /// `client_id`.
    pub client_id: Option<Cow<'a, str>>,
    /// `client_secret`.
    pub client_secret: Option<Cow<'a, str>>,
    /// `client_assertion_type`.
    pub client_assertion_type: Option<Cow<'a, str>>,
    /// `client_assertion`.
    pub client_assertion: Option<Cow<'a, str>>,
    /// `scope`.
    pub scope: Option<Cow<'a, str>>,
    /// `code`.
    pub code: Option<Cow<'a, str>>,
    /// `redirect_uri`.
    pub redirect_uri: Option<Cow<'a, str>>,
    /// `code_verifier` (PKCE).
    pub code_verifier: Option<Cow<'a, str>>,
    /// `refresh_token`.
    pub refresh_token: Option<Cow<'a, str>>,
    /// `assertion` (OBO).
    pub assertion: Option<Cow<'a, str>>,
    /// `requested_token_use`.
    pub requested_token_use: Option<Cow<'a, str>>,
    /// `client_info=1`: the client wants `client_info` back.
    pub client_info: bool,
    /// `client-request-id` sent in the body (msal-node).
    pub client_request_id: Option<Cow<'a, str>>,
}

impl<'a> TokenForm<'a> {
    /// Parses an `application/x-www-form-urlencoded` body. Never fails: invalid
    /// percent-encoding and UTF-8 are decoded lossily, unknown keys ignored.
    pub fn parse(body: &'a [u8]) -> Self {
        let mut f = TokenForm::default();
        for (k, v) in form_urlencoded::parse(body) {
            let slot = match k.as_ref() {
                "grant_type" => &mut f.grant_type,
                "client_id" => &mut f.client_id,
                "client_secret" => &mut f.client_secret,
                "client_assertion_type" => &mut f.client_assertion_type,
                "client_assertion" => &mut f.client_assertion,
                "scope" => &mut f.scope,
                "code" => &mut f.code,
                "redirect_uri" => &mut f.redirect_uri,
                "code_verifier" => &mut f.code_verifier,
                "refresh_token" => &mut f.refresh_token,
                "assertion" => &mut f.assertion,
                "requested_token_use" => &mut f.requested_token_use,
                "client-request-id" => &mut f.client_request_id,
                "client_info" => {
                    f.client_info = v == "1";
                    continue;
                }
                _ => continue,
            };
            *slot = Some(v);
        }
        f
    }

    /// The grant asked for.
    pub fn grant(&self) -> Grant {
        self.grant_type
            .as_deref()
            .map_or(Grant::Other, Grant::from_grant_type)
    }
}

/// A non-empty field or `None`.
pub(crate) fn non_empty<'b>(v: &'b Option<Cow<'_, str>>) -> Option<&'b str> {
    v.as_deref().filter(|s| !s.is_empty())
}
