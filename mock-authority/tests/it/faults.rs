//! Latency models and fault rules: matching, triggers, time windows on the authority's
//! time source, and what an HTTP client sees (status + Retry-After, reset, hang).

use std::time::{Duration, Instant};

use mock_authority::{
    AuthorityConfig, FaultAction, FaultMatch, FaultRule, FaultTrigger, Grant, LatencyModel,
    TimeWindow,
};

use crate::support::*;

fn rule(matches: FaultMatch, when: FaultTrigger, action: FaultAction) -> FaultRule {
    FaultRule {
        name: None,
        matches,
        when,
        action,
    }
}

fn status_429() -> FaultAction {
    FaultAction::Status {
        status: 429,
        retry_after_s: Some(7),
    }
}

#[test]
fn every_nth_request_of_the_matching_grant_and_tenant_is_throttled() {
    let (a, _) = authority(strict_config());
    a.set_faults(vec![rule(
        FaultMatch {
            tenant: Some(TENANT.into()),
            grant: Some(Grant::ClientCredentials),
            scope: Some("api://res".into()),
            ..FaultMatch::default()
        },
        FaultTrigger {
            every_nth: Some(3),
            ..FaultTrigger::default()
        },
        status_429(),
    )])
    .expect("rules");
    let statuses: Vec<u16> = (0..6)
        .map(|_| reply(&token(&a, TENANT, &cc_form("api://res/.default"))).0)
        .collect();
    assert_eq!(statuses, [200, 200, 429, 200, 200, 429]);
    let d = token(&a, TENANT, &cc_form("api://res/.default"));
    assert_eq!(d.reply().expect("reply").retry_after_s, None);
    // Other tenant, other scope: untouched.
    for _ in 0..4 {
        assert_eq!(
            reply(&token(&a, OTHER_TENANT, &cc_form("api://res/.default"))).0,
            200
        );
        assert_eq!(
            reply(&token(&a, TENANT, &cc_form("api://other/.default"))).0,
            200
        );
    }
    let s = a.stats();
    assert_eq!(
        (
            s.count("client_credentials", 429),
            s.faults_injected["status"]
        ),
        (2, 2)
    );
    let (status, body) = reply(&token(&a, TENANT, &cc_form("api://res/.default")));
    let d = token(&a, TENANT, &cc_form("api://res/.default"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(d.reply().expect("reply").retry_after_s, Some(7));
    assert_eq!(reply(&d).1["error"], "temporarily_unavailable");
}

#[test]
fn probability_and_client_matching() {
    let (a, _) = authority(strict_config());
    a.set_faults(vec![
        rule(
            FaultMatch {
                client_id: Some(MIDDLE_TIER.into()),
                ..FaultMatch::default()
            },
            FaultTrigger {
                probability: Some(1.0),
                ..FaultTrigger::default()
            },
            FaultAction::Status {
                status: 503,
                retry_after_s: None,
            },
        ),
        rule(
            FaultMatch::default(),
            FaultTrigger {
                probability: Some(0.0),
                ..FaultTrigger::default()
            },
            FaultAction::Reset,
        ),
    ])
    .expect("rules");
    for _ in 0..20 {
        assert_eq!(
            reply(&token(&a, TENANT, &cc_form("api://r/.default"))).0,
            200
        );
    }
    let d = token(
        &a,
        TENANT,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", MIDDLE_TIER),
            ("client_secret", MIDDLE_SECRET),
            ("scope", "api://r/.default"),
        ],
    );
    assert_eq!(reply(&d).0, 503);
}

#[test]
fn time_windows_follow_the_authority_time_source() {
    let (a, clock) = authority(strict_config());
    a.set_faults(vec![rule(
        FaultMatch::default(),
        FaultTrigger {
            window: Some(TimeWindow {
                from_s: 60.0,
                to_s: 120.0,
            }),
            ..FaultTrigger::default()
        },
        FaultAction::Hang,
    )])
    .expect("rules");
    assert!(token(&a, TENANT, &cc_form("api://r/.default"))
        .reply()
        .is_some());
    clock.advance_millis(60_000);
    assert_eq!(
        token(&a, TENANT, &cc_form("api://r/.default")).action,
        mock_authority::Action::Hang
    );
    clock.advance_millis(60_000);
    assert!(token(&a, TENANT, &cc_form("api://r/.default"))
        .reply()
        .is_some());
    assert_eq!(a.stats().faults_injected["hang"], 1);
}

#[test]
fn latency_models_and_delay_faults_add_up_in_the_decision() {
    let (a, _) = authority(strict_config());
    a.set_latency(LatencyModel::Fixed { ms: 25.0 })
        .expect("latency");
    a.set_faults(vec![rule(
        FaultMatch::default(),
        FaultTrigger::default(),
        FaultAction::Delay { ms: 100.0 },
    )])
    .expect("rules");
    let d = token(&a, TENANT, &cc_form("api://r/.default"));
    assert_eq!(d.delay, Duration::from_millis(125));
    assert_eq!(reply(&d).0, 200);
    a.set_latency(LatencyModel::Uniform {
        min_ms: 1.0,
        max_ms: 3.0,
    })
    .expect("latency");
    a.set_faults(Vec::new()).expect("rules");
    let d = token(&a, TENANT, &cc_form("api://r/.default")).delay;
    assert!(
        d >= Duration::from_millis(1) && d <= Duration::from_millis(3),
        "{d:?}"
    );
    assert!(a
        .set_latency(LatencyModel::Uniform {
            min_ms: 5.0,
            max_ms: 1.0
        })
        .is_err());
}

#[test]
fn yaml_configuration_sets_everything_at_start() {
    let yaml = r#"
tenants: [t1, t2]
accept_any_client: false
apps:
  - client_id: app1
    client_secret: s1
users:
  - username: bob@t1.com
lifetimes: {expires_in: 7200, ext_expires_in: 7200, refresh_in: 3600}
signing: ES256
latency: {lognormal: {median_ms: 2, p99_ms: 20}}
faults:
  - name: throttle-t2
    match: {tenant: t2, grant: client_credentials}
    when: {every_nth: 2}
    action: {status: {status: 429, retry_after_s: 1}}
  - match: {scope: "api://slow"}
    action: {delay: {ms: 50}}
  - when: {window: {from_s: 3600, to_s: 7200}, probability: 0.5}
    action: reset
"#;
    let config = AuthorityConfig::from_yaml(yaml).expect("yaml");
    assert_eq!(config.faults.len(), 3);
    assert_eq!(config.signing, mock_authority::SigningAlg::ES256);
    let (a, _) = authority(config);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "app1"),
        ("client_secret", "s1"),
        ("scope", "api://r/.default"),
    ];
    assert_eq!(reply(&token(&a, "t2", &form)).0, 200);
    assert_eq!(reply(&token(&a, "t2", &form)).0, 429);
    assert_eq!(reply(&token(&a, "t1", &form)).1["expires_in"], 7200);
    assert!(AuthorityConfig::from_yaml("tenants: [t1]\nunknown_key: 1\n").is_err());
    let err = AuthorityConfig::from_yaml(
        "faults:\n  - action: {status: {status: 429}}\n    when: {nope: 1}\n",
    )
    .expect_err("unknown field");
    assert!(err.contains("nope"), "{err}");
}

#[tokio::test]
async fn an_http_client_sees_429_with_retry_after_a_reset_and_a_hang() {
    let server = https_server(AuthorityConfig::default()).await;
    let client = https_client(&server);
    let base = server.base_url.clone();
    let admin = |body: serde_json::Value| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let r = client
                .put(format!("{base}/_admin/faults"))
                .json(&body)
                .send()
                .await
                .expect("admin");
            assert_eq!(r.status(), 200);
        }
    };
    let url = format!("{base}/t1/oauth2/v2.0/token");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "a"),
        ("client_secret", "s"),
        ("scope", "api://r/.default"),
    ];

    admin(serde_json::json!([{"action": {"status": {"status": 429, "retry_after_s": 3}}}])).await;
    let r = client.post(&url).form(&form).send().await.expect("429");
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers().get("retry-after").and_then(|v| v.to_str().ok())
        ),
        (429, Some("3"))
    );

    admin(serde_json::json!([{"action": "reset"}])).await;
    let e = client
        .post(&url)
        .form(&form)
        .send()
        .await
        .expect_err("reset");
    assert!(!e.is_timeout(), "{e:?}");

    admin(serde_json::json!([{"match": {"grant": "client_credentials"}, "action": "hang"}])).await;
    let started = Instant::now();
    let e = client
        .post(&url)
        .form(&form)
        .timeout(Duration::from_millis(500))
        .send()
        .await
        .expect_err("hang");
    assert!(
        e.is_timeout() && started.elapsed() >= Duration::from_millis(500),
        "{e:?}"
    );

    admin(serde_json::json!([])).await;
    let r = client
        .put(format!("{base}/_admin/latency"))
        .json(&serde_json::json!({"fixed": {"ms": 150}}))
        .send()
        .await
        .expect("latency");
    assert_eq!(r.status(), 200);
    let started = Instant::now();
    assert_eq!(
        client
            .post(&url)
            .form(&form)
            .send()
            .await
            .expect("slow")
            .status(),
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(150));

    let stats: mock_authority::StatsSnapshot = client
        .get(format!("{base}/_admin/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (
            stats.faults_injected["status"],
            stats.faults_injected["reset"],
            stats.faults_injected["hang"]
        ),
        (1, 1, 1)
    );
    assert_eq!(
        stats.by_grant["client_credentials"].get("no_response"),
        Some(&2),
        "{stats:?}"
    );
    let faults: serde_json::Value = client
        .get(format!("{base}/_admin/faults"))
        .send()
        .await
        .expect("faults")
        .json()
        .await
        .expect("json");
    assert_eq!(faults, serde_json::json!([]));
    server.stop().await;
}

#[test]
fn the_example_configuration_file_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.yaml");
    let config = AuthorityConfig::from_file(&path).expect("example.yaml");
    assert_eq!(config.faults.len(), 3);
    assert_eq!(config.lifetimes.refresh_in, Some(1800));
    let (a, _) = authority(config);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "11111111-1111-4111-8111-111111111111"),
        ("client_secret", "daemon-secret"),
        ("scope", "api://r/.default"),
    ];
    let (status, body) = reply(&token(&a, "contoso.onmicrosoft.com", &form));
    assert_eq!(
        (status, body["refresh_in"].as_u64()),
        (200, Some(1800)),
        "{body}"
    );
}
