//! `mock-authority`: serve the mock Entra ID (and benchmark it). Thin over the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

mod bench;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use mock_authority::{
    Authority, AuthorityConfig, ServerOptions, SigningAlg, SystemTimeSource, TlsMode,
};

#[derive(Debug, Parser)]
#[command(
    name = "mock-authority",
    version,
    about = "Mock Microsoft Entra ID for MSAL clients and load tests"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the token, discovery, authorize and admin endpoints.
    Serve(ServeArgs),
    /// Client-credential throughput over keep-alive HTTPS against an in-process server.
    Bench(bench::BenchArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Write the generated CA certificate (PEM) here.
    #[arg(long, conflicts_with_all = ["tls_cert", "plain_http"])]
    tls_ca_out: Option<PathBuf>,
    /// Extra host name or IP for the generated certificate (repeatable), e.g. a Compose
    /// service name; 127.0.0.1, ::1 and localhost are always included.
    #[arg(long = "tls-san", value_name = "NAME")]
    tls_san: Vec<String>,
    /// Serve this certificate chain (PEM) instead of a generated one.
    #[arg(long, requires = "tls_key", conflicts_with = "plain_http")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Plain HTTP (MSAL clients refuse it; for Rust callers).
    #[arg(long)]
    plain_http: bool,
    /// Configuration file (YAML or JSON): tenants, apps, users, lifetimes, latency, faults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override the signing algorithm of the configuration (RS256 or ES256).
    #[arg(long, value_parser = parse_alg)]
    signing: Option<SigningAlg>,
    /// Serve with this many threads, each with its own single-threaded runtime and
    /// SO_REUSEPORT listener (default: one multi-threaded runtime over all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Largest accepted request body, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    body_limit: usize,
    /// Export server spans of the token endpoint to this OTLP collector (e.g.
    /// http://localhost:4317), continuing the caller's `traceparent`.
    #[cfg(feature = "otlp")]
    #[arg(long, value_name = "URL", env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    /// OTLP protocol of --otlp-endpoint: grpc or http/protobuf.
    #[cfg(feature = "otlp")]
    #[arg(
        long,
        value_name = "PROTOCOL",
        default_value = "grpc",
        env = "OTEL_EXPORTER_OTLP_PROTOCOL"
    )]
    otlp_protocol: mock_authority::otel::Protocol,
}

fn parse_alg(s: &str) -> Result<SigningAlg, String> {
    match s.to_ascii_uppercase().as_str() {
        "RS256" => Ok(SigningAlg::RS256),
        "ES256" => Ok(SigningAlg::ES256),
        _ => Err(format!("unknown algorithm {s} (RS256 or ES256)")),
    }
}

/// Prints a line; a closed stdout (the parent went away) is not worth a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve(args) => rt.block_on(serve(args)),
        Command::Bench(args) => rt.block_on(bench::run(args)),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => AuthorityConfig::from_file(path).context("reading --config")?,
        None => AuthorityConfig::default(),
    };
    if let Some(alg) = args.signing {
        config.signing = alg;
    }
    let authority = Arc::new(
        Authority::new(config, Arc::new(SystemTimeSource)).context("building the authority")?,
    );
    let tls = match (args.plain_http, args.tls_cert, args.tls_key) {
        (true, _, _) => TlsMode::Plain,
        (false, Some(cert), Some(key)) => TlsMode::Files { cert, key },
        _ => TlsMode::Generate {
            ca_out: args.tls_ca_out,
            extra_names: args.tls_san,
        },
    };
    let opts = ServerOptions {
        listen: args.listen,
        tls,
        body_limit: args.body_limit,
        threads: args.threads.filter(|&n| n > 0),
        ..ServerOptions::default()
    };
    #[cfg(feature = "otlp")]
    let tracing = match &args.otlp_endpoint {
        Some(url) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                anyhow::bail!("--otlp-endpoint {url:?} is not an http:// or https:// URL");
            }
            Some(mock_authority::otel::start(url, args.otlp_protocol).map_err(anyhow::Error::msg)?)
        }
        None => None,
    };
    let mut signals = Signals::install()?;
    let handle = mock_authority::serve(authority, opts)
        .await
        .context("starting the server")?;
    say!("mock-authority listening on {}", handle.base_url);
    match (&handle.ca_path, &handle.ca_pem) {
        (Some(path), _) => say!("CA certificate written to {}", path.display()),
        (None, Some(_)) => {
            say!("CA certificate generated (not written; pass --tls-ca-out FILE)")
        }
        _ => {}
    }
    say!(
        "token endpoint: {}/{{tenant}}/oauth2/v2.0/token",
        handle.base_url
    );
    #[cfg(feature = "otlp")]
    if let Some(url) = &args.otlp_endpoint {
        say!("server spans to {url}");
    }
    signals.wait().await;
    say!("stopping");
    handle.stop().await;
    #[cfg(feature = "otlp")]
    if let Some(t) = tracing {
        // A dead collector must not keep the process from stopping.
        let flush = tokio::task::spawn_blocking(move || t.shutdown());
        match tokio::time::timeout(std::time::Duration::from_secs(10), flush).await {
            Ok(Ok(Err(e))) => eprintln!("warning: {e}"),
            Err(_) => eprintln!("warning: exporting spans: no answer within 10s"),
            _ => {}
        }
    }
    Ok(())
}

/// SIGINT and SIGTERM, registered before the server announces itself (a signal that
/// arrives right after the announcement must stop it cleanly, not kill it).
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
        })
    }

    async fn wait(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}
