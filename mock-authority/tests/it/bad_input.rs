//! Bad input over HTTP: malformed, oversized and garbage bodies get Entra-style 400s; the
//! server never panics or hangs.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::*;

async fn post_raw(
    client: &reqwest::Client,
    url: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let resp = client
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("response");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("a JSON body"))
}

#[track_caller]
fn assert_entra_400(status: u16, body: &serde_json::Value, code: u64) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error_codes"][0].as_u64(), Some(code), "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.starts_with(&format!("AADSTS{code}:"))),
        "{body}"
    );
    assert!(
        body["trace_id"].is_string()
            && body["correlation_id"].is_string()
            && body["timestamp"].is_string()
    );
}

#[tokio::test]
async fn malformed_oversized_and_empty_bodies_are_entra_400s() {
    let server = https_server(strict_config()).await;
    let client = https_client(&server);
    let url = format!("{}/{TENANT}/oauth2/v2.0/token", server.base_url);
    let form = "application/x-www-form-urlencoded";

    let (s, b) = post_raw(
        &client,
        &url,
        form,
        vec![0xff, 0xfe, 0x00, b'%', b'z', b'&', b'=', 0x80],
    )
    .await;
    assert_entra_400(s, &b, 900144);
    let (s, b) = post_raw(
        &client,
        &url,
        "application/json",
        br#"{"grant_type":"client_credentials"}"#.to_vec(),
    )
    .await;
    assert_entra_400(s, &b, 900144);
    let (s, b) = post_raw(&client, &url, form, Vec::new()).await;
    assert_entra_400(s, &b, 900144);
    let huge = format!(
        "grant_type=client_credentials&scope={}",
        "a".repeat(200 * 1024)
    );
    let (s, b) = post_raw(&client, &url, form, huge.into_bytes()).await;
    assert_entra_400(s, &b, 9002313);
    let (s, b) = post_raw(
        &client,
        &url,
        form,
        format!("grant_type=client_credentials&client_id={APP}&client_secret={SECRET}&scope=%%%")
            .into_bytes(),
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_scope")));

    // The server is still fine.
    let ok = client
        .post(&url)
        .form(&cc_form("api://r/.default"))
        .send()
        .await
        .expect("token");
    assert_eq!(ok.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn garbage_assertions_and_tokens_are_400s() {
    let server = https_server(strict_config()).await;
    let client = https_client(&server);
    let url = format!("{}/{TENANT}/oauth2/v2.0/token", server.base_url);
    for garbage in ["", "x", "a.b.c", "eyJ.eyJ.sig", "....", &"A".repeat(40_000)] {
        let r = client
            .post(&url)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("client_id", MIDDLE_TIER),
                ("client_secret", MIDDLE_SECRET),
                ("requested_token_use", "on_behalf_of"),
                ("assertion", garbage),
                ("scope", "api://d/.default"),
            ])
            .send()
            .await
            .expect("obo");
        assert_eq!(r.status(), 400, "assertion {garbage:.20}");
        let r = client
            .post(&url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", APP),
                ("scope", "api://d/.default"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", garbage),
            ])
            .send()
            .await
            .expect("cc");
        assert!(
            matches!(r.status().as_u16(), 400 | 401),
            "client_assertion {garbage:.20}"
        );
        let r = client
            .post(&url)
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", APP),
                ("client_secret", SECRET),
                ("refresh_token", garbage),
                ("scope", "openid"),
            ])
            .send()
            .await
            .expect("rt");
        assert_eq!(r.status(), 400);
    }
    server.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_bad_admin_input_are_json_errors() {
    let server = https_server(strict_config()).await;
    let client = https_client(&server);
    let r = client
        .get(format!("{}/nothing/here", server.base_url))
        .send()
        .await
        .expect("404");
    assert_eq!(r.status(), 404);
    assert!(r.json::<serde_json::Value>().await.expect("json")["error"].is_string());
    for (path, body) in [
        ("/_admin/faults", "not json"),
        ("/_admin/faults", r#"[{"action":{"status":{"status":99}}}]"#),
        (
            "/_admin/latency",
            r#"{"lognormal":{"median_ms":10,"p99_ms":1}}"#,
        ),
    ] {
        let r = client
            .put(format!("{}{path}", server.base_url))
            .body(body)
            .send()
            .await
            .expect("admin");
        assert_eq!(r.status(), 400, "{path} {body}");
    }
    let r = client
        .post(format!("{}/_admin/revoke", server.base_url))
        .body("{}")
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 400);
    server.stop().await;
}

#[tokio::test]
async fn half_sent_requests_do_not_stall_the_server() {
    let a = std::sync::Arc::new(
        mock_authority::Authority::new(
            strict_config(),
            std::sync::Arc::new(mock_authority::SystemTimeSource),
        )
        .expect("authority"),
    );
    let server = mock_authority::start_in_process(a, false)
        .await
        .expect("server");
    // A client that announces a body and never sends it, and one that sends garbage bytes.
    let mut stalled = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    stalled.write_all(format!("POST /{TENANT}/oauth2/v2.0/token HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\ngrant").as_bytes()).await.expect("write");
    let mut garbage = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    garbage
        .write_all(b"\x16\x03\x01garbage\r\n\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), garbage.read_to_end(&mut buf))
        .await
        .expect("the server closes a garbage connection");
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let r = client
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", server.base_url))
        .form(&cc_form("api://r/.default"))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 200);
    drop(stalled);
    server.stop().await;
}
