//! `probe serve`: the speed-test server agents and browsers measure against.
//!
//! Data flow: [`Server::bind`] binds TCP (and UDP on the same port number), [`Server::run`]
//! serves [`app`] through [`crate::listener`] (header-read and idle timeouts, per-address
//! connection cap, optional TLS) and runs the [`udp_echo`]. The router is the project's own
//! paths plus the LibreSpeed-compatible ones of [`librespeed`], mounted at `/` and at
//! `/backend/`:
//! - `GET /download?bytes=N` — N bytes of incompressible data, never cached.
//! - `POST /upload` — discards the body and answers JSON with bytes received and the receive
//!   timeline (server clock), so upload can be measured at the receiver.
//! - `GET /ping` — the cheapest round trip.
//! - `GET /info` — server identity, limits and the UDP echo port.
//! - `garbage[.php]`, `empty[.php]`, `getIP[.php]` — see [`librespeed`].
//! - `GET /__down?bytes=N`, `POST /__up` — Cloudflare-style, see [`cloudflare`].
//! - `GET /ndt/v7/download`, `GET /ndt/v7/upload` — M-Lab's ndt7 over WebSocket, see [`ndt7`].
//! - UDP echo on the same port number: datagrams starting with `PRBE`, at most 512 bytes, are
//!   sent back unchanged (no amplification).
//!
//! Bodies are capped while reading: a declared `Content-Length` above
//! `max_bytes_per_request` is refused with 413 before any of it is read, a chunked body at the
//! moment it passes the cap.

pub mod cloudflare;
pub mod librespeed;
pub mod ndt7;
pub mod pacing;
pub mod udp_echo;

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use futures_util::StreamExt;
use rand::RngCore;
use serde::Deserialize;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::listener::{body_too_large, linger_on_rejected_body, ClientAddr, HttpListener, Limits};
use pacing::{Bucket, Pacer};

pub use crate::protocol::{ServerInfo, UploadReport, UDP_MAGIC, UDP_MAX_BYTES};

const PAYLOAD_BYTES: usize = 1 << 20;
const CHUNK_BYTES: usize = 64 << 10;
const MAX_TIMELINE_SAMPLES: usize = 4096;
const TIMELINE_STEP_S: f64 = 0.05;

/// Server limits and options.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// HTTP listen address; the UDP echo binds the same address.
    pub listen: SocketAddr,
    /// Largest download or upload body per request, bytes.
    pub max_bytes_per_request: u64,
    /// Concurrent download/upload transfers across all clients.
    pub max_concurrent_tests: usize,
    /// Requests per second each client address may make (token bucket, burst = 2 s worth).
    pub max_requests_per_second_per_client: f64,
    /// Payload bytes per second each client address may move (downloads and uploads
    /// together); `None` for no limit.
    pub max_client_bytes_per_second: Option<f64>,
    /// UDP echo datagrams per second across all clients.
    pub max_udp_packets_per_second: f64,
    /// Optional TLS certificate chain and key (PEM).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Whether to run the UDP echo.
    pub udp_echo: bool,
    /// Connection limits.
    pub limits: Limits,
    /// Browser origins (`Origin` header values, `*` for any) allowed to run ndt7 tests;
    /// empty: any origin. Requests without `Origin` (not from a browser) are always allowed.
    pub ndt7_allowed_origins: Vec<String>,
}

/// Connection limits of `probe serve` unless given on the command line. The per-address cap
/// is generous because many clients can share one address behind carrier-grade NAT.
pub const SERVE_LIMITS: Limits = Limits {
    header_read_timeout: Duration::from_secs(10),
    idle_timeout: Duration::from_secs(30),
    max_connections_per_address: 128,
};

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: "127.0.0.1:8080".parse().expect("literal"),
            max_bytes_per_request: 1 << 30,
            max_concurrent_tests: 64,
            max_requests_per_second_per_client: 200.0,
            max_client_bytes_per_second: None,
            max_udp_packets_per_second: 20_000.0,
            tls: None,
            udp_echo: true,
            limits: SERVE_LIMITS,
            ndt7_allowed_origins: Vec::new(),
        }
    }
}

type SharedPacer = Arc<Mutex<Pacer>>;

pub(crate) async fn pace(p: &Option<SharedPacer>, n: usize) {
    if let Some(p) = p {
        let wait = p
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .reserve(n, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Shared server state.
pub struct ServerState {
    cfg: ServeConfig,
    payload: Bytes,
    tests: Arc<Semaphore>,
    clients: Mutex<HashMap<IpAddr, Bucket>>,
    pacers: Mutex<HashMap<IpAddr, SharedPacer>>,
    epoch: Instant,
    udp_port: Option<u16>,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("cfg", &self.cfg)
            .finish()
    }
}

impl ServerState {
    /// Fresh state with a random payload.
    pub fn new(cfg: ServeConfig, udp_port: Option<u16>) -> Arc<Self> {
        let mut buf = vec![0u8; PAYLOAD_BYTES];
        rand::rng().fill_bytes(&mut buf);
        Arc::new(ServerState {
            tests: Arc::new(Semaphore::new(cfg.max_concurrent_tests)),
            cfg,
            payload: Bytes::from(buf),
            clients: Mutex::new(HashMap::new()),
            pacers: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
            udp_port,
        })
    }

    fn pacer(&self, ip: IpAddr) -> Option<SharedPacer> {
        let rate = self.cfg.max_client_bytes_per_second?;
        let mut map = self.pacers.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, p| Arc::strong_count(p) > 1);
        }
        Some(
            map.entry(ip)
                .or_insert_with(|| Arc::new(Mutex::new(Pacer::new(rate))))
                .clone(),
        )
    }

    fn allow(&self, ip: IpAddr) -> bool {
        let rate = self.cfg.max_requests_per_second_per_client;
        let burst = (rate * 2.0).max(1.0);
        let now = Instant::now();
        let mut map = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            // Bound memory: forget clients idle long enough to have a full bucket again.
            map.retain(|_, b| now.duration_since(b.last).as_secs_f64() * rate < burst);
        }
        map.entry(ip)
            .or_insert_with(|| Bucket::full(burst, now))
            .take(rate, burst, now)
    }
}

pub(crate) fn no_cache(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache, must-revalidate, max-age=0, no-transform"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

pub(crate) fn error(status: StatusCode, msg: &str) -> Response {
    no_cache((status, format!("{msg}\n")).into_response())
}

pub(crate) fn rate_limited() -> Response {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "too many requests from this address",
    )
}

pub(crate) fn busy() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "too many concurrent tests, retry later",
    )
}

pub(crate) fn too_large(limit: u64) -> Response {
    let mut r = error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the body exceeds this server's limit of {limit} bytes per request"),
    );
    // The rest of the body is at most drained (`linger_on_rejected_body`), never used, so the
    // connection is not reused.
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// The project's own paths.
fn native_routes() -> Router<Arc<ServerState>> {
    Router::new()
        .route("/download", get(download))
        .route("/upload", post(upload))
        .route("/ping", get(ping).head(ping))
        .route("/info", get(info))
}

/// The router, testable without a socket (needs a `ConnectInfo<ClientAddr>` extension).
pub fn app(state: Arc<ServerState>) -> Router {
    Router::new()
        .merge(native_routes())
        .merge(librespeed::routes())
        .nest("/backend", librespeed::routes())
        .merge(cloudflare::routes())
        .merge(ndt7::routes())
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

#[derive(Deserialize)]
struct DownloadQuery {
    bytes: Option<u64>,
}

pub(crate) fn stream_bytes(
    state: &Arc<ServerState>,
    client: IpAddr,
    total: u64,
    permit: OwnedSemaphorePermit,
) -> Response {
    let payload = state.payload.clone();
    let pacer = state.pacer(client);
    // A random start offset keeps consecutive responses from being byte-identical.
    let start = (rand::random::<u32>() as usize) % PAYLOAD_BYTES;
    let stream = futures_util::stream::unfold((0u64, start, permit), move |(sent, off, permit)| {
        let payload = payload.clone();
        let pacer = pacer.clone();
        async move {
            if sent >= total {
                return None;
            }
            let n = (CHUNK_BYTES as u64)
                .min(total - sent)
                .min((PAYLOAD_BYTES - off) as u64) as usize;
            pace(&pacer, n).await;
            let chunk = payload.slice(off..off + n);
            let next = (off + n) % PAYLOAD_BYTES;
            Some((
                Ok::<_, std::io::Error>(chunk),
                (sent + n as u64, next, permit),
            ))
        }
    });
    let mut r = Response::new(Body::from_stream(stream));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
    h.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    no_cache(r)
}

async fn download(
    State(st): State<Arc<ServerState>>,
    ConnectInfo(c): ConnectInfo<ClientAddr>,
    Query(q): Query<DownloadQuery>,
) -> Response {
    if !st.allow(c.0.ip()) {
        return rate_limited();
    }
    let bytes = q.bytes.unwrap_or(PAYLOAD_BYTES as u64 * 4);
    if bytes > st.cfg.max_bytes_per_request {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "bytes={bytes} exceeds this server's limit of {} bytes per request",
                st.cfg.max_bytes_per_request
            ),
        );
    }
    let Ok(permit) = st.tests.clone().try_acquire_owned() else {
        return busy();
    };
    stream_bytes(&st, c.0.ip(), bytes, permit)
}

async fn upload(
    State(st): State<Arc<ServerState>>,
    ConnectInfo(c): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !st.allow(c.0.ip()) {
        return rate_limited();
    }
    if body_too_large(&headers, st.cfg.max_bytes_per_request) {
        linger_on_rejected_body(&headers, body.into_data_stream());
        return too_large(st.cfg.max_bytes_per_request);
    }
    let Ok(_permit) = st.tests.clone().try_acquire_owned() else {
        return busy();
    };
    let pacer = st.pacer(c.0.ip());
    let mut stream = body.into_data_stream();
    let mut bytes = 0u64;
    let mut first: Option<f64> = None;
    let mut last = 0.0;
    let mut samples: Vec<(f64, u64)> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(_) => return error(StatusCode::BAD_REQUEST, "upload body aborted"),
        };
        // Pacing the reads makes TCP flow control slow the sender to the client's rate.
        pace(&pacer, chunk.len()).await;
        let now = st.epoch.elapsed().as_secs_f64();
        if first.is_none() {
            first = Some(now);
            samples.push((now, 0));
        }
        bytes += chunk.len() as u64;
        last = now;
        if bytes > st.cfg.max_bytes_per_request {
            linger_on_rejected_body(&headers, stream);
            return too_large(st.cfg.max_bytes_per_request);
        }
        let due = samples
            .last()
            .map_or(true, |(t, _)| now - t >= TIMELINE_STEP_S);
        if due && samples.len() < MAX_TIMELINE_SAMPLES {
            samples.push((now, bytes));
        }
    }
    if samples.last().is_some_and(|s| s.1 != bytes) {
        samples.push((last, bytes));
    }
    let report = UploadReport {
        bytes,
        first_byte_s: first.unwrap_or(last),
        last_byte_s: last,
        samples,
    };
    no_cache(Json(report).into_response())
}

async fn ping(
    State(st): State<Arc<ServerState>>,
    ConnectInfo(c): ConnectInfo<ClientAddr>,
) -> Response {
    if !st.allow(c.0.ip()) {
        return rate_limited();
    }
    no_cache(StatusCode::OK.into_response())
}

async fn info(State(st): State<Arc<ServerState>>) -> Response {
    no_cache(
        Json(ServerInfo {
            server: "probe".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            udp_echo_port: st.udp_port,
            max_bytes_per_request: st.cfg.max_bytes_per_request,
        })
        .into_response(),
    )
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Could not bind.
    #[error("cannot listen on {addr} (another process may be using it, or the address is not on this machine)")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// TLS files unusable.
    #[error("TLS: {0}")]
    Tls(#[from] crate::net::TlsFileError),
    /// Serving failed.
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
}

/// A bound server ready to run.
pub struct Server {
    tcp: TcpListener,
    udp: Option<UdpSocket>,
    state: Arc<ServerState>,
    tls: Option<rustls::ServerConfig>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("state", &self.state)
            .finish()
    }
}

impl Server {
    /// Bind TCP (and UDP on the same port number) without serving yet.
    pub async fn bind(cfg: ServeConfig) -> Result<Self, ServeError> {
        let tls = match &cfg.tls {
            Some((c, k)) => Some(crate::net::server_tls_config(c, k)?),
            None => None,
        };
        let tcp = TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| ServeError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let local = tcp.local_addr()?;
        let udp = if cfg.udp_echo {
            let sock = UdpSocket::bind(local)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: local,
                    source,
                })?;
            Some(sock)
        } else {
            None
        };
        let udp_port = udp
            .as_ref()
            .and_then(|u| u.local_addr().ok())
            .map(|a| a.port());
        let state = ServerState::new(cfg, udp_port);
        Ok(Server {
            tcp,
            udp,
            state,
            tls,
        })
    }

    /// The bound HTTP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.tcp
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Serve until `shutdown` resolves, then finish in-flight requests.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let Server {
            tcp,
            udp,
            state,
            tls,
        } = self;
        let rate = state.cfg.max_udp_packets_per_second;
        let echo = udp.map(|u| tokio::spawn(udp_echo::run(u, rate)));
        let limits = state.cfg.limits;
        let router = app(state);
        let res = HttpListener::new(tcp, tls, limits)
            .serve(router, shutdown)
            .await;
        if let Some(e) = echo {
            e.abort();
        }
        res.map_err(ServeError::Io)
    }
}
