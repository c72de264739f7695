//! Feature `otlp`: the token endpoint's server span continues the caller's W3C trace
//! context (same trace id, parent = the caller's span) and records nothing secret.

#![cfg(feature = "otlp")]

use std::sync::Arc;

use mock_authority::{Authority, AuthorityConfig, SystemTimeSource};
use opentelemetry::trace::{SpanKind, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

#[tokio::test]
async fn the_token_endpoints_server_span_continues_the_callers_traceparent() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracing = mock_authority::otel::install(provider, "in-memory");
    let a = Arc::new(
        Authority::new(AuthorityConfig::default(), Arc::new(SystemTimeSource)).expect("authority"),
    );
    let server = mock_authority::start_in_process(a, false)
        .await
        .expect("server");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent = "00f067aa0ba902b7";
    let r = client
        .post(format!("{}/t1/oauth2/v2.0/token", server.base_url))
        .header("traceparent", format!("00-{trace}-{parent}-01"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "x"),
            ("client_secret", "very-secret-value"),
            ("scope", "api://r/.default"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 200);
    let body = r.text().await.expect("body");
    let token = serde_json::from_str::<serde_json::Value>(&body).expect("json")["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    server.stop().await;
    // The simple processor exported the span when it ended (before the reply was sent);
    // shutting down resets the in-memory exporter, so read first.
    // Other tests of this binary talk to their own servers meanwhile (the tracer provider is
    // process-wide): keep this trace's spans.
    let spans: Vec<_> = exporter
        .get_finished_spans()
        .expect("spans")
        .into_iter()
        .filter(|s| s.span_context.trace_id() == TraceId::from_hex(trace).unwrap())
        .collect();
    tokio::task::spawn_blocking(move || tracing.shutdown())
        .await
        .expect("join")
        .expect("flush");
    assert_eq!(
        spans.len(),
        1,
        "one server span in the caller's trace: {spans:#?}"
    );
    let s = &spans[0];
    assert_eq!(s.span_kind, SpanKind::Server);
    assert_eq!(s.parent_span_id.to_string(), parent);
    let attr = |k: &str| {
        s.attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(attr("http.response.status_code").as_deref(), Some("200"));
    assert_eq!(attr("entra.tenant").as_deref(), Some("t1"));
    for kv in &s.attributes {
        let v = kv.value.to_string();
        assert!(
            !v.contains("very-secret-value") && !v.contains(&token),
            "secret in {}={v}",
            kv.key
        );
    }
}
