//! HTTP download: parallel streams, ramp-up excluded, fixed duration or stop-when-stable, byte
//! cap, stall detection, and loaded latency measured on a separate connection meanwhile.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{HOST, RANGE, USER_AGENT};
use tokio::task::JoinSet;

use super::conn;
use super::{
    is_stable, judge_transfer, median, ProbeContext, ProbeFuture, ProbeOutput, Prober, TestKind,
};
use crate::endpoint::ServerKind;
use crate::net::read_bounded;
use crate::reason::{FailureReason, ProbeError};
use crate::tcp_info::Meter;

/// Largest single download request; streams issue new requests until the test ends.
const REQUEST_BYTES: u64 = 256 << 20;
const TICK: Duration = Duration::from_millis(100);
const LOADED_PING_EVERY: Duration = Duration::from_millis(200);

/// The download prober.
#[derive(Debug)]
pub struct DownloadProber;

impl Prober for DownloadProber {
    fn test(&self) -> TestKind {
        TestKind::Download
    }

    fn probe<'a>(&'a self, ctx: &'a ProbeContext) -> ProbeFuture<'a> {
        Box::pin(run(ctx))
    }
}

/// Shared state of the streams of one run.
struct Shared {
    received: AtomicU64,
    reserved: AtomicU64,
    stop: AtomicBool,
    cap: u64,
    /// Kernel meters of the streams' sockets.
    meters: std::sync::Mutex<Vec<Arc<Meter>>>,
    /// False once a stream has no kernel meter (then the figure uses the body bytes).
    kernel: AtomicBool,
}

impl Shared {
    /// Reserve up to `want` bytes of the cap for one request; 0 when the cap is used up.
    fn reserve(&self, want: u64) -> u64 {
        super::claim_under_cap(&self.reserved, self.cap, want)
    }
}

async fn stream(ctx: ProbeContext, shared: Arc<Shared>) -> Result<(), ProbeError> {
    let mut conn = conn::connect::<Empty<Bytes>>(&ctx).await?;
    match conn.meter.clone() {
        Some(m) => shared
            .meters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(m),
        None => shared.kernel.store(false, Ordering::Relaxed),
    }
    while !shared.stop.load(Ordering::Relaxed) {
        let n = shared.reserve(REQUEST_BYTES.min(ctx.endpoints.max_download_request_bytes()));
        if n == 0 {
            return Ok(());
        }
        let url = ctx.endpoints.download_url(n);
        let mut req = hyper::Request::get(conn::request_target(&url))
            .header(HOST, &conn.host_header)
            .header(USER_AGENT, concat!("probe/", env!("CARGO_PKG_VERSION")));
        if ctx.endpoints.kind == ServerKind::Url {
            // Ask plain file servers for only what the cap allows; ones that ignore Range are
            // cut off by the byte counter below.
            req = req.header(RANGE, format!("bytes=0-{}", n - 1));
        }
        let req = req.body(Empty::<Bytes>::new()).map_err(|e| {
            ProbeError::new(FailureReason::Protocol, format!("building request: {e}"))
        })?;
        conn.sender
            .ready()
            .await
            .map_err(|e| ProbeError::from_error("download connection", &e))?;
        let mut resp = conn
            .sender
            .send_request(req)
            .await
            .map_err(|e| ProbeError::from_error("download request", &e))?;
        if !resp.status().is_success() {
            return Err(ProbeError::new(
                FailureReason::HttpStatus,
                format!("{url} answered HTTP {}", resp.status().as_u16()),
            ));
        }
        let mut got = 0u64;
        while let Some(frame) = resp.body_mut().frame().await {
            let frame = frame.map_err(|e| ProbeError::from_error("download body", &e))?;
            let Some(c) = frame.data_ref() else { continue };
            let len = c.len() as u64;
            got += len;
            shared.received.fetch_add(len, Ordering::Relaxed);
            ctx.add_bytes(len);
            if shared.stop.load(Ordering::Relaxed)
                || shared.received.load(Ordering::Relaxed) >= shared.cap
            {
                return Ok(());
            }
        }
        if got == 0 {
            return Err(ProbeError::new(
                FailureReason::Protocol,
                "download response had an empty body",
            ));
        }
    }
    Ok(())
}

/// Ping on a fresh connection while the link is loaded, appending `(time_since_start_s, rtt_s)`
/// to `out`; the caller aborts the task when the download ends.
async fn loaded_pings(
    ctx: ProbeContext,
    start: Instant,
    out: Arc<std::sync::Mutex<Vec<(f64, f64)>>>,
) {
    let Ok((client, _, _)) = ctx.client().await else {
        return;
    };
    let url = ctx.endpoints.ping_url();
    loop {
        let t0 = Instant::now();
        let ok = match client.get(url.clone()).send().await {
            Ok(mut r) => r.status().is_success() && read_bounded(&mut r, 64 << 10).await.is_ok(),
            Err(_) => false,
        };
        if ok {
            let mut v = out.lock().unwrap_or_else(|p| p.into_inner());
            if v.len() >= 10_000 {
                return;
            }
            v.push((
                t0.duration_since(start).as_secs_f64(),
                t0.elapsed().as_secs_f64(),
            ));
        }
        tokio::time::sleep(LOADED_PING_EVERY).await;
    }
}

async fn run(ctx: &ProbeContext) -> Result<ProbeOutput, ProbeError> {
    let s = &ctx.settings;
    let shared = Arc::new(Shared {
        received: AtomicU64::new(0),
        reserved: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        cap: ctx.byte_cap,
        meters: Default::default(),
        kernel: AtomicBool::new(true),
    });
    let start = Instant::now();
    let start_unix = crate::duration::unix_now();
    let mut set = JoinSet::new();
    for _ in 0..s.streams.max(1) {
        set.spawn(stream(ctx.clone(), shared.clone()));
    }
    let pings = Arc::new(std::sync::Mutex::new(Vec::new()));
    let pinger = (s.loaded_latency && ctx.endpoints.kind != ServerKind::Url)
        .then(|| tokio::spawn(loaded_pings(ctx.clone(), start, pings.clone())));

    let grace_s = s.grace.as_secs_f64();
    // HTTP body reads arrive in chunks of up to about 16 KiB per stream (see `is_stable`).
    let stability_granularity_bytes = (s.streams.max(1) * (16 << 10)) as f64;
    let mut samples: Vec<(f64, u64)> = vec![(0.0, 0)];
    // Bytes received by the streams' sockets (TCP payload, kernel counters), sampled alongside.
    let mut kernel_samples: Vec<(f64, u64)> = vec![(0.0, 0)];
    let mut first_error: Option<ProbeError> = None;
    let mut cap_hit = false;
    let mut progress = (start, 0u64);
    let mut tick = tokio::time::interval(TICK);
    tick.tick().await;
    loop {
        tick.tick().await;
        let now = Instant::now();
        let (t, b) = super::paired_sample(start, &shared.received);
        samples.push((t, b));
        if let Some(k) = super::kernel_sample(start, &shared.meters, |c| c.bytes_received) {
            kernel_samples.push(k);
        }
        while let Some(done) = set.try_join_next() {
            if let Ok(Err(e)) = done {
                first_error.get_or_insert(e);
            }
        }
        if b >= ctx.byte_cap
            || shared.reserved.load(Ordering::Relaxed) >= ctx.byte_cap && set.is_empty()
        {
            cap_hit = true;
            break;
        }
        if first_error.is_some() || set.is_empty() {
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
                    "no download progress for {:.1} s",
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
    set.abort_all();
    if let Some(h) = pinger {
        h.abort();
    }
    let pings = std::mem::take(&mut *pings.lock().unwrap_or_else(|p| p.into_inner()));
    if let Some(e) = first_error {
        return Err(e);
    }
    // Kernel counters where every stream had one: they date each byte by its arrival, not by
    // when a possibly starved reader got to it.
    let kernel = shared.kernel.load(Ordering::Relaxed) && kernel_samples.len() == samples.len();
    let rate = judge_transfer(
        "download",
        if kernel { &kernel_samples } else { &samples },
        grace_s,
        s,
        cap_hit.then_some(ctx.byte_cap),
    )?;
    let mut loaded: Vec<f64> = pings
        .iter()
        .filter(|(t, _)| *t >= grace_s)
        .map(|p| p.1)
        .collect();
    if loaded.is_empty() {
        loaded = pings.iter().map(|p| p.1).collect();
    }
    let loaded = median(&mut loaded);
    let window = super::window_unix(
        if kernel { &kernel_samples } else { &samples },
        grace_s,
        start_unix,
    );
    Ok(ProbeOutput {
        download_bytes_per_second: Some(rate),
        window_start_unix_seconds: window.0,
        window_end_unix_seconds: window.1,
        byte_counter: Some(if kernel { "kernel" } else { "application" }),
        loaded_latency_seconds: loaded,
        responsiveness_rpm: loaded.filter(|l| *l > 0.0).map(|l| 60.0 / l),
        ..Default::default()
    })
}
