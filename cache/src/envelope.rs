//! The L2 envelope: how a partition's JSON is stored as bytes.
//!
//! - Plain, no deadline: the MSAL JSON itself, so other MSAL-format readers can read it.
//! - Otherwise: `b"TSC" 0x01 flags [deadline: u64 BE] [key id len: u8, key id, nonce: 12 B,
//!   AES-256-GCM ciphertext + tag] | [JSON]`. Flag 1 = absolute deadline (Unix ms) present,
//!   flag 2 = encrypted. The associated data binds the header and the partition key, so a blob
//!   copied under another partition's key fails to decrypt.
//!
//! Several keys may be configured: the first encrypts, all decrypt (rotation).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

use crate::model::DecodeError;

const MAGIC: &[u8; 3] = b"TSC";
const VERSION: u8 = 1;
const FLAG_DEADLINE: u8 = 1;
const FLAG_ENCRYPTED: u8 = 2;
const NONCE_LEN: usize = 12;

/// One AES-256-GCM key with its id (written into every envelope it seals).
#[derive(Clone)]
pub struct EncryptionKey {
    id: String,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A key could not be built. Names the problem, never the key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("key id must be 1 to 255 bytes, got {0}")]
    BadId(usize),
    #[error("an AES-256-GCM key is 32 bytes, got {0}")]
    BadLength(usize),
    #[error("key is not valid base64 (standard alphabet) or hex")]
    BadEncoding,
}

impl EncryptionKey {
    pub fn new(id: impl Into<String>, key: &[u8]) -> Result<Self, KeyError> {
        let id = id.into();
        if id.is_empty() || id.len() > 255 {
            return Err(KeyError::BadId(id.len()));
        }
        let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| KeyError::BadLength(key.len()))?;
        Ok(EncryptionKey { id, cipher })
    }

    /// Parses a key written as 64 hex digits or as base64 of 32 bytes.
    pub fn from_text(id: impl Into<String>, text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| KeyError::BadEncoding)?
        } else {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| KeyError::BadEncoding)?
        };
        Self::new(id, &bytes)
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// How blobs are sealed and opened.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    /// First key encrypts; every key decrypts. Empty = no encryption.
    keys: Vec<EncryptionKey>,
}

/// What [`Envelope::open`] found.
#[derive(Debug)]
pub struct Opened {
    pub json: Vec<u8>,
    /// Absolute deadline in Unix milliseconds, when one was sealed in.
    pub deadline_millis: Option<u64>,
    /// Id of the key that decrypted it.
    pub key_id: Option<String>,
}

/// An envelope's header, read without any key (see [`Envelope::header`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeHeader {
    pub version: u8,
    /// Absolute deadline in Unix milliseconds, when one was sealed in.
    pub deadline_millis: Option<u64>,
    pub encrypted: bool,
    /// Id of the key that sealed it (encrypted envelopes only).
    pub key_id: Option<String>,
    /// Bytes before the payload (the nonce counts as header for encrypted envelopes).
    pub header_len: usize,
}

impl Envelope {
    /// Reads a blob's envelope header without decrypting: `Ok(None)` for plain MSAL JSON
    /// (no envelope), an error naming what is wrong for a damaged header.
    pub fn header(blob: &[u8]) -> Result<Option<EnvelopeHeader>, DecodeError> {
        if !blob.starts_with(MAGIC) {
            return Ok(None);
        }
        let mut pos = MAGIC.len();
        let version = *blob
            .get(pos)
            .ok_or(DecodeError::Envelope("truncated header"))?;
        if version != VERSION {
            return Err(DecodeError::Envelope("unsupported envelope version"));
        }
        pos += 1;
        let flags = *blob
            .get(pos)
            .ok_or(DecodeError::Envelope("truncated header"))?;
        pos += 1;
        if flags & !(FLAG_DEADLINE | FLAG_ENCRYPTED) != 0 {
            return Err(DecodeError::Envelope("unknown envelope flags"));
        }
        let deadline_millis = if flags & FLAG_DEADLINE != 0 {
            let raw: [u8; 8] = blob
                .get(pos..pos + 8)
                .and_then(|r| r.try_into().ok())
                .ok_or(DecodeError::Envelope("truncated deadline"))?;
            pos += 8;
            Some(u64::from_be_bytes(raw))
        } else {
            None
        };
        let encrypted = flags & FLAG_ENCRYPTED != 0;
        let key_id = if encrypted {
            let id_len = *blob
                .get(pos)
                .ok_or(DecodeError::Envelope("truncated key id"))?
                as usize;
            pos += 1;
            let id = blob
                .get(pos..pos + id_len)
                .ok_or(DecodeError::Envelope("truncated key id"))?;
            pos += id_len + NONCE_LEN;
            if blob.len() < pos {
                return Err(DecodeError::Envelope("truncated nonce"));
            }
            Some(
                std::str::from_utf8(id)
                    .map_err(|_| DecodeError::Envelope("key id is not UTF-8"))?
                    .to_owned(),
            )
        } else {
            None
        };
        Ok(Some(EnvelopeHeader {
            version,
            deadline_millis,
            encrypted,
            key_id,
            header_len: pos,
        }))
    }

    pub fn new(keys: Vec<EncryptionKey>) -> Self {
        Envelope { keys }
    }

    pub fn plain() -> Self {
        Envelope::default()
    }

    pub fn encrypts(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Seals a partition's JSON for storage under `partition_key`.
    pub fn seal(
        &self,
        partition_key: &str,
        json: Vec<u8>,
        deadline_millis: Option<u64>,
    ) -> Vec<u8> {
        let Some(key) = self.keys.first() else {
            let Some(deadline) = deadline_millis else {
                return json;
            };
            let mut out = Vec::with_capacity(json.len() + 13);
            out.extend_from_slice(MAGIC);
            out.push(VERSION);
            out.push(FLAG_DEADLINE);
            out.extend_from_slice(&deadline.to_be_bytes());
            out.extend_from_slice(&json);
            return out;
        };
        let mut out = Vec::with_capacity(json.len() + 64 + key.id.len());
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(FLAG_ENCRYPTED | deadline_millis.map_or(0, |_| FLAG_DEADLINE));
        if let Some(d) = deadline_millis {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.push(key.id.len() as u8);
        out.extend_from_slice(key.id.as_bytes());
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = associated_data(&out, partition_key);
        // Encryption only fails for plaintexts over 64 GiB.
        let ct = key
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &json,
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Opens a blob stored under `partition_key`: plain MSAL JSON or an envelope.
    pub fn open(&self, partition_key: &str, blob: &[u8]) -> Result<Opened, DecodeError> {
        if !blob.starts_with(MAGIC) {
            if self.encrypts() {
                // A plain blob where everything must be encrypted: someone wrote around us.
                return Err(DecodeError::Envelope(
                    "expected an encrypted envelope, found plain data",
                ));
            }
            return Ok(Opened {
                json: blob.to_vec(),
                deadline_millis: None,
                key_id: None,
            });
        }
        let h = Self::header(blob)?.ok_or(DecodeError::Envelope("truncated header"))?;
        if !h.encrypted {
            if self.encrypts() {
                // Same rule as for plain JSON: with keys configured, everything is encrypted.
                // (Clearing the flag bit of a sealed blob must not turn ciphertext into data.)
                return Err(DecodeError::Envelope(
                    "expected an encrypted envelope, found plain data",
                ));
            }
            return Ok(Opened {
                json: blob[h.header_len..].to_vec(),
                deadline_millis: h.deadline_millis,
                key_id: None,
            });
        }
        let id = h.key_id.as_deref().unwrap_or_default();
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| DecodeError::UnknownKey(id.to_owned()))?;
        // `header` checked the nonce is there: it ends the header.
        let nonce_at = h.header_len - NONCE_LEN;
        let nonce: [u8; NONCE_LEN] = blob[nonce_at..h.header_len]
            .try_into()
            .map_err(|_| DecodeError::Envelope("truncated nonce"))?;
        let aad = associated_data(&blob[..nonce_at], partition_key);
        let json = key
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &blob[h.header_len..],
                    aad: &aad,
                },
            )
            .map_err(|_| DecodeError::Decrypt)?;
        Ok(Opened {
            json,
            deadline_millis: h.deadline_millis,
            key_id: h.key_id,
        })
    }
}

fn associated_data(header: &[u8], partition_key: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + partition_key.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(partition_key.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, b: u8) -> EncryptionKey {
        EncryptionKey::new(id, &[b; 32]).unwrap()
    }

    #[test]
    fn plain_without_deadline_is_the_json_itself() {
        let e = Envelope::plain();
        let sealed = e.seal("p", b"{\"a\":1}".to_vec(), None);
        assert_eq!(sealed, b"{\"a\":1}");
        let o = e.open("p", &sealed).unwrap();
        assert_eq!(o.json, b"{\"a\":1}");
        assert_eq!(o.deadline_millis, None);
    }

    #[test]
    fn header_is_read_without_a_key() {
        assert_eq!(Envelope::header(b"{}").unwrap(), None);
        let sealed = Envelope::new(vec![key("k7", 1)]).seal("p", b"{}".to_vec(), Some(42));
        let h = Envelope::header(&sealed).unwrap().unwrap();
        assert_eq!(
            (
                h.version,
                h.deadline_millis,
                h.encrypted,
                h.key_id.as_deref()
            ),
            (1, Some(42), true, Some("k7"))
        );
        assert_eq!(h.header_len, 3 + 1 + 1 + 8 + 1 + 2 + NONCE_LEN);
        let plain = Envelope::plain().seal("p", b"{}".to_vec(), Some(42));
        let h = Envelope::header(&plain).unwrap().unwrap();
        assert_eq!((h.encrypted, h.key_id, h.header_len), (false, None, 13));
        assert!(matches!(
            Envelope::header(&sealed[..16]),
            Err(DecodeError::Envelope("truncated nonce"))
        ));
    }

    #[test]
    fn deadline_and_encryption_round_trip_and_rotate() {
        let old = Envelope::new(vec![key("k1", 1)]);
        let sealed = old.seal("p", b"{}".to_vec(), Some(123_456));
        assert!(!sealed.windows(2).any(|w| w == b"{}"));
        // Rotation: k2 encrypts, k1 still decrypts.
        let rotated = Envelope::new(vec![key("k2", 2), key("k1", 1)]);
        let o = rotated.open("p", &sealed).unwrap();
        assert_eq!(o.json, b"{}");
        assert_eq!(o.deadline_millis, Some(123_456));
        assert_eq!(o.key_id.as_deref(), Some("k1"));
        let resealed = rotated.seal("p", o.json, None);
        assert_eq!(
            rotated.open("p", &resealed).unwrap().key_id.as_deref(),
            Some("k2")
        );
    }

    #[test]
    fn wrong_key_tamper_truncation_and_swapped_partition_are_errors() {
        let e = Envelope::new(vec![key("k1", 1)]);
        let sealed = e.seal("p", b"{\"x\":true}".to_vec(), None);
        let other = Envelope::new(vec![key("k1", 9)]);
        assert!(matches!(
            other.open("p", &sealed),
            Err(DecodeError::Decrypt)
        ));
        assert!(matches!(e.open("q", &sealed), Err(DecodeError::Decrypt)));
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(matches!(e.open("p", &tampered), Err(DecodeError::Decrypt)));
        for cut in 0..sealed.len() {
            assert!(e.open("p", &sealed[..cut]).is_err(), "cut at {cut}");
        }
        let unknown = Envelope::new(vec![key("k9", 1)]);
        assert!(
            matches!(unknown.open("p", &sealed), Err(DecodeError::UnknownKey(id)) if id == "k1")
        );
        assert!(
            e.open("p", b"{}").is_err(),
            "plain blob where encryption is required"
        );
        let mut unflagged = sealed.clone();
        unflagged[4] &= !FLAG_ENCRYPTED;
        assert!(e.open("p", &unflagged).is_err(), "encrypted flag cleared");
    }

    #[test]
    fn keys_parse_from_hex_and_base64_and_reject_bad_lengths() {
        let hex = "00".repeat(32);
        assert!(EncryptionKey::from_text("a", &hex).is_ok());
        assert!(
            EncryptionKey::from_text("a", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").is_ok()
        );
        assert_eq!(
            EncryptionKey::from_text("a", "AAAA").unwrap_err(),
            KeyError::BadLength(3)
        );
        assert_eq!(
            EncryptionKey::from_text("a", "!!").unwrap_err(),
            KeyError::BadEncoding
        );
        assert_eq!(
            EncryptionKey::new("", &[0; 32]).unwrap_err(),
            KeyError::BadId(0)
        );
    }
}
