//! `probe serve`: the speed-test server agents and browsers measure against.
//!
//! Paths (each also answers with a `.php` suffix where LibreSpeed uses one):
//! - `GET /download?bytes=N` — N bytes of incompressible data, never cached.
//! - `GET /garbage[.php]?ckSize=M` — LibreSpeed download, M MiB (default 4, at most 1024).
//! - `POST /upload` — discards the body and answers JSON with bytes received and the receive
//!   timeline (server clock), so upload is measured at the receiver.
//! - `GET|POST /empty[.php]` — LibreSpeed upload sink and ping target.
//! - `GET /getIP[.php]` — LibreSpeed client-address answer.
//! - `GET /ping` — the cheapest round trip.
//! - `GET /info` — server identity, limits and the UDP echo port.
//! - UDP echo on the same port number: datagrams starting with `PRBE`, at most 512 bytes, are
//!   sent back unchanged (no amplification).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use futures_util::StreamExt;
use rand::RngCore;
use serde::Deserialize;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Magic prefix of UDP echo datagrams.
pub const UDP_MAGIC: &[u8; 4] = b"PRBE";
/// Largest UDP datagram echoed.
pub const UDP_MAX_BYTES: usize = 512;
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
}

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
        }
    }
}

/// Paces one client's payload to a byte rate (virtual scheduling: each chunk gets the next
/// free slot on the client's timeline; a small burst is allowed).
#[derive(Debug)]
pub struct Pacer {
    rate_bytes_per_s: f64,
    next_free: Instant,
}

impl Pacer {
    /// How long to wait before moving `n` bytes.
    pub fn reserve(&mut self, n: usize, now: Instant) -> Duration {
        let burst = Duration::from_millis(20);
        let start = if self.next_free + burst < now {
            now - burst
        } else {
            self.next_free
        };
        self.next_free = start + Duration::from_secs_f64(n as f64 / self.rate_bytes_per_s);
        start.saturating_duration_since(now)
    }
}

type SharedPacer = Arc<Mutex<Pacer>>;

async fn pace(p: &Option<SharedPacer>, n: usize) {
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

struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self, rate: f64, burst: f64, now: Instant) -> bool {
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * rate).min(burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
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
                .or_insert_with(|| {
                    Arc::new(Mutex::new(Pacer {
                        rate_bytes_per_s: rate,
                        next_free: Instant::now(),
                    }))
                })
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
            .or_insert(Bucket {
                tokens: burst,
                last: now,
            })
            .take(rate, burst, now)
    }
}

/// The client's address as seen by the listener (plain or TLS).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

impl Connected<axum::serve::IncomingStream<'_, PlainListener>> for ClientAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, PlainListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

impl Connected<axum::serve::IncomingStream<'_, TlsListener>> for ClientAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

/// A plain TCP listener that disables Nagle on every connection (small pings must not wait).
#[derive(Debug)]
pub struct PlainListener(pub TcpListener);

impl axum::serve::Listener for PlainListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (s, a) = axum::serve::Listener::accept(&mut self.0).await;
        let _ = s.set_nodelay(true);
        (s, a)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

fn no_cache(mut r: Response) -> Response {
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

fn error(status: StatusCode, msg: &str) -> Response {
    no_cache((status, format!("{msg}\n")).into_response())
}

fn rate_limited() -> Response {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "too many requests from this address",
    )
}

fn busy() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "too many concurrent tests, retry later",
    )
}

/// The router, testable without a socket (needs a [`ClientAddr`] connect info).
pub fn app(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/download", get(download))
        .route("/garbage", get(garbage))
        .route("/garbage.php", get(garbage))
        .route("/upload", post(upload))
        .route("/empty", get(empty).post(empty))
        .route("/empty.php", get(empty).post(empty))
        .route("/getIP", get(get_ip))
        .route("/getIP.php", get(get_ip))
        .route("/ping", get(ping).head(ping))
        .route("/info", get(info))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

#[derive(Deserialize)]
struct DownloadQuery {
    bytes: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GarbageQuery {
    ck_size: Option<String>,
}

fn stream_bytes(
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

async fn garbage(
    State(st): State<Arc<ServerState>>,
    ConnectInfo(c): ConnectInfo<ClientAddr>,
    Query(q): Query<GarbageQuery>,
) -> Response {
    if !st.allow(c.0.ip()) {
        return rate_limited();
    }
    // LibreSpeed clamps ckSize to 1..=1024 MiB and defaults to 4.
    let mib = q
        .ck_size
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(4)
        .clamp(1, 1024);
    let bytes = (mib << 20).min(st.cfg.max_bytes_per_request);
    let Ok(permit) = st.tests.clone().try_acquire_owned() else {
        return busy();
    };
    stream_bytes(&st, c.0.ip(), bytes, permit)
}

/// Upload receipt: bytes received and the receive timeline on the server's clock.
#[derive(Debug, Clone, serde::Serialize, Deserialize, PartialEq)]
pub struct UploadReport {
    /// Body bytes received.
    pub bytes: u64,
    /// Server-clock time of the first body byte, seconds since server start.
    pub first_byte_s: f64,
    /// Server-clock time of the last body byte, seconds since server start.
    pub last_byte_s: f64,
    /// `(time_s, cumulative_bytes)` samples, at least every 50 ms while data flows.
    pub samples: Vec<(f64, u64)>,
}

async fn upload(
    State(st): State<Arc<ServerState>>,
    ConnectInfo(c): ConnectInfo<ClientAddr>,
    body: Body,
) -> Response {
    if !st.allow(c.0.ip()) {
        return rate_limited();
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
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "upload exceeds this server's limit of {} bytes per request",
                    st.cfg.max_bytes_per_request
                ),
            );
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

async fn empty(
    State(st): State<Arc<ServerState>>,
    ConnectInfo(c): ConnectInfo<ClientAddr>,
    body: Body,
) -> Response {
    if !st.allow(c.0.ip()) {
        return rate_limited();
    }
    let pacer = st.pacer(c.0.ip());
    let mut stream = body.into_data_stream();
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => {
                pace(&pacer, c.len()).await;
                bytes += c.len() as u64
            }
            Err(_) => return error(StatusCode::BAD_REQUEST, "upload body aborted"),
        }
        if bytes > st.cfg.max_bytes_per_request {
            return error(StatusCode::PAYLOAD_TOO_LARGE, "upload exceeds the limit");
        }
    }
    no_cache(StatusCode::OK.into_response())
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

async fn get_ip(
    State(st): State<Arc<ServerState>>,
    ConnectInfo(c): ConnectInfo<ClientAddr>,
) -> Response {
    if !st.allow(c.0.ip()) {
        return rate_limited();
    }
    // The client asks for its own address; it is returned to that client only, never logged.
    no_cache(
        Json(serde_json::json!({
            "processedString": c.0.ip().to_string(),
            "rawIspInfo": "",
        }))
        .into_response(),
    )
}

/// `GET /info` answer.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub struct ServerInfo {
    /// Always `"probe"`.
    pub server: String,
    /// Server version.
    pub version: String,
    /// UDP echo port, if running.
    pub udp_echo_port: Option<u16>,
    /// Byte limit per request.
    pub max_bytes_per_request: u64,
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

/// Echo `PRBE` datagrams back to their sender, globally rate-limited.
pub async fn udp_echo(sock: UdpSocket, rate_per_s: f64) {
    let mut buf = vec![0u8; 2048];
    let mut bucket = Bucket {
        tokens: rate_per_s,
        last: Instant::now(),
    };
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(v) => v,
            Err(e) => {
                // ICMP errors from earlier sends surface here; keep serving.
                tracing::debug!("udp echo recv: {e}");
                continue;
            }
        };
        if n < UDP_MAGIC.len() || n > UDP_MAX_BYTES || &buf[..4] != UDP_MAGIC {
            continue;
        }
        if !bucket.take(rate_per_s, rate_per_s, Instant::now()) {
            continue;
        }
        let _ = sock.send_to(&buf[..n], from).await;
    }
}

/// A TLS listener: handshakes run in their own tasks so a slow client cannot block accepts.
pub struct TlsListener {
    rx: tokio::sync::mpsc::Receiver<(tokio_rustls::server::TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Wrap a bound TCP listener.
    pub fn new(tcp: TcpListener, cfg: rustls::ServerConfig) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (sock, peer) = match tcp.accept().await {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::warn!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = sock.set_nodelay(true);
                let acceptor = acceptor.clone();
                if tx.is_closed() {
                    break;
                }
                let tx = tx.clone();
                tokio::spawn(async move {
                    let hs = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(sock));
                    if let Ok(Ok(tls)) = hs.await {
                        let _ = tx.send((tls, peer)).await;
                    }
                });
            }
        });
        Ok(TlsListener { rx, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(v) => v,
            // The accept task only ends when the listener is dropped; park forever.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Could not bind.
    #[error("cannot listen on {addr}: {source} (is another process using it?)")]
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
        let echo = udp.map(|u| tokio::spawn(udp_echo(u, rate)));
        let router = app(state);
        let res = match tls {
            Some(cfg) => {
                let l = TlsListener::new(tcp, cfg)?;
                axum::serve(
                    l,
                    router.into_make_service_with_connect_info::<ClientAddr>(),
                )
                .with_graceful_shutdown(shutdown)
                .await
            }
            None => {
                let l = PlainListener(tcp);
                axum::serve(
                    l,
                    router.into_make_service_with_connect_info::<ClientAddr>(),
                )
                .with_graceful_shutdown(shutdown)
                .await
            }
        };
        if let Some(e) = echo {
            e.abort();
        }
        res.map_err(ServeError::Io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_limits_rate() {
        let t0 = Instant::now();
        let mut b = Bucket {
            tokens: 2.0,
            last: t0,
        };
        assert!(b.take(1.0, 2.0, t0));
        assert!(b.take(1.0, 2.0, t0));
        assert!(!b.take(1.0, 2.0, t0));
        assert!(b.take(1.0, 2.0, t0 + Duration::from_secs(1)));
    }
}
