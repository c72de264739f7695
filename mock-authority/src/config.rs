//! The authority's configuration: tenants, apps, users, lifetimes, signing, latency, faults.
//! Read from YAML or JSON at start; latency and faults change at run time (admin API).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::faults::{FaultRule, LatencyModel};
use crate::keys::SigningAlg;

/// Everything the authority needs to know. `Default` accepts any tenant, any client with
/// any secret and any user (handy for load tests); list `apps` and set
/// `accept_any_client: false` for strict checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthorityConfig {
    /// Tenants that exist; `None` (the default): every tenant exists.
    pub tenants: Option<Vec<String>>,
    /// Registered applications.
    pub apps: Vec<AppConfig>,
    /// Accept client ids that are not in `apps`, with any secret or assertion.
    pub accept_any_client: bool,
    /// Test users (the authorize endpoint signs them in without interaction).
    pub users: Vec<UserConfig>,
    /// Sign in users that are not in `users` (identity derived from the login hint).
    pub accept_any_user: bool,
    /// Token lifetimes.
    pub lifetimes: Lifetimes,
    /// The algorithm access and id tokens are signed with.
    pub signing: SigningAlg,
    /// Echo the requested `scope` in app-token responses (Entra omits it).
    pub echo_scope: bool,
    /// Latency added to every token response.
    pub latency: LatencyModel,
    /// Fault rules, first match wins.
    pub faults: Vec<FaultRule>,
}

impl Default for AuthorityConfig {
    fn default() -> Self {
        Self {
            tenants: None,
            apps: Vec::new(),
            accept_any_client: true,
            users: Vec::new(),
            accept_any_user: true,
            lifetimes: Lifetimes::default(),
            signing: SigningAlg::RS256,
            echo_scope: false,
            latency: LatencyModel::None,
            faults: Vec::new(),
        }
    }
}

/// A registered application.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The application (client) id.
    pub client_id: String,
    /// Its client secret, if it has one.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// PEM certificates whose keys may sign client assertions.
    #[serde(default)]
    pub certificates_pem: Vec<String>,
    /// A public client (no credential required for user flows).
    #[serde(default)]
    pub public_client: bool,
}

impl AppConfig {
    /// A confidential client with a secret.
    pub fn with_secret(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: Some(secret.into()),
            certificates_pem: Vec::new(),
            public_client: false,
        }
    }
}

/// A test user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// `preferred_username`, also what `login_hint` selects.
    pub username: String,
    /// Object id; derived from the username when absent.
    #[serde(default)]
    pub oid: Option<String>,
    /// Home tenant; the request's tenant when absent.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// Token and grant lifetimes, in seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lifetimes {
    /// `expires_in` of access tokens.
    pub expires_in: u64,
    /// `ext_expires_in`.
    pub ext_expires_in: u64,
    /// `refresh_in`, sent only when set.
    pub refresh_in: Option<u64>,
    /// id_token lifetime.
    pub id_token: u64,
    /// Authorization codes.
    pub code: u64,
    /// Refresh tokens.
    pub refresh_token: u64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            expires_in: 3599,
            ext_expires_in: 3599,
            refresh_in: None,
            id_token: 3600,
            code: 600,
            refresh_token: 90 * 86_400,
        }
    }
}

impl AuthorityConfig {
    /// Reads YAML (`.yaml`/`.yml`) or JSON (anything else) from a file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: display.clone(),
            source,
        })?;
        let yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        let config = if yaml {
            Self::from_yaml(&text)
        } else {
            Self::from_json(&text)
        };
        config.map_err(|message| ConfigError::Parse {
            path: display,
            message,
        })
    }

    /// Parses YAML.
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        serde_saphyr::from_str(text).map_err(|e| e.to_string())
    }

    /// Parses JSON.
    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}
