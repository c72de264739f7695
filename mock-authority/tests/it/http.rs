//! The HTTPS and plain-HTTP servers in process, driven with reqwest.

use std::sync::Arc;

use mock_authority::{Authority, AuthorityConfig, StatsSnapshot, SystemTimeSource};

use crate::support::*;

#[tokio::test]
async fn https_serves_discovery_jwks_and_tokens_trusting_the_generated_ca() {
    let server = https_server(strict_config()).await;
    let client = https_client(&server);
    let base = &server.base_url;
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let ca_path = server.ca_path.as_ref().expect("CA written");
    assert_eq!(
        std::fs::read_to_string(ca_path).expect("CA file"),
        server.ca_pem.clone().expect("pem")
    );

    let doc: serde_json::Value = client
        .get(format!(
            "{base}/{TENANT}/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["issuer"], format!("{base}/{TENANT}/v2.0"));
    let jwks = client
        .get(doc["jwks_uri"].as_str().expect("jwks_uri"))
        .send()
        .await
        .expect("jwks")
        .text()
        .await
        .expect("text");

    // msal-node style: client-request-id in the query, telemetry in the body.
    let resp = client
        .post(format!(
            "{}?client-request-id=abc-123",
            doc["token_endpoint"].as_str().expect("token_endpoint")
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("client_secret", SECRET),
            ("scope", "api://res/.default"),
            ("x-client-SKU", "msal.js.node"),
            ("x-client-VER", "7.2.1"),
            ("x-ms-lib-capability", "retry-after, h429"),
            ("x-client-current-telemetry", "5|771,2,,,|,"),
            ("client_info", "1"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body: serde_json::Value = resp.json().await.expect("json");
    let at = body["access_token"].as_str().expect("access_token");
    assert!(verify_with_jwks(at, &jwks));
    assert_eq!(claims(at)["iss"], format!("{base}/{TENANT}/v2.0"));

    // The wrong secret: the correlation id of the query comes back.
    let err: serde_json::Value = client
        .post(format!(
            "{base}/{TENANT}/oauth2/v2.0/token?client-request-id=corr-9"
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("client_secret", "bad"),
            ("scope", "api://res/.default"),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (
            err["error_codes"][0].as_u64(),
            err["correlation_id"].as_str()
        ),
        (Some(7000215), Some("corr-9"))
    );

    // Instance discovery, for clients that ask (MSAL with instance discovery on).
    let inst: serde_json::Value = client
        .get(format!("{base}/common/discovery/instance?api-version=1.1&authorization_endpoint={base}/common/oauth2/v2.0/authorize"))
        .send()
        .await
        .expect("instance discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(
        inst["tenant_discovery_endpoint"],
        format!("{base}/{{tenant}}/v2.0/.well-known/openid-configuration")
    );
    let stats: StatsSnapshot = client
        .get(format!("{base}/_admin/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (
            stats.count("client_credentials", 200),
            stats.count("client_credentials", 401)
        ),
        (1, 1)
    );
    assert_eq!(stats.endpoints["openid_configuration"], 1);
    assert_eq!(stats.endpoints["jwks"], 1);
    assert_eq!(stats.endpoints["instance_discovery"], 1);
    server.stop().await;
}

#[tokio::test]
async fn the_certificate_is_valid_for_localhost_too() {
    let server = https_server(strict_config()).await;
    let client = https_client(&server);
    let url = server.base_url.replace("127.0.0.1", "localhost");
    let doc: serde_json::Value = client
        .get(format!(
            "{url}/{TENANT}/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["issuer"], format!("{url}/{TENANT}/v2.0"));
    server.stop().await;
}

#[tokio::test]
async fn authorize_redirects_with_a_code_that_redeems_over_http() {
    let server = https_server(strict_config()).await;
    let client = https_client(&server);
    let base = &server.base_url;
    let authorize = url::Url::parse_with_params(
        &format!("{base}/{TENANT}/oauth2/v2.0/authorize"),
        [
            ("client_id", APP),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost:5000/cb"),
            ("scope", "api://res/read openid offline_access"),
            ("state", "s"),
            ("login_hint", ALICE),
        ],
    )
    .expect("url");
    let resp = client
        .get(authorize.as_str())
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status(), 302);
    let loc = url::Url::parse(resp.headers()["location"].to_str().expect("location")).expect("url");
    let code = loc
        .query_pairs()
        .find(|(k, _)| k == "code")
        .expect("code")
        .1
        .into_owned();
    let body: serde_json::Value = client
        .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", APP),
            ("client_secret", SECRET),
            ("code", &code),
            ("redirect_uri", "http://localhost:5000/cb"),
            ("scope", "api://res/read openid offline_access"),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    assert!(
        body["id_token"].is_string() && body["refresh_token"].is_string(),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn plain_http_in_process_and_stop_closes_the_port() {
    let a = Arc::new(
        Authority::new(AuthorityConfig::default(), Arc::new(SystemTimeSource)).expect("authority"),
    );
    let server = mock_authority::start_in_process(a, false)
        .await
        .expect("server");
    assert!(server.base_url.starts_with("http://127.0.0.1:"));
    assert!(server.ca_pem.is_none());
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let url = format!("{}/t1/oauth2/v2.0/token", server.base_url);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "x"),
        ("client_secret", "y"),
        ("scope", "api://r/.default"),
    ];
    assert_eq!(
        client
            .post(&url)
            .form(&form)
            .send()
            .await
            .expect("token")
            .status(),
        200
    );
    assert_eq!(
        server.authority().stats().count("client_credentials", 200),
        1
    );
    let addr = server.addr;
    server.stop().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the port must be closed after stop"
    );
}

#[tokio::test]
async fn keep_alive_connections_serve_many_requests_concurrently() {
    let server = https_server(es256(AuthorityConfig::default())).await;
    let client = https_client(&server);
    let url = format!("{}/t1/oauth2/v2.0/token", server.base_url);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let (client, url) = (client.clone(), url.clone());
        tasks.spawn(async move {
            for _ in 0..25 {
                let tenant_scope = format!("api://r{i}/.default");
                let form = [
                    ("grant_type", "client_credentials"),
                    ("client_id", "x"),
                    ("client_secret", "y"),
                    ("scope", tenant_scope.as_str()),
                ];
                assert_eq!(
                    client
                        .post(&url)
                        .form(&form)
                        .send()
                        .await
                        .expect("token")
                        .status(),
                    200
                );
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("task");
    }
    assert_eq!(
        server.authority().stats().count("client_credentials", 200),
        200
    );
    server.stop().await;
}

#[tokio::test]
async fn thread_per_core_mode_serves_and_stops() {
    let a = Arc::new(
        Authority::new(AuthorityConfig::default(), Arc::new(SystemTimeSource)).expect("authority"),
    );
    let opts = mock_authority::ServerOptions {
        threads: Some(2),
        ..mock_authority::ServerOptions::default()
    };
    let server = mock_authority::serve(a, opts).await.expect("server");
    let url = format!("{}/t1/oauth2/v2.0/token", server.base_url);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "x"),
        ("client_secret", "y"),
        ("scope", "api://r/.default"),
    ];
    for _ in 0..8 {
        // A fresh client each time: connections land on either listener.
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        assert_eq!(
            client
                .post(&url)
                .form(&form)
                .send()
                .await
                .expect("token")
                .status(),
            200
        );
    }
    assert_eq!(
        server.authority().stats().count("client_credentials", 200),
        8
    );
    let addr = server.addr;
    tokio::time::timeout(std::time::Duration::from_secs(10), server.stop())
        .await
        .expect("stops");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
