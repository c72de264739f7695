//! W3C trace context from the cache's HTTP call into the mock authority: with both exporting
//! to one collector, every server span of the mock sits in the trace of the run's
//! `tokencache.http` span, as its child.

use std::collections::HashMap;
use std::sync::Arc;

use mock_authority::{Authority, AuthorityConfig, SystemTimeSource};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tokencache::metrics as names;

use super::otlp_receiver;
use super::support::{heavy, runtime};

#[test]
fn the_mocks_server_spans_are_children_of_the_caches_http_spans() {
    let _turn = heavy();
    let rt = runtime();
    rt.block_on(async {
        let (rx, addr) = otlp_receiver::grpc().await;
        let collector = format!("http://{addr}");
        let mock_tracing =
            mock_authority::otel::start(&collector, mock_authority::otel::Protocol::Grpc)
                .expect("mock tracing");
        let authority = Arc::new(
            Authority::new(AuthorityConfig::default(), Arc::new(SystemTimeSource)).unwrap(),
        );
        let server = mock_authority::start_in_process(authority, false)
            .await
            .unwrap();
        let text = format!(
            "name: trace-context
duration: 2s
authority: {{ url: \"{}\" }}
workload:
  - name: daemon
    flow: client_credentials
    tenants: {{ count: 6, pick: round_robin }}
    resources: [api://x/.default]
    arrival: {{ rate: 20/s }}
telemetry:
  traces: {{ endpoint: \"{collector}\", sample_ratio: 1 }}
",
            server.base_url
        );
        let scn = loadgen::scenario::parse("tc.yaml", &text, &[]).unwrap_or_else(|e| panic!("{e}"));
        let s = loadgen::telemetry::settings(&scn.export, &|_| None, None).unwrap();
        let tel = loadgen::telemetry::Telemetry::start(&s, &scn.name, "run-1".into())
            .await
            .unwrap();
        let out = loadgen::run::run_with(&scn, std::future::pending(), &tel)
            .await
            .unwrap();
        tel.shutdown().await.unwrap();
        server.stop().await;
        tokio::task::spawn_blocking(move || mock_tracing.shutdown())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(out.idp_by_status.get("200"), Some(&6));

        let got = rx.0.lock().unwrap();
        let spans = got.spans();
        let http: HashMap<(Vec<u8>, Vec<u8>), _> = spans
            .iter()
            .filter(|s| s.name == names::span::HTTP)
            .map(|s| ((s.trace_id.clone(), s.span_id.clone()), s))
            .collect();
        let server_spans: Vec<_> = spans
            .iter()
            .filter(|s| s.kind == SpanKind::Server as i32)
            .collect();
        assert_eq!(http.len(), 6, "one HTTP span per token request");
        assert_eq!(server_spans.len(), 6, "one server span per token request");
        for s in server_spans {
            assert!(
                http.contains_key(&(s.trace_id.clone(), s.parent_span_id.clone())),
                "server span {} is not the child of a tokencache.http span of its trace",
                s.name
            );
        }
    });
}
