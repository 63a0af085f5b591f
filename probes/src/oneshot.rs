//! `probe run`: a one-off measurement against one server, printed as a table or JSON.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde_json::json;

pub use crate::detect::{detect, find_librespeed, Detected};
use crate::endpoint::{Endpoints, ServerKind};
use crate::net::{client_tls_config, Resolver};
use crate::probers::{prober_for, ProbeContext, ProbeSettings, TestKind};
use crate::reason::ProbeError;
use crate::runner::{self, RunResult};

/// Options of a one-off run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Server base URL (`probe serve` or LibreSpeed backend).
    pub server: Url,
    /// Force a server kind instead of detecting it.
    pub kind: Option<ServerKind>,
    /// Tests to run, in order; empty: those of [`DEFAULT_TESTS`] the server's kind supports
    /// (an ndt7 server: download and upload, it has no separate latency test).
    pub tests: Vec<TestKind>,
    /// Download/upload duration including the grace period.
    pub duration: Duration,
    /// Ramp-up excluded from the figures.
    pub grace: Duration,
    /// Parallel streams (download; upload uses one fewer, at least 1).
    pub streams: usize,
    /// Byte cap per transfer test.
    pub max_bytes: u64,
    /// Extra CA certificate file for HTTPS servers.
    pub ca_file: Option<PathBuf>,
    /// Resolver.
    pub resolver: Resolver,
}

/// What `probe run` measures when no tests are named, in this order.
pub const DEFAULT_TESTS: [TestKind; 4] = [
    TestKind::Latency,
    TestKind::Download,
    TestKind::Upload,
    TestKind::Loss,
];

/// The outcome of a one-off run.
#[derive(Debug)]
pub struct Report {
    /// Detected or given kind; `None` when detection failed (then every test failed with its
    /// reason).
    pub kind: Option<ServerKind>,
    /// How the kind was decided.
    pub why: String,
    /// One result per test run.
    pub results: Vec<RunResult>,
}

/// Run the tests; failures are results, not errors.
pub async fn run(opts: &RunOptions) -> Result<Report, ProbeError> {
    let tls = Arc::new(
        client_tls_config(opts.ca_file.as_deref())
            .map_err(|e| ProbeError::new(crate::FailureReason::Tls, e.to_string()))?,
    );
    let mut ctx = ProbeContext {
        target: opts.server.host_str().unwrap_or("server").to_string(),
        endpoints: Endpoints::new(opts.kind.unwrap_or(ServerKind::Probe), opts.server.clone()),
        tls,
        resolver: opts.resolver.clone(),
        settings: ProbeSettings {
            streams: opts.streams,
            duration: opts.duration,
            grace: opts.grace,
            ..ProbeSettings::default()
        },
        byte_cap: opts.max_bytes,
        bytes_used: Default::default(),
    };
    let detected = match opts.kind {
        Some(ServerKind::Librespeed) => match ctx.client().await {
            Ok((client, _, _)) => {
                find_librespeed(&client, &opts.server)
                    .await
                    .map(|(endpoints, why)| Detected {
                        kind: ServerKind::Librespeed,
                        endpoints,
                        why: format!("--kind librespeed; {why}"),
                    })
            }
            Err(e) => Err(e),
        },
        Some(kind) => Ok(Detected {
            kind,
            endpoints: Endpoints::new(kind, opts.server.clone()),
            why: format!("--kind {}", kind.as_str()),
        }),
        None => detect(&ctx).await,
    };
    let detected = match detected {
        Ok(d) => d,
        Err(e) => {
            let tests = if opts.tests.is_empty() {
                &DEFAULT_TESTS[..]
            } else {
                &opts.tests[..]
            };
            let results = tests
                .iter()
                .map(|&test| RunResult::failed(&ctx.target, test, e.clone()))
                .collect();
            return Ok(Report {
                kind: None,
                why: e.message.clone(),
                results,
            });
        }
    };
    ctx.endpoints = detected.endpoints.clone();
    let kind = detected.kind;
    let tests: Vec<TestKind> = if opts.tests.is_empty() {
        DEFAULT_TESTS
            .into_iter()
            .filter(|&t| prober_for(t, kind).is_some())
            .collect()
    } else {
        opts.tests.clone()
    };
    let mut results = Vec::new();
    for &test in &tests {
        let Some(prober) = prober_for(test, kind) else {
            results.push(RunResult::failed(
                &ctx.target,
                test,
                ProbeError::new(
                    crate::FailureReason::Protocol,
                    format!(
                        "the {test} test is not supported by {} servers",
                        kind.as_str()
                    ),
                ),
            ));
            continue;
        };
        let mut c = ctx.clone();
        if test == TestKind::Upload {
            c.settings.streams = opts.streams.saturating_sub(1).max(1);
        }
        let timeout = match test {
            TestKind::Download | TestKind::Upload => opts.duration + Duration::from_secs(15),
            _ => Duration::from_secs(15),
        };
        results.push(runner::run(prober, &c, timeout).await);
    }
    Ok(Report {
        kind: Some(kind),
        why: detected.why,
        results,
    })
}

fn ms(s: f64) -> String {
    format!("{:.1} ms", s * 1000.0)
}

fn rate(bps: f64) -> String {
    format!("{:.2} Mbit/s ({:.2} MB/s)", bps * 8.0 / 1e6, bps / 1e6)
}

/// A human-readable table.
pub fn format_table(server: &Url, report: &Report) -> String {
    let kind = report.kind.map_or("undetected", ServerKind::as_str);
    let mut s = format!("Server    {server} ({kind}: {})\n", report.why);
    for r in &report.results {
        let line = match &r.outcome {
            Err(e) => format!("FAILED ({}): {}", e.reason, e.message),
            Ok(o) => match r.test {
                TestKind::Latency => format!(
                    "{} median, {} min, jitter {}, TCP connect {}",
                    ms(o.latency_median_seconds.unwrap_or(f64::NAN)),
                    ms(o.latency_min_seconds.unwrap_or(f64::NAN)),
                    ms(o.jitter_seconds.unwrap_or(f64::NAN)),
                    ms(o.tcp_connect_seconds.unwrap_or(f64::NAN)),
                ),
                TestKind::Download => {
                    let mut l = rate(o.download_bytes_per_second.unwrap_or(f64::NAN));
                    if let (Some(ll), Some(rpm)) = (o.loaded_latency_seconds, o.responsiveness_rpm)
                    {
                        l.push_str(&format!(", loaded latency {}, {:.0} RPM", ms(ll), rpm));
                    }
                    l
                }
                TestKind::Upload => format!(
                    "{}{}",
                    rate(o.upload_bytes_per_second.unwrap_or(f64::NAN)),
                    if o.upload_measured_at_receiver == Some(true) {
                        ", measured at the server"
                    } else {
                        ", sender-side"
                    }
                ),
                TestKind::Loss => format!(
                    "{:.1} % lost",
                    o.packet_loss_ratio.unwrap_or(f64::NAN) * 100.0
                ),
                TestKind::Dns => ms(o.dns_lookup_seconds.unwrap_or(f64::NAN)),
                TestKind::Http => o
                    .http_phases
                    .iter()
                    .map(|(p, v)| format!("{} {}", p.as_str(), ms(*v)))
                    .collect::<Vec<_>>()
                    .join(", "),
            },
        };
        let name = r.test.as_str();
        s.push_str(&format!("{name:<9} {line}\n"));
    }
    s.push_str("Rates are goodput: HTTP payload bytes per second after the ramp-up.\n");
    s
}

/// JSON report.
pub fn to_json(server: &Url, report: &Report) -> serde_json::Value {
    let rs: Vec<serde_json::Value> = report
        .results
        .iter()
        .map(|r| {
            let mut v = json!({
                "test": r.test,
                "success": r.success(),
                "duration_seconds": r.duration_seconds,
                "bytes_used": r.bytes_used,
            });
            match &r.outcome {
                Ok(o) => {
                    if let (Some(m), Ok(serde_json::Value::Object(fields))) =
                        (v.as_object_mut(), serde_json::to_value(o))
                    {
                        m.extend(fields);
                    }
                }
                Err(e) => {
                    v["reason"] = json!(e.reason);
                    v["error"] = json!(e.message);
                }
            }
            v
        })
        .collect();
    json!({
        "server": server.as_str(),
        "kind": report.kind,
        "kind_detection": report.why,
        "results": rs,
    })
}
