//! Prometheus remote write 1.0 sender, so agents behind NAT push their results instead of being
//! scraped.
//!
//! Each measurement's series (the `/metrics` series of its target and test, plus the agent-level
//! `probe_agent_info` and `probe_data_budget_remaining_bytes`) are appended to a bounded
//! in-memory queue, stamped with the time the result was recorded. A background task POSTs
//! batches as a snappy block-compressed protobuf `prometheus.WriteRequest` with the headers the
//! specification requires (`Content-Encoding: snappy`, `Content-Type: application/x-protobuf`,
//! `X-Prometheus-Remote-Write-Version: 0.1.0`).
//!
//! Delivery: a batch stays at the head of the queue until the receiver answers 2xx; network
//! errors, 5xx and 429 are retried with exponential backoff (`retry_backoff_min` doubling up to
//! `retry_backoff_max`, a 429's `Retry-After` honoured within that), other 4xx drop the batch
//! (`result="rejected"`). When the queue is full the oldest samples are evicted
//! (`result="dropped"`). Timestamps are strictly increasing across the whole queue, so the agent
//! itself never produces out-of-order or conflicting duplicate samples, which Prometheus would
//! reject for the whole batch. A series that disappears (a failure reason after a success) gets
//! a staleness marker so it ends at once instead of five minutes later.
//!
//! Memory: a queued sample is 24 bytes (shared label set pointer, value, timestamp); label sets
//! are interned, so each distinct series costs its labels once.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message;
use reqwest::Url;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::metrics::{RemoteWriteMetrics, RunSeries, Series};
use crate::net::ClientTls;
use crate::runner::{unix_now, RunResult};

/// `prometheus.WriteRequest` (remote write 1.0; metadata is not sent).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// Series with their samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Sorted by name, unique.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// In timestamp order.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    /// Label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    /// Value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// Prometheus' staleness marker: a NaN with this exact bit pattern ends a series.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Credentials sent with every request.
#[derive(Clone, PartialEq)]
pub enum RemoteWriteAuth {
    /// HTTP basic auth.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer TOKEN`.
    Bearer(String),
}

impl std::fmt::Debug for RemoteWriteAuth {
    // Never print secrets into logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteWriteAuth::Basic { username, .. } => {
                write!(f, "Basic {{ username: {username:?}, password: <hidden> }}")
            }
            RemoteWriteAuth::Bearer(_) => f.write_str("Bearer(<hidden>)"),
        }
    }
}

/// The validated `[remote_write]` section.
#[derive(Debug, Clone)]
pub struct RemoteWriteConfig {
    /// Receiver endpoint, e.g. `https://prom.example/api/v1/write`.
    pub url: Url,
    /// Credentials.
    pub auth: Option<RemoteWriteAuth>,
    /// TLS roots for an https URL.
    pub tls: ClientTls,
    /// How often the queue is flushed (a full batch is sent at once).
    pub interval: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Samples the queue holds before the oldest are dropped.
    pub queue_capacity_samples: usize,
    /// Samples per request.
    pub max_samples_per_batch: usize,
    /// First retry delay.
    pub retry_backoff_min: Duration,
    /// Longest retry delay.
    pub retry_backoff_max: Duration,
    /// Labels added to every series: `job`, `instance` and the configured extra labels.
    pub labels: BTreeMap<String, String>,
    /// Extra headers on every request (`[remote_write.headers]`), e.g. a tenant id.
    pub headers: reqwest::header::HeaderMap,
}

/// A series' full label set, sorted by name (so `__name__` comes first: every other name
/// starts with a lowercase letter).
type SeriesLabels = Vec<(String, String)>;

struct Queued {
    series: Arc<SeriesLabels>,
    value: f64,
    timestamp_ms: i64,
}

#[derive(Default)]
struct Queue {
    samples: VecDeque<Queued>,
    /// Sequence number of `samples[0]`; a sent batch is committed by sequence so evictions
    /// during the request cannot make it remove the wrong samples.
    first_seq: u64,
    last_timestamp_ms: i64,
    interned: HashSet<Arc<SeriesLabels>>,
    /// Series last sent per (target, test), for staleness markers.
    previous: HashMap<(String, String), Vec<Arc<SeriesLabels>>>,
}

impl Queue {
    fn intern(&mut self, labels: SeriesLabels) -> Arc<SeriesLabels> {
        if let Some(a) = self.interned.get(&labels) {
            return a.clone();
        }
        if self.interned.len() >= 4096 {
            // Only sets still referenced by queued samples or staleness tracking survive.
            self.interned.retain(|a| Arc::strong_count(a) > 1);
        }
        let a = Arc::new(labels);
        self.interned.insert(a.clone());
        a
    }

    fn commit(&mut self, up_to_seq: u64) -> usize {
        let mut n = 0;
        while self.first_seq <= up_to_seq && self.samples.pop_front().is_some() {
            self.first_seq += 1;
            n += 1;
        }
        n
    }
}

struct Shared {
    config: Mutex<Arc<RemoteWriteConfig>>,
    queue: Mutex<Queue>,
    metrics: RemoteWriteMetrics,
    wake: Notify,
    stop: watch::Sender<bool>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running sender: the queue plus the task that drains it.
pub struct RemoteWriter {
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for RemoteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteWriter")
            .field("url", &lock(&self.shared.config).url.as_str())
            .field("queued", &lock(&self.shared.queue).samples.len())
            .finish()
    }
}

impl RemoteWriter {
    /// Start the sender task (needs a Tokio runtime).
    pub fn start(config: RemoteWriteConfig, metrics: RemoteWriteMetrics) -> Arc<Self> {
        let (stop, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            config: Mutex::new(Arc::new(config)),
            queue: Mutex::new(Queue::default()),
            metrics,
            wake: Notify::new(),
            stop,
        });
        let task = tokio::spawn(sender(shared.clone()));
        Arc::new(RemoteWriter {
            shared,
            task: Mutex::new(Some(task)),
        })
    }

    /// Replace the configuration (after a reload); queued samples keep their labels.
    pub fn set_config(&self, config: RemoteWriteConfig) {
        *lock(&self.shared.config) = Arc::new(config);
        self.shared.wake.notify_one();
    }

    /// Samples waiting to be sent.
    pub fn queued(&self) -> usize {
        lock(&self.shared.queue).samples.len()
    }

    /// Queue the series of one measurement: [`crate::metrics::Metrics::run_series`] taken
    /// right after the result was recorded.
    pub fn enqueue_run(&self, selected: Vec<RunSeries>, res: &RunResult) {
        let cfg = lock(&self.shared.config).clone();
        let mut q = lock(&self.shared.queue);
        let now_ms = (unix_now() * 1000.0).round() as i64;
        let ts = now_ms.max(q.last_timestamp_ms + 1);
        q.last_timestamp_ms = ts;
        let key = (res.target.clone(), res.test.as_str().to_string());
        let mut current = Vec::new();
        let mut new_samples = Vec::with_capacity(selected.len() + 4);
        for s in selected {
            let labels = full_labels(&s.series, &cfg.labels);
            let series = q.intern(labels);
            if s.per_run {
                current.push(series.clone());
            }
            new_samples.push((series, s.series.value));
        }
        let before = q.previous.insert(key, current.clone()).unwrap_or_default();
        for old in before {
            if !current.iter().any(|c| Arc::ptr_eq(c, &old) || **c == *old) {
                new_samples.push((old, f64::from_bits(STALE_NAN_BITS)));
            }
        }
        let mut dropped = 0u64;
        for (series, value) in new_samples {
            if q.samples.len() >= cfg.queue_capacity_samples {
                q.samples.pop_front();
                q.first_seq += 1;
                dropped += 1;
            }
            q.samples.push_back(Queued {
                series,
                value,
                timestamp_ms: ts,
            });
        }
        let len = q.samples.len();
        drop(q);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "remote_write queue full ({} samples): dropped the oldest",
                cfg.queue_capacity_samples
            );
            self.count("dropped", dropped);
        }
        self.shared.metrics.set_queue_samples(len);
        if len >= cfg.max_samples_per_batch {
            self.shared.wake.notify_one();
        }
    }

    fn count(&self, result: &str, n: u64) {
        self.shared.metrics.count_samples(result, n);
    }

    /// Stop the sender: flush what the receiver accepts within `within`, count the rest as
    /// dropped.
    pub async fn shutdown(&self, within: Duration) {
        let _ = self.shared.stop.send(true);
        self.shared.wake.notify_one();
        let task = lock(&self.task).take();
        if let Some(mut task) = task {
            if tokio::time::timeout(within, &mut task).await.is_err() {
                task.abort();
                let _ = task.await;
            }
        }
        let left = {
            let mut q = lock(&self.shared.queue);
            let n = q.samples.len();
            q.samples.clear();
            n
        };
        if left > 0 {
            tracing::warn!(
                samples = left,
                "remote_write: unsent samples dropped at shutdown"
            );
            self.count("dropped", left as u64);
        }
        self.shared.metrics.set_queue_samples(0);
    }
}

/// `__name__`, the series' own labels and the configured labels. On a clash the configured
/// label wins and the series' own one becomes `exported_<name>`, exactly what a scrape with
/// `honor_labels: false` does (e.g. `region` of `probe_agent_info`), so pushed and scraped
/// series look the same.
fn full_labels(series: &Series, extra: &BTreeMap<String, String>) -> SeriesLabels {
    let mut v: SeriesLabels = Vec::with_capacity(series.label_values.len() + extra.len() + 1);
    v.push(("__name__".into(), series.metric.def().sample_name()));
    for (k, val) in series.labels() {
        if extra.contains_key(k) {
            v.push((format!("exported_{k}"), val.to_string()));
        } else {
            v.push((k.to_string(), val.to_string()));
        }
    }
    v.extend(extra.iter().map(|(k, val)| (k.clone(), val.clone())));
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Build the compressed request body of a batch: samples grouped per series, in queue order.
pub fn encode_batch<'a>(
    batch: impl IntoIterator<Item = (&'a SeriesLabelsRef, f64, i64)>,
) -> Vec<u8> {
    let mut index: HashMap<*const SeriesLabelsRef, usize> = HashMap::new();
    let mut req = WriteRequest::default();
    for (labels, value, timestamp) in batch {
        let i = *index.entry(labels as *const _).or_insert_with(|| {
            req.timeseries.push(TimeSeries {
                labels: labels
                    .iter()
                    .map(|(n, v)| Label {
                        name: n.clone(),
                        value: v.clone(),
                    })
                    .collect(),
                samples: Vec::new(),
            });
            req.timeseries.len() - 1
        });
        // proto3 leaves a `double` equal to 0.0 off the wire, and -0.0 == 0.0: a -0.0 would
        // arrive as +0.0 anyway, so it is sent as +0.0 on purpose (same number to Prometheus),
        // and the body decodes to exactly the samples given. Found by the fuzz target.
        let value = if value == 0.0 { 0.0 } else { value };
        req.timeseries[i].samples.push(Sample { value, timestamp });
    }
    let raw = req.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .expect("snappy compression of an in-memory buffer cannot fail")
}

/// A label set as stored in the queue.
pub type SeriesLabelsRef = [(String, String)];

enum SendError {
    Retry(String, Option<Duration>),
    Rejected(String),
}

fn build_client(cfg: &RemoteWriteConfig) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(cfg.timeout)
        .connect_timeout(cfg.timeout)
        .user_agent(concat!("probe/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured((*cfg.tls).clone())
        .build()
        .map_err(|e| format!("building the remote_write HTTP client: {e}"))
}

async fn post(
    client: &reqwest::Client,
    cfg: &RemoteWriteConfig,
    body: Vec<u8>,
) -> Result<(), SendError> {
    let mut req = client
        .post(cfg.url.clone())
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .headers(cfg.headers.clone())
        .body(body);
    match &cfg.auth {
        Some(RemoteWriteAuth::Basic { username, password }) => {
            req = req.basic_auth(username, Some(password))
        }
        Some(RemoteWriteAuth::Bearer(t)) => req = req.bearer_auth(t),
        None => {}
    }
    let resp = req
        .send()
        .await
        .map_err(|e| SendError::Retry(format!("{e}"), None))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = resp.text().await.unwrap_or_default();
    let text: String = text.trim().chars().take(300).collect();
    let msg = format!("{} answered HTTP {}: {text}", cfg.url, status.as_u16());
    if status.is_server_error() || status.as_u16() == 429 {
        Err(SendError::Retry(msg, retry_after))
    } else {
        Err(SendError::Rejected(msg))
    }
}

async fn sender(shared: Arc<Shared>) {
    let mut stop = shared.stop.subscribe();
    let mut client: Option<(Arc<RemoteWriteConfig>, reqwest::Client)> = None;
    let mut backoff: Option<Duration> = None;
    loop {
        let stopping = *stop.borrow();
        if !stopping {
            let interval = lock(&shared.config).interval;
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shared.wake.notified() => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        }
        // Drain: one batch after another until the queue is empty or the receiver fails.
        loop {
            let stopping = *stop.borrow();
            let cfg = lock(&shared.config).clone();
            if !client.as_ref().is_some_and(|(c, _)| Arc::ptr_eq(c, &cfg)) {
                match build_client(&cfg) {
                    Ok(c) => client = Some((cfg.clone(), c)),
                    Err(e) => {
                        tracing::error!("{e}");
                        break;
                    }
                }
            }
            let (up_to_seq, n, body) = {
                let q = lock(&shared.queue);
                let n = q.samples.len().min(cfg.max_samples_per_batch);
                if n == 0 {
                    break;
                }
                let body = encode_batch(
                    q.samples
                        .iter()
                        .take(n)
                        .map(|s| (s.series.as_slice(), s.value, s.timestamp_ms)),
                );
                (q.first_seq + n as u64 - 1, n, body)
            };
            let bytes = body.len() as u64;
            let http = &client.as_ref().expect("built above").1;
            match post(http, &cfg, body).await {
                Ok(()) => {
                    let removed = lock(&shared.queue).commit(up_to_seq);
                    shared.metrics.count_samples("sent", n as u64);
                    shared.metrics.count_request("success");
                    shared.metrics.add_sent_bytes(bytes);
                    shared.metrics.set_last_success(unix_now());
                    tracing::debug!(samples = n, removed, bytes, "remote_write batch sent");
                    backoff = None;
                }
                Err(SendError::Rejected(msg)) => {
                    lock(&shared.queue).commit(up_to_seq);
                    shared.metrics.count_samples("rejected", n as u64);
                    shared.metrics.count_request("rejected");
                    tracing::error!(samples = n, "remote_write batch rejected, dropped: {msg}");
                }
                Err(SendError::Retry(msg, retry_after)) => {
                    shared.metrics.count_request("retry");
                    if stopping {
                        tracing::warn!("remote_write: receiver unavailable at shutdown: {msg}");
                        shared
                            .metrics
                            .set_queue_samples(lock(&shared.queue).samples.len());
                        return;
                    }
                    let b = backoff
                        .map(|b| (b * 2).min(cfg.retry_backoff_max))
                        .unwrap_or(cfg.retry_backoff_min);
                    backoff = Some(b);
                    let wait = retry_after
                        .map(|r| r.clamp(b, cfg.retry_backoff_max))
                        .unwrap_or(b);
                    tracing::warn!(
                        retry_in_s = wait.as_secs_f64(),
                        queued = lock(&shared.queue).samples.len(),
                        "remote_write failed, will retry: {msg}"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.wait_for(|s| *s) => {}
                    }
                }
            }
            shared
                .metrics
                .set_queue_samples(lock(&shared.queue).samples.len());
        }
        if *stop.borrow() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzz target's crash (remote_write_encoder, -0.0 came back as +0.0): the body
    /// decodes to exactly the values encoded, a negative zero as +0.0, NaN payloads kept.
    #[test]
    fn negative_zero_and_nan_payloads_round_trip() {
        let labels: Vec<(String, String)> = vec![("__name__".into(), "m".into())];
        let values = [-0.0, 0.0, f64::from_bits(STALE_NAN_BITS), -1.5];
        let body = encode_batch(values.iter().map(|v| (&labels[..], *v, 7)));
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let req = WriteRequest::decode(&raw[..]).unwrap();
        let got: Vec<u64> = req.timeseries[0]
            .samples
            .iter()
            .map(|s| s.value.to_bits())
            .collect();
        assert_eq!(got, [0, 0, STALE_NAN_BITS, (-1.5f64).to_bits()]);
    }
    use crate::metrics::Metric;
    use crate::probers::{ProbeOutput, TestKind};
    use crate::reason::{FailureReason, ProbeError};

    fn run(target: &str, test: TestKind, outcome: Result<ProbeOutput, ProbeError>) -> RunResult {
        RunResult {
            target: target.into(),
            test,
            started_unix_seconds: 1.0e9,
            duration_seconds: 0.5,
            bytes_used: 10,
            outcome,
        }
    }

    #[test]
    fn selects_the_runs_series_only() {
        let m = crate::metrics::Metrics::new();
        let lat = run(
            "t1",
            TestKind::Latency,
            Ok(ProbeOutput {
                latency_min_seconds: Some(0.001),
                latency_median_seconds: Some(0.002),
                jitter_seconds: Some(0.0001),
                tcp_connect_seconds: Some(0.0003),
                ..Default::default()
            }),
        );
        m.record(&lat);
        m.record(&run(
            "t1",
            TestKind::Download,
            Ok(ProbeOutput {
                download_bytes_per_second: Some(1e6),
                ..Default::default()
            }),
        ));
        m.record(&run("t2", TestKind::Latency, Ok(ProbeOutput::default())));
        let sel = m.run_series(&lat);
        let names: HashSet<String> = sel
            .iter()
            .map(|s| s.series.metric.def().sample_name())
            .collect();
        for want in [
            "probe_success",
            "probe_duration_seconds",
            "probe_last_run_timestamp_seconds",
            "probe_latency_seconds",
            "probe_jitter_seconds",
            "probe_tcp_connect_seconds",
            "probe_runs_total",
            "probe_bytes_used_total",
            "probe_data_budget_remaining_bytes",
        ] {
            assert!(names.contains(want), "{want} missing from {names:?}");
        }
        assert!(!names.contains("probe_download_bytes_per_second"));
        for s in &sel {
            let labels: Vec<(&str, &str)> = s.series.labels().collect();
            if s.per_run {
                assert!(labels.contains(&("target", "t1")), "{s:?}");
            }
            assert!(!labels.contains(&("test", "download")));
        }
    }

    #[test]
    fn labels_sorted_name_first_and_batch_round_trips() {
        let extra: BTreeMap<String, String> = [("job", "probe"), ("instance", "lab")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let l = full_labels(
            &Series {
                metric: Metric::Success,
                label_values: vec!["t1".into(), "domestic".into(), "dns".into()],
                value: 1.0,
            },
            &extra,
        );
        let names: Vec<&str> = l.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["__name__", "instance", "job", "scope", "target", "test"]
        );
        let info = full_labels(
            &Series {
                metric: Metric::AgentInfo,
                label_values: ["Tashkent", "s", "1", "2", "isp", "v"]
                    .map(String::from)
                    .to_vec(),
                value: 1.0,
            },
            &[("region".to_string(), "UZ-TK".to_string())].into(),
        );
        assert_eq!(
            info[1..3],
            [
                ("exported_region".to_string(), "Tashkent".to_string()),
                ("isp".to_string(), "isp".to_string()),
            ]
        );
        assert!(info.contains(&("region".to_string(), "UZ-TK".to_string())));
        let body = encode_batch([(&l[..], 1.0, 1000), (&l[..], 0.0, 2000)]);
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let req = WriteRequest::decode(&raw[..]).unwrap();
        assert_eq!(req.timeseries.len(), 1);
        assert_eq!(req.timeseries[0].labels[0].name, "__name__");
        assert_eq!(req.timeseries[0].labels[0].value, "probe_success");
        assert_eq!(
            req.timeseries[0].samples,
            vec![
                Sample {
                    value: 1.0,
                    timestamp: 1000
                },
                Sample {
                    value: 0.0,
                    timestamp: 2000
                }
            ]
        );
    }

    #[test]
    fn queued_sample_is_24_bytes() {
        // The documented memory figure; label sets are shared between samples.
        assert_eq!(std::mem::size_of::<Queued>(), 24);
    }

    #[test]
    fn config_defaults_and_password_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rw.pass"), "s3cret\n").unwrap();
        let path = dir.path().join("agent.toml");
        let text = r#"
[agent]
region = "R"
site = "lab-1"
latitude = 1.0
longitude = 2.0
daily_budget_bytes = 1_000_000_000

[[targets]]
name = "t1"
url = "http://127.0.0.1:8080/"
tests = ["latency"]

[remote_write]
url = "https://prom.example/api/v1/write"
[remote_write.basic_auth]
username = "agent"
password_file = "rw.pass"
[remote_write.labels]
rack = "r7"
"#;
        let cfg = crate::config::parse(text, &path).unwrap();
        let rw = cfg.remote_write.unwrap();
        assert_eq!(
            rw.auth,
            Some(RemoteWriteAuth::Basic {
                username: "agent".into(),
                password: "s3cret".into()
            })
        );
        assert!(!format!("{:?}", rw.auth).contains("s3cret"));
        let labels: Vec<(&str, &str)> = rw
            .labels
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        assert_eq!(
            labels,
            [
                ("instance", "lab-1"),
                ("job", "probe-agent"),
                ("rack", "r7"),
                ("region", "R"),
                ("site", "lab-1")
            ]
        );
        assert_eq!(rw.queue_capacity_samples, 100_000);
        assert_eq!(rw.max_samples_per_batch, 2_000);
        assert_eq!(rw.interval, Duration::from_secs(10));
        assert_eq!(rw.retry_backoff_min, Duration::from_millis(500));
        assert_eq!(rw.retry_backoff_max, Duration::from_secs(30));
    }

    /// Size of a full default batch of realistic series (3 targets, latency, dns and http
    /// runs): the figure documented in the README, kept as a regression bound.
    #[tokio::test]
    async fn default_batch_size_bytes() {
        crate::net::install_crypto_provider();
        let metrics = crate::metrics::Metrics::new();
        let mut cfg = test_config(100_000);
        cfg.max_samples_per_batch = 2_000;
        cfg.labels = [("job", "probe"), ("instance", "tas-dc1")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let w = RemoteWriter::start(cfg, metrics.remote_write());
        let mut i = 0;
        while w.queued() < 2_000 {
            i += 1;
            let f = 0.001 * (1.0 + (i % 7) as f64 / 10.0);
            let target = ["home-isp", "ix-tashkent", "cloud-fra"][i % 3];
            let res = match i % 3 {
                0 => run(
                    target,
                    TestKind::Latency,
                    Ok(ProbeOutput {
                        latency_min_seconds: Some(f),
                        latency_median_seconds: Some(f * 1.2),
                        jitter_seconds: Some(f / 10.0),
                        tcp_connect_seconds: Some(f / 2.0),
                        ..Default::default()
                    }),
                ),
                1 => run(
                    target,
                    TestKind::Dns,
                    Ok(ProbeOutput {
                        dns_lookup_seconds: Some(f * 3.0),
                        ..Default::default()
                    }),
                ),
                _ => run(
                    target,
                    TestKind::Http,
                    Ok(ProbeOutput {
                        http_phases: vec![
                            (crate::probers::Phase::Dns, f),
                            (crate::probers::Phase::Connect, f),
                            (crate::probers::Phase::Ttfb, f * 2.0),
                        ],
                        ..Default::default()
                    }),
                ),
            };
            metrics.record(&res);
            w.enqueue_run(metrics.run_series(&res), &res);
        }
        let body = {
            let q = lock(&w.shared.queue);
            encode_batch(
                q.samples
                    .iter()
                    .take(2_000)
                    .map(|s| (s.series.as_slice(), s.value, s.timestamp_ms)),
            )
        };
        let per_sample = body.len() as f64 / 2_000.0;
        println!(
            "default batch: 2000 samples, {} bytes compressed, {per_sample:.1} bytes/sample",
            body.len()
        );
        assert!(per_sample < 40.0, "{per_sample} bytes/sample");
        w.shutdown(Duration::from_millis(100)).await;
    }

    fn test_config(capacity: usize) -> RemoteWriteConfig {
        RemoteWriteConfig {
            url: "http://127.0.0.1:9/api/v1/write".parse().unwrap(),
            auth: None,
            tls: Arc::new(crate::net::client_tls_config(None).unwrap()),
            interval: Duration::from_secs(3600),
            timeout: Duration::from_secs(1),
            queue_capacity_samples: capacity,
            max_samples_per_batch: capacity,
            retry_backoff_min: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            labels: BTreeMap::new(),
            headers: Default::default(),
        }
    }

    #[tokio::test]
    async fn full_queue_drops_oldest_and_failure_gets_stale_marker() {
        crate::net::install_crypto_provider();
        let metrics = crate::metrics::Metrics::new();
        let w = RemoteWriter::start(test_config(50), metrics.remote_write());
        let fail = run(
            "t1",
            TestKind::Dns,
            Err(ProbeError::new(FailureReason::Dns, "nx")),
        );
        metrics.record(&fail);
        w.enqueue_run(metrics.run_series(&fail), &fail);
        let after_fail = w.queued();
        let ok = run(
            "t1",
            TestKind::Dns,
            Ok(ProbeOutput {
                dns_lookup_seconds: Some(0.01),
                ..Default::default()
            }),
        );
        metrics.record(&ok);
        w.enqueue_run(metrics.run_series(&ok), &ok);
        {
            let q = lock(&w.shared.queue);
            let stale: Vec<_> = q
                .samples
                .iter()
                .filter(|s| s.value.to_bits() == STALE_NAN_BITS)
                .collect();
            assert_eq!(
                stale.len(),
                1,
                "one staleness marker for the failure reason"
            );
            assert!(stale[0]
                .series
                .contains(&("__name__".into(), "probe_failure_reason".into())));
            let ts: Vec<i64> = q.samples.iter().map(|s| s.timestamp_ms).collect();
            assert!(ts.windows(2).all(|w| w[0] <= w[1]));
            assert!(ts.first() < ts.last(), "runs get increasing timestamps");
        }
        assert!(after_fail > 0);
        for _ in 0..20 {
            metrics.record(&ok);
            w.enqueue_run(metrics.run_series(&ok), &ok);
        }
        assert_eq!(w.queued(), 50);
        let text = metrics.encode_text();
        assert!(
            text.contains("probe_remote_write_samples_total{result=\"dropped\"}"),
            "{text}"
        );
        // Nothing listens on port 9: shutdown gives up and counts the queue as dropped.
        w.shutdown(Duration::from_secs(2)).await;
        assert_eq!(w.queued(), 0);
        assert!(metrics
            .encode_text()
            .contains("probe_remote_write_queue_samples 0"));
    }
}
