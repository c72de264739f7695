//! Decoding one partition blob into a token-free description: envelope header, accounts,
//! tokens (length and SHA-256 prefix only), app metadata; rendered as a table or JSON.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokencache::model::Secret;
use tokencache::{DecodeError, EncryptionKey, Envelope, Partition};

use crate::report::time::rfc3339;

/// Why a blob could not be described. Messages name the problem and where, never content.
#[derive(Debug)]
pub struct BlobError(pub String);

/// A secret as `len=N sha256=abcdef01`: enough to tell two tokens apart, nothing to use.
pub fn fingerprint(secret: &Secret) -> Value {
    let digest = Sha256::digest(secret.expose().as_bytes());
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    json!({ "len": secret.len(), "sha256_prefix": hex })
}

fn time_of(secs: u64, now_secs: u64) -> Value {
    json!({
        "unix": secs,
        "utc": rfc3339(UNIX_EPOCH + Duration::from_secs(secs)),
        "remaining_s": secs as i64 - now_secs as i64,
    })
}

/// Decodes `blob` stored under partition key `partition` (the key without the namespace;
/// it is bound into encrypted envelopes) into the JSON description `inspect` prints.
pub fn describe(
    partition: Option<&str>,
    blob: &[u8],
    keys: &[EncryptionKey],
    now_secs: u64,
) -> Result<Value, BlobError> {
    let header = Envelope::header(blob)
        .map_err(|e| BlobError(format!("{e} (in the first bytes of the blob)")))?;
    let (format, envelope) = match &header {
        None => ("msal-json", Envelope::plain()),
        Some(h) if !h.encrypted => ("envelope", Envelope::plain()),
        Some(h) => {
            let id = h.key_id.clone().unwrap_or_default();
            if !keys.iter().any(|k| k.id() == id) {
                let have: Vec<&str> = keys.iter().map(|k| k.id()).collect();
                return Err(BlobError(format!(
                    "the blob is encrypted with key id {id:?}, which was not given \
                     (pass --key-env {id}=VAR; given: {have:?})"
                )));
            }
            if partition.is_none() {
                return Err(BlobError(
                    "the blob is encrypted and its partition key is bound into the encryption: \
                     give the partition KEY argument"
                        .into(),
                ));
            }
            ("envelope", Envelope::new(keys.to_vec()))
        }
    };
    let opened = envelope
        .open(partition.unwrap_or(""), blob)
        .map_err(|e| match e {
            DecodeError::Decrypt => BlobError(format!(
                "{e}: the key given as {:?} does not open it, or the blob was stored under \
                 another partition key than {:?}",
                header
                    .as_ref()
                    .and_then(|h| h.key_id.clone())
                    .unwrap_or_default(),
                partition.unwrap_or("")
            )),
            other => BlobError(other.to_string()),
        })?;
    let p = Partition::from_json(&opened.json).map_err(|e| {
        let offset = header.as_ref().map_or(0, |h| h.header_len);
        BlobError(if offset > 0 {
            format!("{e} (in the JSON payload after a {offset}-byte envelope header)")
        } else {
            e.to_string()
        })
    })?;
    let env = match &header {
        None => json!({
            "format": format,
            "encrypted": false,
            "blob_bytes": blob.len(),
            "json_bytes": opened.json.len(),
        }),
        Some(h) => json!({
            "format": format,
            "version": h.version,
            "encrypted": h.encrypted,
            "key_id": h.key_id,
            "deadline": h.deadline_millis.map(|ms| time_of(ms / 1000, now_secs)),
            "blob_bytes": blob.len(),
            "header_bytes": h.header_len,
            "json_bytes": opened.json.len(),
        }),
    };
    Ok(json!({
        "partition": partition,
        "envelope": env,
        "accounts": p.accounts().map(|a| json!({
            "home_account_id": a.home_account_id,
            "environment": a.environment,
            "realm": a.realm,
            "username": a.username,
            "authority_type": a.authority_type,
        })).collect::<Vec<_>>(),
        "access_tokens": p.access_tokens().map(|t| json!({
            "home_account_id": t.home(),
            "client_id": t.client_id,
            "realm": t.realm,
            "target": t.target,
            "token_type": t.token_type,
            "expires_on": time_of(t.expires_on.0, now_secs),
            "refresh_on": t.refresh_on.map(|r| time_of(r.0, now_secs)),
            "obo": t.user_assertion_hash.is_some() || t.user_assertion_hash_node.is_some(),
            "secret": fingerprint(&t.secret),
        })).collect::<Vec<_>>(),
        "refresh_tokens": p.refresh_tokens().map(|t| json!({
            "home_account_id": t.home(),
            "client_id": t.client_id,
            "family_id": t.family_id,
            "secret": fingerprint(&t.secret),
        })).collect::<Vec<_>>(),
        "id_tokens": p.id_tokens().map(|t| json!({
            "home_account_id": t.home_account_id,
            "client_id": t.client_id,
            "realm": t.realm,
            "secret": fingerprint(&t.secret),
        })).collect::<Vec<_>>(),
        "app_metadata": p.app_metadata_entries().map(|m| json!({
            "client_id": m.client_id,
            "environment": m.environment,
            "family_id": m.family_id,
        })).collect::<Vec<_>>(),
        "other_sections": p.other_sections().collect::<Vec<_>>(),
    }))
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) if s.is_empty() => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn secret(v: &Value) -> String {
    format!(
        "len {} sha256 {}…",
        s(&v["len"]),
        v["sha256_prefix"].as_str().unwrap_or("")
    )
}

fn when(v: &Value) -> String {
    if v.is_null() {
        return "-".into();
    }
    let rem = v["remaining_s"].as_i64().unwrap_or(0);
    let rel = if rem >= 0 {
        format!("in {rem}s")
    } else {
        format!("expired {}s ago", -rem)
    };
    format!("{} ({rel})", s(&v["utc"]))
}

/// Renders a padded table: a header line and rows.
fn table(out: &mut String, title: &str, head: &[&str], rows: Vec<Vec<String>>) {
    let _ = writeln!(out, "{title} ({})", rows.len());
    if rows.is_empty() {
        return;
    }
    let mut width: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut l = String::from("  ");
        for (c, w) in cells.iter().zip(&width) {
            let _ = write!(l, "{c:<w$}  ", w = *w);
        }
        l.trim_end().to_owned()
    };
    let _ = writeln!(
        out,
        "{}",
        line(head.iter().map(|h| h.to_string()).collect())
    );
    for r in rows {
        let _ = writeln!(out, "{}", line(r));
    }
}

/// The human form of [`describe`]'s JSON.
pub fn render(d: &Value) -> String {
    let mut out = String::new();
    let e = &d["envelope"];
    let _ = writeln!(out, "partition  {}", s(&d["partition"]));
    let _ = writeln!(
        out,
        "envelope   format {}, encrypted {}, key id {}, blob {} B, JSON {} B{}",
        s(&e["format"]),
        s(&e["encrypted"]),
        s(&e["key_id"]),
        s(&e["blob_bytes"]),
        s(&e["json_bytes"]),
        if e["deadline"].is_null() {
            String::new()
        } else {
            format!(", deadline {}", when(&e["deadline"]))
        }
    );
    let rows = |k: &str| d[k].as_array().cloned().unwrap_or_default();
    table(
        &mut out,
        "accounts",
        &["home_account_id", "realm", "username", "type"],
        rows("accounts")
            .iter()
            .map(|a| {
                vec![
                    s(&a["home_account_id"]),
                    s(&a["realm"]),
                    s(&a["username"]),
                    s(&a["authority_type"]),
                ]
            })
            .collect(),
    );
    table(
        &mut out,
        "access tokens",
        &[
            "client_id",
            "realm",
            "target",
            "expires_on",
            "home",
            "secret",
        ],
        rows("access_tokens")
            .iter()
            .map(|t| {
                vec![
                    s(&t["client_id"]),
                    s(&t["realm"]),
                    s(&t["target"]),
                    when(&t["expires_on"]),
                    s(&t["home_account_id"]),
                    secret(&t["secret"]),
                ]
            })
            .collect(),
    );
    table(
        &mut out,
        "refresh tokens",
        &["client_id", "home", "family", "secret"],
        rows("refresh_tokens")
            .iter()
            .map(|t| {
                vec![
                    s(&t["client_id"]),
                    s(&t["home_account_id"]),
                    s(&t["family_id"]),
                    secret(&t["secret"]),
                ]
            })
            .collect(),
    );
    table(
        &mut out,
        "id tokens",
        &["client_id", "realm", "home", "secret"],
        rows("id_tokens")
            .iter()
            .map(|t| {
                vec![
                    s(&t["client_id"]),
                    s(&t["realm"]),
                    s(&t["home_account_id"]),
                    secret(&t["secret"]),
                ]
            })
            .collect(),
    );
    table(
        &mut out,
        "app metadata",
        &["client_id", "environment", "family"],
        rows("app_metadata")
            .iter()
            .map(|m| vec![s(&m["client_id"]), s(&m["environment"]), s(&m["family_id"])])
            .collect(),
    );
    let other = rows("other_sections");
    if !other.is_empty() {
        let names: Vec<String> = other.iter().map(s).collect();
        let _ = writeln!(out, "other sections: {}", names.join(", "));
    }
    out
}
