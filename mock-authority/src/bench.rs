//! The benchmark load tool: many keep-alive HTTP/1.1 connections over TLS (or plain TCP)
//! posting client-credential requests for a fixed time, plus the raw signing rate of the
//! same crypto library. Used by `mock-authority bench` and `scripts/bench-mock-authority.sh`
//! against this mock and against npm `oauth2-mock-server`, with identical settings.
//!
//! Last measured 2026-11-22 on the shared 2-vCPU dev machine (AMD EPYC; other engineers'
//! builds and benches running, load average 3.2), 10 s per run, 64 keep-alive HTTPS
//! connections, load tool and server both on the same 2 vCPUs:
//!
//!   alg     raw/s  raw/CPU-s  mock/s  mock/CPU-s  o2m/s  o2m/CPU-s  mock/raw (CPU)  mock/o2m (CPU)
//!   ES256  70,354     43,882  15,085      20,726  1,794      1,768     21%   (47%)    8.4x  (11.7x)
//!   RS256   2,739      1,502   2,598       1,416    855        684     95%   (94%)    3.0x   (2.1x)
//!
//! Quiet machine (no other builds; load average 1.0-1.8 from this bench itself), 5 s per
//! run, same 64 connections, 2026-11-22 05:57 UTC — all four targets met:
//!   ES256 104,542     53,285  30,164      22,736  2,188      1,783     29%   (43%)   13.8x  (12.8x)
//!   RS256   3,008      1,493   2,674       1,412  1,395        706     89%   (95%)    1.9x   (2.0x)
//!
//! (/CPU-s = per CPU-second of the server process, or of the signing threads for raw.) Same
//! run with `--threads 2`: ES256 15,222/s (21,252/CPU-s), RS256 1,753/s vs raw 1,602/s. In
//! quiet moments the ES256 figure reached 25,600-27,400/s (server ~47 us CPU per response,
//! load tool ~20 us). ES256 misses the 30,000/s target on this machine: one ES256 signature
//! costs ~20 us of CPU here, the rest of a response (TLS, HTTP/1.1, loopback TCP syscalls)
//! ~27 us, and the load tool shares the same two vCPUs.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use mock_authority::keys::{SigningAlg, SigningKeys};

/// Options of `mock-authority bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Token endpoint to load, e.g. `https://127.0.0.1:8443/t1/oauth2/v2.0/token`.
    /// Without it, only the raw signing rate is measured.
    #[arg(long)]
    pub url: Option<String>,
    /// CA certificate (PEM) to trust for https URLs.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Form body to post.
    #[arg(
        long,
        default_value = "grant_type=client_credentials&client_id=bench-app&client_secret=bench-secret&scope=api%3A%2F%2Fbench%2F.default"
    )]
    pub body: String,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Measured seconds (after one second of warm-up).
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Measure raw signing with this algorithm (RS256 or ES256) on `threads` threads.
    #[arg(long)]
    pub raw_sign: Option<String>,
    /// Threads for the raw signing measurement.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

/// Runs the benchmark and prints one JSON line per measurement.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(alg) = &args.raw_sign {
        let alg = match alg.to_ascii_uppercase().as_str() {
            "RS256" => SigningAlg::RS256,
            "ES256" => SigningAlg::ES256,
            other => anyhow::bail!("unknown algorithm {other}"),
        };
        let cpu0 = process_cpu_seconds();
        let (count, wall) = raw_sign(alg, args.threads, args.seconds)?;
        let cpu = process_cpu_seconds() - cpu0;
        let per_cpu = if cpu > 0.0 { count as f64 / cpu } else { 0.0 };
        println!(
            "{}",
            serde_json::json!({"measure": "raw_sign", "alg": alg.as_str(), "threads": args.threads,
                "per_second": (count as f64 / wall).round(), "per_cpu_second": per_cpu.round()})
        );
    }
    if let Some(url) = &args.url {
        let r = load(
            url,
            args.ca.as_deref(),
            &args.body,
            args.connections,
            args.seconds,
        )
        .await?;
        println!(
            "{}",
            serde_json::json!({"measure": "http", "url": url, "connections": args.connections,
            "responses": r.ok + r.failed, "ok": r.ok, "failed": r.failed, "seconds": args.seconds,
            "total_ok_with_warm_up": r.total_ok,
            "per_second": ((r.ok as f64) / args.seconds).round()})
        );
    }
    Ok(())
}

/// CPU time (user + system) of this process so far, from `/proc/self/stat`.
pub fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may contain spaces): utime and stime are the
    // 12th and 13th, in clock ticks (100 per second on Linux).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Signatures made by `threads` threads in `seconds`: (count, wall seconds).
pub fn raw_sign(alg: SigningAlg, threads: usize, seconds: f64) -> anyhow::Result<(u64, f64)> {
    let keys = Arc::new(SigningKeys::generate().context("generating keys")?);
    let payload = r#"{"aud":"api://bench","iss":"https://127.0.0.1/t/v2.0","iat":1,"nbf":1,"exp":2,"azp":"bench-app","tid":"t","ver":"2.0"}"#;
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..threads.max(1))
        .map(|_| {
            let (keys, stop, count) = (Arc::clone(&keys), Arc::clone(&stop), Arc::clone(&count));
            std::thread::spawn(move || {
                let mut out = String::with_capacity(1024);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    out.clear();
                    if keys.sign_jwt_into(alg, payload, &mut out).is_ok() {
                        n += 1;
                    }
                }
                count.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    Ok((count.load(Ordering::Relaxed), start.elapsed().as_secs_f64()))
}

/// Counts of a load run.
#[derive(Debug, Default, Clone, Copy)]
pub struct LoadResult {
    /// 2xx responses in the measured window.
    pub ok: u64,
    /// Other responses or errors in the measured window.
    pub failed: u64,
    /// 2xx responses including the warm-up second (to relate to the server's CPU time).
    pub total_ok: u64,
}

/// Posts `body` to `url` over `connections` keep-alive connections for `seconds`.
pub async fn load(
    url: &str,
    ca: Option<&std::path::Path>,
    body: &str,
    connections: usize,
    seconds: f64,
) -> anyhow::Result<LoadResult> {
    let uri: hyper::Uri = url.parse().context("parsing --url")?;
    let https = uri.scheme_str() == Some("https");
    let host = uri.host().context("URL without host")?.to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let connector = if https {
        let mut roots = RootCertStore::empty();
        if let Some(ca) = ca {
            for cert in CertificateDer::pem_file_iter(ca).context("reading --ca")? {
                roots
                    .add(cert.context("reading --ca")?)
                    .context("adding the CA")?;
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Some(TlsConnector::from(Arc::new(config)))
    } else {
        None
    };
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let body = Bytes::from(body.to_owned());
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let authority = format!("{host}:{port}");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections.max(1) {
        let (connector, host, authority, path, body) = (
            connector.clone(),
            host.clone(),
            authority.clone(),
            path.clone(),
            body.clone(),
        );
        let (measuring, stop, ok, failed) = (
            Arc::clone(&measuring),
            Arc::clone(&stop),
            Arc::clone(&ok),
            Arc::clone(&failed),
        );
        tasks.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let r = connection_loop(
                    &connector, &host, &authority, &path, &body, &measuring, &stop, &ok,
                )
                .await;
                if r.is_err() && measuring.load(Ordering::Relaxed) {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                if r.is_err() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (ok0, failed0) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let result = LoadResult {
        ok: ok.load(Ordering::Relaxed) - ok0,
        failed: failed.load(Ordering::Relaxed) - failed0,
        total_ok: ok.load(Ordering::Relaxed),
    };
    stop.store(true, Ordering::Relaxed);
    tasks.abort_all();
    Ok(result)
}

#[allow(clippy::too_many_arguments)]
async fn connection_loop(
    connector: &Option<TlsConnector>,
    host: &str,
    authority: &str,
    path: &str,
    body: &Bytes,
    measuring: &AtomicBool,
    stop: &AtomicBool,
    ok: &AtomicU64,
) -> anyhow::Result<()> {
    let tcp = TcpStream::connect(authority).await?;
    tcp.set_nodelay(true)?;
    let mut sender = match connector {
        Some(c) => {
            let name = ServerName::try_from(host.to_owned())?;
            let tls = c.connect(name, tcp).await?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
            tokio::spawn(conn);
            sender
        }
        None => {
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
            tokio::spawn(conn);
            sender
        }
    };
    let _ = measuring;
    while !stop.load(Ordering::Relaxed) {
        let req = hyper::Request::post(path)
            .header(hyper::header::HOST, authority)
            .header(
                hyper::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(Full::new(body.clone()))?;
        sender.ready().await?;
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        let _ = resp.into_body().collect().await?;
        if !status.is_success() {
            anyhow::bail!("status {status}");
        }
        ok.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}
