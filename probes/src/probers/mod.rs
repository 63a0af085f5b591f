//! One prober per measurement, all behind [`Prober`]; [`prober_for`] is the registry.
//!
//! Probers only measure and report their protocol's figures. The runner (`runner.rs`) owns success, duration, the timeout budget and byte accounting.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::endpoint::{Endpoints, ServerKind};
use crate::net::{ClientTls, Resolver};
use crate::reason::ProbeError;

pub mod conn;
pub mod dns;
pub mod download;
pub mod http;
pub mod latency;
pub mod loss;
pub mod ndt7;
pub mod upload;

/// The measurements an agent can schedule (the `test` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestKind {
    /// Multi-stream HTTP download (plus loaded latency).
    Download,
    /// Multi-stream HTTP upload.
    Upload,
    /// Idle RTT, jitter, TCP connect time.
    Latency,
    /// UDP echo loss.
    Loss,
    /// DNS resolution time of the target's host name.
    Dns,
    /// HTTP phase timing.
    Http,
}

impl TestKind {
    /// All tests, in label order.
    pub const ALL: [TestKind; 6] = [
        TestKind::Download,
        TestKind::Upload,
        TestKind::Latency,
        TestKind::Loss,
        TestKind::Dns,
        TestKind::Http,
    ];

    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            TestKind::Download => "download",
            TestKind::Upload => "upload",
            TestKind::Latency => "latency",
            TestKind::Loss => "loss",
            TestKind::Dns => "dns",
            TestKind::Http => "http",
        }
    }

    /// Heavy tests saturate the link and never overlap anything else.
    pub fn is_heavy(self) -> bool {
        matches!(self, TestKind::Download | TestKind::Upload)
    }
}

impl std::fmt::Display for TestKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The shortest window after the ramp-up a transfer figure is computed over.
pub const MIN_WINDOW: Duration = Duration::from_millis(500);

/// Default of `min_bytes`: a transfer window that carried less than this is not a
/// measurement (`no_data`); 50 kB is about 47 kbit/s over the default 8.5 s window.
pub const DEFAULT_MIN_BYTES: u64 = 50_000;

/// Per-run knobs (a merged view of the test's config section).
#[derive(Debug, Clone)]
pub struct ProbeSettings {
    /// Parallel TCP streams (download/upload).
    pub streams: usize,
    /// Measurement length including the grace period.
    pub duration: Duration,
    /// Ramp-up excluded from the figure.
    pub grace: Duration,
    /// Stop early once the rate is stable.
    pub stop_when_stable: bool,
    /// No progress for this long fails the run as `stalled`.
    pub stall_timeout: Duration,
    /// Fewer payload bytes than this in the measurement window fail the run as `no_data`.
    pub min_bytes: u64,
    /// Measure loaded latency during the download.
    pub loaded_latency: bool,
    /// Round trips for latency.
    pub samples: usize,
    /// Datagrams for loss.
    pub packets: usize,
    /// Gap between datagrams.
    pub packet_interval: Duration,
    /// How long to wait for late echoes.
    pub loss_wait: Duration,
    /// UDP echo port (defaults to the target's TCP port).
    pub udp_port: Option<u16>,
    /// Bytes read in the HTTP phase test.
    pub http_bytes: u64,
    /// Timeout for connection setup and single round trips.
    pub connect_timeout: Duration,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            streams: 4,
            duration: Duration::from_secs(10),
            grace: Duration::from_millis(1500),
            stop_when_stable: false,
            stall_timeout: Duration::from_secs(5),
            min_bytes: DEFAULT_MIN_BYTES,
            loaded_latency: true,
            samples: 10,
            packets: 50,
            packet_interval: Duration::from_millis(20),
            loss_wait: Duration::from_secs(1),
            udp_port: None,
            http_bytes: 1 << 20,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Everything a prober needs for one run.
#[derive(Debug, Clone)]
pub struct ProbeContext {
    /// Target label value.
    pub target: String,
    /// Target URLs.
    pub endpoints: Endpoints,
    /// Trusted roots for HTTPS.
    pub tls: ClientTls,
    /// Name resolution.
    pub resolver: Resolver,
    /// Knobs.
    pub settings: ProbeSettings,
    /// Byte cap for this run (test cap limited by the remaining daily budget).
    pub byte_cap: u64,
    /// Bytes moved so far (payload both ways); the runner reads it even after a failure.
    pub bytes_used: Arc<AtomicU64>,
}

impl ProbeContext {
    /// Count bytes moved.
    pub fn add_bytes(&self, n: u64) {
        self.bytes_used.fetch_add(n, Ordering::Relaxed);
    }

    /// Bytes moved so far.
    pub fn bytes(&self) -> u64 {
        self.bytes_used.load(Ordering::Relaxed)
    }

    /// Resolve the target and build a pinned HTTP client; returns the DNS time too.
    pub async fn client(&self) -> Result<(reqwest::Client, std::net::SocketAddr, f64), ProbeError> {
        let host = self.endpoints.host();
        let (addrs, dns_s) = self
            .resolver
            .resolve(&host, self.endpoints.port(), self.settings.connect_timeout)
            .await?;
        let addr = addrs[0];
        let c = crate::net::http_client(&host, addr, &self.tls, self.settings.connect_timeout)?;
        Ok((c, addr, dns_s))
    }
}

/// An HTTP phase (the `phase` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Name resolution.
    Dns,
    /// TCP handshake.
    Connect,
    /// TLS handshake.
    Tls,
    /// Request sent to first response byte.
    Ttfb,
    /// Body transfer.
    Transfer,
}

impl Phase {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Dns => "dns",
            Phase::Connect => "connect",
            Phase::Tls => "tls",
            Phase::Ttfb => "ttfb",
            Phase::Transfer => "transfer",
        }
    }
}

/// What a successful run measured; each prober fills its own fields.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProbeOutput {
    /// Download goodput, bytes/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_bytes_per_second: Option<f64>,
    /// Upload goodput, bytes/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_bytes_per_second: Option<f64>,
    /// Whether the upload figure was measured at the receiver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_measured_at_receiver: Option<bool>,
    /// Which byte counter the transfer figure comes from: `kernel` (TCP_INFO bytes received or
    /// acknowledged on the measuring sockets) or `application` (HTTP body bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub byte_counter: Option<&'static str>,
    /// Unix time the measurement window (after the ramp-up) began, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_start_unix_seconds: Option<f64>,
    /// Unix time the measurement window ended, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_end_unix_seconds: Option<f64>,
    /// Idle HTTP RTT minimum, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_min_seconds: Option<f64>,
    /// Idle HTTP RTT median, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_median_seconds: Option<f64>,
    /// Mean absolute difference of consecutive RTTs, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter_seconds: Option<f64>,
    /// Median TCP connect time, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_connect_seconds: Option<f64>,
    /// Median RTT while the download runs, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loaded_latency_seconds: Option<f64>,
    /// Round trips per minute under load: 60 / loaded RTT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responsiveness_rpm: Option<f64>,
    /// Lost datagrams / sent datagrams.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_loss_ratio: Option<f64>,
    /// DNS lookup time, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_lookup_seconds: Option<f64>,
    /// HTTP phases, seconds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http_phases: Vec<(Phase, f64)>,
    /// ndt7 download as the client counted it (its socket's bytes received), bytes/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ndt7_download_client_bytes_per_second: Option<f64>,
    /// ndt7 download from the server's measurements (`TCPInfo.BytesAcked`), bytes/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ndt7_download_server_bytes_per_second: Option<f64>,
    /// ndt7 upload as the client counted it (kernel bytes acknowledged), bytes/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ndt7_upload_client_bytes_per_second: Option<f64>,
    /// ndt7 upload from the server's measurements (`TCPInfo.BytesReceived`), bytes/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ndt7_upload_server_bytes_per_second: Option<f64>,
    /// ndt7: the server measured against (host of the URL used, as Locate returned it but
    /// without the access token) and the server's measurement UUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ndt7_server: Option<String>,
    /// ndt7: the server's `ConnectionInfo.UUID`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ndt7_uuid: Option<String>,
}

/// Boxed future returned by probers (keeps the trait object-safe).
pub type ProbeFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ProbeOutput, ProbeError>> + Send + 'a>>;

/// One measurement protocol.
pub trait Prober: Send + Sync + std::fmt::Debug {
    /// Which test this prober implements.
    fn test(&self) -> TestKind;
    /// Measure once. Must respect `ctx.byte_cap`, count bytes via `ctx.add_bytes`, and never
    /// buffer unbounded data; the runner cancels it at the timeout.
    fn probe<'a>(&'a self, ctx: &'a ProbeContext) -> ProbeFuture<'a>;
}

/// The registry: which prober measures which test against which kind of server. A new server
/// kind or protocol (say an ndt7 download) is a new row; [`prober_for`] and [`supports`]
/// (config validation) read only this table.
pub static REGISTRY: &[(TestKind, ServerKind, &'static dyn Prober)] = &[
    (
        TestKind::Download,
        ServerKind::Probe,
        &download::DownloadProber,
    ),
    (
        TestKind::Download,
        ServerKind::Librespeed,
        &download::DownloadProber,
    ),
    (
        TestKind::Download,
        ServerKind::Url,
        &download::DownloadProber,
    ),
    (TestKind::Upload, ServerKind::Probe, &upload::UploadProber),
    (
        TestKind::Upload,
        ServerKind::Librespeed,
        &upload::UploadProber,
    ),
    (
        TestKind::Latency,
        ServerKind::Probe,
        &latency::LatencyProber,
    ),
    (
        TestKind::Latency,
        ServerKind::Librespeed,
        &latency::LatencyProber,
    ),
    (TestKind::Latency, ServerKind::Url, &latency::LatencyProber),
    (TestKind::Loss, ServerKind::Probe, &loss::LossProber),
    (TestKind::Dns, ServerKind::Probe, &dns::DnsProber),
    (TestKind::Dns, ServerKind::Librespeed, &dns::DnsProber),
    (TestKind::Dns, ServerKind::Url, &dns::DnsProber),
    (TestKind::Http, ServerKind::Probe, &http::HttpProber),
    (TestKind::Http, ServerKind::Librespeed, &http::HttpProber),
    (TestKind::Http, ServerKind::Url, &http::HttpProber),
    (
        TestKind::Download,
        ServerKind::Cloudflare,
        &download::DownloadProber,
    ),
    (
        TestKind::Upload,
        ServerKind::Cloudflare,
        &upload::UploadProber,
    ),
    (
        TestKind::Latency,
        ServerKind::Cloudflare,
        &latency::LatencyProber,
    ),
    (TestKind::Dns, ServerKind::Cloudflare, &dns::DnsProber),
    (TestKind::Http, ServerKind::Cloudflare, &http::HttpProber),
    (TestKind::Download, ServerKind::Ndt7, &ndt7::DOWNLOAD),
    (TestKind::Upload, ServerKind::Ndt7, &ndt7::UPLOAD),
];

/// The prober of `test` against a `kind` server, if that combination is supported.
pub fn prober_for(test: TestKind, kind: ServerKind) -> Option<&'static dyn Prober> {
    REGISTRY
        .iter()
        .find(|(t, k, _)| *t == test && *k == kind)
        .map(|(_, _, p)| *p)
}

/// Whether a server kind supports a test.
pub fn supports(kind: ServerKind, test: TestKind) -> bool {
    prober_for(test, kind).is_some()
}

/// Median of a sample (sorts in place); `None` if empty.
pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Adds up to `want` bytes to `counter` without letting it pass `cap`, atomically, and returns
/// how many were added (0 once the cap is reached). Streams of one run share the counter, so
/// the byte cap holds however many of them ask at once.
pub fn claim_under_cap(counter: &AtomicU64, cap: u64, want: u64) -> u64 {
    let mut cur = counter.load(Ordering::Relaxed);
    loop {
        let n = want.min(cap.saturating_sub(cur));
        if n == 0 {
            return 0;
        }
        match counter.compare_exchange(cur, cur + n, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return n,
            Err(v) => cur = v,
        }
    }
}

/// Reads a byte counter together with the time it was read, as seconds since `start`.
///
/// A sampler that reads the clock and then the counter credits every byte that arrives in
/// between to the earlier instant; on a loaded machine a preemption there of a few hundred
/// milliseconds skews a rate by several percent. The counter is therefore read between two
/// clock readings and the pair kept only when they are close (else read again, a few times),
/// with the midpoint as the sample time.
pub fn paired_sample(start: std::time::Instant, counter: &AtomicU64) -> (f64, u64) {
    const TIGHT: Duration = Duration::from_millis(2);
    let mut best: Option<(Duration, f64, u64)> = None;
    for _ in 0..5 {
        let before = std::time::Instant::now();
        let bytes = counter.load(Ordering::Relaxed);
        let after = std::time::Instant::now();
        let spread = after - before;
        let mid = (before - start) + spread / 2;
        let better = match best {
            Some((best_spread, _, _)) => spread < best_spread,
            None => true,
        };
        if better {
            best = Some((spread, mid.as_secs_f64(), bytes));
        }
        if spread <= TIGHT {
            break;
        }
    }
    let (_, t, b) = best.expect("at least one reading");
    (t, b)
}

/// Unix times of the measurement window [`judge_transfer`] used (first sample at or after the
/// grace period, last sample), given the Unix time of `t = 0`.
pub fn window_unix(
    samples: &[(f64, u64)],
    grace_s: f64,
    start_unix: f64,
) -> (Option<f64>, Option<f64>) {
    let first = samples
        .iter()
        .find(|(t, _)| *t >= grace_s)
        .map(|s| start_unix + s.0);
    let last = samples.last().map(|s| start_unix + s.0);
    (first, last)
}

/// Like [`paired_sample`] for the sum of the streams' kernel counters: the counters are read
/// between two clock readings and the midpoint kept; on a busy machine the thread can be
/// preempted between the readings, so up to five attempts are made and the tightest kept (a
/// 250 ms stall at a window edge was a 5 % error over a 5 s window). `None` when a meter
/// cannot be read.
pub fn kernel_sample(
    start: std::time::Instant,
    meters: &std::sync::Mutex<Vec<Arc<crate::tcp_info::Meter>>>,
    pick: impl Fn(crate::tcp_info::Counters) -> u64,
) -> Option<(f64, u64)> {
    const TIGHT: Duration = Duration::from_millis(2);
    let mut best: Option<(Duration, f64, u64)> = None;
    for _ in 0..5 {
        let before = std::time::Instant::now();
        let total = conn::kernel_total(meters, &pick)?;
        let after = std::time::Instant::now();
        let spread = after - before;
        let mid = (before - start) + spread / 2;
        if best.map_or(true, |(s, _, _)| spread < s) {
            best = Some((spread, mid.as_secs_f64(), total));
        }
        if spread <= TIGHT {
            break;
        }
    }
    best.map(|(_, t, b)| (t, b))
}

/// Rate over a cumulative `(time_s, bytes)` series after `grace_s`: bytes between the first
/// sample at or after the grace period and the last sample, divided by the time between them.
/// Returns `None` when less than `min_window_s` of post-grace samples exist.
pub fn rate_after_grace(samples: &[(f64, u64)], grace_s: f64, min_window_s: f64) -> Option<f64> {
    let start = samples.iter().find(|(t, _)| *t >= grace_s)?;
    let end = samples.last()?;
    let dt = end.0 - start.0;
    if dt < min_window_s {
        return None;
    }
    Some((end.1 - start.1) as f64 / dt)
}

/// The rule that keeps a transfer from reporting a false success: a figure needs a window of
/// at least [`MIN_WINDOW`] after the ramp-up that carried at least
/// `settings.min_bytes`, and the link must still have been moving at its end (no progress for
/// `stall_timeout`, or for half the window (at least 0.3 s) if that is shorter, is `stalled`). Returns the rate
/// over the window in bytes/s. `cap` is the byte cap when the run stopped at it.
pub fn judge_transfer(
    test: &str,
    samples: &[(f64, u64)],
    grace_s: f64,
    settings: &ProbeSettings,
    cap: Option<u64>,
) -> Result<f64, ProbeError> {
    use crate::reason::FailureReason;
    let min_window_s = MIN_WINDOW.as_secs_f64();
    let window = samples
        .iter()
        .find(|(t, _)| *t >= grace_s)
        .zip(samples.last())
        .filter(|(start, end)| end.0 - start.0 >= min_window_s);
    let Some((start, end)) = window else {
        return Err(match cap {
            Some(cap) => ProbeError::new(
                FailureReason::ByteCap,
                format!("byte cap of {cap} bytes reached before the ramp-up ended"),
            ),
            None => ProbeError::new(
                FailureReason::NoData,
                format!("{test} ended before a {min_window_s} s window after the ramp-up"),
            ),
        });
    };
    let bytes = end.1.saturating_sub(start.1);
    if bytes < settings.min_bytes && cap.is_none() {
        return Err(ProbeError::new(
            FailureReason::NoData,
            format!(
                "the {test} window after the ramp-up carried {bytes} bytes, fewer than min_bytes ({})",
                settings.min_bytes
            ),
        ));
    }
    let window_s = end.0 - start.0;
    if cap.is_none() {
        // Time of the last sample that saw new bytes.
        let last_progress = samples
            .windows(2)
            .rev()
            .find(|w| w[1].1 > w[0].1)
            .map_or(0.0, |w| w[1].0);
        let idle_s = end.0 - last_progress;
        // Half the window if that is shorter than stall_timeout, but at least 0.3 s: a busy
        // machine can starve the sampler briefly without the link having stopped.
        let allowed_s = settings
            .stall_timeout
            .as_secs_f64()
            .min(window_s / 2.0)
            .max(0.3);
        if idle_s >= allowed_s {
            return Err(ProbeError::new(
                FailureReason::Stalled,
                format!("no {test} progress in the last {idle_s:.1} s of the window"),
            ));
        }
    }
    Ok(bytes as f64 / window_s)
}

/// Stop-when-stable rule: the last `windows` rates over `window_s` each differ from their
/// mean by at most `tolerance` (fraction) plus the counter's resolution.
///
/// Byte counters advance in chunks (`granularity_bytes`: chunk size × streams in flight), so a
/// window's byte count is uncertain by about one chunk per stream; without that allowance a
/// slow but perfectly steady link (8 MB/s over 0.5 s windows is only 4 MB) never looks stable.
pub fn is_stable(
    samples: &[(f64, u64)],
    window_s: f64,
    windows: usize,
    tolerance: f64,
    granularity_bytes: f64,
) -> bool {
    let Some(&(t_end, _)) = samples.last() else {
        return false;
    };
    let at = |t: f64| -> Option<u64> {
        samples
            .iter()
            .rev()
            .find(|(ts, _)| *ts <= t)
            .map(|(_, b)| *b)
    };
    let mut rates = Vec::with_capacity(windows);
    for k in 0..windows {
        let hi = t_end - k as f64 * window_s;
        let lo = hi - window_s;
        if lo < samples[0].0 {
            return false;
        }
        let (Some(a), Some(b)) = (at(lo), at(hi)) else {
            return false;
        };
        rates.push((b - a) as f64 / window_s);
    }
    let mean = rates.iter().sum::<f64>() / rates.len() as f64;
    let allowed = tolerance * mean + granularity_bytes / window_s;
    mean > 0.0 && rates.iter().all(|r| (r - mean).abs() <= allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_sample_reads_the_counter_at_a_time_since_start() {
        let start = std::time::Instant::now();
        let counter = AtomicU64::new(1234);
        std::thread::sleep(Duration::from_millis(20));
        let (t, b) = paired_sample(start, &counter);
        let elapsed = start.elapsed().as_secs_f64();
        assert_eq!(b, 1234);
        assert!(t >= 0.020 && t <= elapsed, "t = {t}, elapsed = {elapsed}");
    }

    #[test]
    fn median_and_grace_rate() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        // 100 bytes/s after a slow first second.
        let s: Vec<(f64, u64)> = (0..=50)
            .map(|i| {
                let t = i as f64 * 0.1;
                let b = if t <= 1.0 {
                    (t * 10.0) as u64
                } else {
                    10 + ((t - 1.0) * 100.0).round() as u64
                };
                (t, b)
            })
            .collect();
        let r = rate_after_grace(&s, 1.0, 0.5).unwrap();
        assert!((r - 100.0).abs() < 1.0, "{r}");
        assert!(rate_after_grace(&s, 4.9, 0.5).is_none());
        assert!(is_stable(&s, 0.5, 4, 0.05, 0.0));
        assert!(!is_stable(&s[..14], 0.5, 4, 0.05, 0.0));
        // A steady 2 MB/s whose counter runs one 3 × 16 KiB step ahead at every other window
        // edge: window rates differ by ±4.9 %, which a bare 3 % rejects and the resolution
        // allowance accepts.
        let step = 3.0 * 16384.0;
        let steady: Vec<(f64, u64)> = (0..=40)
            .map(|i| {
                let t = i as f64 * 0.1;
                let wobble = if i % 5 == 0 && (i / 5) % 2 == 1 {
                    step
                } else {
                    0.0
                };
                (t, (t * 2e6 + wobble) as u64)
            })
            .collect();
        assert!(!is_stable(&steady, 0.5, 4, 0.03, 0.0));
        assert!(is_stable(&steady, 0.5, 4, 0.03, step));
    }
}
