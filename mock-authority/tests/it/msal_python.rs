//! MSAL Python 1.39 against the mock: client credentials (second from cache), authorization
//! code → silent → forced refresh, OBO → silent, and faults (429 Retry-After, reset, hang).

use mock_authority::{AuthorityConfig, ServerHandle, StatsSnapshot, User, UserAssertion};

use crate::real_clients::{python, run, script};
use crate::support::*;

async fn msal(server: &ServerHandle, scenario: &str, env: &[(&str, String)]) -> serde_json::Value {
    let mut all = vec![
        ("MOCK_TENANT", TENANT.to_string()),
        ("MOCK_CLIENT_ID", APP.to_string()),
        ("MOCK_SECRET", SECRET.to_string()),
        ("MOCK_USER", ALICE.to_string()),
    ];
    all.extend(env.iter().cloned());
    run(python(), &[script("msal_flows.py")], scenario, server, &all).await
}

fn stats(server: &ServerHandle) -> StatsSnapshot {
    server.authority().stats()
}

#[tokio::test]
async fn client_credentials_twice_second_from_cache() {
    let server = https_server(strict_config()).await;
    let out = msal(
        &server,
        "cc_twice",
        &[("MOCK_SCOPE", "api://res/.default".into())],
    )
    .await;
    assert_eq!(out["first"]["token_source"], "identity_provider", "{out}");
    assert_eq!(out["first"]["has_access_token"], true, "{out}");
    assert_eq!(out["second"]["token_source"], "cache", "{out}");
    let s = stats(&server);
    assert_eq!(
        (s.token_requests, s.count("client_credentials", 200)),
        (1, 1),
        "{s:?}"
    );
    assert_eq!(s.endpoints["openid_configuration"], 1, "{s:?}");
    assert_eq!(s.endpoints["instance_discovery"], 0, "{s:?}");
    server.stop().await;
}

#[tokio::test]
async fn authorization_code_then_silent_then_forced_refresh() {
    let server = https_server(strict_config()).await;
    let out = msal(
        &server,
        "auth_code",
        &[("MOCK_SCOPE", "api://res/read".into())],
    )
    .await;
    assert_eq!(out["authorize_status"], 302, "{out}");
    assert_eq!(out["first"]["token_source"], "identity_provider", "{out}");
    assert_eq!(out["first"]["has_refresh_token"], true, "{out}");
    assert_eq!(out["id_token_claims"]["preferred_username"], ALICE, "{out}");
    assert_eq!(
        out["accounts"],
        serde_json::json!([format!("{ALICE_OID}.{TENANT}")]),
        "{out}"
    );
    assert_eq!(out["silent"]["token_source"], "cache", "{out}");
    assert_eq!(
        out["forced_refresh"]["token_source"], "identity_provider",
        "{out}"
    );
    assert_eq!(out["forced_refresh"]["has_access_token"], true, "{out}");
    let s = stats(&server);
    assert_eq!(
        (
            s.endpoints["authorize"],
            s.count("authorization_code", 200),
            s.count("refresh_token", 200),
            s.token_requests
        ),
        (1, 1, 1, 2),
        "{s:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn on_behalf_of_then_silent_from_cache() {
    let server = https_server(strict_config()).await;
    let user = User {
        username: ALICE.into(),
        oid: ALICE_OID.into(),
        tenant: TENANT.into(),
        name: "Alice".into(),
    };
    let assertion = server
        .authority()
        .mint_user_assertion(
            &UserAssertion {
                user,
                audience: MIDDLE_TIER.into(),
                client_id: APP.into(),
                scp: "access_as_user".into(),
                lifetime_s: 3600,
            },
            &server.base_url,
        )
        .expect("mint");
    let env = [
        ("MOCK_SCOPE", "api://downstream/read".to_string()),
        ("MOCK_ASSERTION", assertion),
        ("MOCK_CLIENT_ID", MIDDLE_TIER.into()),
        ("MOCK_SECRET", MIDDLE_SECRET.into()),
    ];
    let out = msal(&server, "obo", &env).await;
    assert_eq!(out["first"]["token_source"], "identity_provider", "{out}");
    assert_eq!(out["first"]["has_access_token"], true, "{out}");
    assert_eq!(out["silent"]["token_source"], "cache", "{out}");
    let s = stats(&server);
    assert_eq!(
        (s.count("on_behalf_of", 200), s.token_requests),
        (1, 1),
        "{s:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_429_retry_after_is_waited_out_by_msal_python() {
    let server = https_server(AuthorityConfig::default()).await;
    server
        .authority()
        .set_faults(vec![mock_authority::FaultRule {
            name: Some("throttle".into()),
            matches: mock_authority::FaultMatch {
                scope: Some("api://throttled".into()),
                ..Default::default()
            },
            when: Default::default(),
            action: mock_authority::FaultAction::Status {
                status: 429,
                retry_after_s: Some(2),
            },
        }])
        .expect("rules");
    let out = msal(
        &server,
        "throttle",
        &[("MOCK_SCOPE", "api://throttled/.default".into())],
    )
    .await;
    assert_eq!(out["first"]["error"], "temporarily_unavailable", "{out}");
    assert_eq!(out["blocked"]["has_access_token"], false, "{out}");
    assert_eq!(out["after"]["has_access_token"], true, "{out}");
    // MSAL Python keeps the throttled answer until int(now) + Retry-After: a block of
    // (1, 2] s for Retry-After 2. Its polls every 0.1 s in between never reach the mock
    // (checked by the counts below).
    let waited = out["waited_s"].as_f64().expect("waited");
    assert!(
        waited > 0.9,
        "MSAL Python must block for Retry-After (2 s), waited {waited}"
    );
    // The blocked attempts never reached the mock: one 429, then one success.
    let s = stats(&server);
    assert_eq!(
        (
            s.count("client_credentials", 429),
            s.count("client_credentials", 200)
        ),
        (1, 1),
        "{s:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_reset_and_a_hang_surface_as_errors_in_msal_python() {
    let server = https_server(AuthorityConfig::default()).await;
    server
        .authority()
        .set_faults(vec![
            mock_authority::FaultRule {
                name: None,
                matches: mock_authority::FaultMatch {
                    scope: Some("api://reset".into()),
                    ..Default::default()
                },
                when: Default::default(),
                action: mock_authority::FaultAction::Reset,
            },
            mock_authority::FaultRule {
                name: None,
                matches: mock_authority::FaultMatch {
                    scope: Some("api://hang".into()),
                    ..Default::default()
                },
                when: Default::default(),
                action: mock_authority::FaultAction::Hang,
            },
        ])
        .expect("rules");
    let reset_env = [("MOCK_SCOPE", "api://reset/.default".to_string())];
    let hang_env = [
        ("MOCK_SCOPE", "api://hang/.default".to_string()),
        ("MOCK_TIMEOUT", "1.5".to_string()),
    ];
    let (reset, hang) = tokio::join!(
        msal(&server, "reset", &reset_env),
        msal(&server, "hang", &hang_env)
    );
    assert_eq!(reset["exception"], "ConnectionError", "{reset}");
    // Python's ssl module reports a TCP RST under TLS as an EOF ("Connection aborted",
    // RemoteDisconnected); curl reports "Connection reset by peer" for the same reset.
    let message = reset["message"].as_str().unwrap_or("").to_lowercase();
    assert!(
        message.contains("reset") || message.contains("aborted"),
        "{reset}"
    );
    assert!(
        reset["elapsed_s"].as_f64().unwrap_or(9.0) < 1.0,
        "a reset is immediate: {reset}"
    );
    assert!(
        hang["exception"].as_str().unwrap_or("").contains("Timeout"),
        "{hang}"
    );
    assert!(hang["elapsed_s"].as_f64().unwrap_or(0.0) >= 1.4, "{hang}");
    let s = stats(&server);
    assert!(
        s.faults_injected["reset"] >= 1 && s.faults_injected["hang"] >= 1,
        "{s:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn certificate_credentials_ps256_and_rs256_are_verified() {
    let good = crate::client_assertion::cert();
    let unregistered = crate::client_assertion::cert();
    let mut config = strict_config();
    config.apps.push(mock_authority::AppConfig {
        client_id: CERT_APP.into(),
        client_secret: None,
        certificates_pem: vec![good.pem.clone()],
        public_client: false,
    });
    let server = https_server(config).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p.display().to_string()
    };
    let (key, cert) = (
        write("key.pem", &good.key_pem()),
        write("cert.pem", &good.pem),
    );
    let other_key = write("other-key.pem", &unregistered.key_pem());
    let other_cert = write("other-cert.pem", &unregistered.pem);
    let sha1_hex = |pem: &str| {
        let der = pem_der(pem);
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &der)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>()
    };
    let base = [
        ("MOCK_CLIENT_ID", CERT_APP.to_string()),
        ("MOCK_SCOPE", "api://res/.default".to_string()),
    ];
    let run_with = |extra: Vec<(&'static str, String)>| {
        let mut env: Vec<(&str, String)> = base.to_vec();
        env.extend(extra);
        env
    };
    // PS256 with x5t#S256 and x5c (MSAL's default when the certificate is given).
    let ps256 = run_with(vec![
        ("MOCK_KEY_FILE", key.clone()),
        ("MOCK_CERT_FILE", cert.clone()),
    ]);
    let out = msal(&server, "cert", &ps256).await;
    assert_eq!(out["result"]["token_source"], "identity_provider", "{out}");
    // RS256 with the SHA-1 thumbprint (x5t).
    let rs256 = run_with(vec![
        ("MOCK_KEY_FILE", key.clone()),
        ("MOCK_THUMBPRINT", sha1_hex(&good.pem)),
    ]);
    let out = msal(&server, "cert", &rs256).await;
    assert_eq!(out["result"]["token_source"], "identity_provider", "{out}");
    // A certificate that is not registered.
    let other = run_with(vec![
        ("MOCK_KEY_FILE", other_key),
        ("MOCK_CERT_FILE", other_cert),
    ]);
    let out = msal(&server, "cert", &other).await;
    assert_eq!(out["result"]["error"], "invalid_client", "{out}");
    assert_eq!(
        out["result"]["error_codes"],
        serde_json::json!([700027]),
        "{out}"
    );
    let s = stats(&server);
    assert_eq!(
        (
            s.count("client_credentials", 200),
            s.count("client_credentials", 401)
        ),
        (2, 1),
        "{s:?}"
    );
    server.stop().await;
}

fn pem_der(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("PEM base64")
}
