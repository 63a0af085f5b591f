//! HTTP upload: parallel streaming POSTs. Against `probe serve` the figure is measured at the
//! receiver (the server's receive timeline); against other servers it falls back to bytes
//! handed to the socket, which slightly overstates the rate by what sits in send buffers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::RngCore;
use tokio::task::JoinSet;

use super::{is_stable, judge_transfer, ProbeContext, ProbeFuture, ProbeOutput, Prober, TestKind};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header::{CONTENT_TYPE, HOST, USER_AGENT};

use super::conn;
use crate::protocol::UploadReport;
use crate::reason::{FailureReason, ProbeError};
use crate::tcp_info::Meter;

/// Body chunk size. Small enough that the sent-bytes counter (which advances a chunk at a
/// time) resolves a 0.5 s window of a slow link to about 1 %, large enough to cost little CPU.
const CHUNK_BYTES: usize = 16 << 10;
/// Request size against servers without receiver reports (LibreSpeed sinks).
const FALLBACK_REQUEST_BYTES: u64 = 16 << 20;
const TICK: Duration = Duration::from_millis(100);
const PAYLOAD_BYTES: usize = 1 << 20;

/// The body's bytes, cycled: random, so no compression on the path inflates the rate. Made per
/// run (well under a millisecond, before the clock starts) and freed with it, rather than kept
/// for the process's lifetime: an idle agent would otherwise hold this MiB between uploads
/// (issue 15).
fn payload() -> Bytes {
    let mut b = vec![0u8; PAYLOAD_BYTES];
    rand::rng().fill_bytes(&mut b);
    Bytes::from(b)
}

/// The upload prober.
#[derive(Debug)]
pub struct UploadProber;

impl Prober for UploadProber {
    fn test(&self) -> TestKind {
        TestKind::Upload
    }

    fn probe<'a>(&'a self, ctx: &'a ProbeContext) -> ProbeFuture<'a> {
        Box::pin(run(ctx))
    }
}

struct Shared {
    sent: AtomicU64,
    stop: AtomicBool,
    cap: u64,
    /// Kernel meters of the streams' sockets.
    meters: std::sync::Mutex<Vec<Arc<Meter>>>,
    /// False once a stream has no kernel meter.
    kernel: AtomicBool,
    /// What the bodies send ([`payload`]).
    payload: Bytes,
}

impl Shared {
    fn take(&self, want: u64) -> u64 {
        super::claim_under_cap(&self.sent, self.cap, want)
    }
}

type Frames = futures_util::stream::BoxStream<'static, Result<Frame<Bytes>, std::io::Error>>;

/// A body that yields payload until `stop`, the cap or `limit` bytes.
fn body(shared: Arc<Shared>, ctx: ProbeContext, limit: u64) -> StreamBody<Frames> {
    let s = futures_util::stream::unfold((0u64, 0usize), move |(done, off)| {
        let shared = shared.clone();
        let ctx = ctx.clone();
        async move {
            if shared.stop.load(Ordering::Relaxed) || done >= limit {
                return None;
            }
            let want = (CHUNK_BYTES as u64)
                .min(limit - done)
                .min((shared.payload.len() - off) as u64);
            let n = shared.take(want) as usize;
            if n == 0 {
                return None;
            }
            ctx.add_bytes(n as u64);
            let chunk = shared.payload.slice(off..off + n);
            Some((
                Ok::<_, std::io::Error>(Frame::data(chunk)),
                (done + n as u64, (off + n) % shared.payload.len()),
            ))
        }
    });
    StreamBody::new(Box::pin(s) as Frames)
}

async fn stream(
    ctx: ProbeContext,
    shared: Arc<Shared>,
    receiver_reports: bool,
) -> Result<Vec<UploadReport>, ProbeError> {
    let mut conn = conn::connect::<StreamBody<Frames>>(&ctx).await?;
    match conn.meter.clone() {
        Some(m) => shared
            .meters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(m),
        None => shared.kernel.store(false, Ordering::Relaxed),
    }
    let url = ctx.endpoints.upload_url();
    let mut reports = Vec::new();
    loop {
        let limit = if receiver_reports {
            u64::MAX
        } else {
            FALLBACK_REQUEST_BYTES
        };
        let req = hyper::Request::post(conn::request_target(&url))
            .header(HOST, &conn.host_header)
            .header(USER_AGENT, concat!("probe/", env!("CARGO_PKG_VERSION")))
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(body(shared.clone(), ctx.clone(), limit))
            .map_err(|e| {
                ProbeError::new(FailureReason::Protocol, format!("building request: {e}"))
            })?;
        conn.sender
            .ready()
            .await
            .map_err(|e| ProbeError::from_error("upload connection", &e))?;
        let mut resp = conn
            .sender
            .send_request(req)
            .await
            .map_err(|e| ProbeError::from_error("upload request", &e))?;
        if !resp.status().is_success() {
            return Err(ProbeError::new(
                FailureReason::HttpStatus,
                format!("{url} answered HTTP {}", resp.status().as_u16()),
            ));
        }
        let mut text = Vec::new();
        while let Some(frame) = resp.body_mut().frame().await {
            let frame = frame.map_err(|e| ProbeError::from_error("upload answer", &e))?;
            if let Some(d) = frame.data_ref() {
                if text.len() + d.len() > 1 << 20 {
                    return Err(ProbeError::new(
                        FailureReason::Protocol,
                        "upload answer larger than 1 MiB",
                    ));
                }
                text.extend_from_slice(d);
            }
        }
        if receiver_reports {
            let r: UploadReport = serde_json::from_slice(&text).map_err(|e| {
                ProbeError::new(FailureReason::Protocol, format!("bad upload receipt: {e}"))
            })?;
            reports.push(r);
        }
        let exhausted = shared.sent.load(Ordering::Relaxed) >= shared.cap;
        if receiver_reports || shared.stop.load(Ordering::Relaxed) || exhausted {
            return Ok(reports);
        }
    }
}

/// Cumulative bytes of a timeline at server time `t`, linearly interpolated.
fn bytes_at(samples: &[(f64, u64)], t: f64) -> f64 {
    let Some(first) = samples.first() else {
        return 0.0;
    };
    if t <= first.0 {
        return first.1 as f64;
    }
    for w in samples.windows(2) {
        let (a, b) = (w[0], w[1]);
        if t <= b.0 {
            let f = if b.0 > a.0 {
                (t - a.0) / (b.0 - a.0)
            } else {
                1.0
            };
            return a.1 as f64 + f * (b.1 as f64 - a.1 as f64);
        }
    }
    samples.last().map(|s| s.1 as f64).unwrap_or(0.0)
}

/// Receiver-side goodput from the streams' timelines: all bytes received between the end of
/// the ramp-up (first byte + grace) and the moment the first stream stopped receiving.
pub fn receiver_rate(reports: &[UploadReport], grace_s: f64) -> Option<f64> {
    let live: Vec<&UploadReport> = reports.iter().filter(|r| r.bytes > 0).collect();
    let t0 = live.iter().map(|r| r.first_byte_s).reduce(f64::min)?;
    let end = live.iter().map(|r| r.last_byte_s).reduce(f64::min)?;
    let start = t0 + grace_s;
    if end - start < 0.5 {
        return None;
    }
    let bytes: f64 = live
        .iter()
        .map(|r| bytes_at(&r.samples, end) - bytes_at(&r.samples, start))
        .sum();
    Some(bytes / (end - start))
}

async fn run(ctx: &ProbeContext) -> Result<ProbeOutput, ProbeError> {
    let s = &ctx.settings;
    let receiver = ctx.endpoints.receiver_reports_upload();
    let shared = Arc::new(Shared {
        sent: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        cap: ctx.byte_cap,
        meters: Default::default(),
        kernel: AtomicBool::new(true),
        payload: payload(),
    });
    let start = Instant::now();
    let start_unix = crate::duration::unix_now();
    let mut set = JoinSet::new();
    for _ in 0..s.streams.max(1) {
        set.spawn(stream(ctx.clone(), shared.clone(), receiver));
    }
    let grace_s = s.grace.as_secs_f64();
    let stability_granularity_bytes = (s.streams.max(1) * CHUNK_BYTES) as f64;
    let mut samples: Vec<(f64, u64)> = vec![(0.0, 0)];
    // Bytes the receiver acknowledged on the streams' sockets (kernel counters).
    let mut kernel_samples: Vec<(f64, u64)> = vec![(0.0, 0)];
    let mut reports = Vec::new();
    let mut first_error: Option<ProbeError> = None;
    let mut progress = (start, 0u64);
    let mut tick = tokio::time::interval(TICK);
    tick.tick().await;
    loop {
        tick.tick().await;
        let now = Instant::now();
        let (t, b) = super::paired_sample(start, &shared.sent);
        samples.push((t, b));
        if let Some(k) = super::kernel_sample(start, &shared.meters, |c| c.bytes_acked) {
            kernel_samples.push(k);
        }
        while let Some(done) = set.try_join_next() {
            match done {
                Ok(Ok(r)) => reports.extend(r),
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(_) => {}
            }
        }
        if first_error.is_some() || set.is_empty() || b >= ctx.byte_cap {
            break;
        }
        if t >= s.duration.as_secs_f64() {
            break;
        }
        if b > progress.1 {
            progress = (now, b);
        } else if now.duration_since(progress.0) >= s.stall_timeout {
            first_error = Some(ProbeError::new(
                FailureReason::Stalled,
                format!(
                    "no upload progress for {:.1} s",
                    now.duration_since(progress.0).as_secs_f64()
                ),
            ));
            break;
        }
        if s.stop_when_stable && t >= grace_s + 3.0 {
            let post: Vec<(f64, u64)> = samples
                .iter()
                .copied()
                .filter(|(ts, _)| *ts >= grace_s)
                .collect();
            if is_stable(&post, 0.5, 4, 0.03, stability_granularity_bytes) {
                break;
            }
        }
    }
    shared.stop.store(true, Ordering::Relaxed);
    if first_error.is_none() {
        // Bodies end now; the server still has to drain what sits in send buffers and queues
        // (seconds on a slow uplink), so wait up to one test duration for the receipts.
        let wait = tokio::time::sleep(s.stall_timeout.max(s.duration));
        tokio::pin!(wait);
        loop {
            tokio::select! {
                done = set.join_next() => match done {
                    None => break,
                    Some(Ok(Ok(r))) => reports.extend(r),
                    Some(Ok(Err(e))) => { first_error.get_or_insert(e); }
                    Some(Err(_)) => {}
                },
                _ = &mut wait => {
                    first_error = Some(ProbeError::new(FailureReason::Stalled, "upload receipts did not arrive"));
                    break;
                }
            }
        }
    }
    set.abort_all();
    if let Some(e) = first_error {
        return Err(e);
    }
    // The sender's counter decides whether there is a measurement at all (bytes in the
    // window, no stall at its end); the receiver's timeline, where there is one, gives the
    // figure.
    let cap_hit = shared.sent.load(Ordering::Relaxed) >= ctx.byte_cap;
    // Bytes acknowledged by the receiver's kernel, where every stream had a meter: what
    // crossed the link, not what the sender queued.
    let kernel = shared.kernel.load(Ordering::Relaxed) && kernel_samples.len() == samples.len();
    let sender_rate = judge_transfer(
        "upload",
        if kernel { &kernel_samples } else { &samples },
        grace_s,
        s,
        cap_hit.then_some(ctx.byte_cap),
    )?;
    let rate = if kernel {
        sender_rate
    } else if receiver {
        receiver_rate(&reports, grace_s).ok_or_else(|| {
            ProbeError::new(
                FailureReason::NoData,
                "the server's upload receipts hold no window after the ramp-up",
            )
        })?
    } else {
        sender_rate
    };
    let window = super::window_unix(
        if kernel { &kernel_samples } else { &samples },
        grace_s,
        start_unix,
    );
    Ok(ProbeOutput {
        upload_bytes_per_second: Some(rate),
        upload_measured_at_receiver: Some(kernel || receiver),
        window_start_unix_seconds: window.0,
        window_end_unix_seconds: window.1,
        byte_counter: Some(if kernel {
            "kernel"
        } else if receiver {
            "receiver"
        } else {
            "application"
        }),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receiver_rate_merges_streams_and_skips_grace() {
        // Two streams at 50 bytes/s each after a slow start.
        let mk = |t0: f64| UploadReport {
            bytes: 500,
            first_byte_s: t0,
            last_byte_s: t0 + 10.0,
            samples: (0..=10)
                .map(|i| (t0 + i as f64, if i == 0 { 0 } else { 50 * i as u64 }))
                .collect(),
        };
        let r = receiver_rate(&[mk(100.0), mk(100.2)], 2.0).unwrap();
        assert!((r - 100.0).abs() < 1.0, "{r}");
    }
}
