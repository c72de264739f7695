//! Interop with the real MSAL Python (from `.venv`), both directions: caches written by
//! `SerializableTokenCache.add` are read, found and round-tripped by our model; partitions we
//! write are deserialized by MSAL Python, which then serves our tokens from its cache.
//!
//! MSAL Python always runs OIDC discovery when an application object is built; the script
//! answers it through MSAL's documented `http_client` extension point, in process, and
//! records every request, so "served from cache" is checked as "no token request was made".
//! No socket is opened; proxies point at a dead port so a stray request fails loudly.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokencache::model::entries::{
    AccessToken, Account, AppMetadata, IdToken, RefreshToken, Secret, Timestamp,
};
use tokencache::model::keys::normalize_scopes;
use tokencache::Partition;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cache/ has a parent")
        .to_path_buf()
}

/// The interpreter with `msal` installed: `TOKENSCOPE_PYTHON`, else `<root>/.venv/bin/python`.
/// Missing is a failure, never a skip: the interop proof must run everywhere the tests run.
fn python() -> PathBuf {
    let path = std::env::var_os("TOKENSCOPE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    assert!(
        path.exists(),
        "MSAL Python interpreter not found at {} (set TOKENSCOPE_PYTHON or run \
         `scripts/test.sh --setup` to create .venv with msal)",
        path.display()
    );
    path
}

/// Runs `cache/tests/clients/msal_cache.py` and parses what it prints.
fn msal_script(args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/msal_cache.py");
    let out = Command::new(python())
        .arg(&script)
        .args(args)
        // Any request that escaped the in-process fake IdP fails loudly.
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .expect("start MSAL Python");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "msal_cache.py {args:?} failed ({}); if `msal` is missing run `scripts/test.sh --setup`\n{stderr}",
        out.status
    );
    serde_json::from_slice(&out.stdout).expect("msal_cache.py prints JSON")
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Every section of a cache JSON as a map of key -> entry (absent sections are empty).
pub(crate) fn sections(v: &Value) -> Vec<(String, serde_json::Map<String, Value>)> {
    let mut names: Vec<String> = [
        "AccessToken",
        "RefreshToken",
        "IdToken",
        "Account",
        "AppMetadata",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    if let Some(obj) = v.as_object() {
        for k in obj.keys() {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    names
        .into_iter()
        .map(|n| {
            let m = v
                .get(&n)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            (n, m)
        })
        .collect()
}

/// Timestamp fields: MSAL.NET may write numbers, we always write MSAL's strings.
const TIMESTAMPS: [&str; 6] = [
    "cached_at",
    "expires_on",
    "extended_expires_on",
    "ext_expires_on",
    "refresh_on",
    "last_modification_time",
];

/// `v` with numeric timestamps of known entries written as strings, the way we write them.
fn timestamps_as_strings(mut v: Value) -> Value {
    for section in ["AccessToken", "RefreshToken"] {
        let Some(entries) = v.get_mut(section).and_then(Value::as_object_mut) else {
            continue;
        };
        for entry in entries.values_mut().filter_map(Value::as_object_mut) {
            for field in TIMESTAMPS {
                if let Some(n) = entry.get(field).and_then(Value::as_u64) {
                    entry.insert(field.into(), Value::String(n.to_string()));
                }
            }
        }
    }
    v
}

/// Asserts that re-serializing `original` through [`Partition`] keeps every entry under its
/// key with every field (unknown ones included); numeric timestamps come back as strings.
pub(crate) fn assert_round_trip_keeps_everything(name: &str, original: &[u8]) -> Partition {
    let p = Partition::from_json(original).unwrap_or_else(|e| panic!("{name}: {e}"));
    let written: Value = serde_json::from_slice(&p.to_json()).expect("our JSON parses");
    let original =
        timestamps_as_strings(serde_json::from_slice(original).expect("original parses"));
    for ((section, want), (_, got)) in sections(&original).into_iter().zip(sections(&written)) {
        if want.is_empty() && got.is_empty() {
            continue;
        }
        // Unknown top-level sections may be any JSON value: compare them as they are.
        if original.get(&section).is_some_and(|v| !v.is_object()) {
            assert_eq!(
                original.get(&section),
                written.get(&section),
                "{name}: {section}"
            );
            continue;
        }
        assert_eq!(
            want.keys().collect::<std::collections::BTreeSet<_>>(),
            got.keys().collect::<std::collections::BTreeSet<_>>(),
            "{name}: keys of section {section}"
        );
        for (k, entry) in &want {
            assert_eq!(Some(entry), got.get(k), "{name}: {section} entry {k}");
        }
    }
    // Sanity: the partition agrees on how many entries it holds.
    let count = |s: &str| {
        original
            .get(s)
            .and_then(Value::as_object)
            .map_or(0, |m| m.len())
    };
    assert_eq!(
        p.token_count(),
        count("AccessToken") + count("RefreshToken") + count("IdToken"),
        "{name}: token count"
    );
    p
}

#[test]
fn caches_written_by_msal_python_are_found_and_round_trip_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = msal_script(&["write", dir.path().to_str().unwrap()]);
    assert_eq!(
        manifest["msal_version"], "1.39.0",
        "pinned by scripts/clients/requirements.txt"
    );
    let tokens = manifest["tokens"].as_array().unwrap();
    assert!(tokens.len() >= 8, "manifest lists every token added");

    for file in ["app", "user", "obo"] {
        let bytes = std::fs::read(dir.path().join(format!("{file}.json"))).unwrap();
        // HashMap order differs per parse; repeat so an ambiguous index cannot pass by luck.
        for _ in 0..16 {
            let p = assert_round_trip_keeps_everything(file, &bytes);
            check_manifest_tokens(&p, tokens, file);
        }
    }
}

fn check_manifest_tokens(p: &Partition, tokens: &[Value], file: &str) {
    let s = |t: &Value, k: &str| t[k].as_str().unwrap_or_default().to_owned();
    let mut last_rt = std::collections::HashMap::new();
    for t in tokens.iter().filter(|t| t["file"] == file) {
        let (home, client, realm) = (s(t, "home_account_id"), s(t, "client_id"), s(t, "realm"));
        let scopes: Vec<&str> = t["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let wanted = normalize_scopes(scopes.iter().copied());
        if t["ext_cache_key"] == true {
            // Isolated by MSAL 1.39 (an FMI path): kept, never served to a plain request.
            let kept = p
                .access_tokens()
                .find(|at| at.secret.expose() == s(t, "access_token"));
            let at = kept.unwrap_or_else(|| panic!("{file}: FMI token kept"));
            assert!(at.extra.contains_key("ext_cache_key"));
            let plain = p
                .find_access_token(&home, &client, &realm, &wanted)
                .unwrap();
            assert_ne!(
                plain.secret.expose(),
                s(t, "access_token"),
                "FMI token served to a plain request"
            );
            continue;
        }
        let at = p
            .find_access_token(&home, &client, &realm, &wanted)
            .unwrap_or_else(|| panic!("{file}: access token for {client} in {realm} {wanted:?}"));
        assert_eq!(
            at.secret.expose(),
            s(t, "access_token"),
            "{file}: {realm} {wanted}"
        );
        assert_eq!(at.realm, realm);
        assert_eq!(
            at.environment, "127.0.0.1",
            "MSAL Python records the host without port"
        );
        assert_eq!(at.home(), home);
        // A user asking for one of the granted scopes finds the same token.
        if !home.is_empty() {
            let one = normalize_scopes([scopes[0]]);
            let sub = p.find_access_token(&home, &client, &realm, &one).unwrap();
            assert_eq!(sub.secret.expose(), at.secret.expose());
            let idt = p.id_token(&home, &client, &realm).expect("id token");
            assert_eq!(idt.secret.expose(), s(t, "id_token"));
            let acct = p.account(&home, &realm).expect("account per tenant");
            assert!(acct.username.ends_with("@contoso.example"));
            assert_eq!(acct.authority_type, "MSSTS");
            if file == "user" {
                // Written for auth-code accounts only (not OBO); unknown to our model.
                assert_eq!(acct.extra["account_source"], "authorization_code");
            }
            last_rt.insert((home.clone(), client.clone()), t.clone());
        }
    }
    for ((home, client), t) in last_rt {
        // The RT key has no realm: the later response replaced the earlier RT.
        let rt = p.refresh_token(&home, &client).expect("refresh token");
        assert_eq!(rt.secret.expose(), s(&t, "refresh_token"));
        assert_eq!(rt.family_id.as_deref(), t["family_id"].as_str());
        if let Some(family) = t["family_id"].as_str() {
            let meta = p.app_metadata(&client).expect("app metadata");
            assert_eq!(meta.family_id.as_deref(), Some(family));
        }
    }
}

// --- Direction B: we write, MSAL Python serves --------------------------------------------

const APP: &str = "7d0c1e2f-3a4b-4c5d-8e6f-a7b8c9d0e1f2";
const WEB: &str = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
const UTID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
const HOME: &str = "00000000-0000-0000-66f3-3332eca7ea81.9188040d-6c67-4c5b-b112-36a304b66dad";

fn at(
    home: Option<&str>,
    client: &str,
    realm: &str,
    target: &str,
    expires_on: u64,
    secret: &str,
) -> AccessToken {
    AccessToken {
        credential_type: "AccessToken".into(),
        secret: Secret::new(secret),
        home_account_id: home.map(String::from),
        environment: "127.0.0.1".into(),
        client_id: client.into(),
        target: target.into(),
        realm: realm.into(),
        token_type: Some("Bearer".into()),
        cached_at: Timestamp(expires_on.saturating_sub(3600)),
        expires_on: Timestamp(expires_on),
        extended_expires_on: Some(Timestamp(expires_on)),
        ext_expires_on: None,
        refresh_on: None,
        user_assertion_hash: None,
        user_assertion_hash_node: None,
        extra: Default::default(),
    }
}

fn app_partition(now: u64) -> Partition {
    let mut p = Partition::new();
    p.upsert_access_token(at(
        None,
        APP,
        "contoso",
        "api://resource-a/.default",
        now + 3600,
        "our-app-a",
    ));
    let mut b = at(
        None,
        APP,
        "contoso",
        "api://resource-b/.default",
        now + 3600,
        "our-app-b",
    );
    b.refresh_on = Some(Timestamp(now + 1800));
    b.extra.insert(
        "x_tokenscope_note".into(),
        json!("unknown fields ride along"),
    );
    p.upsert_access_token(b);
    // Under MSAL's 5-minute margin: MSAL must treat it as expired and go to the IdP.
    p.upsert_access_token(at(
        None,
        APP,
        "contoso",
        "api://resource-c/.default",
        now + 200,
        "our-app-c-expiring",
    ));
    // MSAL.NET writes "" for an app token's home account; MSAL Python matches only null.
    p.upsert_access_token(at(
        Some(""),
        APP,
        "fabrikam",
        "api://resource-a/.default",
        now + 3600,
        "our-app-empty-home",
    ));
    p.upsert_app_metadata(AppMetadata {
        client_id: APP.into(),
        environment: "127.0.0.1".into(),
        family_id: None,
        extra: Default::default(),
    });
    p
}

fn user_partition(now: u64) -> Partition {
    let mut p = Partition::new();
    p.upsert_access_token(at(
        Some(HOME),
        WEB,
        UTID,
        "Mail.Send User.Read",
        now + 3600,
        "our-user-at",
    ));
    p.upsert_refresh_token(RefreshToken {
        credential_type: "RefreshToken".into(),
        secret: Secret::new("our-user-rt"),
        home_account_id: Some(HOME.into()),
        environment: "127.0.0.1".into(),
        client_id: WEB.into(),
        target: Some("Mail.Send User.Read".into()),
        family_id: None,
        last_modification_time: Some(Timestamp(now)),
        extra: Default::default(),
    });
    p.upsert_id_token(IdToken {
        credential_type: "IdToken".into(),
        secret: Secret::new("e30.e30."),
        home_account_id: Some(HOME.into()),
        environment: "127.0.0.1".into(),
        realm: UTID.into(),
        client_id: WEB.into(),
        extra: Default::default(),
    });
    p.upsert_account(Account {
        home_account_id: HOME.into(),
        environment: "127.0.0.1".into(),
        realm: UTID.into(),
        local_account_id: "00000000-0000-0000-66f3-3332eca7ea81".into(),
        username: "carol@contoso.example".into(),
        authority_type: "MSSTS".into(),
        extra: Default::default(),
    });
    p.upsert_app_metadata(AppMetadata {
        client_id: WEB.into(),
        environment: "127.0.0.1".into(),
        family_id: None,
        extra: Default::default(),
    });
    p
}

/// Writes `p`, runs `plan` in MSAL Python, returns (results by step name, MSAL's cache after).
fn serve(p: &Partition, plan: Value) -> (std::collections::HashMap<String, Value>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let (cache, plan_path, out) = (
        dir.path().join("cache.json"),
        dir.path().join("plan.json"),
        dir.path().join("after.json"),
    );
    std::fs::write(&cache, p.to_json()).unwrap();
    std::fs::write(&plan_path, plan.to_string()).unwrap();
    let r = msal_script(&[
        "serve",
        cache.to_str().unwrap(),
        plan_path.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    let by_name = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_owned(), s.clone()))
        .collect();
    (by_name, std::fs::read(out).unwrap())
}

fn posts(step: &Value) -> Vec<&Value> {
    step["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "POST")
        .collect()
}

fn assert_served_from_cache(step: &Value, secret: &str) {
    assert_eq!(step["access_token"], secret, "{step:#}");
    assert_eq!(step["token_source"], "cache", "{step:#}");
    assert!(posts(step).is_empty(), "no token request: {step:#}");
    // The only request MSAL made is the OIDC discovery the fake answered in process.
    for r in step["requests"].as_array().unwrap() {
        assert!(r["url"]
            .as_str()
            .unwrap()
            .ends_with("/v2.0/.well-known/openid-configuration"));
    }
}

#[test]
fn msal_python_serves_app_tokens_we_wrote_from_its_cache() {
    let now = now_secs();
    let p = app_partition(now);
    let step = |name: &str, tenant: &str, scope: &str| json!({"name": name, "kind": "app", "client_id": APP, "tenant": tenant, "scopes": [scope]});
    let (r, after) = serve(
        &p,
        json!({"steps": [
            step("a", "contoso", "api://resource-a/.default"),
            step("b", "contoso", "api://resource-b/.default"),
            step("c", "contoso", "api://resource-c/.default"),
            step("empty-home", "fabrikam", "api://resource-a/.default"),
        ]}),
    );
    assert_served_from_cache(&r["a"], "our-app-a");
    assert_served_from_cache(&r["b"], "our-app-b");
    assert_eq!(
        r["b"]["refresh_on"],
        json!(now + 1800),
        "refresh_on read from our string"
    );
    // Expiring within 5 minutes: MSAL skipped it and asked the IdP (which refused).
    let c = &r["c"];
    assert_eq!(c["token_source"], Value::Null, "{c:#}");
    assert_eq!(posts(c).len(), 1, "{c:#}");
    assert_eq!(posts(c)[0]["grant_type"], "client_credentials");
    // MSAL Python's lookup compares home_account_id with None: "" is not served.
    let e = &r["empty-home"];
    assert_eq!(e["token_source"], Value::Null, "{e:#}");
    assert_eq!(
        posts(e).len(),
        1,
        "MSAL Python refuses an app token with home_account_id \"\""
    );
    // MSAL's own serialization of our cache still reads back with everything in it.
    let back = Partition::from_json(&after).unwrap();
    assert_eq!(back.token_count(), p.token_count());
    let b = back
        .find_access_token("", APP, "contoso", "api://resource-b/.default")
        .unwrap();
    assert_eq!(b.extra["x_tokenscope_note"], "unknown fields ride along");
}

#[test]
fn msal_python_serves_user_tokens_we_wrote_and_refreshes_with_our_refresh_token() {
    let now = now_secs();
    let p = user_partition(now);
    let step = |name: &str, scopes: Value, refresh: bool| {
        json!({"name": name, "kind": "user", "client_id": WEB, "tenant": UTID,
               "home_account_id": HOME, "scopes": scopes, "allow_refresh": refresh})
    };
    let (r, after) = serve(
        &p,
        json!({"steps": [
            step("exact", json!(["User.Read", "Mail.Send"]), false),
            step("subset", json!(["User.Read"]), false),
            step("refresh", json!(["Calendars.Read"]), true),
        ]}),
    );
    assert_eq!(
        r["exact"]["accounts"],
        json!([HOME]),
        "get_accounts finds our Account"
    );
    assert_served_from_cache(&r["exact"], "our-user-at");
    assert_served_from_cache(&r["subset"], "our-user-at");
    // No access token for this scope: MSAL found our refresh token and sent it.
    let refresh = &r["refresh"];
    assert_eq!(refresh["token_source"], "identity_provider", "{refresh:#}");
    assert_eq!(refresh["access_token"], "refreshed-by-fake-idp");
    let sent = posts(refresh);
    assert_eq!(sent.len(), 1, "{refresh:#}");
    assert_eq!(sent[0]["grant_type"], "refresh_token");
    assert_eq!(sent[0]["refresh_token"], "our-user-rt");
    // MSAL added the new access token and rotated the RT in our entry; we read that back.
    let back = Partition::from_json(&after).unwrap();
    let new = back
        .find_access_token(HOME, WEB, UTID, &normalize_scopes(["Calendars.Read"]))
        .expect("MSAL's new access token");
    assert_eq!(new.secret.expose(), "refreshed-by-fake-idp");
    assert_eq!(
        back.refresh_token(HOME, WEB).unwrap().secret.expose(),
        "rotated-by-fake-idp"
    );
    assert!(back
        .find_access_token(HOME, WEB, UTID, "mail.send user.read")
        .is_some());
}
