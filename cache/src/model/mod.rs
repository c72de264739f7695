//! One partition of the MSAL unified cache: its entries, O(1) indexes over them, and the
//! JSON codec that reads what MSAL Python, MSAL Node and MSAL.NET write.

pub mod entries;
pub mod keys;

use std::collections::HashMap;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

pub use entries::{AccessToken, Account, AppMetadata, IdToken, RefreshToken, Secret, Timestamp};
use keys::{access_token_index, normalize_target};

/// A partition blob could not be decoded. Never carries the blob's content.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("partition JSON is malformed at line {line}, column {column}: {category}")]
    Json {
        line: usize,
        column: usize,
        category: &'static str,
    },
    #[error("partition envelope: {0}")]
    Envelope(&'static str),
    #[error("partition is encrypted with key id {0:?}, which is not configured")]
    UnknownKey(String),
    #[error("partition failed to decrypt (wrong key or tampered blob)")]
    Decrypt,
}

impl From<serde_json::Error> for DecodeError {
    fn from(e: serde_json::Error) -> Self {
        // serde_json's message may quote input; keep only position and category.
        DecodeError::Json {
            line: e.line(),
            column: e.column(),
            category: match e.classify() {
                serde_json::error::Category::Io => "i/o",
                serde_json::error::Category::Syntax => "syntax error",
                serde_json::error::Category::Data => "unexpected data",
                serde_json::error::Category::Eof => "truncated",
            },
        }
    }
}

/// A section of the cache: entries by their index (O(1) lookup), each remembering the key it
/// was stored under. Entries whose index collides with another (two writers' spellings of one
/// token) are kept in `shadowed` and written back, never dropped.
#[derive(Debug, Clone)]
struct Section<T> {
    by_index: HashMap<String, (String, T), foldhash::fast::RandomState>,
    shadowed: Vec<(String, T)>,
}

impl<T> Default for Section<T> {
    fn default() -> Self {
        Section {
            by_index: HashMap::default(),
            shadowed: Vec::new(),
        }
    }
}

impl<T> Section<T> {
    fn insert(&mut self, index: String, key: String, entry: T) {
        if let Some((old_key, old)) = self.by_index.insert(index, (key.clone(), entry)) {
            if old_key != key {
                self.shadowed.push((old_key, old));
            }
        }
    }
    fn get(&self, index: &str) -> Option<&T> {
        self.by_index.get(index).map(|(_, e)| e)
    }
    fn len(&self) -> usize {
        self.by_index.len() + self.shadowed.len()
    }
    fn iter(&self) -> impl Iterator<Item = (&String, &T)> {
        self.by_index
            .values()
            .chain(self.shadowed.iter())
            .map(|(k, e)| (k, e))
    }
}

struct SectionSer<'a, T>(&'a Section<T>);
impl<T: Serialize> Serialize for SectionSer<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, e) in self.0.iter() {
            m.serialize_entry(k, e)?;
        }
        m.end()
    }
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// MSAL Python 1.39 isolates tokens obtained with extra body parameters (an FMI path, client
/// claims) under `ext_cache_key`; such a token must never answer a request without them.
fn ext_cache_key(at: &AccessToken) -> Option<&str> {
    at.extra.get("ext_cache_key").and_then(Value::as_str)
}

fn at_index(at: &AccessToken) -> String {
    let mut index = access_token_index(
        at.home(),
        &at.client_id,
        &at.realm,
        &normalize_target(&at.target),
    );
    if let Some(ext) = ext_cache_key(at) {
        index.push('|');
        index.push_str(ext);
    }
    index
}
fn rt_index(rt: &RefreshToken) -> String {
    format!("{}|{}", lower(rt.home()), lower(&rt.client_id))
}
fn idt_index(t: &IdToken) -> String {
    format!(
        "{}|{}|{}",
        lower(t.home_account_id.as_deref().unwrap_or("")),
        lower(&t.client_id),
        lower(&t.realm)
    )
}
fn account_index(a: &Account) -> String {
    format!("{}|{}", lower(&a.home_account_id), lower(&a.realm))
}

/// One partition: the unit MSAL serializes and a distributed cache stores.
#[derive(Debug, Clone, Default)]
pub struct Partition {
    access_tokens: Section<AccessToken>,
    refresh_tokens: Section<RefreshToken>,
    id_tokens: Section<IdToken>,
    accounts: Section<Account>,
    app_metadata: Section<AppMetadata>,
    /// Top-level sections this version does not know; written back unchanged.
    other: Map<String, Value>,
}

#[derive(Deserialize)]
struct RawPartition {
    #[serde(rename = "AccessToken", default)]
    access_token: HashMap<String, AccessToken>,
    #[serde(rename = "RefreshToken", default)]
    refresh_token: HashMap<String, RefreshToken>,
    #[serde(rename = "IdToken", default)]
    id_token: HashMap<String, IdToken>,
    #[serde(rename = "Account", default)]
    account: HashMap<String, Account>,
    #[serde(rename = "AppMetadata", default)]
    app_metadata: HashMap<String, AppMetadata>,
    #[serde(flatten)]
    other: Map<String, Value>,
}

impl Partition {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes MSAL unified-cache JSON. An empty blob or `{}` is an empty partition.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let raw: RawPartition = serde_json::from_slice(bytes)?;
        let mut p = Partition {
            other: raw.other,
            ..Self::default()
        };
        for (k, at) in raw.access_token {
            p.access_tokens.insert(at_index(&at), k, at);
        }
        for (k, rt) in raw.refresh_token {
            p.refresh_tokens.insert(rt_index(&rt), k, rt);
        }
        for (k, t) in raw.id_token {
            p.id_tokens.insert(idt_index(&t), k, t);
        }
        for (k, a) in raw.account {
            p.accounts.insert(account_index(&a), k, a);
        }
        for (k, m) in raw.app_metadata {
            p.app_metadata.insert(lower(&m.client_id), k, m);
        }
        Ok(p)
    }

    /// Encodes as MSAL unified-cache JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.token_count() * 2048);
        // Serializing maps of strings and plain structs cannot fail.
        if serde_json::to_writer(&mut out, self).is_err() {
            out.clear();
            out.extend_from_slice(b"{}");
        }
        out
    }

    /// Looks up the access token by its index (see [`keys::access_token_index`]): O(1) whatever
    /// the partition holds.
    pub fn access_token_by_index(&self, index: &str) -> Option<&AccessToken> {
        self.access_tokens.get(index)
    }

    /// Finds an access token for (account, client, tenant, scopes). App tokens (empty
    /// `home_account_id`) match the normalized scopes exactly; user tokens fall back to a
    /// token whose scopes are a superset of the requested ones, scanning only when the
    /// exact match misses.
    pub fn find_access_token(
        &self,
        home_account_id: &str,
        client_id: &str,
        realm: &str,
        normalized_scopes: &str,
    ) -> Option<&AccessToken> {
        let index = access_token_index(home_account_id, client_id, realm, normalized_scopes);
        if let Some(at) = self.access_tokens.get(&index) {
            return Some(at);
        }
        if home_account_id.is_empty() {
            return None;
        }
        let wanted: Vec<&str> = normalized_scopes
            .split(' ')
            .filter(|s| !s.is_empty())
            .collect();
        self.access_tokens.iter().map(|(_, at)| at).find(|at| {
            ext_cache_key(at).is_none()
                && at.home().eq_ignore_ascii_case(home_account_id)
                && at.client_id.eq_ignore_ascii_case(client_id)
                && (realm.is_empty() || at.realm.eq_ignore_ascii_case(realm))
                && {
                    let have = normalize_target(&at.target);
                    let have: Vec<&str> = have.split(' ').collect();
                    wanted.iter().all(|w| have.contains(w))
                }
        })
    }

    /// Adds or replaces an access token, stored under MSAL Python's credential key
    /// (`atext` and the extended key appended for an isolated token, as MSAL Python does).
    pub fn upsert_access_token(&mut self, at: AccessToken) {
        let mut key = keys::credential_key(
            at.home(),
            &at.environment,
            if ext_cache_key(&at).is_some() {
                "atext"
            } else {
                "AccessToken"
            },
            &at.client_id,
            &at.realm,
            &at.target,
        );
        if let Some(ext) = ext_cache_key(&at) {
            key.push('-');
            key.push_str(&ext.to_lowercase());
        }
        let index = at_index(&at);
        // A replaced token's key may differ (another writer's spelling): drop it, it is stale.
        self.access_tokens.by_index.insert(index, (key, at));
    }

    pub fn remove_access_token(&mut self, index: &str) -> Option<AccessToken> {
        self.access_tokens.by_index.remove(index).map(|(_, at)| at)
    }

    pub fn refresh_token(&self, home_account_id: &str, client_id: &str) -> Option<&RefreshToken> {
        self.refresh_tokens
            .get(&format!("{}|{}", lower(home_account_id), lower(client_id)))
    }

    pub fn upsert_refresh_token(&mut self, rt: RefreshToken) {
        let key = keys::credential_key(
            rt.home(),
            &rt.environment,
            "RefreshToken",
            &rt.client_id,
            "",
            rt.target.as_deref().unwrap_or(""),
        );
        self.refresh_tokens
            .by_index
            .insert(rt_index(&rt), (key, rt));
    }

    pub fn remove_refresh_token(&mut self, home_account_id: &str, client_id: &str) -> bool {
        self.refresh_tokens
            .by_index
            .remove(&format!("{}|{}", lower(home_account_id), lower(client_id)))
            .is_some()
    }

    pub fn id_token(
        &self,
        home_account_id: &str,
        client_id: &str,
        realm: &str,
    ) -> Option<&IdToken> {
        self.id_tokens.get(&format!(
            "{}|{}|{}",
            lower(home_account_id),
            lower(client_id),
            lower(realm)
        ))
    }

    pub fn upsert_id_token(&mut self, t: IdToken) {
        let key = keys::credential_key(
            t.home_account_id.as_deref().unwrap_or(""),
            &t.environment,
            "IdToken",
            &t.client_id,
            &t.realm,
            "",
        );
        self.id_tokens.by_index.insert(idt_index(&t), (key, t));
    }

    pub fn account(&self, home_account_id: &str, realm: &str) -> Option<&Account> {
        self.accounts
            .get(&format!("{}|{}", lower(home_account_id), lower(realm)))
    }

    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.iter().map(|(_, a)| a)
    }

    pub fn upsert_account(&mut self, a: Account) {
        let key = keys::account_key(&a.home_account_id, &a.environment, &a.realm);
        self.accounts.by_index.insert(account_index(&a), (key, a));
    }

    pub fn upsert_app_metadata(&mut self, m: AppMetadata) {
        let key = keys::app_metadata_key(&m.environment, &m.client_id);
        self.app_metadata
            .by_index
            .insert(lower(&m.client_id), (key, m));
    }

    pub fn app_metadata(&self, client_id: &str) -> Option<&AppMetadata> {
        self.app_metadata.get(&lower(client_id))
    }

    /// Access tokens with their index (shadowed duplicates excluded).
    pub fn indexed_access_tokens(&self) -> impl Iterator<Item = (&str, &AccessToken)> {
        self.access_tokens
            .by_index
            .iter()
            .map(|(index, (_, at))| (index.as_str(), at))
    }

    /// How many access tokens the partition holds.
    pub fn access_token_count(&self) -> usize {
        self.access_tokens.len()
    }

    pub fn access_tokens(&self) -> impl Iterator<Item = &AccessToken> {
        self.access_tokens.iter().map(|(_, e)| e)
    }

    pub fn refresh_tokens(&self) -> impl Iterator<Item = &RefreshToken> {
        self.refresh_tokens.iter().map(|(_, e)| e)
    }

    pub fn id_tokens(&self) -> impl Iterator<Item = &IdToken> {
        self.id_tokens.iter().map(|(_, e)| e)
    }

    pub fn app_metadata_entries(&self) -> impl Iterator<Item = &AppMetadata> {
        self.app_metadata.iter().map(|(_, e)| e)
    }

    /// Names of top-level sections this version does not know (kept for the round trip).
    pub fn other_sections(&self) -> impl Iterator<Item = &str> {
        self.other.keys().map(String::as_str)
    }

    /// Access + refresh + ID tokens.
    pub fn token_count(&self) -> usize {
        self.access_tokens.len() + self.refresh_tokens.len() + self.id_tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.token_count() == 0
            && self.accounts.len() == 0
            && self.app_metadata.len() == 0
            && self.other.is_empty()
    }

    pub fn has_refresh_token(&self) -> bool {
        self.refresh_tokens.len() > 0
    }

    /// The latest access-token expiry (Unix seconds), if any access token is held.
    pub fn latest_access_token_expiry(&self) -> Option<u64> {
        self.access_tokens().map(|at| at.expires_on.0).max()
    }

    /// MSAL's `SuggestedCacheExpiry`: the latest access-token expiry, only when the partition
    /// holds no refresh token (a refresh token has no known expiry).
    pub fn suggested_cache_expiry(&self) -> Option<u64> {
        if self.has_refresh_token() {
            None
        } else {
            self.latest_access_token_expiry()
        }
    }

    /// MSAL's `HasTokens`: any unexpired access token, or any refresh token.
    pub fn has_tokens(&self, now_secs: u64) -> bool {
        self.has_refresh_token() || self.access_tokens().any(|at| at.expires_on.0 > now_secs)
    }

    /// Drops access tokens that expired before `now_secs`, so a long-lived partition does not
    /// grow with dead tokens. Returns how many were dropped.
    pub fn purge_expired_access_tokens(&mut self, now_secs: u64) -> usize {
        let before = self.access_tokens.len();
        self.access_tokens
            .by_index
            .retain(|_, (_, at)| at.expires_on.0 > now_secs);
        self.access_tokens
            .shadowed
            .retain(|(_, at)| at.expires_on.0 > now_secs);
        before - self.access_tokens.len()
    }
}

impl Serialize for Partition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(5 + self.other.len()))?;
        m.serialize_entry("AccessToken", &SectionSer(&self.access_tokens))?;
        m.serialize_entry("RefreshToken", &SectionSer(&self.refresh_tokens))?;
        m.serialize_entry("IdToken", &SectionSer(&self.id_tokens))?;
        m.serialize_entry("Account", &SectionSer(&self.accounts))?;
        m.serialize_entry("AppMetadata", &SectionSer(&self.app_metadata))?;
        for (k, v) in &self.other {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}
