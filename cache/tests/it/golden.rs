//! Golden MSAL caches (cache/tests/golden/): written by the real MSAL Python 1.39, and
//! hand-written after the documented msal-node and MSAL.NET differences. Every entry is found
//! by its own fields, a round trip keeps every entry under its key, and entries we add are
//! keyed the way MSAL Python keys them.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tokencache::model::entries::{AccessToken, Secret, Timestamp};
use tokencache::model::keys::{credential_key, normalize_scopes, normalize_target};
use tokencache::Partition;

use crate::msal_python::assert_round_trip_keeps_everything;

pub(crate) fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Every golden cache: (file name, bytes).
pub(crate) fn golden_files() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(golden_dir())
        .expect("cache/tests/golden exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn golden(name: &str) -> (Partition, Value) {
    let bytes = std::fs::read(golden_dir().join(name)).unwrap();
    (
        assert_round_trip_keeps_everything(name, &bytes),
        serde_json::from_slice(&bytes).unwrap(),
    )
}

fn entries<'a>(v: &'a Value, section: &str) -> Vec<(&'a String, &'a Value)> {
    v.get(section)
        .and_then(Value::as_object)
        .map(|m| m.iter().collect())
        .unwrap_or_default()
}

fn str_of<'a>(e: &'a Value, field: &str) -> &'a str {
    e.get(field).and_then(Value::as_str).unwrap_or("")
}

/// Every entry of the file is found through the model's lookups by its own fields.
fn assert_every_entry_is_found(name: &str, p: &Partition, raw: &Value) {
    for (key, e) in entries(raw, "AccessToken") {
        if e.get("ext_cache_key").is_some() {
            continue; // isolated: checked by the MSAL Python interop test
        }
        let (home, client, realm) = (
            str_of(e, "home_account_id"),
            str_of(e, "client_id"),
            str_of(e, "realm"),
        );
        let at = p
            .find_access_token(home, client, realm, &normalize_target(str_of(e, "target")))
            .unwrap_or_else(|| panic!("{name}: access token {key}"));
        assert_eq!(at.secret.expose(), str_of(e, "secret"), "{name}: {key}");
    }
    for (key, e) in entries(raw, "RefreshToken") {
        let rt = p
            .refresh_token(str_of(e, "home_account_id"), str_of(e, "client_id"))
            .unwrap_or_else(|| panic!("{name}: refresh token {key}"));
        assert_eq!(rt.secret.expose(), str_of(e, "secret"), "{name}: {key}");
    }
    for (key, e) in entries(raw, "IdToken") {
        let t = p
            .id_token(
                str_of(e, "home_account_id"),
                str_of(e, "client_id"),
                str_of(e, "realm"),
            )
            .unwrap_or_else(|| panic!("{name}: id token {key}"));
        assert_eq!(t.secret.expose(), str_of(e, "secret"), "{name}: {key}");
    }
    for (key, e) in entries(raw, "Account") {
        let a = p
            .account(str_of(e, "home_account_id"), str_of(e, "realm"))
            .unwrap_or_else(|| panic!("{name}: account {key}"));
        assert_eq!(a.username, str_of(e, "username"));
    }
    for (key, e) in entries(raw, "AppMetadata") {
        let m = p
            .app_metadata(str_of(e, "client_id"))
            .unwrap_or_else(|| panic!("{name}: app metadata {key}"));
        assert_eq!(
            m.family_id.as_deref(),
            e.get("family_id").and_then(Value::as_str)
        );
    }
}

#[test]
fn every_golden_cache_is_found_and_round_trips() {
    let files = golden_files();
    assert!(files.len() >= 9, "python, node and .NET goldens: {files:?}");
    for (name, bytes) in &files {
        let p = assert_round_trip_keeps_everything(name, bytes);
        let raw: Value = serde_json::from_slice(bytes).unwrap();
        assert_every_entry_is_found(name, &p, &raw);
    }
}

#[test]
fn entries_we_add_are_keyed_like_msal_python_and_read_entries_keep_their_keys() {
    for (name, bytes) in golden_files() {
        let mut p = Partition::from_json(&bytes).unwrap();
        let before: Value = serde_json::from_slice(&bytes).unwrap();
        p.upsert_access_token(AccessToken {
            credential_type: "AccessToken".into(),
            secret: Secret::new("ours"),
            home_account_id: None,
            environment: "127.0.0.1".into(),
            client_id: "Our-Client".into(),
            target: "api://Ours/.default".into(),
            realm: "Contoso".into(),
            token_type: Some("Bearer".into()),
            cached_at: Timestamp(1),
            expires_on: Timestamp(2),
            extended_expires_on: Some(Timestamp(2)),
            ext_expires_on: None,
            refresh_on: None,
            user_assertion_hash: None,
            user_assertion_hash_node: None,
            extra: Default::default(),
        });
        let after: Value = serde_json::from_slice(&p.to_json()).unwrap();
        let ats = after["AccessToken"].as_object().unwrap();
        let ours = "-127.0.0.1-accesstoken-our-client-contoso-api://ours/.default";
        assert_eq!(
            ours,
            credential_key(
                "",
                "127.0.0.1",
                "AccessToken",
                "Our-Client",
                "Contoso",
                "api://Ours/.default"
            )
        );
        assert_eq!(ats[ours]["secret"], "ours", "{name}");
        for section in [
            "AccessToken",
            "RefreshToken",
            "IdToken",
            "Account",
            "AppMetadata",
        ] {
            for (key, _) in entries(&before, section) {
                assert!(
                    after[section].get(key).is_some(),
                    "{name}: {section} key {key} kept"
                );
            }
        }
    }
}

#[test]
fn msal_node_differences_are_read() {
    let (p, raw) = golden("msal_node_user.json");
    let home = "6e1f3a2b-0000-4000-8000-00000000a11c.72f988bf-86f1-41af-91ab-2d7cd011db47";
    let client = "5f2c9d1e-8b7a-4e3f-a1c2-d3e4f5a6b7c8";
    for (key, _) in entries(&raw, "AccessToken") {
        assert!(key.ends_with('-'), "msal-node keys end with '-': {key}");
    }
    let at = p
        .find_access_token(
            home,
            client,
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
            &normalize_scopes(["User.Read"]),
        )
        .unwrap();
    assert_eq!(
        at.environment, "127.0.0.1:8443",
        "msal-node records the port"
    );
    assert_eq!(at.refresh_on, Some(Timestamp(1_795_001_800)));
    let guest = p
        .find_access_token(home, client, "fabrikam", "user.read")
        .unwrap();
    assert_eq!(guest.secret.expose(), "node-at-alice-guest");
    // The family refresh token is keyed by family id in msal-node, found by client here.
    let rt = p.refresh_token(home, client).unwrap();
    assert_eq!(rt.family_id.as_deref(), Some("1"));
    let acct = p
        .account(home, "72f988bf-86f1-41af-91ab-2d7cd011db47")
        .unwrap();
    assert_eq!(acct.extra["tenantProfiles"].as_array().unwrap().len(), 2);
    assert!(acct.extra["client_info"].is_string());

    let (p, _) = golden("msal_node_obo.json");
    let obo = p
        .find_access_token(
            "0d9e8f7a-0000-4000-8000-000000000b0b.72f988bf-86f1-41af-91ab-2d7cd011db47",
            "c4d3e2f1-a0b9-4c8d-b7e6-f5a4b3c2d1e0",
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "api://downstream/orders.read",
        )
        .unwrap();
    assert_eq!(
        obo.user_assertion_hash_node.as_deref(),
        Some("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0")
    );

    let (p, _) = golden("msal_node_app.json");
    let app = "0b5a8a6e-4c1d-4f6a-9e3b-7c1f2d3e4a5b";
    // Realm case differs from the request's: still the same tenant.
    let at = p
        .find_access_token("", app, "fabrikam", "api://resource-a/.default")
        .unwrap();
    assert_eq!(at.secret.expose(), "node-app-fabrikam-a");
    assert_eq!(at.home_account_id.as_deref(), Some(""));
}

#[test]
fn msal_dotnet_differences_are_read() {
    let (p, raw) = golden("msal_dotnet_user.json");
    let home = "00000000-0000-0000-66F3-3332ECA7EA81.9188040d-6c67-4c5b-b112-36a304b66dad";
    let client = "5f2c9d1e-8b7a-4e3f-a1c2-d3e4f5a6b7c8";
    // .NET does not lower-case Account keys; we keep the key as read.
    let account_key = entries(&raw, "Account")[0].0.clone();
    assert!(account_key.contains("66F3") && account_key.ends_with("-Contoso"));
    let written: Value = serde_json::from_slice(&p.to_json()).unwrap();
    assert!(written["Account"].get(&account_key).is_some());
    // Lookups ignore case: lower-cased ids find the same entries.
    let acct = p.account(&home.to_lowercase(), "contoso").unwrap();
    assert_eq!(acct.username, "carol@contoso.example");
    let at = p
        .find_access_token(
            &home.to_lowercase(),
            client,
            "contoso",
            &normalize_scopes(["user.read"]),
        )
        .unwrap();
    assert_eq!(at.secret.expose(), "dotnet-at-carol");
    assert_eq!(at.token_type, None, ".NET omits token_type for Bearer");
    assert_eq!(
        at.target, "Mail.Send openid profile User.Read",
        "sorted by .NET, kept as read"
    );
    // Numbers and strings for timestamps both read; legacy ext_expires_on kept.
    assert_eq!(at.expires_on, Timestamp(1_795_003_600));
    assert_eq!(at.refresh_on, Some(Timestamp(1_795_001_800)));
    assert_eq!(at.ext_expires_on, Some(Timestamp(1_795_003_600)));
    let entry = written["AccessToken"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert_eq!(
        entry["expires_on"], "1795003600",
        "written back as MSAL's string"
    );
    assert!(entry.get("token_type").is_none(), "absent stays absent");

    let (p, _) = golden("msal_dotnet_obo.json");
    let at = p
        .find_access_token(
            home,
            "c4d3e2f1-a0b9-4c8d-b7e6-f5a4b3c2d1e0",
            "9188040d-6c67-4c5b-b112-36a304b66dad",
            "api://downstream/orders.read",
        )
        .unwrap();
    assert_eq!(
        at.user_assertion_hash.as_deref(),
        Some("Y2FyZWZ1bC10aGlzLWlzLW5vdC1hLXJlYWwtaGFzaA")
    );
    let rt = p
        .refresh_token(home, "c4d3e2f1-a0b9-4c8d-b7e6-f5a4b3c2d1e0")
        .unwrap();
    assert!(
        rt.extra.contains_key("user_assertion_hash"),
        "unknown RT field kept"
    );

    let (p, _) = golden("msal_dotnet_app.json");
    let app = "0b5a8a6e-4c1d-4f6a-9e3b-7c1f2d3e4a5b";
    for (scope, secret) in [
        ("api://resource-a/.default", "dotnet-app-a"),
        ("api://resource-b/.default", "dotnet-app-b"),
    ] {
        let at = p
            .find_access_token("", app, "72f988bf-86f1-41af-91ab-2d7cd011db47", scope)
            .unwrap();
        assert_eq!(at.secret.expose(), secret);
        assert_eq!(
            at.expires_on,
            Timestamp(1_795_003_599),
            "string and number alike"
        );
    }
}
