//! A tiny in-process OTLP receiver (gRPC via opentelemetry-proto's tonic services, and
//! HTTP/protobuf via hyper) that keeps every span and metric it is sent.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, Metric};
use opentelemetry_proto::tonic::trace::v1::Span;

/// What the receiver got.
#[derive(Debug, Default)]
pub struct Received {
    pub traces: Vec<ExportTraceServiceRequest>,
    pub metrics: Vec<ExportMetricsServiceRequest>,
    /// Paths of HTTP requests (HTTP receiver only).
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Receiver(pub Arc<Mutex<Received>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        r: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.lock().unwrap().traces.push(r.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Receiver {
    async fn export(
        &self,
        r: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.0.lock().unwrap().metrics.push(r.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// Starts a gRPC receiver on a free loopback port (inside a Tokio runtime).
pub async fn grpc() -> (Receiver, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let rx = Receiver::default();
    let (t, m) = (rx.clone(), rx.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(t))
            .add_service(MetricsServiceServer::new(m))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    (rx, addr)
}

/// Starts an HTTP/protobuf receiver (`POST /v1/traces`, `POST /v1/metrics`).
pub async fn http() -> (Receiver, SocketAddr) {
    use http_body_util::BodyExt as _;
    use prost::Message as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let rx = Receiver::default();
    let rx2 = rx.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let rx = rx2.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let rx = rx.clone();
                        async move {
                            let path = req.uri().path().to_owned();
                            let body = req.into_body().collect().await?.to_bytes();
                            {
                                let mut g = rx.0.lock().unwrap();
                                g.paths.push(path.clone());
                                match path.as_str() {
                                    "/v1/traces" => g
                                        .traces
                                        .push(ExportTraceServiceRequest::decode(body).unwrap()),
                                    "/v1/metrics" => g
                                        .metrics
                                        .push(ExportMetricsServiceRequest::decode(body).unwrap()),
                                    _ => {}
                                }
                            }
                            let mut r = hyper::Response::new(http_body_util::Full::new(
                                bytes::Bytes::new(),
                            ));
                            r.headers_mut().insert(
                                "content-type",
                                hyper::header::HeaderValue::from_static("application/x-protobuf"),
                            );
                            Ok::<_, hyper::Error>(r)
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (rx, addr)
}

impl Received {
    pub fn spans(&self) -> Vec<Span> {
        self.traces
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| ss.spans.iter().cloned())
            .collect()
    }

    /// Resource attributes of the first span batch.
    pub fn trace_resource(&self) -> Vec<KeyValue> {
        self.traces
            .iter()
            .flat_map(|r| &r.resource_spans)
            .find_map(|rs| rs.resource.as_ref().map(|r| r.attributes.clone()))
            .unwrap_or_default()
    }

    /// Resource attributes of the first metrics batch.
    pub fn metric_resource(&self) -> Vec<KeyValue> {
        self.metrics
            .iter()
            .flat_map(|r| &r.resource_metrics)
            .find_map(|rm| rm.resource.as_ref().map(|r| r.attributes.clone()))
            .unwrap_or_default()
    }

    /// The last export of metric `name` (cumulative: the last one holds the totals).
    pub fn metric(&self, name: &str) -> Option<Metric> {
        self.metrics
            .iter()
            .flat_map(|r| &r.resource_metrics)
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .rfind(|m| m.name == name)
            .cloned()
    }
}

pub fn text(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        other => format!("{other:?}"),
    }
}

pub fn attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| text(&kv.value))
}

/// Sum of a counter's data points whose attribute `key` is `value` (any when `key` is "").
pub fn counter_sum(m: &Metric, key: &str, value: &str) -> u64 {
    let Some(metric::Data::Sum(s)) = &m.data else {
        panic!("{} is not a sum: {:?}", m.name, m.data)
    };
    s.data_points
        .iter()
        .filter(|p| key.is_empty() || attr(&p.attributes, key).as_deref() == Some(value))
        .map(|p| match p.value {
            Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(i)) => {
                i as u64
            }
            Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsDouble(
                d,
            )) => d as u64,
            None => 0,
        })
        .sum()
}

/// (count over all data points, the bucket bounds of the first).
pub fn histogram_count(m: &Metric) -> (u64, Vec<f64>) {
    let Some(metric::Data::Histogram(h)) = &m.data else {
        panic!("{} is not a histogram: {:?}", m.name, m.data)
    };
    (
        h.data_points.iter().map(|p| p.count).sum(),
        h.data_points
            .first()
            .map(|p| p.explicit_bounds.clone())
            .unwrap_or_default(),
    )
}
