//! Every exported metric, defined in one place, and the cache of last results behind
//! `/metrics`.
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `probe_success` | gauge | target, test | 1 if the last run succeeded |
//! | `probe_duration_seconds` | gauge | target, test | length of the last run |
//! | `probe_last_run_timestamp_seconds` | gauge | target, test | Unix time the last run started |
//! | `probe_failure_reason` | gauge | target, test, reason | 1 for the last failure's reason; absent after a success |
//! | `probe_download_bytes_per_second` | gauge | target | download goodput after ramp-up |
//! | `probe_upload_bytes_per_second` | gauge | target | upload goodput after ramp-up (receiver-side on `probe serve`) |
//! | `probe_latency_seconds` | gauge | target, stat=min\|median | idle HTTP RTT |
//! | `probe_jitter_seconds` | gauge | target | mean \|Δ\| of consecutive idle RTTs |
//! | `probe_tcp_connect_seconds` | gauge | target | median TCP connect time |
//! | `probe_loaded_latency_seconds` | gauge | target | median RTT during the download |
//! | `probe_responsiveness_rpm` | gauge | target | 60 / loaded RTT |
//! | `probe_packet_loss_ratio` | gauge | target | UDP echo loss, 0–1 |
//! | `probe_dns_lookup_seconds` | gauge | target | lookup time of the target's host |
//! | `probe_http_phase_seconds` | gauge | target, phase | dns, connect, tls, ttfb, transfer |
//! | `probe_bytes_used_total` | counter | target, test | payload bytes moved |
//! | `probe_data_budget_remaining_bytes` | gauge | — | bytes left in today's (UTC) budget |
//! | `probe_runs_total` | counter | target, test, result | runs by result (success or reason) |
//! | `probe_agent_info` | gauge | region, site, latitude, longitude, isp, version | always 1 |
//! | `probe_config_last_reload_successful` | gauge | — | 1 if the last (re)load worked |
//! | `probe_config_last_reload_success_timestamp_seconds` | gauge | — | Unix time of the last good load |
//! | `probe_remote_write_samples_total` | counter | result=sent\|rejected\|dropped | remote-write samples by fate |
//! | `probe_remote_write_requests_total` | counter | result=success\|retry\|rejected | remote-write POSTs by outcome |
//! | `probe_remote_write_sent_bytes_total` | counter | — | compressed request bytes accepted by the receiver |
//! | `probe_remote_write_queue_samples` | gauge | — | samples waiting in the remote-write queue |
//! | `probe_remote_write_last_success_timestamp_seconds` | gauge | — | Unix time of the last accepted batch (0: never) |
//!
//! Label values come only from the configuration (target names) and closed enums; no sample
//! carries a timestamp.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::probers::TestKind;
use crate::reason::FailureReason;
use crate::runner::RunResult;

type G = Gauge<f64, AtomicU64>;

/// `{target,test}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetTest {
    /// Target name.
    pub target: String,
    /// Test.
    pub test: String,
}

/// `{target,test,reason}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetTestReason {
    /// Target name.
    pub target: String,
    /// Test.
    pub test: String,
    /// Failure reason.
    pub reason: String,
}

/// `{target,test,result}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetTestResult {
    /// Target name.
    pub target: String,
    /// Test.
    pub test: String,
    /// `success` or a failure reason.
    pub result: String,
}

/// `{target}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetOnly {
    /// Target name.
    pub target: String,
}

/// `{target,stat}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetStat {
    /// Target name.
    pub target: String,
    /// `min` or `median`.
    pub stat: String,
}

/// `{target,phase}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetPhase {
    /// Target name.
    pub target: String,
    /// HTTP phase.
    pub phase: String,
}

/// `{result}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultOnly {
    /// Outcome.
    pub result: String,
}

/// Handles of the remote-write self-metrics; clones share the values, so the sender task keeps
/// its own copy.
#[derive(Clone, Debug, Default)]
pub struct RemoteWriteMetrics {
    /// Samples by `sent` (accepted), `rejected` (4xx other than 429) or `dropped` (evicted from
    /// the full queue or unsent at shutdown).
    pub samples: Family<ResultOnly, Counter>,
    /// POSTs by `success`, `retry` (network error, 5xx, 429) or `rejected`.
    pub requests: Family<ResultOnly, Counter>,
    /// Compressed body bytes of accepted requests.
    pub sent_bytes: Counter,
    /// Samples waiting.
    pub queue_samples: G,
    /// Unix time of the last accepted batch.
    pub last_success: G,
}

/// Agent identity labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
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

/// The registry and handles of every metric.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    success: Family<TargetTest, G>,
    duration: Family<TargetTest, G>,
    last_run: Family<TargetTest, G>,
    failure_reason: Family<TargetTestReason, G>,
    download: Family<TargetOnly, G>,
    upload: Family<TargetOnly, G>,
    latency: Family<TargetStat, G>,
    jitter: Family<TargetOnly, G>,
    tcp_connect: Family<TargetOnly, G>,
    loaded_latency: Family<TargetOnly, G>,
    rpm: Family<TargetOnly, G>,
    loss: Family<TargetOnly, G>,
    dns: Family<TargetOnly, G>,
    phases: Family<TargetPhase, G>,
    bytes_used: Family<TargetTest, Counter>,
    runs: Family<TargetTestResult, Counter>,
    budget_remaining: G,
    agent_info: Family<AgentInfo, G>,
    reload_ok: G,
    reload_ts: G,
    remote_write: RemoteWriteMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Register every metric.
    pub fn new() -> Self {
        let mut r = Registry::default();
        let m = Metrics {
            success: Family::default(),
            duration: Family::default(),
            last_run: Family::default(),
            failure_reason: Family::default(),
            download: Family::default(),
            upload: Family::default(),
            latency: Family::default(),
            jitter: Family::default(),
            tcp_connect: Family::default(),
            loaded_latency: Family::default(),
            rpm: Family::default(),
            loss: Family::default(),
            dns: Family::default(),
            phases: Family::default(),
            bytes_used: Family::default(),
            runs: Family::default(),
            budget_remaining: G::default(),
            agent_info: Family::default(),
            reload_ok: G::default(),
            reload_ts: G::default(),
            remote_write: RemoteWriteMetrics::default(),
            registry: Registry::default(),
        };
        r.register(
            "probe_success",
            "1 if the last run of the test succeeded, else 0",
            m.success.clone(),
        );
        r.register(
            "probe_duration_seconds",
            "Duration of the last run in seconds",
            m.duration.clone(),
        );
        r.register(
            "probe_last_run_timestamp_seconds",
            "Unix time the last run started",
            m.last_run.clone(),
        );
        r.register(
            "probe_failure_reason",
            "1 for the reason of the last failed run (absent after a success)",
            m.failure_reason.clone(),
        );
        r.register(
            "probe_download_bytes_per_second",
            "Download goodput (HTTP payload bytes per second after ramp-up)",
            m.download.clone(),
        );
        r.register("probe_upload_bytes_per_second", "Upload goodput (HTTP payload bytes per second after ramp-up, receiver-side where the server reports it)", m.upload.clone());
        r.register(
            "probe_latency_seconds",
            "Idle HTTP round-trip time in seconds",
            m.latency.clone(),
        );
        r.register(
            "probe_jitter_seconds",
            "Mean absolute difference of consecutive idle round-trip times in seconds",
            m.jitter.clone(),
        );
        r.register(
            "probe_tcp_connect_seconds",
            "Median TCP connect time in seconds",
            m.tcp_connect.clone(),
        );
        r.register(
            "probe_loaded_latency_seconds",
            "Median round-trip time during the download in seconds",
            m.loaded_latency.clone(),
        );
        r.register(
            "probe_responsiveness_rpm",
            "Round trips per minute under load (60 / loaded latency)",
            m.rpm.clone(),
        );
        r.register(
            "probe_packet_loss_ratio",
            "Fraction of UDP echo datagrams lost",
            m.loss.clone(),
        );
        r.register(
            "probe_dns_lookup_seconds",
            "DNS lookup time of the target host in seconds",
            m.dns.clone(),
        );
        r.register(
            "probe_http_phase_seconds",
            "Duration of each HTTP request phase in seconds",
            m.phases.clone(),
        );
        // prometheus-client appends `_total` to counters.
        r.register(
            "probe_bytes_used",
            "Payload bytes moved by probes",
            m.bytes_used.clone(),
        );
        r.register(
            "probe_runs",
            "Probe runs by result (success or failure reason)",
            m.runs.clone(),
        );
        r.register(
            "probe_data_budget_remaining_bytes",
            "Bytes left in today's (UTC) data budget",
            m.budget_remaining.clone(),
        );
        r.register(
            "probe_agent_info",
            "Agent identity; always 1",
            m.agent_info.clone(),
        );
        r.register(
            "probe_config_last_reload_successful",
            "1 if the last configuration (re)load succeeded",
            m.reload_ok.clone(),
        );
        r.register(
            "probe_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration load",
            m.reload_ts.clone(),
        );
        let rw = &m.remote_write;
        r.register(
            "probe_remote_write_samples",
            "Remote-write samples by result: sent (accepted), rejected (4xx), dropped (queue full or shutdown)",
            rw.samples.clone(),
        );
        r.register(
            "probe_remote_write_requests",
            "Remote-write requests by result: success, retry (network error, 5xx, 429), rejected (other 4xx)",
            rw.requests.clone(),
        );
        r.register(
            "probe_remote_write_sent_bytes",
            "Compressed remote-write request bytes accepted by the receiver",
            rw.sent_bytes.clone(),
        );
        r.register(
            "probe_remote_write_queue_samples",
            "Samples waiting in the remote-write queue",
            rw.queue_samples.clone(),
        );
        r.register(
            "probe_remote_write_last_success_timestamp_seconds",
            "Unix time of the last batch the remote-write receiver accepted (0: never)",
            rw.last_success.clone(),
        );
        Metrics { registry: r, ..m }
    }

    /// Handles of the remote-write self-metrics.
    pub fn remote_write(&self) -> RemoteWriteMetrics {
        self.remote_write.clone()
    }

    /// Record one run.
    pub fn record(&self, res: &RunResult) {
        let tt = TargetTest {
            target: res.target.clone(),
            test: res.test.as_str().into(),
        };
        let t = TargetOnly {
            target: res.target.clone(),
        };
        self.duration.get_or_create(&tt).set(res.duration_seconds);
        self.last_run
            .get_or_create(&tt)
            .set(res.started_unix_seconds);
        self.bytes_used.get_or_create(&tt).inc_by(res.bytes_used);
        self.runs
            .get_or_create(&TargetTestResult {
                target: res.target.clone(),
                test: res.test.as_str().into(),
                result: res.result_label().into(),
            })
            .inc();
        for r in FailureReason::ALL {
            self.failure_reason.remove(&TargetTestReason {
                target: res.target.clone(),
                test: res.test.as_str().into(),
                reason: r.as_str().into(),
            });
        }
        let out = match &res.outcome {
            Err(e) => {
                self.success.get_or_create(&tt).set(0.0);
                self.failure_reason
                    .get_or_create(&TargetTestReason {
                        target: res.target.clone(),
                        test: res.test.as_str().into(),
                        reason: e.reason.as_str().into(),
                    })
                    .set(1.0);
                return;
            }
            Ok(o) => o,
        };
        self.success.get_or_create(&tt).set(1.0);
        let set = |f: &Family<TargetOnly, G>, v: Option<f64>| {
            if let Some(v) = v {
                f.get_or_create(&t).set(v);
            }
        };
        set(&self.download, out.download_bytes_per_second);
        set(&self.upload, out.upload_bytes_per_second);
        set(&self.jitter, out.jitter_seconds);
        set(&self.tcp_connect, out.tcp_connect_seconds);
        set(&self.loaded_latency, out.loaded_latency_seconds);
        set(&self.rpm, out.responsiveness_rpm);
        set(&self.loss, out.packet_loss_ratio);
        set(&self.dns, out.dns_lookup_seconds);
        for (stat, v) in [
            ("min", out.latency_min_seconds),
            ("median", out.latency_median_seconds),
        ] {
            if let Some(v) = v {
                self.latency
                    .get_or_create(&TargetStat {
                        target: res.target.clone(),
                        stat: stat.into(),
                    })
                    .set(v);
            }
        }
        for (phase, v) in &out.http_phases {
            self.phases
                .get_or_create(&TargetPhase {
                    target: res.target.clone(),
                    phase: phase.as_str().into(),
                })
                .set(*v);
        }
    }

    /// Drop every per-target gauge series of a target no longer configured (counters stay so
    /// rates remain continuous).
    pub fn forget_target(&self, target: &str) {
        let t = TargetOnly {
            target: target.into(),
        };
        for f in [
            &self.download,
            &self.upload,
            &self.jitter,
            &self.tcp_connect,
            &self.loaded_latency,
            &self.rpm,
            &self.loss,
            &self.dns,
        ] {
            f.remove(&t);
        }
        for stat in ["min", "median"] {
            self.latency.remove(&TargetStat {
                target: target.into(),
                stat: stat.into(),
            });
        }
        for p in ["dns", "connect", "tls", "ttfb", "transfer"] {
            self.phases.remove(&TargetPhase {
                target: target.into(),
                phase: p.into(),
            });
        }
        for test in TestKind::ALL {
            let tt = TargetTest {
                target: target.into(),
                test: test.as_str().into(),
            };
            self.success.remove(&tt);
            self.duration.remove(&tt);
            self.last_run.remove(&tt);
            for r in FailureReason::ALL {
                self.failure_reason.remove(&TargetTestReason {
                    target: target.into(),
                    test: test.as_str().into(),
                    reason: r.as_str().into(),
                });
            }
        }
    }

    /// Set the agent identity (replacing any previous one).
    pub fn set_agent_info(&self, info: AgentInfo) {
        self.agent_info.clear();
        self.agent_info.get_or_create(&info).set(1.0);
    }

    /// Record a configuration (re)load.
    pub fn set_reload(&self, ok: bool, unix_seconds: f64) {
        self.reload_ok.set(if ok { 1.0 } else { 0.0 });
        if ok {
            self.reload_ts.set(unix_seconds);
        }
    }

    /// Set the remaining daily budget.
    pub fn set_budget_remaining(&self, bytes: u64) {
        self.budget_remaining.set(bytes as f64);
    }

    /// OpenMetrics text exposition.
    pub fn encode_openmetrics(&self) -> String {
        let mut s = String::new();
        encode(&mut s, &self.registry).expect("writing to a String cannot fail");
        s
    }

    /// Classic Prometheus text format (0.0.4), converted from the OpenMetrics exposition:
    /// counter families are named with their `_total` suffix and `# EOF` is dropped.
    pub fn encode_text(&self) -> String {
        openmetrics_to_text(&self.encode_openmetrics())
    }
}

/// Convert an OpenMetrics text exposition without exemplars, units or created samples into the
/// classic text format.
pub fn openmetrics_to_text(om: &str) -> String {
    let mut counters = std::collections::HashSet::new();
    for line in om.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some(name) = rest.strip_suffix(" counter") {
                counters.insert(name.to_string());
            }
        }
    }
    let mut out = String::with_capacity(om.len());
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let mut handled = false;
        for kw in ["# HELP ", "# TYPE "] {
            if let Some(rest) = line.strip_prefix(kw) {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                if counters.contains(name) {
                    out.push_str(&format!("{kw}{name}_total {tail}\n"));
                    handled = true;
                }
            }
        }
        if !handled {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probers::ProbeOutput;
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
    fn failure_reason_is_replaced_then_cleared() {
        let m = Metrics::new();
        m.record(&run(Err(ProbeError::new(FailureReason::Timeout, "x"))));
        let s = m.encode_text();
        assert!(
            s.contains(r#"probe_failure_reason{target="t1",test="download",reason="timeout"} 1"#),
            "{s}"
        );
        assert!(s.contains(r#"probe_success{target="t1",test="download"} 0"#));
        m.record(&run(Ok(ProbeOutput {
            download_bytes_per_second: Some(1.0e6),
            ..Default::default()
        })));
        let s = m.encode_text();
        assert!(!s.contains("reason=\"timeout\"} 1"), "{s}");
        assert!(
            s.contains(r#"probe_download_bytes_per_second{target="t1"} 1000000"#),
            "{s}"
        );
        assert!(s.contains("# TYPE probe_runs_total counter"), "{s}");
        assert!(
            s.contains(r#"probe_runs_total{target="t1",test="download",result="success"} 1"#),
            "{s}"
        );
        assert!(!s.contains("# EOF"));
        assert!(m.encode_openmetrics().ends_with("# EOF\n"));
    }
}
