//! The ndt7 client (`kind = "ndt7"` targets, `probe run --kind ndt7`): download and upload
//! subtests per M-Lab's spec (see [`crate::ndt7`]).
//!
//! 1. **Discovery.** A `ws://` or `wss://` target is one server (`/ndt/v7/download` and
//!    `/ndt/v7/upload` below it). An `http(s)://` target is a Locate API base URL:
//!    `GET {base}/v2/nearest/ndt/ndt7` (the URL as given when it already ends in `ndt7`), and the
//!    first result's `wss:///ndt/v7/…` URL is used exactly as returned, access token included
//!    (`ws` ones only when the Locate URL itself is plain `http`, i.e. a test stub).
//! 2. **Connection.** Own TCP connect (so the client reads its socket's `TCP_INFO`), TLS with
//!    the agent's trust store for `wss`, then the WebSocket handshake offering only
//!    `net.measurementlab.ndt.v7`; a server selecting no or another subprotocol is refused.
//! 3. **Transfer** for at most 10 s (or the test's shorter `duration`) and the byte cap, then a
//!    Close (1000) and at most 2 s for the server's. Messages above 16 MiB, a binary message
//!    in the wrong direction and measurement text that is not ndt7 JSON end the run as
//!    `protocol`; a Close with a code other than 1000 as well.
//!
//! Figures: the download rate is the client's bytes received after the ramp-up (`grace`), from
//! its socket's kernel counter sampled every 50 ms where the OS has one (else the messages'
//! bytes), as the HTTP probers measure; the upload rate is the server's (`TCPInfo.
//! BytesReceived` over its `ElapsedTime`, after the ramp-up), the receiver being the one that
//! knows. Both sides' figures are exported (`probe_ndt7_{client,server}_bytes_per_second`). The
//! latency is the server's `TCPInfo.MinRTT`; the median of the server's `TCPInfo.RTT` during
//! the download is the loaded latency. Memory is bounded: messages are discarded as they
//! arrive and at most [`MAX_SAMPLES`] samples of each series are kept.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rand::RngCore;
use reqwest::Url;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::{judge_transfer, median, ProbeContext, ProbeFuture, ProbeOutput, Prober, TestKind};
use crate::ndt7::{
    LocateResponse, Measurement, Subtest, LOCATE_PATH, MAX_MESSAGE_BYTES, MAX_RUNTIME,
    MIN_MEASUREMENT_INTERVAL, SUBPROTOCOL,
};
use crate::reason::{FailureReason, ProbeError};

/// Samples kept per series (a hostile server sending tiny messages cannot grow memory).
pub const MAX_SAMPLES: usize = 4096;
/// Spacing of the client's own byte samples.
const SAMPLE_STEP_S: f64 = 0.05;
/// How long the client waits for the server's Close after its own.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Largest Locate API answer read.
const MAX_LOCATE_BYTES: usize = 256 << 10;
/// Largest binary message the client sends during the upload.
const MAX_SEND_BYTES: usize = 1 << 20;
/// The client identifies itself to Locate and to the server (the spec asks for it).
const USER_AGENT: &str = concat!("probe/", env!("CARGO_PKG_VERSION"));

/// The ndt7 subtest probers.
#[derive(Debug)]
pub struct Ndt7Prober(Subtest);

/// The download subtest.
pub static DOWNLOAD: Ndt7Prober = Ndt7Prober(Subtest::Download);
/// The upload subtest.
pub static UPLOAD: Ndt7Prober = Ndt7Prober(Subtest::Upload);

impl Prober for Ndt7Prober {
    fn test(&self) -> TestKind {
        match self.0 {
            Subtest::Download => TestKind::Download,
            Subtest::Upload => TestKind::Upload,
        }
    }

    fn probe<'a>(&'a self, ctx: &'a ProbeContext) -> ProbeFuture<'a> {
        Box::pin(run(ctx, self.0))
    }
}

fn err(reason: FailureReason, msg: impl Into<String>) -> ProbeError {
    ProbeError::new(reason, msg)
}

/// The URL of `test`: below a `ws(s)://` target, or from the Locate API.
pub async fn discover(ctx: &ProbeContext, test: Subtest) -> Result<Url, ProbeError> {
    let base = &ctx.endpoints.base;
    if base.scheme() == "ws" || base.scheme() == "wss" {
        let mut u = base.clone();
        let path = format!("{}{}", base.path().trim_end_matches('/'), test.path());
        u.set_path(&path);
        return Ok(u);
    }
    let locate = if base.path().trim_end_matches('/').ends_with("ndt7") {
        base.clone()
    } else {
        let mut b = base.clone();
        if !b.path().ends_with('/') {
            let p = format!("{}/", b.path());
            b.set_path(&p);
        }
        b.join(LOCATE_PATH).unwrap_or_else(|_| base.clone())
    };
    let (client, _, _) = ctx.client().await?;
    let fut = client
        .get(locate.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .header(reqwest::header::USER_AGENT, USER_AGENT)
        .send();
    let mut resp = tokio::time::timeout(ctx.settings.connect_timeout * 2, fut)
        .await
        .map_err(|_| {
            err(
                FailureReason::Timeout,
                format!("Locate API {locate} did not answer"),
            )
        })?
        .map_err(|e| ProbeError::from_error(&format!("Locate API {locate}"), &e))?;
    if resp.status() != reqwest::StatusCode::OK {
        return Err(err(
            FailureReason::HttpStatus,
            format!(
                "Locate API {locate} answered {} (503: M-Lab is out of capacity, try later)",
                resp.status()
            ),
        ));
    }
    let body = crate::net::read_bounded(&mut resp, MAX_LOCATE_BYTES).await?;
    let answer: LocateResponse = serde_json::from_slice(&body).map_err(|e| {
        err(
            FailureReason::Protocol,
            format!("Locate API {locate} answered something that is not its JSON: {e}"),
        )
    })?;
    let Some(first) = answer.results.first() else {
        return Err(err(
            FailureReason::Protocol,
            format!("Locate API {locate} returned no servers (M-Lab is out of capacity; the next scheduled run tries again)"),
        ));
    };
    let url = first.url(test, locate.scheme() == "http").ok_or_else(|| {
        err(
            FailureReason::Protocol,
            format!(
                "Locate API {locate}: server {} has no {} URL for {}",
                first.machine,
                if locate.scheme() == "http" {
                    "ws(s)"
                } else {
                    "wss"
                },
                test.path()
            ),
        )
    })?;
    Url::parse(url).map_err(|e| {
        err(
            FailureReason::Protocol,
            format!("Locate API {locate} returned a bad URL {url:?}: {e}"),
        )
    })
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Ws = WebSocketStream<Box<dyn Io>>;

/// The URL without its query (access tokens stay out of logs and results).
fn display(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

fn ws_error(context: &str, e: WsError) -> ProbeError {
    match e {
        WsError::Io(io) => ProbeError::from_io(context, &io),
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => err(
            FailureReason::Protocol,
            format!(
                "{context}: the server sent a {size}-byte message, above the {max_size}-byte limit"
            ),
        ),
        WsError::Protocol(ProtocolError::SecWebSocketSubProtocolError(e)) => err(
            FailureReason::Protocol,
            format!("{context}: the server did not select the {SUBPROTOCOL} subprotocol ({e})"),
        ),
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => err(
            FailureReason::ConnectionReset,
            format!("{context}: the server closed the connection without a WebSocket Close"),
        ),
        WsError::Http(resp) => err(
            FailureReason::HttpStatus,
            format!(
                "{context}: the server refused the WebSocket upgrade with {}{}",
                resp.status(),
                resp.body()
                    .as_deref()
                    .map(|b| format!(
                        ": {}",
                        String::from_utf8_lossy(&b[..b.len().min(200)]).trim()
                    ))
                    .unwrap_or_default()
            ),
        ),
        WsError::Tls(e) => err(FailureReason::Tls, format!("{context}: {e}")),
        e => err(FailureReason::Protocol, format!("{context}: {e}")),
    }
}

/// TCP (+ TLS) + WebSocket handshake; returns the stream and a duplicate of its socket.
async fn connect(ctx: &ProbeContext, url: &Url) -> Result<(Ws, Option<OwnedFd>), ProbeError> {
    let shown = display(url);
    let host = url
        .host_str()
        .ok_or_else(|| err(FailureReason::Protocol, format!("{shown} has no host")))?
        .to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let timeout = ctx.settings.connect_timeout;
    let (addrs, _) = ctx.resolver.resolve(&host, port, timeout).await?;
    let tcp = super::conn::tcp_connect(ctx, addrs[0]).await?;
    let fd = tcp.as_fd().try_clone_to_owned().ok();
    let io: Box<dyn Io> = if url.scheme() == "wss" {
        let tls = super::conn::tls_handshake(ctx, &host, tcp).await?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    let mut req = url
        .as_str()
        .into_client_request()
        .map_err(|e| ws_error(&shown, e))?;
    let h = req.headers_mut();
    h.insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(SUBPROTOCOL),
    );
    h.insert("User-Agent", HeaderValue::from_static(USER_AGENT));
    let cfg = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let (ws, resp) = tokio::time::timeout(
        timeout,
        tokio_tungstenite::client_async_with_config(req, io, Some(cfg)),
    )
    .await
    .map_err(|_| {
        err(
            FailureReason::Timeout,
            format!("WebSocket upgrade at {shown} timed out"),
        )
    })?
    .map_err(|e| ws_error(&shown, e))?;
    // tungstenite refuses a missing subprotocol; an unexpected one is checked here too.
    let chosen = resp
        .headers()
        .get("Sec-WebSocket-Protocol")
        .and_then(|v| v.to_str().ok());
    if chosen != Some(SUBPROTOCOL) {
        return Err(err(
            FailureReason::Protocol,
            format!("{shown}: the server selected subprotocol {chosen:?}, not {SUBPROTOCOL}"),
        ));
    }
    Ok((ws, fd))
}

/// What the server's measurement messages said.
#[derive(Debug, Default)]
struct ServerView {
    /// (seconds since the subtest began, bytes) from `TCPInfo` (BytesAcked for the download,
    /// BytesReceived for the upload), `AppInfo.NumBytes` when TCPInfo lacks them.
    samples: Vec<(f64, u64)>,
    rtt_s: Vec<f64>,
    min_rtt_s: Option<f64>,
    uuid: Option<String>,
    messages: u64,
}

impl ServerView {
    fn take(&mut self, text: &str, test: Subtest) -> Result<(), ProbeError> {
        let m: Measurement = serde_json::from_str(text).map_err(|e| {
            let shown: String = text.chars().take(80).collect();
            err(
                FailureReason::Protocol,
                format!("the server's measurement is not ndt7 JSON ({e}): {shown:?}"),
            )
        })?;
        self.messages += 1;
        if let Some(c) = m.connection_info {
            self.uuid = Some(c.uuid.chars().take(64).collect());
        }
        let tcp = m.tcp_info.unwrap_or_default();
        if let Some(r) = tcp.min_rtt_us.filter(|r| *r > 0) {
            self.min_rtt_s = Some(r as f64 / 1e6);
        }
        let keep = self.samples.len() < MAX_SAMPLES;
        if let Some(r) = tcp.rtt_us.filter(|r| *r > 0) {
            if keep {
                self.rtt_s.push(r as f64 / 1e6);
            }
        }
        let kernel = match test {
            Subtest::Download => tcp.bytes_acked,
            Subtest::Upload => tcp.bytes_received,
        };
        let point = match (kernel, tcp.elapsed_time_us) {
            (Some(b), Some(t)) => Some((t, b)),
            _ => m.app_info.map(|a| (a.elapsed_time_us, a.num_bytes)),
        };
        if let Some((t, b)) = point {
            let (t, b) = (t.max(0) as f64 / 1e6, b.max(0) as u64);
            // Out-of-order or repeated points would fake a rate; only forward ones count.
            let forward = self.samples.last().map_or(true, |l| t > l.0 && b >= l.1);
            if keep && forward {
                self.samples.push((t, b));
            }
        }
        Ok(())
    }
}

/// `samples` without the flat run at the end (keeping its first point): measurements the
/// server sends after the sender stopped would otherwise dilute the rate.
fn trim_flat_tail(samples: &[(f64, u64)]) -> &[(f64, u64)] {
    let mut n = samples.len();
    while n >= 2 && samples[n - 1].1 == samples[n - 2].1 {
        n -= 1;
    }
    &samples[..n]
}

async fn run(ctx: &ProbeContext, test: Subtest) -> Result<ProbeOutput, ProbeError> {
    let url = discover(ctx, test).await?;
    let (ws, fd) = connect(ctx, &url).await?;
    let runtime = ctx.settings.duration.min(MAX_RUNTIME);
    let mut out = match test {
        Subtest::Download => download(ctx, ws, fd.as_ref(), runtime).await?,
        Subtest::Upload => upload(ctx, ws, fd.as_ref(), runtime).await?,
    };
    out.ndt7_server = url.host_str().map(str::to_string);
    Ok(out)
}

fn close_frame() -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }))
}

/// The server's Close: 1000 (or none) is the normal end, anything else a failure.
fn check_close(frame: Option<&CloseFrame>) -> Result<(), ProbeError> {
    match frame {
        None => Ok(()),
        Some(f) if f.code == CloseCode::Normal => Ok(()),
        Some(f) => Err(err(
            FailureReason::Protocol,
            format!(
                "the server closed with code {} ({})",
                u16::from(f.code),
                f.reason.chars().take(100).collect::<String>()
            ),
        )),
    }
}

/// The socket's kernel byte counter, sampled on a clock of its own (not when a message
/// happens to arrive: a 1 MiB message at 5 Mbit/s takes 1.7 s), relative to its value when the
/// subtest began (the WebSocket handshake's bytes are not part of the transfer).
struct KernelSeries {
    meters: std::sync::Mutex<Vec<Arc<crate::tcp_info::Meter>>>,
    base: u64,
    samples: Vec<(f64, u64)>,
    /// Every reading succeeded: the series can be trusted.
    ok: bool,
}

impl KernelSeries {
    fn new(fd: Option<&OwnedFd>, start: Instant) -> KernelSeries {
        let meter = fd.and_then(crate::tcp_info::Meter::new).map(Arc::new);
        let mut k = KernelSeries {
            ok: meter.is_some(),
            meters: std::sync::Mutex::new(meter.into_iter().collect()),
            base: 0,
            samples: Vec::new(),
        };
        if let Some((t, b)) = k.read(start) {
            k.base = b;
            k.samples.push((t, 0));
        }
        k
    }

    fn read(&mut self, start: Instant) -> Option<(f64, u64)> {
        if !self.ok {
            return None;
        }
        let r = super::kernel_sample(start, &self.meters, |c| c.bytes_received);
        self.ok &= r.is_some();
        r
    }

    fn sample(&mut self, start: Instant) {
        if self.samples.len() >= MAX_SAMPLES {
            return;
        }
        if let Some((t, b)) = self.read(start) {
            self.samples.push((t, b.saturating_sub(self.base)));
        }
    }

    /// The series, when every reading worked.
    fn usable(&self) -> Option<&[(f64, u64)]> {
        (self.ok && self.samples.len() >= 2).then_some(&self.samples[..])
    }
}

async fn download(
    ctx: &ProbeContext,
    mut ws: Ws,
    fd: Option<&OwnedFd>,
    runtime: Duration,
) -> Result<ProbeOutput, ProbeError> {
    let start = Instant::now();
    let start_unix = crate::duration::unix_now();
    let deadline = tokio::time::Instant::from_std(start + runtime);
    let cap = ctx.byte_cap;
    let mut bytes = 0u64;
    let mut samples = vec![(0.0, 0u64)];
    let mut kernel = KernelSeries::new(fd, start);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(SAMPLE_STEP_S));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut server = ServerView::default();
    let mut capped = false;
    let mut closed_by_server = false;
    loop {
        let m = tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            _ = tick.tick() => {
                kernel.sample(start);
                continue;
            }
            m = ws.next() => m,
        };
        match m {
            Some(Ok(Message::Binary(b))) => {
                let n = b.len() as u64;
                bytes += n;
                ctx.add_bytes(n);
                let t = start.elapsed().as_secs_f64();
                let due = samples.last().map_or(true, |l| t - l.0 >= SAMPLE_STEP_S);
                if due && samples.len() < MAX_SAMPLES {
                    samples.push((t, bytes));
                }
                if bytes >= cap {
                    samples.push((t, bytes));
                    capped = true;
                    break;
                }
            }
            Some(Ok(Message::Text(t))) => server.take(t.as_str(), Subtest::Download)?,
            Some(Ok(Message::Close(f))) => {
                check_close(f.as_ref())?;
                closed_by_server = true;
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) | None => {
                closed_by_server = true;
                break;
            }
            Some(Err(e)) => return Err(ws_error("ndt7 download", e)),
        }
    }
    let end_t = start.elapsed().as_secs_f64();
    if samples.last().is_some_and(|l| l.1 != bytes) {
        samples.push((end_t, bytes));
    }
    kernel.sample(start);
    finish(&mut ws, closed_by_server).await;
    let grace = ctx.settings.grace.as_secs_f64();
    // The socket's bytes received where the OS counts them (they date each byte by its
    // arrival, not by when a busy reader got to its message), else the messages' bytes.
    let (series, counter) = match kernel.usable() {
        Some(k) => (k, "kernel"),
        None => (&samples[..], "application"),
    };
    let client = judge_transfer(
        "download",
        series,
        grace,
        &ctx.settings,
        capped.then_some(cap),
    )?;
    let window = super::window_unix(series, grace, start_unix);
    let server_rate = judge_transfer(
        "download",
        trim_flat_tail(&server.samples),
        grace,
        &ctx.settings,
        None,
    )
    .ok();
    let mut rtts = server.rtt_s.clone();
    Ok(ProbeOutput {
        download_bytes_per_second: Some(client),
        ndt7_download_client_bytes_per_second: Some(client),
        ndt7_download_server_bytes_per_second: server_rate,
        latency_min_seconds: server.min_rtt_s,
        loaded_latency_seconds: median(&mut rtts),
        responsiveness_rpm: median(&mut rtts).filter(|r| *r > 0.0).map(|r| 60.0 / r),
        byte_counter: Some(counter),
        window_start_unix_seconds: window.0,
        window_end_unix_seconds: window.1,
        ndt7_uuid: server.uuid,
        ..ProbeOutput::default()
    })
}

/// The uploading client's measurement message: application bytes sent and, where the OS has
/// it, the socket's `TCP_INFO`, with `Origin` client and `Test` upload.
fn client_measurement(
    start: Instant,
    sent: u64,
    kernel: Option<&crate::tcp_info::TcpInfo>,
) -> Message {
    let elapsed_us = start.elapsed().as_micros().min(i64::MAX as u128) as i64;
    let m = Measurement {
        app_info: Some(crate::ndt7::AppInfo {
            elapsed_time_us: elapsed_us,
            num_bytes: sent.min(i64::MAX as u64) as i64,
        }),
        origin: Some(crate::ndt7::Origin::Client),
        test: Some(Subtest::Upload),
        tcp_info: kernel.map(|k| crate::ndt7::TcpInfo::from_kernel(k, elapsed_us)),
        ..Measurement::default()
    };
    Message::Text(serde_json::to_string(&m).unwrap_or_default().into())
}

/// Our Close (unless the server already closed), then wait a little for the server's and for
/// it to drop the TCP connection; anything still arriving is discarded.
async fn finish(ws: &mut Ws, closed_by_server: bool) {
    if closed_by_server {
        let _ = tokio::time::timeout(CLOSE_WAIT, ws.close(None)).await;
        return;
    }
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        let _ = ws.send(close_frame()).await;
        while let Some(Ok(m)) = ws.next().await {
            if m.is_close() {
                break;
            }
        }
    })
    .await;
}

async fn upload(
    ctx: &ProbeContext,
    ws: Ws,
    fd: Option<&OwnedFd>,
    runtime: Duration,
) -> Result<ProbeOutput, ProbeError> {
    let mut buf = vec![0u8; MAX_SEND_BYTES];
    rand::rng().fill_bytes(&mut buf);
    let payload = Bytes::from(buf);
    let (mut tx, mut rx) = ws.split();
    let start = Instant::now();
    let start_unix = crate::duration::unix_now();
    let deadline = tokio::time::Instant::from_std(start + runtime);
    let cap = ctx.byte_cap;
    let acked0 = fd
        .and_then(|f| crate::tcp_info::read(f).ok())
        .and_then(|k| k.bytes_acked);
    let server = Arc::new(std::sync::Mutex::new(ServerView::default()));
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);

    let writer = async {
        let mut sent = 0u64;
        let mut size = crate::ndt7::INITIAL_MESSAGE_BYTES;
        let mut samples = vec![(0.0, 0u64)];
        let mut capped = false;
        let mut fault: Option<ProbeError> = None;
        let mut next_measurement = start;
        loop {
            if *stop_rx.borrow() {
                break;
            }
            let n = size.min((cap - sent.min(cap)) as usize);
            if n == 0 {
                capped = true;
                break;
            }
            let off = rand::random::<u32>() as usize % (MAX_SEND_BYTES - n + 1);
            let msg = Message::Binary(payload.slice(off..off + n));
            let r = tokio::select! {
                _ = tokio::time::sleep_until(deadline) => break,
                _ = stop_rx.changed() => break,
                r = tx.send(msg) => r,
            };
            if let Err(e) = r {
                fault = Some(ws_error("ndt7 upload", e));
                break;
            }
            sent += n as u64;
            ctx.add_bytes(n as u64);
            size = crate::ndt7::next_message_bytes(size, sent, MAX_SEND_BYTES);
            let t = start.elapsed().as_secs_f64();
            let kernel = fd.and_then(|f| crate::tcp_info::read(f).ok());
            // The spec expects the uploading client to send its measurements, at most every
            // 250 ms; the server may use them, our own server ignores them.
            if Instant::now() >= next_measurement {
                next_measurement = Instant::now() + MIN_MEASUREMENT_INTERVAL;
                let m = client_measurement(start, sent, kernel.as_ref());
                let r = tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => break,
                    _ = stop_rx.changed() => break,
                    r = tx.send(m) => r,
                };
                if let Err(e) = r {
                    fault = Some(ws_error("ndt7 upload", e));
                    break;
                }
            }
            // The kernel's bytes acknowledged, not what was handed to the socket buffer.
            let acked = match (kernel, acked0) {
                (Some(k), Some(a0)) => k.bytes_acked.map(|a| a.saturating_sub(a0)),
                _ => None,
            };
            let due = samples.last().map_or(true, |l| t - l.0 >= SAMPLE_STEP_S);
            if due && samples.len() < MAX_SAMPLES {
                samples.push((t, acked.unwrap_or(sent)));
            }
        }
        let _ = tokio::time::timeout(CLOSE_WAIT, tx.send(close_frame())).await;
        (samples, capped, fault, tx)
    };
    let reader = async {
        // Reads until the server's Close, or CLOSE_WAIT past the deadline.
        let limit = deadline + CLOSE_WAIT;
        loop {
            let m = tokio::select! {
                _ = tokio::time::sleep_until(limit) => return Ok(()),
                m = rx.next() => m,
            };
            match m {
                Some(Ok(Message::Text(t))) => {
                    let r = server
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .take(t.as_str(), Subtest::Upload);
                    if let Err(e) = r {
                        let _ = stop_tx.send(true);
                        return Err(e);
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let _ = stop_tx.send(true);
                    return Err(err(
                        FailureReason::Protocol,
                        "the server sent a binary message during the upload",
                    ));
                }
                Some(Ok(Message::Close(f))) => {
                    let _ = stop_tx.send(true);
                    return check_close(f.as_ref());
                }
                Some(Ok(_)) => {}
                Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) | None => {
                    let _ = stop_tx.send(true);
                    return Ok(());
                }
                Some(Err(e)) => {
                    let _ = stop_tx.send(true);
                    return Err(ws_error("ndt7 upload", e));
                }
            }
        }
    };
    let ((samples, capped, fault, _tx), read) = tokio::join!(writer, reader);
    read?;
    let grace = ctx.settings.grace.as_secs_f64();
    let server = std::mem::take(&mut *server.lock().unwrap_or_else(|p| p.into_inner()));
    let server_rate = judge_transfer(
        "upload",
        trim_flat_tail(&server.samples),
        grace,
        &ctx.settings,
        None,
    );
    let client_rate = judge_transfer(
        "upload",
        &samples,
        grace,
        &ctx.settings,
        capped.then_some(cap),
    );
    if let Some(f) = fault {
        if server_rate.is_err() {
            return Err(f);
        }
    }
    // The receiver's figure when the server measured; else the client's own.
    let (rate, at_receiver) = match (&server_rate, &client_rate) {
        (Ok(s), _) => (*s, true),
        (Err(_), Ok(c)) if server.messages == 0 => (*c, false),
        (Err(e), _) => return Err(e.clone()),
    };
    // The window in this machine's clock. The server's times count from its end of the
    // upgrade, about half a round trip before the client's `start`.
    let window = if at_receiver {
        let half_rtt = server.min_rtt_s.unwrap_or(0.0) / 2.0;
        super::window_unix(
            trim_flat_tail(&server.samples),
            grace,
            start_unix - half_rtt,
        )
    } else {
        super::window_unix(&samples, grace, start_unix)
    };
    Ok(ProbeOutput {
        upload_bytes_per_second: Some(rate),
        upload_measured_at_receiver: Some(at_receiver),
        ndt7_upload_client_bytes_per_second: client_rate.ok(),
        ndt7_upload_server_bytes_per_second: server_rate.ok(),
        latency_min_seconds: server.min_rtt_s,
        byte_counter: Some("kernel"),
        window_start_unix_seconds: window.0,
        window_end_unix_seconds: window.1,
        ndt7_uuid: server.uuid,
        ..ProbeOutput::default()
    })
}
