//! `loadgen inspect`: decodes MSAL JSON files and our (encrypted) envelopes without printing
//! a token; bad input exits 2 naming the problem, an unreachable server exits 1 fast.

use std::path::Path;
use std::time::{Duration, Instant};

use tokencache::{EncryptionKey, Envelope, Partition};

use super::support::{loadgen, loadgen_env, repo};

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const OTHER_KEY_HEX: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn golden(name: &str) -> std::path::PathBuf {
    repo().join("cache/tests/golden").join(name)
}

/// Every secret of the partition in `json`, so a test can assert none is printed.
pub fn secrets_of(json: &[u8]) -> Vec<String> {
    let p = Partition::from_json(json).expect("fixture decodes");
    let mut all: Vec<String> = p
        .access_tokens()
        .map(|t| t.secret.expose().to_owned())
        .collect();
    all.extend(p.refresh_tokens().map(|t| t.secret.expose().to_owned()));
    all.extend(p.id_tokens().map(|t| t.secret.expose().to_owned()));
    all
}

pub fn assert_no_secret(out: &str, secrets: &[String]) {
    assert!(!secrets.is_empty());
    for s in secrets {
        // Even a distinctive slice of a token must not appear.
        let probe = &s[..s.len().min(12)];
        assert!(
            !out.contains(probe),
            "a token leaked into the output:\n{out}"
        );
    }
}

#[test]
fn an_msal_python_file_is_shown_without_its_tokens() {
    let path = golden("msal_python_user.json");
    let raw = std::fs::read(&path).unwrap();
    let p = path.display().to_string();
    let (code, out, err) = loadgen(&["inspect", "--file", &p, "--now", "2026-11-18T12:00:00Z"]);
    assert_eq!(code, 0, "{err}");
    for line in [
        "format msal-json, encrypted false",
        "accounts (2)",
        "access tokens (2)",
        "refresh tokens (1)",
        "id tokens (2)",
        "app metadata (1)",
        "alice@contoso.example",
        "Mail.Send User.Read offline_access openid profile",
        // expires_on 2026-11-18T12:13:20Z, 800 s after --now.
        "2026-11-18T12:13:20.000Z (in 800s)",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert_no_secret(&out, &secrets_of(&raw));

    let (code, out, err) = loadgen(&["inspect", "--file", &p, "--json", "--now", "1795003200"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["access_tokens"].as_array().unwrap().len(), 2);
    let at = &v["access_tokens"][0];
    assert_eq!(at["expires_on"]["remaining_s"], 800, "{at}");
    let secret = secrets_of(&raw)
        .into_iter()
        .find(|s| s.len() as u64 == at["secret"]["len"].as_u64().unwrap())
        .unwrap();
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(secret.as_bytes());
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(at["secret"]["sha256_prefix"], hex.as_str());
    assert_no_secret(&out, &secrets_of(&raw));
}

#[test]
fn every_msal_fixture_decodes() {
    for name in [
        "msal_node_app.json",
        "msal_dotnet_obo.json",
        "msal_python_app.json",
    ] {
        let p = golden(name).display().to_string();
        let (code, out, err) = loadgen(&["inspect", "--file", &p, "--json"]);
        assert_eq!(code, 0, "{name}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(
            !v["access_tokens"].as_array().unwrap().is_empty(),
            "{name}: {v}"
        );
    }
}

/// Our encrypted envelope of the MSAL Python fixture, sealed for partition `part-1` by key k1.
fn sealed_file(dir: &Path) -> (std::path::PathBuf, Vec<String>) {
    let raw = std::fs::read(golden("msal_python_user.json")).unwrap();
    let json = Partition::from_json(&raw).unwrap().to_json();
    let key = EncryptionKey::from_text("k1", KEY_HEX).unwrap();
    let blob = Envelope::new(vec![key]).seal("part-1", json, Some(1_800_000_000_000));
    let path = dir.join("blob.bin");
    std::fs::write(&path, blob).unwrap();
    (path, secrets_of(&raw))
}

#[test]
fn our_encrypted_envelope_opens_with_the_key_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (path, secrets) = sealed_file(dir.path());
    let p = path.display().to_string();
    let (code, out, err) = loadgen_env(
        &["inspect", "--file", &p, "part-1", "--key-env", "TS_KEY"],
        &[("TS_KEY", KEY_HEX)],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("format envelope, encrypted true, key id k1"),
        "{out}"
    );
    assert!(out.contains("deadline 2027-01-15T08:00:00.000Z"), "{out}");
    assert!(out.contains("access tokens (2)"), "{out}");
    assert_no_secret(&out, &secrets);
    // An explicit id works the same.
    let (code, _, err) = loadgen_env(
        &["inspect", "--file", &p, "part-1", "--key-env", "k1=TS_KEY"],
        &[("TS_KEY", KEY_HEX)],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_wrong_or_missing_key_or_partition_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = sealed_file(dir.path());
    let p = path.display().to_string();
    let env = [("TS_KEY", KEY_HEX), ("TS_OTHER", OTHER_KEY_HEX)];
    let cases: [(&[&str], &str); 5] = [
        (
            &["part-1"],
            "encrypted with key id \"k1\", which was not given",
        ),
        (
            &["part-1", "--key-env", "k2=TS_KEY"],
            "pass --key-env k1=VAR",
        ),
        (&["part-1", "--key-env", "TS_OTHER"], "failed to decrypt"),
        (
            &["part-2", "--key-env", "TS_KEY"],
            "another partition key than \"part-2\"",
        ),
        (
            &["part-1", "--key-env", "TS_NOPE"],
            "environment variable TS_NOPE is not set",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["inspect", "--file", &p];
        args.extend_from_slice(extra);
        let (code, out, err) = loadgen_env(&args, &env);
        assert_eq!(code, 2, "{extra:?}: {out}{err}");
        assert!(
            err.contains(expected),
            "{extra:?}: missing {expected:?} in {err}"
        );
        assert!(
            !err.contains(KEY_HEX) && !err.contains(OTHER_KEY_HEX),
            "{err}"
        );
    }
    let (code, _, err) = loadgen_env(&["inspect", "--file", &p, "--key-env", "TS_KEY"], &env);
    assert_eq!(code, 2);
    assert!(err.contains("give the partition KEY argument"), "{err}");
}

#[test]
fn a_corrupt_file_names_the_problem_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = sealed_file(dir.path());
    let blob = std::fs::read(&path).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (blob[..20].to_vec(), "partition envelope: truncated nonce"),
        (b"TSC\x09\x00{}".to_vec(), "unsupported envelope version"),
        (
            b"{\"AccessToken\": {\"k\": 5}}".to_vec(),
            "partition JSON is malformed at line 1, column",
        ),
        (
            b"TSC\x01\x00{\"AccessToken\": [".to_vec(),
            "after a 5-byte envelope header",
        ),
    ];
    for (i, (bytes, expected)) in cases.into_iter().enumerate() {
        let f = dir.path().join(format!("bad{i}.bin"));
        std::fs::write(&f, bytes).unwrap();
        let p = f.display().to_string();
        let (code, _, err) = loadgen(&["inspect", "--file", &p, "part-1"]);
        assert_eq!(code, 2, "case {i}: {err}");
        assert!(
            err.contains(&p) && err.contains(expected),
            "case {i}: {err}"
        );
    }
    let (code, _, err) = loadgen(&["inspect", "--file", "/nonexistent/blob.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("--file /nonexistent/blob.json"), "{err}");
    let (code, _, err) = loadgen(&[
        "inspect",
        "--file",
        &path.display().to_string(),
        "--now",
        "soon",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--now \"soon\""), "{err}");
}

#[test]
fn an_unreachable_redis_exits_1_fast_naming_the_url() {
    let port = testkit::free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let start = Instant::now();
    let (code, _, err) = loadgen(&["inspect", "--redis", &url, "--list"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&url), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let pg = format!("postgres://u@127.0.0.1:{port}/db");
    let (code, _, err) = loadgen(&["inspect", "--postgres", &pg, "some-key"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
}
