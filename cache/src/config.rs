//! Building a cache from textual configuration (a scenario file, flags, environment):
//! store names, URLs and keys are checked here, and every error names the field at fault.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::clock::SharedClock;
use crate::envelope::EncryptionKey;
use crate::l2::{L2Error, L2Store, MemoryStore, NoneStore};
use crate::l2::{PostgresStore, RedisClusterStore, RedisStore};

/// A configuration value is wrong. `field` is the path of the value (e.g. `cache.l2.url`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The L2 store kinds (names are the scenario's `cache.l2.store` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Redis,
    RedisCluster,
    Postgres,
    None,
}

impl StoreKind {
    pub const NAMES: [&'static str; 5] = ["memory", "redis", "redis-cluster", "postgres", "none"];

    pub const fn as_str(self) -> &'static str {
        match self {
            StoreKind::Memory => "memory",
            StoreKind::Redis => "redis",
            StoreKind::RedisCluster => "redis-cluster",
            StoreKind::Postgres => "postgres",
            StoreKind::None => "none",
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StoreKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "memory" => StoreKind::Memory,
            "redis" => StoreKind::Redis,
            "redis-cluster" | "redis_cluster" => StoreKind::RedisCluster,
            "postgres" | "postgresql" => StoreKind::Postgres,
            "none" => StoreKind::None,
            other => {
                let hint = closest(other, &Self::NAMES)
                    .map(|c| format!(" (did you mean {c:?}?)"))
                    .unwrap_or_default();
                return Err(format!(
                    "unknown store {other:?}{hint}; expected one of {}",
                    Self::NAMES.join(", ")
                ));
            }
        })
    }
}

/// Where L2 lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSpec {
    pub kind: StoreKind,
    /// One URL (redis, postgres) or several seeds (redis-cluster).
    pub urls: Vec<String>,
}

impl StoreSpec {
    pub fn memory() -> Self {
        StoreSpec {
            kind: StoreKind::Memory,
            urls: Vec::new(),
        }
    }

    /// Checks the spec without connecting. `field` prefixes error paths (e.g. `cache.l2`).
    pub fn validate(&self, field: &str) -> Result<(), ConfigError> {
        let url_field = format!("{field}.url");
        match self.kind {
            StoreKind::Memory | StoreKind::None => Ok(()),
            StoreKind::Redis | StoreKind::Postgres => {
                let [url] = self.urls.as_slice() else {
                    return Err(ConfigError::new(
                        url_field,
                        format!(
                            "store {} needs exactly one url, got {}",
                            self.kind,
                            self.urls.len()
                        ),
                    ));
                };
                let schemes: &[&str] = if self.kind == StoreKind::Redis {
                    &["redis", "rediss"]
                } else {
                    &["postgres", "postgresql"]
                };
                check_url(&url_field, url, schemes)
            }
            StoreKind::RedisCluster => {
                if self.urls.is_empty() {
                    return Err(ConfigError::new(
                        format!("{field}.urls"),
                        "store redis-cluster needs at least one seed url",
                    ));
                }
                for (i, url) in self.urls.iter().enumerate() {
                    check_url(&format!("{field}.urls[{i}]"), url, &["redis", "rediss"])?;
                }
                Ok(())
            }
        }
    }

    /// Validates and connects. `store_clock` is the store's notion of time for the memory
    /// store (the system clock unless a test drives it). A server that cannot be reached
    /// fails here, fast, naming the address.
    pub async fn connect(
        &self,
        field: &str,
        store_clock: SharedClock,
    ) -> Result<Arc<dyn L2Store>, ConfigError> {
        self.validate(field)?;
        let setup = |e: L2Error| ConfigError::new(format!("{field}.url"), e.to_string());
        Ok(match self.kind {
            StoreKind::Memory => Arc::new(MemoryStore::new(store_clock)),
            StoreKind::None => Arc::new(NoneStore),
            StoreKind::Redis => Arc::new(RedisStore::connect(&self.urls[0]).await.map_err(setup)?),
            StoreKind::RedisCluster => Arc::new(
                RedisClusterStore::connect(&self.urls)
                    .await
                    .map_err(|e| ConfigError::new(format!("{field}.urls"), e.to_string()))?,
            ),
            StoreKind::Postgres => {
                Arc::new(PostgresStore::connect(&self.urls[0]).await.map_err(setup)?)
            }
        })
    }
}

/// Strips credentials from a URL for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "<unparseable url>".into(),
    }
}

fn check_url(field: &str, url: &str, schemes: &[&str]) -> Result<(), ConfigError> {
    let parsed =
        url::Url::parse(url).map_err(|e| ConfigError::new(field, format!("malformed URL: {e}")))?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(ConfigError::new(
            field,
            format!(
                "URL scheme {:?} is not one of {} (in {})",
                parsed.scheme(),
                schemes.join(", "),
                redact_url(url)
            ),
        ));
    }
    if parsed.host_str().unwrap_or("").is_empty() {
        return Err(ConfigError::new(
            field,
            format!("URL has no host (in {})", redact_url(url)),
        ));
    }
    Ok(())
}

/// Parses an encryption key (64 hex digits or base64 of 32 bytes); errors name `field`
/// and never echo the key.
pub fn parse_key(field: &str, id: &str, text: &str) -> Result<EncryptionKey, ConfigError> {
    EncryptionKey::from_text(id, text).map_err(|e| ConfigError::new(field, e.to_string()))
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j + 1] + 1)
                .min(cur[j] + 1)
                .min(prev[j] + usize::from(ca != *cb));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_store_names_get_a_did_you_mean() {
        let e = "rediss-cluster".parse::<StoreKind>().unwrap_err();
        assert!(e.contains("did you mean \"redis-cluster\""), "{e}");
        let e = "memcached".parse::<StoreKind>().unwrap_err();
        assert!(e.contains("expected one of memory, redis"), "{e}");
        assert_eq!(
            "postgres".parse::<StoreKind>().unwrap(),
            StoreKind::Postgres
        );
    }

    #[test]
    fn malformed_urls_name_the_field_and_hide_passwords() {
        let spec = StoreSpec {
            kind: StoreKind::Redis,
            urls: vec!["http://user:hunter2@127.0.0.1:6379".into()],
        };
        let e = spec.validate("cache.l2").unwrap_err();
        assert_eq!(e.field, "cache.l2.url");
        assert!(e.message.contains("scheme \"http\""), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let spec = StoreSpec {
            kind: StoreKind::Postgres,
            urls: vec!["not a url".into()],
        };
        assert!(spec
            .validate("cache.l2")
            .unwrap_err()
            .message
            .starts_with("malformed URL"));
        let spec = StoreSpec {
            kind: StoreKind::RedisCluster,
            urls: vec!["redis://127.0.0.1:7000".into(), "redis//bad".into()],
        };
        assert_eq!(
            spec.validate("cache.l2").unwrap_err().field,
            "cache.l2.urls[1]"
        );
        let spec = StoreSpec {
            kind: StoreKind::Redis,
            urls: vec![],
        };
        assert!(spec
            .validate("x")
            .unwrap_err()
            .message
            .contains("exactly one url"));
    }

    #[test]
    fn keys_of_the_wrong_length_name_the_field_and_not_the_key() {
        let e = parse_key("cache.l2.encrypt.key", "k1", "c2VjcmV0").unwrap_err();
        assert_eq!(e.field, "cache.l2.encrypt.key");
        assert!(e.message.contains("32 bytes, got 6"), "{e}");
        assert!(!e.to_string().contains("c2VjcmV0"));
    }
}
