//! One metered HTTP/1.1 connection for the transfer tests: TCP (and TLS) set up by hand so the
//! socket stays reachable for [`crate::tcp_info`], then hyper's client connection on top. Each
//! stream of a download or upload runs its requests on one such connection.

use std::sync::Arc;

use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

use super::ProbeContext;
use crate::reason::{FailureReason, ProbeError};
use crate::tcp_info::Meter;

/// A connection's request sender, its kernel byte meter (if the OS has one) and the value of
/// the `Host` header.
pub struct Metered<B> {
    /// Send requests here, one at a time.
    pub sender: SendRequest<B>,
    /// Kernel counters of the socket.
    pub meter: Option<Arc<Meter>>,
    /// `Host` header value.
    pub host_header: String,
}

/// Connect to the target (the address `ctx.client()` would use), handshake TLS for https, and
/// start an HTTP/1.1 client connection.
pub async fn connect<B>(ctx: &ProbeContext) -> Result<Metered<B>, ProbeError>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let s = &ctx.settings;
    let host = ctx.endpoints.host();
    let (addrs, _) = ctx
        .resolver
        .resolve(&host, ctx.endpoints.port(), s.connect_timeout)
        .await?;
    let tcp = tcp_connect(ctx, addrs[0]).await?;
    let meter = Meter::new(&tcp).map(Arc::new);
    let host_header = match ctx.endpoints.base.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let sender = if ctx.endpoints.base.scheme() == "https" {
        let tls = tls_handshake(ctx, &host, tcp).await?;
        handshake(tls).await?
    } else {
        handshake(tcp).await?
    };
    Ok(Metered {
        sender,
        meter,
        host_header,
    })
}

/// TCP connection to `addr` within the connect timeout, Nagle off (small requests and
/// measurement round trips must not wait for more data).
pub async fn tcp_connect(
    ctx: &ProbeContext,
    addr: std::net::SocketAddr,
) -> Result<TcpStream, ProbeError> {
    let tcp =
        match tokio::time::timeout(ctx.settings.connect_timeout, TcpStream::connect(addr)).await {
            Err(_) => {
                return Err(ProbeError::new(
                    FailureReason::Timeout,
                    format!("TCP connect to {addr} timed out"),
                ))
            }
            Ok(Err(e)) => return Err(ProbeError::from_io(&format!("TCP connect to {addr}"), &e)),
            Ok(Ok(t)) => t,
        };
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// TLS client handshake with the target's roots (the one place the probers do it); every failure is a `tls` failure unless the
/// connection itself broke (refused, reset, timed out).
pub async fn tls_handshake(
    ctx: &ProbeContext,
    host: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ProbeError> {
    let name = ServerName::try_from(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
    .map_err(|e| {
        ProbeError::new(
            FailureReason::Tls,
            format!("bad TLS server name {host}: {e}"),
        )
    })?;
    let connector = tokio_rustls::TlsConnector::from(ctx.tls.clone());
    let handshake = connector.connect(name, tcp);
    let tls = tokio::time::timeout(ctx.settings.connect_timeout, handshake)
        .await
        .map_err(|_| {
            ProbeError::new(
                FailureReason::Timeout,
                format!("TLS handshake with {host} timed out"),
            )
        })?;
    tls.map_err(|e| {
        let mut pe = ProbeError::from_io(&format!("TLS handshake with {host}"), &e);
        if matches!(pe.reason, FailureReason::Io | FailureReason::Protocol) {
            pe.reason = FailureReason::Tls;
        }
        pe
    })
}

async fn handshake<IO, B>(io: IO) -> Result<SendRequest<B>, ProbeError>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| ProbeError::from_error("HTTP handshake", &e))?;
    // The connection task ends when the sender is dropped (the stream ended).
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// `path?query` of a URL, as the request target.
pub fn request_target(url: &reqwest::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

/// Sum of one kernel counter over every meter, if all streams have meters.
pub fn kernel_total(
    meters: &std::sync::Mutex<Vec<Arc<Meter>>>,
    pick: impl Fn(crate::tcp_info::Counters) -> u64,
) -> Option<u64> {
    let m = meters.lock().unwrap_or_else(|p| p.into_inner());
    let mut total = 0u64;
    for meter in m.iter() {
        total += pick(meter.read()?);
    }
    Some(total)
}
