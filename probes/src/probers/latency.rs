//! Idle latency: HTTP round trips on a kept-alive connection (min, median, jitter) and TCP
//! connect time on fresh connections.

use std::time::Instant;

use super::{median, ProbeContext, ProbeFuture, ProbeOutput, Prober, TestKind};
use crate::endpoint::ServerKind;
use crate::net::{check_status, read_bounded};
use crate::reason::ProbeError;

const CONNECT_SAMPLES: usize = 3;
/// Ping answers are tiny; anything bigger is not a ping endpoint.
pub const PING_BODY_LIMIT: usize = 64 << 10;

/// The latency prober.
#[derive(Debug)]
pub struct LatencyProber;

impl Prober for LatencyProber {
    fn test(&self) -> TestKind {
        TestKind::Latency
    }

    fn probe<'a>(&'a self, ctx: &'a ProbeContext) -> ProbeFuture<'a> {
        Box::pin(run(ctx))
    }
}

/// Jitter as the mean absolute difference of consecutive RTTs (RFC 3550's |D| without the
/// 1/16 smoothing, so a short series is not biased towards its first value).
pub fn jitter(rtts: &[f64]) -> Option<f64> {
    if rtts.len() < 2 {
        return None;
    }
    let sum: f64 = rtts.windows(2).map(|w| (w[1] - w[0]).abs()).sum();
    Some(sum / (rtts.len() - 1) as f64)
}

async fn run(ctx: &ProbeContext) -> Result<ProbeOutput, ProbeError> {
    let s = &ctx.settings;
    let (client, addr, _) = ctx.client().await?;
    let mut connects = Vec::with_capacity(CONNECT_SAMPLES);
    for _ in 0..CONNECT_SAMPLES {
        let t0 = Instant::now();
        let sock = super::conn::tcp_connect(ctx, addr).await?;
        connects.push(t0.elapsed().as_secs_f64());
        drop(sock);
    }
    let url = ctx.endpoints.ping_url();
    let head = ctx.endpoints.kind == ServerKind::Url;
    let mut rtts = Vec::with_capacity(s.samples);
    // One extra round trip first opens (and for HTTPS, handshakes) the kept-alive connection.
    for i in 0..=s.samples {
        let req = if head {
            client.head(url.clone())
        } else {
            client.get(url.clone())
        };
        let t0 = Instant::now();
        let mut resp = req
            .send()
            .await
            .map_err(|e| ProbeError::from_error("ping request", &e))?;
        check_status(&resp)?;
        let body = read_bounded(&mut resp, PING_BODY_LIMIT).await?;
        let rtt = t0.elapsed().as_secs_f64();
        ctx.add_bytes(body.len() as u64);
        if i > 0 {
            rtts.push(rtt);
        }
    }
    let j = jitter(&rtts);
    let min = rtts.iter().copied().reduce(f64::min);
    Ok(ProbeOutput {
        latency_min_seconds: min,
        latency_median_seconds: median(&mut rtts),
        jitter_seconds: j,
        tcp_connect_seconds: median(&mut connects),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_mean_abs_delta() {
        let j = jitter(&[0.010, 0.012, 0.011]).unwrap();
        assert!((j - 0.0015).abs() < 1e-12, "{j}");
        assert_eq!(jitter(&[0.01]), None);
    }
}
