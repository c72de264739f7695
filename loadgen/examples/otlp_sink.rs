//! A minimal OTLP gRPC sink for measuring export overhead without a collector: accepts
//! traces and metrics on ADDR (default 127.0.0.1:4317), counts what arrives, and prints the
//! totals every 5 s and on Ctrl-C.
//!
//!     cargo run --release -p loadgen --example otlp_sink -- 127.0.0.1:4317

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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

#[derive(Debug, Default, Clone)]
struct Sink {
    spans: Arc<AtomicU64>,
    metric_requests: Arc<AtomicU64>,
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        r: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let n: usize = r
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum();
        self.spans.fetch_add(n as u64, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        _r: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.metric_requests.fetch_add(1, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:4317".into());
    let addr: std::net::SocketAddr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not HOST:PORT"))?;
    let sink = Sink::default();
    let report = sink.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            println!(
                "spans {} metric exports {}",
                report.spans.load(Ordering::Relaxed),
                report.metric_requests.load(Ordering::Relaxed)
            );
        }
    });
    println!("OTLP gRPC sink on {addr}");
    let totals = sink.clone();
    tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(sink.clone()))
        .add_service(MetricsServiceServer::new(sink))
        .serve_with_shutdown(addr, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    println!(
        "spans {} metric exports {}",
        totals.spans.load(Ordering::Relaxed),
        totals.metric_requests.load(Ordering::Relaxed)
    );
    Ok(())
}
