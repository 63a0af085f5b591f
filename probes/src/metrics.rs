//! Every exported metric, defined once in [`Metric::def`], and the store of current values
//! behind both `/metrics` and remote write.
//!
//! The table is the only place a metric name, type, help text or label set is written. The
//! [`Metrics`] store holds typed [`Series`] (metric, label values, value); the exposition
//! formats ([`Metrics::encode_text`], [`Metrics::encode_openmetrics`]) render those series and
//! remote write takes the same series from [`Metrics::run_series`], so what is pushed is exactly
//! what a scrape would have seen, without encoding and re-parsing text in between.
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `probe_success` | gauge | target, scope, test | 1 if the last run succeeded |
//! | `probe_duration_seconds` | gauge | target, scope, test | length of the last run |
//! | `probe_last_run_timestamp_seconds` | gauge | target, scope, test | Unix time the last run started |
//! | `probe_failure_reason` | gauge | target, scope, test, reason | 1 for the last failure's reason; absent after a success |
//! | `probe_download_bytes_per_second` | gauge | target, scope | download rate after ramp-up |
//! | `probe_upload_bytes_per_second` | gauge | target, scope | upload rate after ramp-up |
//! | `probe_latency_seconds` | gauge | target, scope, stat=min\|median | idle HTTP RTT |
//! | `probe_jitter_seconds` | gauge | target, scope | mean \|Δ\| of consecutive idle RTTs |
//! | `probe_tcp_connect_seconds` | gauge | target, scope | median TCP connect time |
//! | `probe_loaded_latency_seconds` | gauge | target, scope | median RTT during the download |
//! | `probe_responsiveness_rpm` | gauge | target, scope | 60 / loaded RTT |
//! | `probe_packet_loss_ratio` | gauge | target, scope | UDP echo loss, 0–1 |
//! | `probe_dns_lookup_seconds` | gauge | target, scope | lookup time of the target's host |
//! | `probe_http_phase_seconds` | gauge | target, scope, phase | dns, connect, tls, ttfb, transfer |
//! | `probe_ndt7_client_bytes_per_second` | gauge | target, scope, direction | ndt7 rate the client measured |
//! | `probe_ndt7_server_bytes_per_second` | gauge | target, scope, direction | ndt7 rate from the server's TCPInfo |
//! | `probe_bytes_used_total` | counter | target, scope, test | payload bytes moved |
//! | `probe_data_budget_remaining_bytes` | gauge | — | bytes left in today's (UTC) budget |
//! | `probe_runs_total` | counter | target, scope, test, result | runs by result (success or reason) |
//! | `probe_agent_info` | gauge | region, site, latitude, longitude, isp, version | always 1 |
//! | `probe_config_last_reload_successful` | gauge | — | 1 if the last (re)load worked |
//! | `probe_config_last_reload_success_timestamp_seconds` | gauge | — | Unix time of the last good load |
//! | `probe_remote_write_samples_total` | counter | result=sent\|rejected\|dropped | remote-write samples by fate |
//! | `probe_remote_write_requests_total` | counter | result=success\|retry\|rejected | remote-write POSTs by outcome |
//! | `probe_remote_write_sent_bytes_total` | counter | — | compressed request bytes accepted by the receiver |
//! | `probe_remote_write_queue_samples` | gauge | — | samples waiting in the remote-write queue |
//! | `probe_remote_write_last_success_timestamp_seconds` | gauge | — | Unix time of the last accepted batch (0: never) |
//!
//! Label values come only from the configuration (target names and their `scope`, domestic or
//! international) and closed enums; no sample carries a timestamp.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use crate::probers::ProbeOutput;
use crate::reason::FailureReason;
use crate::runner::RunResult;
use crate::scope::Scope;

/// Prometheus metric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A monotonically increasing count; exposed with a `_total` suffix.
    Counter,
}

/// One row of the metric table.
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    /// Family name (counters without their `_total` suffix).
    pub name: &'static str,
    /// Type.
    pub kind: Kind,
    /// Help text.
    pub help: &'static str,
    /// Label names, in exposition order.
    pub labels: &'static [&'static str],
}

impl MetricDef {
    /// The name samples carry (`_total` appended for counters).
    pub fn sample_name(&self) -> String {
        match self.kind {
            Kind::Gauge => self.name.to_string(),
            Kind::Counter => format!("{}_total", self.name),
        }
    }
}

/// Every exported metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Metric {
    Success,
    Duration,
    LastRun,
    FailureReason,
    Download,
    Upload,
    Latency,
    Jitter,
    TcpConnect,
    LoadedLatency,
    Responsiveness,
    PacketLoss,
    DnsLookup,
    HttpPhase,
    Ndt7Client,
    Ndt7Server,
    BytesUsed,
    Runs,
    BudgetRemaining,
    AgentInfo,
    ReloadSuccessful,
    ReloadTimestamp,
    RemoteWriteSamples,
    RemoteWriteRequests,
    RemoteWriteSentBytes,
    RemoteWriteQueue,
    RemoteWriteLastSuccess,
}

// Every target-labelled series carries the target's `scope` right after `target`.
const TT: &[&str] = &["target", "scope", "test"];
const T: &[&str] = &["target", "scope"];
const R: &[&str] = &["result"];
const NONE: &[&str] = &[];

impl Metric {
    /// All metrics, in exposition order.
    pub const ALL: [Metric; 27] = [
        Metric::Success,
        Metric::Duration,
        Metric::LastRun,
        Metric::FailureReason,
        Metric::Download,
        Metric::Upload,
        Metric::Latency,
        Metric::Jitter,
        Metric::TcpConnect,
        Metric::LoadedLatency,
        Metric::Responsiveness,
        Metric::PacketLoss,
        Metric::DnsLookup,
        Metric::HttpPhase,
        Metric::Ndt7Client,
        Metric::Ndt7Server,
        Metric::BytesUsed,
        Metric::Runs,
        Metric::BudgetRemaining,
        Metric::AgentInfo,
        Metric::ReloadSuccessful,
        Metric::ReloadTimestamp,
        Metric::RemoteWriteSamples,
        Metric::RemoteWriteRequests,
        Metric::RemoteWriteSentBytes,
        Metric::RemoteWriteQueue,
        Metric::RemoteWriteLastSuccess,
    ];

    /// The metric's table row: the one place its name, type, help and labels are written.
    pub const fn def(self) -> MetricDef {
        use Kind::{Counter, Gauge};
        let (name, kind, help, labels): (&'static str, Kind, &'static str, &'static [&'static str]) = match self {
            Metric::Success => ("probe_success", Gauge, "1 if the last run of the test succeeded, else 0", TT),
            Metric::Duration => ("probe_duration_seconds", Gauge, "Duration of the last run in seconds", TT),
            Metric::LastRun => ("probe_last_run_timestamp_seconds", Gauge, "Unix time the last run started", TT),
            Metric::FailureReason => ("probe_failure_reason", Gauge, "1 for the reason of the last failed run (absent after a success)", &["target", "scope", "test", "reason"]),
            Metric::Download => ("probe_download_bytes_per_second", Gauge, "Download rate in bytes per second after ramp-up (TCP payload from kernel counters where available)", T),
            Metric::Upload => ("probe_upload_bytes_per_second", Gauge, "Upload rate in bytes per second after ramp-up (bytes acknowledged by the receiver where available)", T),
            Metric::Latency => ("probe_latency_seconds", Gauge, "Idle HTTP round-trip time in seconds", &["target", "scope", "stat"]),
            Metric::Jitter => ("probe_jitter_seconds", Gauge, "Mean absolute difference of consecutive idle round-trip times in seconds", T),
            Metric::TcpConnect => ("probe_tcp_connect_seconds", Gauge, "Median TCP connect time in seconds", T),
            Metric::LoadedLatency => ("probe_loaded_latency_seconds", Gauge, "Median round-trip time during the download in seconds", T),
            Metric::Responsiveness => ("probe_responsiveness_rpm", Gauge, "Round trips per minute under load (60 / loaded latency)", T),
            Metric::PacketLoss => ("probe_packet_loss_ratio", Gauge, "Fraction of UDP echo datagrams lost", T),
            Metric::DnsLookup => ("probe_dns_lookup_seconds", Gauge, "DNS lookup time of the target host in seconds", T),
            Metric::HttpPhase => ("probe_http_phase_seconds", Gauge, "Duration of each HTTP request phase in seconds", &["target", "scope", "phase"]),
            Metric::Ndt7Client => ("probe_ndt7_client_bytes_per_second", Gauge, "ndt7 rate in bytes per second as the client measured it (download: bytes received; upload: bytes acknowledged)", &["target", "scope", "direction"]),
            Metric::Ndt7Server => ("probe_ndt7_server_bytes_per_second", Gauge, "ndt7 rate in bytes per second from the server's TCPInfo measurements (download: BytesAcked; upload: BytesReceived)", &["target", "scope", "direction"]),
            Metric::BytesUsed => ("probe_bytes_used", Counter, "Payload bytes moved by probes", TT),
            Metric::Runs => ("probe_runs", Counter, "Probe runs by result (success or failure reason)", &["target", "scope", "test", "result"]),
            Metric::BudgetRemaining => ("probe_data_budget_remaining_bytes", Gauge, "Bytes left in today's (UTC) data budget", NONE),
            Metric::AgentInfo => ("probe_agent_info", Gauge, "Agent identity; always 1", &["region", "site", "latitude", "longitude", "isp", "version"]),
            Metric::ReloadSuccessful => ("probe_config_last_reload_successful", Gauge, "1 if the last configuration (re)load succeeded", NONE),
            Metric::ReloadTimestamp => ("probe_config_last_reload_success_timestamp_seconds", Gauge, "Unix time of the last successful configuration load", NONE),
            Metric::RemoteWriteSamples => ("probe_remote_write_samples", Counter, "Remote-write samples by result: sent (accepted), rejected (4xx), dropped (queue full or shutdown)", R),
            Metric::RemoteWriteRequests => ("probe_remote_write_requests", Counter, "Remote-write requests by result: success, retry (network error, 5xx, 429), rejected (other 4xx)", R),
            Metric::RemoteWriteSentBytes => ("probe_remote_write_sent_bytes", Counter, "Compressed remote-write request bytes accepted by the receiver", NONE),
            Metric::RemoteWriteQueue => ("probe_remote_write_queue_samples", Gauge, "Samples waiting in the remote-write queue", NONE),
            Metric::RemoteWriteLastSuccess => ("probe_remote_write_last_success_timestamp_seconds", Gauge, "Unix time of the last batch the remote-write receiver accepted (0: never)", NONE),
        };
        MetricDef {
            name,
            kind,
            help,
            labels,
        }
    }

    /// Agent-level series pushed with every measurement so receivers can join on them.
    pub fn is_agent_level(self) -> bool {
        matches!(
            self,
            Metric::AgentInfo
                | Metric::BudgetRemaining
                | Metric::ReloadSuccessful
                | Metric::ReloadTimestamp
        )
    }
}

/// One series: a metric, its label values (in the order of [`MetricDef::labels`]) and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Metric.
    pub metric: Metric,
    /// Label values, one per label name of the metric.
    pub label_values: Vec<String>,
    /// Current value.
    pub value: f64,
}

impl Series {
    /// `(name, value)` label pairs.
    pub fn labels(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.metric
            .def()
            .labels
            .iter()
            .copied()
            .zip(self.label_values.iter().map(String::as_str))
    }

    fn label(&self, name: &str) -> Option<&str> {
        self.labels().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

type Key = (Metric, Vec<String>);

/// The figure series a successful run sets (labelled by target and scope, plus
/// `stat`/`phase`).
pub fn figures(target: &str, scope: Scope, out: &ProbeOutput) -> Vec<Series> {
    let mut v = Vec::new();
    let mut push = |metric: Metric, extra: Option<&str>, value: Option<f64>| {
        if let Some(value) = value {
            let mut label_values = vec![target.to_string(), scope.as_str().to_string()];
            label_values.extend(extra.map(str::to_string));
            v.push(Series {
                metric,
                label_values,
                value,
            });
        }
    };
    push(Metric::Download, None, out.download_bytes_per_second);
    push(Metric::Upload, None, out.upload_bytes_per_second);
    push(Metric::Latency, Some("min"), out.latency_min_seconds);
    push(Metric::Latency, Some("median"), out.latency_median_seconds);
    push(Metric::Jitter, None, out.jitter_seconds);
    push(Metric::TcpConnect, None, out.tcp_connect_seconds);
    push(Metric::LoadedLatency, None, out.loaded_latency_seconds);
    push(Metric::Responsiveness, None, out.responsiveness_rpm);
    push(Metric::PacketLoss, None, out.packet_loss_ratio);
    push(Metric::DnsLookup, None, out.dns_lookup_seconds);
    push(
        Metric::Ndt7Client,
        Some("download"),
        out.ndt7_download_client_bytes_per_second,
    );
    push(
        Metric::Ndt7Server,
        Some("download"),
        out.ndt7_download_server_bytes_per_second,
    );
    push(
        Metric::Ndt7Client,
        Some("upload"),
        out.ndt7_upload_client_bytes_per_second,
    );
    push(
        Metric::Ndt7Server,
        Some("upload"),
        out.ndt7_upload_server_bytes_per_second,
    );
    for (phase, s) in &out.http_phases {
        push(Metric::HttpPhase, Some(phase.as_str()), Some(*s));
    }
    v
}

/// A series of one run for remote write: agent-level or belonging to the run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSeries {
    /// The series with its current value.
    pub series: Series,
    /// Belongs to the run's target and test (tracked for staleness), not agent-level.
    pub per_run: bool,
}

#[derive(Debug, Default)]
struct Store {
    values: Mutex<BTreeMap<Key, f64>>,
}

impl Store {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Key, f64>> {
        self.values.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, metric: Metric, labels: &[&str], value: f64) {
        debug_assert_eq!(labels.len(), metric.def().labels.len(), "{metric:?}");
        let key = (metric, labels.iter().map(|s| s.to_string()).collect());
        self.lock().insert(key, value);
    }

    fn inc(&self, metric: Metric, labels: &[&str], by: f64) {
        debug_assert_eq!(metric.def().kind, Kind::Counter);
        let key = (metric, labels.iter().map(|s| s.to_string()).collect());
        *self.lock().entry(key).or_insert(0.0) += by;
    }
}

/// Handles of the remote-write self-metrics; clones share the store, so the sender task keeps
/// its own copy.
#[derive(Clone, Debug, Default)]
pub struct RemoteWriteMetrics {
    store: Arc<Store>,
}

impl RemoteWriteMetrics {
    /// Count samples by `sent` (accepted), `rejected` (4xx other than 429) or `dropped`
    /// (evicted from the full queue or unsent at shutdown).
    pub fn count_samples(&self, result: &str, n: u64) {
        self.store
            .inc(Metric::RemoteWriteSamples, &[result], n as f64);
    }

    /// Count one POST by `success`, `retry` (network error, 5xx, 429) or `rejected`.
    pub fn count_request(&self, result: &str) {
        self.store.inc(Metric::RemoteWriteRequests, &[result], 1.0);
    }

    /// Add compressed body bytes of an accepted request.
    pub fn add_sent_bytes(&self, n: u64) {
        self.store.inc(Metric::RemoteWriteSentBytes, &[], n as f64);
    }

    /// Samples waiting.
    pub fn set_queue_samples(&self, n: usize) {
        self.store.set(Metric::RemoteWriteQueue, &[], n as f64);
    }

    /// Unix time of the last accepted batch.
    pub fn set_last_success(&self, unix_seconds: f64) {
        self.store
            .set(Metric::RemoteWriteLastSuccess, &[], unix_seconds);
    }
}

/// Agent identity labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct AgentInfo {
    /// Region.
    pub region: String,
    /// Site.
    pub site: String,
    /// Latitude, degrees.
    pub latitude: String,
    /// Longitude, degrees.
    pub longitude: String,
    /// ISP.
    pub isp: String,
    /// Agent version.
    pub version: String,
}

/// The current value of every series.
#[derive(Debug)]
pub struct Metrics {
    store: Arc<Store>,
    /// The `scope` label of each configured target (see [`Metrics::set_target_scopes`]).
    scopes: Mutex<BTreeMap<String, Scope>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A store with the label-less series at 0.
    pub fn new() -> Self {
        let store = Arc::new(Store::default());
        for m in Metric::ALL {
            if m.def().labels.is_empty() {
                store.set(m, &[], 0.0);
            }
        }
        Metrics {
            store,
            scopes: Mutex::new(BTreeMap::new()),
        }
    }

    /// Set the scope of every configured target; its series carry it as the `scope` label.
    /// A target whose scope changed loses its gauge series (the next run sets them again
    /// under the new scope), so no series is left with a stale scope; counters stay, like
    /// those of removed targets, so rates remain continuous. A target not set here (a run
    /// recorded outside the agent) is `domestic`.
    pub fn set_target_scopes(&self, targets: impl IntoIterator<Item = (String, Scope)>) {
        let new: BTreeMap<String, Scope> = targets.into_iter().collect();
        let old = std::mem::replace(
            &mut *self.scopes.lock().unwrap_or_else(|p| p.into_inner()),
            new.clone(),
        );
        for (target, scope) in old {
            if new.get(&target).is_some_and(|s| *s != scope) {
                self.forget_target(&target);
            }
        }
    }

    fn scope_of(&self, target: &str) -> Scope {
        self.scopes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(target)
            .copied()
            .unwrap_or_default()
    }

    /// Handles of the remote-write self-metrics.
    pub fn remote_write(&self) -> RemoteWriteMetrics {
        RemoteWriteMetrics {
            store: self.store.clone(),
        }
    }

    /// Record one run.
    pub fn record(&self, res: &RunResult) {
        let (target, test) = (res.target.as_str(), res.test.as_str());
        let scope_value = self.scope_of(target);
        let scope = scope_value.as_str();
        let s = &self.store;
        s.set(
            Metric::Duration,
            &[target, scope, test],
            res.duration_seconds,
        );
        s.set(
            Metric::LastRun,
            &[target, scope, test],
            res.started_unix_seconds,
        );
        s.inc(
            Metric::BytesUsed,
            &[target, scope, test],
            res.bytes_used as f64,
        );
        s.inc(
            Metric::Runs,
            &[target, scope, test, res.result_label()],
            1.0,
        );
        {
            let mut v = s.lock();
            for r in FailureReason::ALL {
                v.remove(&(
                    Metric::FailureReason,
                    vec![target.into(), scope.into(), test.into(), r.as_str().into()],
                ));
            }
        }
        match &res.outcome {
            Err(e) => {
                s.set(Metric::Success, &[target, scope, test], 0.0);
                s.set(
                    Metric::FailureReason,
                    &[target, scope, test, e.reason.as_str()],
                    1.0,
                );
            }
            Ok(out) => {
                s.set(Metric::Success, &[target, scope, test], 1.0);
                let mut v = s.lock();
                for f in figures(target, scope_value, out) {
                    v.insert((f.metric, f.label_values), f.value);
                }
            }
        }
    }

    /// The series remote write pushes after `res` was recorded: those labelled with its target
    /// and test, the figures it set, and the agent-level series; values as `/metrics` shows
    /// them now.
    pub fn run_series(&self, res: &RunResult) -> Vec<RunSeries> {
        let figures: Vec<Series> = match &res.outcome {
            Ok(o) => figures(&res.target, self.scope_of(&res.target), o),
            Err(_) => Vec::new(),
        };
        let mut out = Vec::new();
        for series in self.snapshot() {
            let per_run = series.label("target") == Some(res.target.as_str())
                && match series.label("test") {
                    Some(t) => t == res.test.as_str(),
                    None => figures.iter().any(|f| {
                        f.metric == series.metric && f.label_values == series.label_values
                    }),
                };
            if per_run || series.metric.is_agent_level() {
                out.push(RunSeries { series, per_run });
            }
        }
        out
    }

    /// Drop every gauge series of a target no longer configured (counters stay so rates
    /// remain continuous).
    pub fn forget_target(&self, target: &str) {
        self.store.lock().retain(|(metric, labels), _| {
            let def = metric.def();
            def.kind == Kind::Counter
                || def.labels.first() != Some(&"target")
                || labels[0] != target
        });
    }

    /// Set the agent identity (replacing any previous one).
    pub fn set_agent_info(&self, info: AgentInfo) {
        self.store
            .lock()
            .retain(|(m, _), _| *m != Metric::AgentInfo);
        self.store.set(
            Metric::AgentInfo,
            &[
                &info.region,
                &info.site,
                &info.latitude,
                &info.longitude,
                &info.isp,
                &info.version,
            ],
            1.0,
        );
    }

    /// Record a configuration (re)load.
    pub fn set_reload(&self, ok: bool, unix_seconds: f64) {
        self.store
            .set(Metric::ReloadSuccessful, &[], if ok { 1.0 } else { 0.0 });
        if ok {
            self.store.set(Metric::ReloadTimestamp, &[], unix_seconds);
        }
    }

    /// Set the remaining daily budget.
    pub fn set_budget_remaining(&self, bytes: u64) {
        self.store.set(Metric::BudgetRemaining, &[], bytes as f64);
    }

    /// Every series, in table order then label order.
    pub fn snapshot(&self) -> Vec<Series> {
        self.store
            .lock()
            .iter()
            .map(|((metric, label_values), value)| Series {
                metric: *metric,
                label_values: label_values.clone(),
                value: *value,
            })
            .collect()
    }

    /// OpenMetrics 1.0 text exposition.
    pub fn encode_openmetrics(&self) -> String {
        let mut s = encode(&self.snapshot(), Format::OpenMetrics);
        s.push_str("# EOF\n");
        s
    }

    /// Classic Prometheus text format (0.0.4).
    pub fn encode_text(&self) -> String {
        encode(&self.snapshot(), Format::Text)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Text,
    OpenMetrics,
}

/// A sample value as both formats write it: integers without a fraction, `NaN`, `±Inf`.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn escape_label(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn encode(series: &[Series], format: Format) -> String {
    let mut out = String::with_capacity(series.len() * 80);
    let mut i = 0;
    while i < series.len() {
        let metric = series[i].metric;
        let def = metric.def();
        let sample = def.sample_name();
        let family = match (format, def.kind) {
            (Format::OpenMetrics, _) | (Format::Text, Kind::Gauge) => def.name.to_string(),
            (Format::Text, Kind::Counter) => sample.clone(),
        };
        let kind = match def.kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        let help = def.help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(out, "# HELP {family} {help}");
        let _ = writeln!(out, "# TYPE {family} {kind}");
        while i < series.len() && series[i].metric == metric {
            let s = &series[i];
            out.push_str(&sample);
            if !s.label_values.is_empty() {
                out.push('{');
                for (k, (name, value)) in s.labels().enumerate() {
                    if k > 0 {
                        out.push(',');
                    }
                    out.push_str(name);
                    out.push_str("=\"");
                    escape_label(value, &mut out);
                    out.push('"');
                }
                out.push('}');
            }
            out.push(' ');
            out.push_str(&format_value(s.value));
            out.push('\n');
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probers::TestKind;
    use crate::reason::ProbeError;

    fn run(outcome: Result<ProbeOutput, ProbeError>) -> RunResult {
        RunResult {
            target: "t1".into(),
            test: TestKind::Download,
            started_unix_seconds: 1.0e9,
            duration_seconds: 2.5,
            bytes_used: 1000,
            outcome,
        }
    }

    #[test]
    fn names_are_unique_and_labelled_in_base_units() {
        let mut seen = std::collections::HashSet::new();
        for m in Metric::ALL {
            let d = m.def();
            assert!(seen.insert(d.name), "{} twice", d.name);
            assert!(d.name.starts_with("probe_"));
            assert!(
                !d.name.ends_with("_total"),
                "counters get _total when exposed"
            );
        }
    }

    #[test]
    fn failure_reason_is_replaced_then_cleared() {
        let m = Metrics::new();
        m.record(&run(Err(ProbeError::new(FailureReason::Timeout, "x"))));
        let s = m.encode_text();
        assert!(
            s.contains(r#"probe_failure_reason{target="t1",scope="domestic",test="download",reason="timeout"} 1"#),
            "{s}"
        );
        assert!(s.contains(r#"probe_success{target="t1",scope="domestic",test="download"} 0"#));
        m.record(&run(Ok(ProbeOutput {
            download_bytes_per_second: Some(1.0e6),
            ..Default::default()
        })));
        let s = m.encode_text();
        assert!(!s.contains("reason=\"timeout\"} 1"), "{s}");
        assert!(
            s.contains(r#"probe_download_bytes_per_second{target="t1",scope="domestic"} 1000000"#),
            "{s}"
        );
        assert!(s.contains("# TYPE probe_runs_total counter"), "{s}");
        assert!(
            s.contains(r#"probe_runs_total{target="t1",scope="domestic",test="download",result="success"} 1"#),
            "{s}"
        );
        assert!(!s.contains("# EOF"));
        let om = m.encode_openmetrics();
        assert!(om.ends_with("# EOF\n"));
        assert!(om.contains("# TYPE probe_runs counter\n"), "{om}");
        assert!(om.contains("\nprobe_runs_total{"), "{om}");
    }

    #[test]
    fn scope_labels_every_target_series_and_a_change_replaces_the_gauges() {
        let m = Metrics::new();
        m.set_target_scopes([("t1".to_string(), Scope::International)]);
        let ok = run(Ok(ProbeOutput {
            download_bytes_per_second: Some(2.0e6),
            ..Default::default()
        }));
        m.record(&ok);
        let s = m.encode_text();
        for line in s.lines().filter(|l| l.contains("target=\"t1\"")) {
            assert!(line.contains(",scope=\"international\""), "{line}");
        }
        assert!(
            s.contains(
                r#"probe_download_bytes_per_second{target="t1",scope="international"} 2000000"#
            ),
            "{s}"
        );
        m.set_target_scopes([("t1".to_string(), Scope::Domestic)]);
        let s = m.encode_text();
        assert!(!s.contains("probe_download_bytes_per_second{"), "{s}");
        assert!(!s.contains("probe_success{"), "{s}");
        // Counters stay, under the old scope, so rates do not jump.
        assert!(s.contains(r#"probe_runs_total{target="t1",scope="international",test="download",result="success"} 1"#), "{s}");
        m.record(&ok);
        assert!(m
            .encode_text()
            .contains(r#"probe_download_bytes_per_second{target="t1",scope="domestic"} 2000000"#));
    }

    #[test]
    fn label_values_are_escaped_and_values_formatted() {
        let m = Metrics::new();
        m.set_agent_info(AgentInfo {
            region: "a \"b\"".into(),
            site: "x\\y\nz".into(),
            latitude: "1.5".into(),
            longitude: "2".into(),
            isp: String::new(),
            version: "v".into(),
        });
        let s = m.encode_text();
        assert!(
            s.contains(r#"probe_agent_info{region="a \"b\"",site="x\\y\nz",latitude="1.5",longitude="2",isp="",version="v"} 1"#),
            "{s}"
        );
        assert_eq!(format_value(0.001), "0.001");
        assert_eq!(format_value(5e9), "5000000000");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
    }
}
