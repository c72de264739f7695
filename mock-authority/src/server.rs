//! The HTTP(S) server: accepts connections (TCP_NODELAY), terminates TLS with rustls, serves
//! HTTP/1.1 keep-alive with hyper, and carries out resets (TCP RST via SO_LINGER 0).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::authority::Authority;
use crate::error::SetupError;
use crate::routes::{router, token_path_tenant, token_response, AppState, ConnControl};

/// How the server speaks.
#[derive(Debug, Clone)]
pub enum TlsMode {
    /// HTTPS with a CA and certificate generated now; the CA PEM is written to `ca_out` if given.
    Generate {
        /// Where to write the CA certificate (PEM).
        ca_out: Option<PathBuf>,
        /// Host names or IPs for the certificate besides `127.0.0.1`, `::1` and `localhost`
        /// (e.g. a Compose service name).
        extra_names: Vec<String>,
    },
    /// HTTPS with a certificate chain and key from PEM files.
    Files {
        /// Certificate chain (PEM).
        cert: PathBuf,
        /// Private key (PEM).
        key: PathBuf,
    },
    /// Plain HTTP (in-process use from Rust; real MSAL clients refuse it).
    Plain,
}

/// Server options.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Where to listen (`127.0.0.1:0` for a free port).
    pub listen: SocketAddr,
    /// TLS.
    pub tls: TlsMode,
    /// Largest accepted request body.
    pub body_limit: usize,
    /// Multiplies every delay (latency model, delay faults) before sleeping.
    pub delay_scale: f64,
    /// How long a hang lasts at most before the connection is reset.
    pub hang_max: Duration,
    /// `None`: serve on the caller's runtime. `Some(n)`: n threads, each with its own
    /// single-threaded runtime and SO_REUSEPORT listener (thread per core, for load).
    pub threads: Option<usize>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: TlsMode::Plain,
            body_limit: 64 * 1024,
            delay_scale: 1.0,
            hang_max: Duration::from_secs(600),
            threads: None,
        }
    }
}

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    /// `https://127.0.0.1:PORT` (or `http://`).
    pub base_url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// The generated CA (PEM), if any.
    pub ca_pem: Option<String>,
    /// Where the CA was written, if anywhere.
    pub ca_path: Option<PathBuf>,
    authority: Arc<Authority>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// The CA file is a temporary one of `start_in_process`: removed on stop.
    temporary_ca: bool,
}

impl ServerHandle {
    /// The authority behind the server.
    pub fn authority(&self) -> &Arc<Authority> {
        &self.authority
    }

    /// Stops accepting, closes every connection and waits for the accept loop to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        if let (true, Some(path)) = (self.temporary_ca, &self.ca_path) {
            let _ = std::fs::remove_file(path);
            if let Some(dir) = path.parent() {
                let _ = std::fs::remove_dir(dir); // only once empty
            }
        }
    }
}

/// Starts the server in process on `127.0.0.1:0`: HTTPS with a generated CA written to a
/// temporary file (`https = true`), or plain HTTP.
pub async fn start_in_process(
    authority: Arc<Authority>,
    https: bool,
) -> Result<ServerHandle, SetupError> {
    let tls = if https {
        let dir = std::env::temp_dir().join(format!("mock-authority-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        TlsMode::Generate {
            ca_out: Some(dir.join(format!("ca-{n}.pem"))),
            extra_names: Vec::new(),
        }
    } else {
        TlsMode::Plain
    };
    let mut handle = serve(
        authority,
        ServerOptions {
            tls,
            ..ServerOptions::default()
        },
    )
    .await?;
    handle.temporary_ca = https;
    Ok(handle)
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Binds and starts serving in the background.
pub async fn serve(
    authority: Arc<Authority>,
    opts: ServerOptions,
) -> Result<ServerHandle, SetupError> {
    let (tls, ca_pem, ca_path) = match &opts.tls {
        TlsMode::Plain => (None, None, None),
        TlsMode::Files { cert, key } => (Some(crate::tls::from_files(cert, key)?), None, None),
        TlsMode::Generate {
            ca_out,
            extra_names,
        } => {
            let mut extra = extra_names.clone();
            if !opts.listen.ip().is_unspecified() {
                extra.push(opts.listen.ip().to_string());
            }
            let g = crate::tls::generate(&extra)?;
            if let Some(path) = ca_out {
                std::fs::write(path, &g.ca_pem)?;
            }
            (Some(g.server_config), Some(g.ca_pem), ca_out.clone())
        }
    };
    let threads = opts.threads.unwrap_or(0);
    let first = reuseport_listener(opts.listen, threads > 0)?;
    let addr = first.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let host = if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    };
    let state = AppState {
        authority: Arc::clone(&authority),
        scheme,
        fallback_host: host.clone(),
        body_limit: opts.body_limit,
        delay_scale: opts.delay_scale,
        hang_max: opts.hang_max,
    };
    let (shutdown, rx) = watch::channel(false);
    let tls = tls.map(TlsAcceptor::from);
    let task = if threads == 0 {
        tokio::spawn(accept_loop(TcpListener::from_std(first)?, tls, state, rx))
    } else {
        // Thread per core: one single-threaded runtime and one SO_REUSEPORT listener each.
        let mut listeners = vec![first];
        for _ in 1..threads {
            listeners.push(reuseport_listener(addr, true)?);
        }
        let mut joins = Vec::new();
        for (i, listener) in listeners.into_iter().enumerate() {
            let (tls, state, rx) = (tls.clone(), state.clone(), rx.clone());
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let join = std::thread::Builder::new()
                .name(format!("mock-authority-{i}"))
                .spawn(move || {
                    rt.block_on(async move {
                        if let Ok(listener) = TcpListener::from_std(listener) {
                            accept_loop(listener, tls, state, rx).await;
                        }
                    });
                })?;
            joins.push(join);
        }
        tokio::task::spawn_blocking(move || {
            for j in joins {
                let _ = j.join();
            }
        })
    };
    Ok(ServerHandle {
        base_url: format!("{scheme}://{host}"),
        addr,
        ca_pem,
        ca_path,
        authority,
        shutdown,
        task,
        temporary_ca: false,
    })
}

/// A non-blocking listener; with `reuse_port`, several can share one address (the kernel
/// spreads connections over them).
fn reuseport_listener(
    addr: SocketAddr,
    reuse_port: bool,
) -> std::io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: AppState,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = router(state.clone());
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors and the like: back off briefly.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                conns.spawn(connection(stream, tls.clone(), app.clone(), state.clone()));
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

async fn connection(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    app: axum::Router,
    state: AppState,
) {
    // A second handle on the socket, to set SO_LINGER 0 (RST on close) for resets.
    let Ok(std_stream) = stream.into_std() else {
        return;
    };
    let Ok(control) = std_stream.try_clone() else {
        return;
    };
    let Ok(stream) = TcpStream::from_std(std_stream) else {
        return;
    };
    let reset = Arc::new(Notify::new());
    match tls {
        None => serve_io(stream, app, state, &reset, control).await,
        Some(acceptor) => {
            let Ok(Ok(tls_stream)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
            else {
                return;
            };
            serve_io(tls_stream, app, state, &reset, control).await;
        }
    }
}

async fn serve_io<I>(
    io: I,
    app: axum::Router,
    state: AppState,
    reset: &Arc<Notify>,
    control: std::net::TcpStream,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ctl = ConnControl(Arc::clone(reset));
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let (app, state, ctl) = (app.clone(), state.clone(), ctl.clone());
        async move {
            // Fast path for the hot endpoint: no routing, no extensions.
            if req.method() == hyper::Method::POST && token_path_tenant(req.uri().path()).is_some()
            {
                let (parts, body) = req.into_parts();
                let tenant = token_path_tenant(parts.uri.path()).unwrap_or_default();
                return Ok(token_response(&state, tenant, &parts, body, Some(&ctl)).await);
            }
            req.extensions_mut().insert(ctl);
            app.oneshot(req).await
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        // One buffer per response: under TLS this makes one record and one write.
        .writev(false)
        .serve_connection(TokioIo::new(io), service);
    tokio::select! {
        _ = conn => {}
        _ = reset.notified() => {
            let _ = socket2::SockRef::from(&control).set_linger(Some(Duration::ZERO));
            // Dropping the connection closes our handle; dropping `control` closes the
            // last one and sends the RST.
        }
    }
    drop(control);
}
