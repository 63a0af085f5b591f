//! HTTP phase timing (dns, connect, tls, ttfb, transfer) on one fresh connection, driven
//! step by step so each phase is measured on its own.

use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{HOST, RANGE, USER_AGENT};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Phase, ProbeContext, ProbeFuture, ProbeOutput, Prober, TestKind};
use crate::endpoint::ServerKind;
use crate::reason::{FailureReason, ProbeError};

/// The HTTP phase prober.
#[derive(Debug)]
pub struct HttpProber;

impl Prober for HttpProber {
    fn test(&self) -> TestKind {
        TestKind::Http
    }

    fn probe<'a>(&'a self, ctx: &'a ProbeContext) -> ProbeFuture<'a> {
        Box::pin(run(ctx))
    }
}

/// Send one GET over `io`; returns (ttfb_s, transfer_s).
async fn exchange<IO>(
    io: IO,
    ctx: &ProbeContext,
    host_header: &str,
    target: &reqwest::Url,
) -> Result<(f64, f64), ProbeError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| ProbeError::from_error("HTTP handshake", &e))?;
    let driver = tokio::spawn(conn);
    let path = match target.query() {
        Some(q) => format!("{}?{q}", target.path()),
        None => target.path().to_string(),
    };
    let cap = ctx.settings.http_bytes.min(ctx.byte_cap).max(1);
    let mut req = hyper::Request::get(path)
        .header(HOST, host_header)
        .header(USER_AGENT, concat!("probe/", env!("CARGO_PKG_VERSION")));
    if ctx.endpoints.kind == ServerKind::Url {
        req = req.header(RANGE, format!("bytes=0-{}", cap - 1));
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(|e| ProbeError::new(FailureReason::Protocol, format!("building request: {e}")))?;
    let t0 = Instant::now();
    let result = async {
        let mut resp = sender
            .send_request(req)
            .await
            .map_err(|e| ProbeError::from_error("HTTP request", &e))?;
        let ttfb = t0.elapsed().as_secs_f64();
        if !resp.status().is_success() {
            return Err(ProbeError::new(
                FailureReason::HttpStatus,
                format!("{target} answered HTTP {}", resp.status().as_u16()),
            ));
        }
        let t1 = Instant::now();
        let mut got = 0u64;
        while let Some(frame) = resp.body_mut().frame().await {
            let frame = frame.map_err(|e| ProbeError::from_error("HTTP body", &e))?;
            if let Some(d) = frame.data_ref() {
                got += d.len() as u64;
                ctx.add_bytes(d.len() as u64);
                if got >= cap {
                    break; // enough for the transfer phase; the connection is dropped
                }
            }
        }
        Ok((ttfb, t1.elapsed().as_secs_f64()))
    }
    .await;
    driver.abort();
    result
}

async fn run(ctx: &ProbeContext) -> Result<ProbeOutput, ProbeError> {
    let s = &ctx.settings;
    let host = ctx.endpoints.host();
    let port = ctx.endpoints.port();
    let (addrs, dns_s) = ctx.resolver.resolve(&host, port, s.connect_timeout).await?;
    let addr = addrs[0];
    let t = Instant::now();
    let tcp = super::conn::tcp_connect(ctx, addr).await?;
    let connect_s = t.elapsed().as_secs_f64();
    let target = ctx
        .endpoints
        .download_url(s.http_bytes.min(ctx.byte_cap).max(1));
    let host_header = match ctx.endpoints.base.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let mut phases = vec![(Phase::Dns, dns_s), (Phase::Connect, connect_s)];
    let (ttfb, transfer) = if ctx.endpoints.base.scheme() == "https" {
        let t = Instant::now();
        let tls = super::conn::tls_handshake(ctx, &host, tcp).await?;
        phases.push((Phase::Tls, t.elapsed().as_secs_f64()));
        exchange(tls, ctx, &host_header, &target).await?
    } else {
        exchange(tcp, ctx, &host_header, &target).await?
    };
    phases.push((Phase::Ttfb, ttfb));
    phases.push((Phase::Transfer, transfer));
    Ok(ProbeOutput {
        http_phases: phases,
        ..Default::default()
    })
}
