//! The Prometheus scrape endpoint: `GET /metrics` in the text exposition format, fed by the
//! OpenTelemetry Prometheus exporter (standard OTLP → Prometheus names: `_total`, `_seconds`,
//! `_bytes`).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use prometheus::{Encoder as _, Registry, TextEncoder};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running endpoint; [`PromServer::stop`] ends it.
#[derive(Debug)]
pub struct PromServer {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Binds `addr` (the error names it) and serves `registry` until stopped.
pub async fn serve(addr: SocketAddr, registry: Registry) -> anyhow::Result<PromServer> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("prometheus endpoint: cannot listen on {addr}"))?;
    let addr = listener.local_addr().unwrap_or(addr);
    let (stop, mut stopped) = watch::channel(false);
    let registry = Arc::new(registry);
    let task = tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(s) => s,
                    Err(_) => continue,
                },
                _ = stopped.changed() => return,
            };
            let registry = registry.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let registry = registry.clone();
                    async move { Ok::<_, std::convert::Infallible>(respond(&req, &registry)) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, svc)
                    .await;
            });
        }
    });
    Ok(PromServer { addr, stop, task })
}

fn respond<B>(req: &Request<B>, registry: &Registry) -> Response<Full<Bytes>> {
    let plain = |status: StatusCode, text: &str| {
        let mut r = Response::new(Full::new(Bytes::from(text.to_owned())));
        *r.status_mut() = status;
        r
    };
    if req.uri().path() != "/metrics" {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: metrics are at /metrics\n",
        );
    }
    if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "use GET /metrics\n");
    }
    let encoder = TextEncoder::new();
    let mut body = Vec::new();
    if let Err(e) = encoder.encode(&registry.gather(), &mut body) {
        return plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("encoding metrics: {e}\n"),
        );
    }
    let mut r = Response::new(Full::new(Bytes::from(body)));
    if let Ok(v) = hyper::header::HeaderValue::from_str(encoder.format_type()) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

impl PromServer {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
