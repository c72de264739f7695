//! MSAL unified-cache entries (AccessToken, RefreshToken, IdToken, Account, AppMetadata),
//! with fields named exactly as MSAL writes them. Unknown fields are kept in `extra` and
//! written back; timestamps are Unix seconds written as strings (read from strings or numbers).

use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

/// A token value. Cheap to clone; `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(s: impl Into<Arc<str>>) -> Self {
        Secret(s.into())
    }
    /// The token itself, for putting on the wire. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

impl Default for Secret {
    fn default() -> Self {
        Secret(Arc::from(""))
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Secret(Arc::from(s.as_ref())))
    }
}

/// Unix seconds, written as a string (MSAL's format), read from a string or a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Timestamp(pub u64);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = itoa_buf(self.0);
        s.serialize_str(buf.as_str_mut())
    }
}

struct Itoa {
    buf: [u8; 20],
    start: usize,
}
impl Itoa {
    fn as_str_mut(&mut self) -> &str {
        // Only ASCII digits were written.
        std::str::from_utf8(&self.buf[self.start..]).unwrap_or("0")
    }
}
fn itoa_buf(mut n: u64) -> Itoa {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    Itoa { buf, start: i }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("Unix seconds as a string or a number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                u64::try_from(v)
                    .map(Timestamp)
                    .map_err(|_| E::custom("negative timestamp"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
                if v.is_finite() && v >= 0.0 {
                    Ok(Timestamp(v as u64))
                } else {
                    Err(E::custom("timestamp out of range"))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                let t = v.trim();
                if let Ok(n) = t.parse::<u64>() {
                    return Ok(Timestamp(n));
                }
                match t.parse::<f64>() {
                    Ok(f) => self.visit_f64(f),
                    Err(_) => Err(E::custom("timestamp is not a number")),
                }
            }
        }
        d.deserialize_any(V)
    }
}

fn is_none<T>(v: &Option<T>) -> bool {
    v.is_none()
}

/// An access token entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessToken {
    #[serde(default)]
    pub credential_type: String,
    #[serde(default)]
    pub secret: Secret,
    /// `null` (MSAL Python) or `""` for app tokens.
    #[serde(default)]
    pub home_account_id: Option<String>,
    #[serde(default)]
    pub environment: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub realm: String,
    #[serde(default, skip_serializing_if = "is_none")]
    pub token_type: Option<String>,
    #[serde(default)]
    pub cached_at: Timestamp,
    #[serde(default)]
    pub expires_on: Timestamp,
    #[serde(default, skip_serializing_if = "is_none")]
    pub extended_expires_on: Option<Timestamp>,
    /// Legacy name, still written by some MSAL versions.
    #[serde(default, skip_serializing_if = "is_none")]
    pub ext_expires_on: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "is_none")]
    pub refresh_on: Option<Timestamp>,
    /// MSAL.NET's OBO marker.
    #[serde(default, skip_serializing_if = "is_none")]
    pub user_assertion_hash: Option<String>,
    /// msal-node's OBO marker.
    #[serde(default, rename = "userAssertionHash", skip_serializing_if = "is_none")]
    pub user_assertion_hash_node: Option<String>,
    /// Fields this version does not know; written back unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AccessToken {
    pub fn home(&self) -> &str {
        self.home_account_id.as_deref().unwrap_or("")
    }
}

/// A refresh token entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RefreshToken {
    #[serde(default)]
    pub credential_type: String,
    #[serde(default)]
    pub secret: Secret,
    #[serde(default)]
    pub home_account_id: Option<String>,
    #[serde(default)]
    pub environment: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default, skip_serializing_if = "is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "is_none")]
    pub family_id: Option<String>,
    #[serde(default, skip_serializing_if = "is_none")]
    pub last_modification_time: Option<Timestamp>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RefreshToken {
    pub fn home(&self) -> &str {
        self.home_account_id.as_deref().unwrap_or("")
    }
}

/// An ID token entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IdToken {
    #[serde(default)]
    pub credential_type: String,
    #[serde(default)]
    pub secret: Secret,
    #[serde(default)]
    pub home_account_id: Option<String>,
    #[serde(default)]
    pub environment: String,
    #[serde(default)]
    pub realm: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An account entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Account {
    #[serde(default)]
    pub home_account_id: String,
    #[serde(default)]
    pub environment: String,
    #[serde(default)]
    pub realm: String,
    #[serde(default)]
    pub local_account_id: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub authority_type: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An app metadata entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AppMetadata {
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub environment: String,
    #[serde(default, skip_serializing_if = "is_none")]
    pub family_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_strings_and_numbers_and_write_strings() {
        let t: Timestamp = serde_json::from_str("\"1700000000\"").unwrap();
        assert_eq!(t, Timestamp(1_700_000_000));
        let t: Timestamp = serde_json::from_str("1700000000").unwrap();
        assert_eq!(t.0, 1_700_000_000);
        let t: Timestamp = serde_json::from_str("\"1700000000.75\"").unwrap();
        assert_eq!(t.0, 1_700_000_000);
        assert!(serde_json::from_str::<Timestamp>("\"soon\"").is_err());
        assert!(serde_json::from_str::<Timestamp>("-5").is_err());
        assert_eq!(serde_json::to_string(&Timestamp(0)).unwrap(), "\"0\"");
        assert_eq!(serde_json::to_string(&Timestamp(42)).unwrap(), "\"42\"");
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let s = Secret::new("eyJ.very.secret");
        assert_eq!(format!("{s:?}"), "Secret(<15 bytes redacted>)");
        assert!(!format!("{s:?}").contains("secret"));
    }
}
