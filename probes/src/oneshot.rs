//! `probe run`: a one-off measurement against one server, printed as a table or JSON.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde_json::json;

use crate::endpoint::{Endpoints, ServerKind};
use crate::net::{client_tls_config, Resolver};
use crate::probers::{prober_for, ProbeContext, ProbeSettings, TestKind};
use crate::reason::ProbeError;
use crate::runner::{self, RunResult};
use crate::serve::ServerInfo;

/// Options of a one-off run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Server base URL (`probe serve` or LibreSpeed backend).
    pub server: Url,
    /// Force a server kind instead of detecting it.
    pub kind: Option<ServerKind>,
    /// Tests to run, in order.
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

/// Ask `/info` whether the server is a `probe serve`; anything else is treated as LibreSpeed.
pub async fn detect_kind(ctx: &ProbeContext) -> ServerKind {
    let Ok((client, _, _)) = ctx.client().await else {
        return ServerKind::Librespeed;
    };
    let Ok(url) = ctx.endpoints.base.join("info") else {
        return ServerKind::Librespeed;
    };
    let fut = async {
        let mut r = client.get(url).send().await.ok()?;
        if !r.status().is_success() {
            return None;
        }
        let body = crate::net::read_bounded(&mut r, 64 << 10).await.ok()?;
        let info: ServerInfo = serde_json::from_slice(&body).ok()?;
        (info.server == "probe").then_some(ServerKind::Probe)
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .ok()
        .flatten()
        .unwrap_or(ServerKind::Librespeed)
}

/// Run the tests; failures are results, not errors.
pub async fn run(opts: &RunOptions) -> Result<(ServerKind, Vec<RunResult>), ProbeError> {
    let tls = Arc::new(
        client_tls_config(opts.ca_file.as_deref())
            .map_err(|e| ProbeError::new(crate::FailureReason::Tls, e.to_string()))?,
    );
    let mut ctx = ProbeContext {
        target: opts.server.host_str().unwrap_or("server").to_string(),
        endpoints: Endpoints::new(ServerKind::Probe, opts.server.clone()),
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
    let kind = match opts.kind {
        Some(k) => k,
        None => detect_kind(&ctx).await,
    };
    ctx.endpoints = Endpoints::new(kind, opts.server.clone());
    let mut results = Vec::new();
    for &test in &opts.tests {
        if !crate::config::supports(kind, test) {
            continue;
        }
        let mut c = ctx.clone();
        if test == TestKind::Upload {
            c.settings.streams = opts.streams.saturating_sub(1).max(1);
        }
        let timeout = match test {
            TestKind::Download | TestKind::Upload => opts.duration + Duration::from_secs(15),
            _ => Duration::from_secs(15),
        };
        results.push(runner::run(prober_for(test), &c, timeout).await);
    }
    Ok((kind, results))
}

fn ms(s: f64) -> String {
    format!("{:.1} ms", s * 1000.0)
}

fn rate(bps: f64) -> String {
    format!("{:.2} Mbit/s ({:.2} MB/s)", bps * 8.0 / 1e6, bps / 1e6)
}

/// A human-readable table.
pub fn format_table(server: &Url, kind: ServerKind, results: &[RunResult]) -> String {
    let mut s = format!("Server    {server} ({kind:?})\n");
    for r in results {
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
pub fn to_json(server: &Url, kind: ServerKind, results: &[RunResult]) -> serde_json::Value {
    let rs: Vec<serde_json::Value> = results
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
    json!({ "server": server.as_str(), "kind": kind, "results": rs })
}
