//! Feature `otlp`: server spans for the token endpoint, exported over OTLP, continuing the
//! caller's W3C trace context (`traceparent`), so one trace shows the client's HTTP call and
//! the mock's handling of it. Nothing secret is recorded: method, route, tenant and status.

use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::HeaderMap;
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SdkTracerProvider;

static ON: AtomicBool = AtomicBool::new(false);

/// OTLP wire protocol of `--otlp-protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Grpc,
    HttpProtobuf,
}

impl std::str::FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "grpc" => Ok(Protocol::Grpc),
            "http/protobuf" => Ok(Protocol::HttpProtobuf),
            _ => Err(format!("{s:?}: expected grpc or http/protobuf")),
        }
    }
}

/// The installed tracer provider; [`Tracing::shutdown`] flushes it.
#[derive(Debug)]
pub struct Tracing {
    provider: SdkTracerProvider,
    endpoint: String,
}

fn resource() -> opentelemetry_sdk::Resource {
    let mut b = opentelemetry_sdk::Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").map_or(true, |v| v.trim().is_empty()) {
        b = b.with_service_name("mock-authority");
    }
    b.build()
}

/// Exports server spans to `endpoint` (gRPC: `http://host:4317`; HTTP/protobuf: the base,
/// `/v1/traces` is appended). Must run inside a Tokio runtime.
pub fn start(endpoint: &str, protocol: Protocol) -> Result<Tracing, String> {
    use opentelemetry_otlp::WithExportConfig as _;
    let b = opentelemetry_otlp::SpanExporter::builder();
    let exporter = match protocol {
        Protocol::Grpc => b.with_tonic().with_endpoint(endpoint).build(),
        Protocol::HttpProtobuf => b
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
            .build(),
    }
    .map_err(|e| format!("--otlp-endpoint {endpoint}: {e}"))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource())
        .build();
    Ok(install(provider, endpoint))
}

/// Installs `provider` (tests pass one with an in-memory exporter).
pub fn install(provider: SdkTracerProvider, endpoint: &str) -> Tracing {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    opentelemetry::global::set_tracer_provider(provider.clone());
    ON.store(true, Ordering::SeqCst);
    Tracing {
        provider,
        endpoint: endpoint.to_owned(),
    }
}

impl Tracing {
    /// Flushes the spans (blocking: call from a blocking thread) and stops exporting.
    pub fn shutdown(self) -> Result<(), String> {
        ON.store(false, Ordering::SeqCst);
        self.provider
            .shutdown()
            .map_err(|e| format!("exporting spans to {}: {e}", self.endpoint))
    }
}

/// A server span for the token endpoint, child of the caller's `traceparent` (if any).
pub(crate) struct ServerSpan(Option<opentelemetry::global::BoxedSpan>);

struct Headers<'a>(&'a HeaderMap);

impl opentelemetry::propagation::Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

pub(crate) fn token_span(headers: &HeaderMap, tenant: &str) -> ServerSpan {
    if !ON.load(Ordering::Relaxed) {
        return ServerSpan(None);
    }
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(headers)));
    let tracer = opentelemetry::global::tracer("mock-authority");
    let span = tracer
        .span_builder("POST /{tenant}/oauth2/v2.0/token")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", "POST"),
            KeyValue::new("http.route", "/{tenant}/oauth2/v2.0/token"),
            KeyValue::new("entra.tenant", tenant.to_owned()),
        ])
        .start_with_context(&tracer, &parent);
    ServerSpan(Some(span))
}

impl ServerSpan {
    pub(crate) fn end(self, status: u16) {
        if let Some(mut s) = self.0 {
            s.set_attribute(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
            if status >= 500 {
                s.set_status(Status::error(""));
            }
            s.end();
        }
    }
}
