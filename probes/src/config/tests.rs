//! The `[tests.*]` sections: one struct per test with exactly the keys that test takes
//! (unknown keys are rejected by serde, naming the keys the test does take), defaults per test,
//! and the rules that span fields.

use std::time::Duration;

use serde::Deserialize;

use crate::duration::{format_duration, parse_duration};
use crate::probers::{ProbeSettings, TestKind};

use super::Problems;

/// Schedule and knobs of one test.
#[derive(Debug, Clone)]
pub struct TestConfig {
    /// Mean time between runs.
    pub interval: Duration,
    /// Each gap is `interval ± jitter` (uniform), the first run waits `0..jitter`.
    pub jitter: Duration,
    /// Run budget; the runner cancels at this point.
    pub timeout: Duration,
    /// Bytes one run may move.
    pub max_bytes: u64,
    /// Prober knobs.
    pub settings: ProbeSettings,
}

/// Defines a test section: the keys every test has (`interval`, `jitter`, `timeout`,
/// `max_bytes`) followed by the test's own.
macro_rules! test_section {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// Mean time between runs.
            pub interval: Option<String>,
            /// Spread of the gaps.
            pub jitter: Option<String>,
            /// Run budget.
            pub timeout: Option<String>,
            /// Bytes one run may move.
            pub max_bytes: Option<u64>,
            $($(#[$fdoc])* pub $field: Option<$ty>,)*
        }

        impl $name {
            fn common(&self) -> Common<'_> {
                Common {
                    interval: &self.interval,
                    jitter: &self.jitter,
                    timeout: &self.timeout,
                    max_bytes: self.max_bytes,
                }
            }
        }
    };
}

test_section!(
    /// `[tests.download]`.
    DownloadSection {
        /// Transfer length including the ramp-up.
        duration: String,
        /// Ramp-up excluded from the figure.
        grace: String,
        /// No progress for this long fails the run as `stalled`.
        stall_timeout: String,
        /// Parallel TCP streams.
        streams: usize,
        /// Stop once the rate is stable.
        stop_when_stable: bool,
        /// Measure loaded latency meanwhile.
        loaded_latency: bool,
        /// Fewer bytes than this in the measurement window fail the run as `no_data`.
        min_bytes: u64,
    }
);
test_section!(
    /// `[tests.upload]`.
    UploadSection {
        /// Transfer length including the ramp-up.
        duration: String,
        /// Ramp-up excluded from the figure.
        grace: String,
        /// No progress for this long fails the run as `stalled`.
        stall_timeout: String,
        /// Parallel TCP streams.
        streams: usize,
        /// Stop once the rate is stable.
        stop_when_stable: bool,
        /// Fewer bytes than this in the measurement window fail the run as `no_data`.
        min_bytes: u64,
    }
);
test_section!(
    /// `[tests.latency]`.
    LatencySection {
        /// Round trips per run.
        samples: usize,
    }
);
test_section!(
    /// `[tests.loss]`.
    LossSection {
        /// Datagrams per run.
        packets: usize,
        /// Gap between datagrams.
        packet_interval: String,
    }
);
test_section!(
    /// `[tests.dns]`.
    DnsSection {}
);
test_section!(
    /// `[tests.http]`.
    HttpSection {
        /// Body bytes read for the transfer phase.
        http_bytes: u64,
    }
);

/// `[tests]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestsSection {
    #[serde(default)]
    download: DownloadSection,
    #[serde(default)]
    upload: UploadSection,
    #[serde(default)]
    latency: LatencySection,
    #[serde(default)]
    loss: LossSection,
    #[serde(default)]
    dns: DnsSection,
    #[serde(default)]
    http: HttpSection,
}

struct Common<'a> {
    interval: &'a Option<String>,
    jitter: &'a Option<String>,
    timeout: &'a Option<String>,
    max_bytes: Option<u64>,
}

/// Defaults of the keys every test has.
struct Defaults {
    interval: &'static str,
    jitter: &'static str,
    timeout: &'static str,
    max_bytes: u64,
}

fn defaults(t: TestKind) -> Defaults {
    let d = |interval, jitter, timeout, max_bytes| Defaults {
        interval,
        jitter,
        timeout,
        max_bytes,
    };
    match t {
        TestKind::Download => d("1h", "5m", "30s", 500_000_000),
        TestKind::Upload => d("1h", "5m", "30s", 250_000_000),
        TestKind::Latency => d("1m", "10s", "10s", 1_000_000),
        TestKind::Loss => d("5m", "30s", "15s", 1_000_000),
        TestKind::Dns => d("1m", "10s", "5s", 100_000),
        TestKind::Http => d("5m", "30s", "10s", 2_000_000),
    }
}

/// Parses durations of one section, reporting bad ones under `sec.key`.
struct Durations<'p> {
    sec: String,
    p: &'p mut Problems,
}

impl Durations<'_> {
    fn get(&mut self, key: &str, v: &Option<String>, default: Duration) -> Duration {
        match v.as_deref().map(parse_duration) {
            None => default,
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                self.p.push(
                    format!("{}.{key}", self.sec),
                    format!("{}.{key}: {e}", self.sec),
                );
                default
            }
        }
    }
}

/// Rules of the transfer tests (download, upload).
struct Transfer<'a> {
    duration: &'a Option<String>,
    grace: &'a Option<String>,
    stall_timeout: &'a Option<String>,
    streams: Option<usize>,
    stop_when_stable: Option<bool>,
    min_bytes: Option<u64>,
    default_streams: usize,
}

pub use crate::probers::MIN_WINDOW;

fn transfer(t: Transfer<'_>, timeout: Duration, s: &mut ProbeSettings, d: &mut Durations<'_>) {
    let sec = d.sec.clone();
    s.duration = d.get("duration", t.duration, s.duration);
    s.grace = d.get("grace", t.grace, s.grace);
    s.stall_timeout = d.get("stall_timeout", t.stall_timeout, s.stall_timeout);
    s.streams = t.streams.unwrap_or(t.default_streams);
    s.stop_when_stable = t.stop_when_stable.unwrap_or(false);
    s.min_bytes = t.min_bytes.unwrap_or(s.min_bytes);
    if s.grace + MIN_WINDOW > s.duration {
        d.p.push(
            format!("{sec}.grace"),
            format!(
                "{sec}.grace ({}) must be at least {} shorter than {sec}.duration ({}): the figure is measured after the ramp-up",
                format_duration(s.grace),
                format_duration(MIN_WINDOW),
                format_duration(s.duration)
            ),
        );
    }
    if timeout <= s.duration + Duration::from_secs(2) {
        d.p.push(
            format!("{sec}.timeout"),
            format!(
                "{sec}.timeout ({}) must exceed {sec}.duration ({}) by more than 2s to leave time for connection setup",
                format_duration(timeout),
                format_duration(s.duration)
            ),
        );
    }
    if !(1..=32).contains(&s.streams) {
        d.p.push(
            format!("{sec}.streams"),
            format!("{sec}.streams = {} is outside 1..32", s.streams),
        );
    }
    if s.stall_timeout < Duration::from_millis(200) {
        d.p.push(
            format!("{sec}.stall_timeout"),
            format!(
                "{sec}.stall_timeout = {} is shorter than 200ms: allow the link a moment between packets",
                format_duration(s.stall_timeout)
            ),
        );
    }
    if s.min_bytes == 0 {
        d.p.push(
            format!("{sec}.min_bytes"),
            format!("{sec}.min_bytes is 0: a run that moved nothing must not count as a measurement; give at least 1"),
        );
    }
}

impl TestsSection {
    /// Validate every test section; `used` holds the tests some target runs (their byte caps
    /// must fit the daily budget).
    pub fn validate(
        &self,
        daily_budget_bytes: u64,
        used: &std::collections::HashSet<TestKind>,
        p: &mut Problems,
    ) -> std::collections::BTreeMap<TestKind, TestConfig> {
        let mut out = std::collections::BTreeMap::new();
        for kind in TestKind::ALL {
            let common = match kind {
                TestKind::Download => self.download.common(),
                TestKind::Upload => self.upload.common(),
                TestKind::Latency => self.latency.common(),
                TestKind::Loss => self.loss.common(),
                TestKind::Dns => self.dns.common(),
                TestKind::Http => self.http.common(),
            };
            let def = defaults(kind);
            let sec = format!("tests.{kind}");
            let mut d = Durations {
                sec: sec.clone(),
                p,
            };
            let dflt = |s: &str| parse_duration(s).expect("valid default");
            let interval = d.get("interval", common.interval, dflt(def.interval));
            let jitter = d.get("jitter", common.jitter, dflt(def.jitter));
            let timeout = d.get("timeout", common.timeout, dflt(def.timeout));
            let max_bytes = common.max_bytes.unwrap_or(def.max_bytes);
            let base = ProbeSettings::default();
            let mut s = ProbeSettings {
                connect_timeout: base.connect_timeout.min(timeout),
                ..base
            };
            match kind {
                TestKind::Download => {
                    let r = &self.download;
                    s.loaded_latency = r.loaded_latency.unwrap_or(true);
                    let t = Transfer {
                        duration: &r.duration,
                        grace: &r.grace,
                        stall_timeout: &r.stall_timeout,
                        streams: r.streams,
                        stop_when_stable: r.stop_when_stable,
                        min_bytes: r.min_bytes,
                        default_streams: 4,
                    };
                    transfer(t, timeout, &mut s, &mut d);
                }
                TestKind::Upload => {
                    let r = &self.upload;
                    let t = Transfer {
                        duration: &r.duration,
                        grace: &r.grace,
                        stall_timeout: &r.stall_timeout,
                        streams: r.streams,
                        stop_when_stable: r.stop_when_stable,
                        min_bytes: r.min_bytes,
                        default_streams: 3,
                    };
                    transfer(t, timeout, &mut s, &mut d);
                }
                TestKind::Latency => {
                    s.samples = self.latency.samples.unwrap_or(s.samples);
                    if !(2..=1000).contains(&s.samples) {
                        d.p.push(
                            format!("{sec}.samples"),
                            format!("{sec}.samples = {} is outside 2..1000", s.samples),
                        );
                    }
                }
                TestKind::Loss => {
                    let r = &self.loss;
                    s.packets = r.packets.unwrap_or(s.packets);
                    s.packet_interval =
                        d.get("packet_interval", &r.packet_interval, s.packet_interval);
                    if !(1..=10_000).contains(&s.packets) {
                        d.p.push(
                            format!("{sec}.packets"),
                            format!("{sec}.packets = {} is outside 1..10000", s.packets),
                        );
                    }
                    if s.packet_interval < Duration::from_millis(1) {
                        d.p.push(
                            format!("{sec}.packet_interval"),
                            format!("{sec}.packet_interval is shorter than 1ms"),
                        );
                    }
                }
                TestKind::Dns => {}
                TestKind::Http => {
                    s.http_bytes = self.http.http_bytes.unwrap_or(s.http_bytes);
                    if s.http_bytes == 0 {
                        d.p.push(
                            format!("{sec}.http_bytes"),
                            format!("{sec}.http_bytes is 0: read at least one byte"),
                        );
                    }
                }
            }
            if interval < Duration::from_secs(1) {
                p.push(
                    format!("{sec}.interval"),
                    format!(
                        "{sec}.interval = {} is shorter than 1s",
                        format_duration(interval)
                    ),
                );
            }
            if timeout >= interval {
                p.push(
                    format!("{sec}.timeout"),
                    format!(
                        "{sec}.timeout ({}) must be shorter than {sec}.interval ({}) so runs never overlap",
                        format_duration(timeout),
                        format_duration(interval)
                    ),
                );
            }
            if jitter >= interval {
                p.push(
                    format!("{sec}.jitter"),
                    format!(
                        "{sec}.jitter ({}) must be shorter than {sec}.interval ({})",
                        format_duration(jitter),
                        format_duration(interval)
                    ),
                );
            }
            if max_bytes == 0 {
                p.push(
                    format!("{sec}.max_bytes"),
                    format!("{sec}.max_bytes is 0: allow at least some bytes per run"),
                );
            } else if max_bytes > daily_budget_bytes
                && daily_budget_bytes > 0
                && used.contains(&kind)
            {
                p.push(
                    format!("{sec}.max_bytes"),
                    format!(
                        "{sec}.max_bytes ({max_bytes}) exceeds agent.daily_budget_bytes ({daily_budget_bytes}): one run could never fit the budget"
                    ),
                );
            }
            out.insert(
                kind,
                TestConfig {
                    interval,
                    jitter,
                    timeout,
                    max_bytes,
                    settings: s,
                },
            );
        }
        out
    }
}
