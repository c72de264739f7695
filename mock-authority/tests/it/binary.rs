//! The `mock-authority serve` binary: prints where it listens and where the CA is, reads a
//! YAML configuration, serves given certificate files, and stops cleanly on SIGTERM/SIGINT.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};

struct Running {
    child: tokio::process::Child,
    base_url: String,
    ca_line: Option<String>,
}

async fn start(args: &[&str]) -> Running {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mock-authority"))
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn mock-authority");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut base_url = None;
    let mut ca_line = None;
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await
    {
        if let Some(url) = line.strip_prefix("mock-authority listening on ") {
            base_url = Some(url.to_owned());
        } else if line.starts_with("CA certificate") {
            ca_line = Some(line);
        } else if line.starts_with("token endpoint") {
            break;
        }
    }
    Running {
        child,
        base_url: base_url.expect("the URL is printed"),
        ca_line,
    }
}

async fn stop(mut r: Running, signal: &str) {
    let pid = r.child.id().expect("pid").to_string();
    let status = std::process::Command::new("kill")
        .args(["-s", signal, &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(10), r.child.wait())
        .await
        .expect("stops within 10 s")
        .expect("wait");
    assert!(exit.success(), "{signal}: {exit:?}");
}

#[tokio::test]
async fn serve_prints_url_and_ca_applies_the_config_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    let config = dir.path().join("mock.yaml");
    std::fs::write(&config, "signing: ES256\nfaults:\n  - match: {tenant: throttled}\n    action: {status: {status: 429, retry_after_s: 9}}\n").expect("config");
    let r = start(&[
        "--listen",
        "127.0.0.1:0",
        "--tls-ca-out",
        ca.to_str().expect("utf8"),
        "--config",
        config.to_str().expect("utf8"),
    ])
    .await;
    assert!(
        r.base_url.starts_with("https://127.0.0.1:"),
        "{}",
        r.base_url
    );
    assert!(
        r.ca_line.as_deref().is_some_and(|l| l.contains("ca.pem")),
        "{:?}",
        r.ca_line
    );
    let cert =
        reqwest::Certificate::from_pem(&std::fs::read(&ca).expect("CA written")).expect("pem");
    let client = reqwest::Client::builder()
        .add_root_certificate(cert)
        .no_proxy()
        .build()
        .expect("client");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "a"),
        ("client_secret", "s"),
        ("scope", "api://r/.default"),
    ];
    let ok: serde_json::Value = client
        .post(format!("{}/t1/oauth2/v2.0/token", r.base_url))
        .form(&form)
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    assert_eq!(
        crate::support::header(ok["access_token"].as_str().expect("at"))["alg"],
        "ES256"
    );
    let throttled = client
        .post(format!("{}/throttled/oauth2/v2.0/token", r.base_url))
        .form(&form)
        .send()
        .await
        .expect("token");
    assert_eq!(
        (
            throttled.status().as_u16(),
            throttled.headers()["retry-after"].to_str().ok()
        ),
        (429, Some("9"))
    );
    stop(r, "TERM").await;
}

#[tokio::test]
async fn serve_uses_given_certificate_files_and_stops_on_sigint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("params")
            .signed_by(&key, &issuer)
            .expect("cert");
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).expect("cert");
    std::fs::write(&key_path, key.serialize_pem()).expect("key");
    let r = start(&[
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        cert_path.to_str().expect("utf8"),
        "--tls-key",
        key_path.to_str().expect("utf8"),
    ])
    .await;
    assert!(r.ca_line.is_none(), "no CA is generated with given files");
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.pem().as_bytes()).expect("pem")])
        .no_proxy()
        .build()
        .expect("client");
    let doc = client
        .get(format!(
            "{}/t1/v2.0/.well-known/openid-configuration",
            r.base_url
        ))
        .send()
        .await
        .expect("TLS with the given certificate");
    assert_eq!(doc.status(), 200);
    let plain = start(&["--listen", "127.0.0.1:0", "--plain-http"]).await;
    assert!(plain.base_url.starts_with("http://"));
    stop(plain, "INT").await;
    stop(r, "INT").await;
}
