//! Users (test users and users derived from a login hint) and deterministic ids.

use serde::{Deserialize, Serialize};

use crate::config::UserConfig;

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// `preferred_username`.
    pub username: String,
    /// Object id (`oid`, client_info `uid`).
    pub oid: String,
    /// Home tenant (`tid`, client_info `utid`).
    pub tenant: String,
    /// Display name.
    pub name: String,
}

impl User {
    /// From configuration; `request_tenant` when the user has no home tenant.
    pub fn from_config(c: &UserConfig, request_tenant: &str) -> Self {
        Self {
            username: c.username.clone(),
            oid: c.oid.clone().unwrap_or_else(|| uuid_from(&c.username)),
            tenant: c
                .tenant
                .clone()
                .unwrap_or_else(|| tenant_id(request_tenant)),
            name: c.name.clone().unwrap_or_else(|| c.username.clone()),
        }
    }

    /// A user derived from a login hint.
    pub fn derived(username: &str, request_tenant: &str) -> Self {
        Self {
            username: username.to_owned(),
            oid: uuid_from(username),
            tenant: tenant_id(request_tenant),
            name: username.to_owned(),
        }
    }
}

/// The tenant id put into tokens: the path segment, except that the multi-tenant aliases
/// (`common`, `organizations`, `consumers`) map to a fixed GUID.
pub fn tenant_id(segment: &str) -> String {
    tenant_id_ref(segment).to_owned()
}

/// [`tenant_id`] without allocating.
pub fn tenant_id_ref(segment: &str) -> &str {
    if segment.eq_ignore_ascii_case("common") || segment.eq_ignore_ascii_case("organizations") {
        "72f988bf-86f1-41af-91ab-2d7cd011db47"
    } else if segment.eq_ignore_ascii_case("consumers") {
        "9188040d-6c67-4c5b-b112-36a304b66dad"
    } else {
        segment
    }
}

/// A GUID-shaped id derived from a string (SHA-256).
pub fn uuid_from(s: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes());
    let h: String = d.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
