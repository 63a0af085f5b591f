//! The ndt7 server: `GET /ndt/v7/download` and `GET /ndt/v7/upload` upgraded to WebSocket
//! with subprotocol `net.measurementlab.ndt.v7` (see [`crate::ndt7`] for the protocol).
//!
//! - The upgrade is refused with `400` (and a one-line reason) when it is not a WebSocket
//!   version 13 upgrade, does not offer the ndt7 subprotocol, or its query string is longer
//!   than 4096 bytes; with `403` when `--ndt7-allowed-origin` is set and the browser's `Origin`
//!   is not one of them (no `Origin` header: not a browser, allowed). Rate limit (`429`),
//!   concurrent-test cap (`503`) and per-client pacing are the server's own, as for every
//!   transfer path.
//! - Download: binary messages of random bytes, 8 KiB at first and doubled while a message is
//!   at most 1/16 of what was sent (up to 1 MiB), for 10 s or until `--max-bytes-per-request`.
//! - Upload: binary messages are counted and discarded; more than `--max-bytes-per-request`
//!   closes with 1009 (message too big is per message; the total is a policy: 1008).
//! - Both: a text measurement every 250 ms (the first at once, with `ConnectionInfo`):
//!   `AppInfo` (application bytes), `TCPInfo` from the connection's `TCP_INFO`, `BBRInfo` when
//!   the kernel gave the socket BBR (asked for at upgrade), `Origin = "server"`, `Test`.
//! - A binary message during a download, or a text message larger than the spec's limit,
//!   closes with 1003 / 1009. The server closes with 1000 after 10 s (download) or when the
//!   client stops (upload, at most 15 s), and drops the connection if the client does not
//!   answer the Close within 2 s.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use tokio::sync::OwnedSemaphorePermit;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{busy, error, pace, rate_limited, ServerState, SharedPacer, PAYLOAD_BYTES};
use crate::listener::{ClientAddr, ConnSocket};
use crate::ndt7::{
    self, AppInfo, ConnectionInfo, Measurement, Origin, Subtest, MAX_MESSAGE_BYTES, MAX_RUNTIME,
    MIN_MEASUREMENT_INTERVAL, RECEIVER_TIMEOUT, SUBPROTOCOL,
};

/// How long the server waits for the client's answer to its Close.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Largest binary message the server sends (its payload buffer).
const MAX_SEND_BYTES: usize = PAYLOAD_BYTES;

/// The ndt7 routes (mounted at `/`).
pub fn routes() -> Router<Arc<ServerState>> {
    Router::new()
        .route(ndt7::DOWNLOAD_PATH, get(download))
        .route(ndt7::UPLOAD_PATH, get(upload))
}

async fn download(
    st: State<Arc<ServerState>>,
    c: ConnectInfo<ClientAddr>,
    req: Request,
) -> Response {
    upgrade(st, c, req, Subtest::Download)
}

async fn upload(st: State<Arc<ServerState>>, c: ConnectInfo<ClientAddr>, req: Request) -> Response {
    upgrade(st, c, req, Subtest::Upload)
}

/// Whether a comma-separated header list holds `token` (case-insensitively when `fold`).
fn has_token(req: &Request, name: header::HeaderName, token: &str, fold: bool) -> bool {
    req.headers().get_all(name).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',').any(|t| {
                let t = t.trim();
                if fold {
                    t.eq_ignore_ascii_case(token)
                } else {
                    t == token
                }
            })
        })
    })
}

/// Why an upgrade request is not an ndt7 upgrade, if it is not.
fn check_upgrade(req: &Request, allowed_origins: &[String]) -> Result<String, Box<Response>> {
    let bad = |msg: &str| Err(Box::new(error(StatusCode::BAD_REQUEST, msg)));
    if !has_token(req, header::UPGRADE, "websocket", true)
        || !has_token(req, header::CONNECTION, "upgrade", true)
    {
        return bad("ndt7 needs a WebSocket upgrade (Connection: Upgrade, Upgrade: websocket)");
    }
    if req
        .headers()
        .get(header::SEC_WEBSOCKET_VERSION)
        .map_or(true, |v| v != "13")
    {
        let mut r = error(
            StatusCode::BAD_REQUEST,
            "unsupported WebSocket version: use Sec-WebSocket-Version: 13",
        );
        r.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return Err(Box::new(r));
    }
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY) else {
        return bad("missing Sec-WebSocket-Key");
    };
    if !has_token(req, header::SEC_WEBSOCKET_PROTOCOL, SUBPROTOCOL, false) {
        return bad("the WebSocket subprotocol must be net.measurementlab.ndt.v7");
    }
    if req
        .uri()
        .query()
        .is_some_and(|q| q.len() > ndt7::MAX_QUERY_BYTES)
    {
        return bad("the query string is longer than 4096 bytes");
    }
    if !allowed_origins.is_empty() {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let ok = origin
                .to_str()
                .is_ok_and(|o| allowed_origins.iter().any(|a| a == o || a == "*"));
            if !ok {
                return Err(Box::new(error(
                    StatusCode::FORBIDDEN,
                    "this Origin may not run ndt7 tests on this server",
                )));
            }
        }
    }
    Ok(derive_accept_key(key.as_bytes()))
}

fn upgrade(
    State(st): State<Arc<ServerState>>,
    ConnectInfo(c): ConnectInfo<ClientAddr>,
    mut req: Request,
    test: Subtest,
) -> Response {
    if !st.allow(c.0.ip()) {
        return rate_limited();
    }
    let accept = match check_upgrade(&req, &st.cfg.ndt7_allowed_origins) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let Ok(permit) = st.tests.clone().try_acquire_owned() else {
        return busy();
    };
    let sock = req.extensions().get::<ConnSocket>().cloned();
    if let Some(s) = &sock {
        // M-Lab's servers measure with BBR where the kernel has it; without, CUBIC stays.
        let _ = crate::tcp_info::enable_bbr(&*s.0);
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    let server_addr = sock
        .as_ref()
        .and_then(|s| local_addr(&s.0))
        .map_or_else(String::new, |a| a.to_string());
    let conn = ConnectionInfo {
        client: c.0.to_string(),
        server: server_addr,
        uuid: uuid(),
    };
    let pacer = st.pacer(c.0.ip());
    let state = st.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let cfg = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_MESSAGE_BYTES));
        let ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(cfg)).await;
        let run = Run {
            state,
            sock,
            conn,
            pacer,
            _permit: permit,
        };
        match test {
            Subtest::Download => run.download(ws).await,
            Subtest::Upload => run.upload(ws).await,
        }
    });
    let mut r = Response::new(axum::body::Body::empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(SUBPROTOCOL),
    );
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    r
}

fn local_addr(fd: &std::os::fd::OwnedFd) -> Option<SocketAddr> {
    let dup = fd.try_clone().ok()?;
    let s = std::net::TcpStream::from(dup);
    s.local_addr().ok()
}

/// A random measurement identifier (UUID version 4 form).
fn uuid() -> String {
    let b: [u8; 16] = rand::random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-4{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[16..20],
        &h[20..32]
    )
}

type Ws = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

struct Run {
    state: Arc<ServerState>,
    sock: Option<ConnSocket>,
    conn: ConnectionInfo,
    pacer: Option<SharedPacer>,
    _permit: OwnedSemaphorePermit,
}

fn close(code: CloseCode, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

impl Run {
    fn measurement(&self, test: Subtest, start: Instant, app_bytes: u64, first: bool) -> Message {
        let elapsed_us = start.elapsed().as_micros().min(i64::MAX as u128) as i64;
        let (tcp, bbr) = match &self.sock {
            Some(s) => (
                crate::tcp_info::read(&*s.0)
                    .ok()
                    .map(|k| ndt7::TcpInfo::from_kernel(&k, elapsed_us)),
                crate::tcp_info::read_bbr(&*s.0)
                    .ok()
                    .flatten()
                    .map(|b| ndt7::BbrInfo {
                        bw_bytes_per_second: b.bw_bytes_per_second.min(i64::MAX as u64) as i64,
                        min_rtt_us: b.min_rtt_us as i64,
                        pacing_gain: b.pacing_gain as i64,
                        cwnd_gain: b.cwnd_gain as i64,
                        elapsed_time_us: elapsed_us,
                    }),
            ),
            None => (None, None),
        };
        let m = Measurement {
            app_info: Some(AppInfo {
                elapsed_time_us: elapsed_us,
                num_bytes: app_bytes.min(i64::MAX as u64) as i64,
            }),
            connection_info: first.then(|| self.conn.clone()),
            bbr_info: bbr,
            origin: Some(Origin::Server),
            test: Some(test),
            tcp_info: tcp,
        };
        Message::text(serde_json::to_string(&m).unwrap_or_default())
    }

    async fn download(self, ws: Ws) {
        let (mut tx, mut rx) = ws.split();
        // The client may send text (its own measurements) and control frames; a binary
        // message is a protocol violation. Reading also answers pings and sees its Close.
        let violation = Arc::new(AtomicU64::new(0));
        let seen = violation.clone();
        let reader = tokio::spawn(async move {
            while let Some(m) = rx.next().await {
                match m {
                    Ok(Message::Binary(_)) => {
                        seen.store(1, Ordering::Relaxed);
                        return;
                    }
                    Ok(Message::Close(_)) => {
                        seen.store(2, Ordering::Relaxed);
                        return;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        seen.store(3, Ordering::Relaxed);
                        return;
                    }
                }
            }
            seen.store(2, Ordering::Relaxed);
        });
        let start = Instant::now();
        let cap = self.state.cfg.max_bytes_per_request;
        let payload = self.state.payload.clone();
        let mut size = ndt7::INITIAL_MESSAGE_BYTES;
        let mut sent = 0u64;
        let mut next_measurement = start;
        let mut first = true;
        let mut end = close(CloseCode::Normal, "");
        let deadline = tokio::time::Instant::from_std(start + MAX_RUNTIME);
        loop {
            match violation.load(Ordering::Relaxed) {
                0 => {}
                1 => {
                    end = close(CloseCode::Unsupported, "binary message during the download");
                    break;
                }
                _ => {
                    // The client closed or the connection failed: nothing more to send.
                    reader.abort();
                    return;
                }
            }
            let now = Instant::now();
            if now >= start + MAX_RUNTIME || sent >= cap {
                break;
            }
            if now >= next_measurement {
                let m = self.measurement(Subtest::Download, start, sent, first);
                first = false;
                next_measurement = now + MIN_MEASUREMENT_INTERVAL;
                if tokio::time::timeout_at(deadline, tx.send(m)).await.is_err() {
                    break;
                }
            }
            let n = size.min(MAX_SEND_BYTES).min((cap - sent) as usize);
            pace(&self.pacer, n).await;
            let off = rand::random::<u32>() as usize % (PAYLOAD_BYTES - n + 1);
            let msg = Message::Binary(payload.slice(off..off + n));
            match tokio::time::timeout_at(deadline, tx.send(msg)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    reader.abort();
                    return;
                }
                Err(_) => break,
            }
            sent += n as u64;
            size = ndt7::next_message_bytes(size, sent, MAX_SEND_BYTES);
        }
        let _ = tokio::time::timeout(CLOSE_WAIT, tx.send(end)).await;
        // The client answers the Close and waits for the server to drop the TCP connection
        // (the spec's order, so TIME_WAIT stays with the client); a client that never answers
        // is dropped after CLOSE_WAIT.
        let _ = tokio::time::timeout(CLOSE_WAIT, reader).await;
    }

    async fn upload(self, ws: Ws) {
        let (mut tx, mut rx) = ws.split();
        let start = Instant::now();
        let deadline = tokio::time::Instant::from_std(start + RECEIVER_TIMEOUT);
        let cap = self.state.cfg.max_bytes_per_request;
        let mut received = 0u64;
        let mut first = true;
        let mut ticker = tokio::time::interval(MIN_MEASUREMENT_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let end = loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    break close(CloseCode::Normal, "");
                }
                _ = ticker.tick() => {
                    let m = self.measurement(Subtest::Upload, start, received, first);
                    first = false;
                    if tx.send(m).await.is_err() {
                        return;
                    }
                }
                m = rx.next() => match m {
                    Some(Ok(Message::Binary(b))) => {
                        // Pacing the reads makes TCP flow control slow the client down.
                        pace(&self.pacer, b.len()).await;
                        received += b.len() as u64;
                        if received > cap {
                            break close(CloseCode::Policy, "upload exceeds this server's byte limit");
                        }
                    }
                    Some(Ok(Message::Close(_))) | None => {
                        break close(CloseCode::Normal, "");
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) => return,
                },
            }
        };
        let _ = tokio::time::timeout(CLOSE_WAIT, tx.send(end)).await;
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            while let Some(Ok(m)) = rx.next().await {
                if m.is_close() {
                    break;
                }
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_have_the_v4_shape() {
        let u = uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(uuid(), u);
    }
}
