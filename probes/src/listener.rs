//! HTTP/1.1 serving over plain TCP or TLS with the limits a public endpoint needs, shared by
//! `probe serve` and the agent's exporter:
//!
//! - **header-read timeout**: a request's headers (and, on TLS, the handshake) must arrive
//!   within [`Limits::header_read_timeout`], so a client trickling a header byte every few
//!   seconds (slowloris) is dropped;
//! - **idle timeout**: a connection on which nothing was read or written for
//!   [`Limits::idle_timeout`] is closed, whether it never sent a request or sits idle between
//!   keep-alive requests;
//! - **per-address connection cap**: at most [`Limits::max_connections_per_address`] open
//!   connections from one IP address; further ones are closed at accept;
//! - graceful shutdown: in-flight requests get [`SHUTDOWN_GRACE`] to finish.
//!
//! Request body caps live with the handlers that read bodies (they know their limit); see
//! [`body_too_large`]. A handler that refuses a body hands the unread rest to
//! [`linger_on_rejected_body`], so the client sees the refusal instead of a reset.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// How long in-flight requests may run after shutdown was asked for.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Connection limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Time allowed for a request's headers (and the TLS handshake).
    pub header_read_timeout: Duration,
    /// A connection with no bytes read or written for this long is closed.
    pub idle_timeout: Duration,
    /// Open connections allowed from one IP address.
    pub max_connections_per_address: usize,
}

/// The client's address, available to handlers as `ConnectInfo<ClientAddr>`.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// A duplicate of the connection's TCP socket descriptor, in every request's extensions, for
/// handlers that read the kernel's view of the connection (`TCP_INFO`, as the ndt7 server's
/// measurements do). The duplicate keeps the number from being reused while a handler holds it.
#[derive(Debug, Clone)]
pub struct ConnSocket(pub Arc<std::os::fd::OwnedFd>);

/// Whether a request declares a body larger than `limit` bytes (checked before reading it,
/// so a 10 GB upload is refused after its headers, not after the limit was read).
pub fn body_too_large(headers: &axum::http::HeaderMap, limit: u64) -> bool {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > limit)
}

/// At most this many bytes of a refused body are read and discarded after the refusal.
pub const LINGER_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// For at most this long.
pub const LINGER_MAX_TIME: Duration = Duration::from_secs(5);

/// Read and discard the rest of a refused request body in the background, bounded by
/// [`LINGER_MAX_BYTES`] and [`LINGER_MAX_TIME`] (as nginx's lingering close does). Closing a
/// socket with unread request bytes makes the kernel send a reset, and an HTTP client still
/// sending its body then gets a broken pipe and never reads the 413 already on the wire; read
/// to the end, the connection closes cleanly after the answer. Bodies that declare more than
/// the bound, or whose client waits for `100 Continue`, are not read at all: the first would
/// cost the server the bandwidth the cap is there to save, the second sends nothing more.
pub fn linger_on_rejected_body<S, E>(headers: &axum::http::HeaderMap, body: S)
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Send + 'static,
{
    let waits_for_continue = headers
        .get(axum::http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if waits_for_continue || body_too_large(headers, LINGER_MAX_BYTES) {
        return;
    }
    tokio::spawn(async move {
        use futures_util::StreamExt;
        let drain = async {
            let mut body = std::pin::pin!(body);
            let mut read = 0u64;
            while let Some(Ok(chunk)) = body.next().await {
                read += chunk.len() as u64;
                if read > LINGER_MAX_BYTES {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(LINGER_MAX_TIME, drain).await;
    });
}

/// Open connections per address.
#[derive(Debug, Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

struct Slot {
    map: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            map: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut m = self.map.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// Milliseconds since `epoch` of the last byte read or written.
struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        self.last_ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let now = self.epoch.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// An IO that records activity and holds its connection's per-address slot: whoever owns
/// the IO holds the slot, so a connection taken over by an upgrade (the ndt7 WebSocket
/// subtests) still counts against the cap until the upgraded stream is dropped.
struct Tracked<IO> {
    inner: IO,
    activity: Arc<Activity>,
    _slot: Slot,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tracked<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tracked<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A bound listener ready to serve a router.
pub struct HttpListener {
    tcp: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: Limits,
}

impl std::fmt::Debug for HttpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpListener")
            .field("addr", &self.tcp.local_addr().ok())
            .field("tls", &self.tls.is_some())
            .field("limits", &self.limits)
            .finish()
    }
}

impl HttpListener {
    /// Serve on `tcp`, with TLS if `tls` is given.
    pub fn new(tcp: TcpListener, tls: Option<rustls::ServerConfig>, limits: Limits) -> Self {
        HttpListener {
            tcp,
            tls: tls.map(|c| tokio_rustls::TlsAcceptor::from(Arc::new(c))),
            limits,
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// Serve `router` until `shutdown` resolves, then give in-flight requests
    /// [`SHUTDOWN_GRACE`].
    pub async fn serve(
        self,
        router: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let per_address = Arc::new(PerAddress::default());
        let mut conns = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let (sock, peer) = tokio::select! {
                _ = &mut shutdown => break,
                r = self.tcp.accept() => match r {
                    Ok(v) => v,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            while conns.try_join_next().is_some() {}
            let Some(slot) = per_address.take(peer.ip(), self.limits.max_connections_per_address)
            else {
                tracing::debug!(%peer, "connection refused: per-address cap reached");
                continue;
            };
            let _ = sock.set_nodelay(true);
            conns.spawn(connection(
                sock,
                peer,
                slot,
                self.tls.clone(),
                self.limits,
                router.clone(),
                stop_rx.clone(),
            ));
        }
        let _ = stop_tx.send(true);
        let drain = async { while conns.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
            conns.abort_all();
        }
        Ok(())
    }
}

async fn connection(
    sock: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: Limits,
    router: Router,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let fd = {
        use std::os::fd::AsFd;
        sock.as_fd()
            .try_clone_to_owned()
            .ok()
            .map(|f| ConnSocket(Arc::new(f)))
    };
    let activity = Arc::new(Activity {
        epoch: Instant::now(),
        last_ms: AtomicU64::new(0),
    });
    match tls {
        Some(acceptor) => {
            let hs = tokio::time::timeout(limits.header_read_timeout, acceptor.accept(sock)).await;
            match hs {
                Ok(Ok(s)) => drive(s, slot, peer, fd, activity, limits, router, stop).await,
                Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
        None => drive(sock, slot, peer, fd, activity, limits, router, stop).await,
    }
}

#[allow(clippy::too_many_arguments)]
async fn drive<IO>(
    io: IO,
    slot: Slot,
    peer: SocketAddr,
    fd: Option<ConnSocket>,
    activity: Arc<Activity>,
    limits: Limits,
    router: Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = Tracked {
        inner: io,
        activity: activity.clone(),
        _slot: slot,
    };
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(ClientAddr(peer)));
        if let Some(fd) = &fd {
            req.extensions_mut().insert(fd.clone());
        }
        let mut router = router.clone();
        async move {
            use tower_service::Service;
            router.call(req).await
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    // Upgrades: the ndt7 WebSocket subtests take the connection over after `101`.
    let conn = builder
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades();
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        let idle_left = limits.idle_timeout.saturating_sub(activity.idle_for());
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, "connection: {e}");
                }
                return;
            }
            _ = tokio::time::sleep(idle_left) => {
                if activity.idle_for() >= limits.idle_timeout {
                    tracing::debug!(%peer, "closing idle connection");
                    return;
                }
            }
            _ = stop.wait_for(|s| *s), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_address_slots_are_returned() {
        let m = Arc::new(PerAddress::default());
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let a = m.take(ip, 2).unwrap();
        let _b = m.take(ip, 2).unwrap();
        assert!(m.take(ip, 2).is_none());
        assert!(m.take("127.0.0.2".parse().unwrap(), 2).is_some());
        drop(a);
        assert!(m.take(ip, 2).is_some());
    }

    #[test]
    fn declared_body_sizes() {
        let mut h = axum::http::HeaderMap::new();
        assert!(!body_too_large(&h, 10));
        h.insert("content-length", "11".parse().unwrap());
        assert!(body_too_large(&h, 10));
        assert!(!body_too_large(&h, 11));
    }
}
