//! Measured broadband speeds per region, read back from Prometheus for the planner's reports.
//!
//! `planner analyze --speeds-from URL` asks the Prometheus HTTP API (`/api/v1/query`, instant
//! queries) for each region's median download and upload over 1 day and 7 days, and for the
//! region's target (baseline × factor, config/prometheus/rules/recording.yml). The recorded
//! series (`region:probe_…:median_1d`, …) are used when Prometheus has them; without the
//! project's recording rules the same two-level median (per agent over the window, then across
//! the region's agents) is computed from the raw `probe_{download,upload}_bytes_per_second`
//! gauges. Speeds stay in bytes per second; only the human text shows Mbit/s.
//!
//! The `region` label of the agents is matched to the dataset's region codes (ISO 3166-2, e.g.
//! `UZ-TO`), case-insensitively; a label equal to exactly one region's name (English, local or
//! Russian) is accepted too, with a warning to use the code. Labels matching no region, or
//! several, are reported as warnings and left out.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use geodata::Region;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::numbers::round;

/// The `[speeds]` table of the planner config.
///
/// ```toml
/// [speeds]
/// url = "http://127.0.0.1:9090"          # overridden by --speeds-from
/// timeout_s = 10.0
/// # For regions Prometheus has no target for (no recording rules or no baseline there):
/// target_download_bytes_per_second = 11.25e6   # 90 Mbit/s
/// target_upload_bytes_per_second = 4.5e6       # 36 Mbit/s
/// # For regions without `region:probe_international_ratio:min` in Prometheus: the international
/// # path is the bottleneck when international / domestic speed falls below this ratio.
/// international_ratio_min = 0.5
/// ```
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SpeedsConfig {
    /// Prometheus server root, e.g. `http://127.0.0.1:9090`.
    pub url: Option<String>,
    /// Timeout of each query, seconds.
    pub timeout_s: f64,
    /// Download target, bytes/s, for regions without a target recorded in Prometheus.
    pub target_download_bytes_per_second: Option<f64>,
    /// Upload target, bytes/s, for regions without a target recorded in Prometheus.
    pub target_upload_bytes_per_second: Option<f64>,
    /// Lowest acceptable international / domestic speed ratio for regions without
    /// `region:probe_international_ratio:min` recorded in Prometheus; below it the international
    /// path is flagged as the region's bottleneck.
    pub international_ratio_min: f64,
}

impl Default for SpeedsConfig {
    fn default() -> Self {
        SpeedsConfig {
            url: None,
            timeout_s: 10.0,
            target_download_bytes_per_second: None,
            target_upload_bytes_per_second: None,
            // The default of config/prometheus/rules/recording.yml
            // (`probe:international_ratio:min_default`), so both sides agree out of the box.
            international_ratio_min: 0.5,
        }
    }
}

/// Longest accepted query timeout, seconds: beyond an hour a Prometheus that does not answer
/// is down, and `Duration` cannot hold arbitrary floats (`1e300` s used to panic).
pub const MAX_TIMEOUT_S: f64 = 3600.0;

/// Fastest accepted speed target, bytes per second (8 Tbit/s): anything above is a unit slip.
pub const MAX_TARGET_BYTES_PER_SECOND: f64 = 1e12;

impl SpeedsConfig {
    /// Every rule on values, checked at once.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(self.timeout_s.is_finite() && self.timeout_s > 0.0 && self.timeout_s <= MAX_TIMEOUT_S)
        {
            problems.push(format!(
                "speeds.timeout_s = {}: give a positive number of seconds, at most {MAX_TIMEOUT_S}",
                crate::numbers::show(self.timeout_s)
            ));
        }
        for (key, v) in [
            (
                "target_download_bytes_per_second",
                self.target_download_bytes_per_second,
            ),
            (
                "target_upload_bytes_per_second",
                self.target_upload_bytes_per_second,
            ),
        ] {
            if let Some(x) = v {
                if !(x.is_finite() && x > 0.0 && x <= MAX_TARGET_BYTES_PER_SECOND) {
                    problems.push(format!(
                        "speeds.{key} = {}: give a positive speed in bytes per second (Mbit/s × 125000), at most {MAX_TARGET_BYTES_PER_SECOND:e}",
                        crate::numbers::show(x)
                    ));
                }
            }
        }
        let r = self.international_ratio_min;
        if !(r.is_finite() && r > 0.0 && r <= 1.0) {
            problems.push(format!(
                "speeds.international_ratio_min = {}: give a ratio of international to domestic speed above 0 and at most 1 (e.g. 0.5)",
                crate::numbers::show(r)
            ));
        }
        problems
    }

    /// The query timeout (valid configs only hold finite, bounded values).
    pub fn timeout(&self) -> Duration {
        Duration::try_from_secs_f64(self.timeout_s.clamp(0.0, MAX_TIMEOUT_S))
            .unwrap_or(Duration::from_secs(10))
    }
}

/// Speeds could not be read from Prometheus.
#[derive(Debug, thiserror::Error)]
pub enum SpeedsError {
    #[error("--speeds-from {url}: not a usable URL ({message}); give the Prometheus server root, e.g. http://127.0.0.1:9090")]
    BadUrl { url: String, message: String },
    #[error("cannot reach Prometheus at {url}: {message}; check that Prometheus is running and the URL (scheme, host, port) is right, or drop --speeds-from")]
    Connect { url: String, message: String },
    #[error("Prometheus at {url} answered HTTP {status} to the query `{query}`: {body}; check that the URL is the Prometheus server root (e.g. http://host:9090), not a page below it")]
    Http {
        url: String,
        status: u16,
        query: String,
        body: String,
    },
    #[error("Prometheus at {url} rejected the query `{query}`: {error_type}: {error}")]
    Prometheus {
        url: String,
        query: String,
        error_type: String,
        error: String,
    },
    #[error("the answer of {url} to the query `{query}` is not a Prometheus API response ({message}); check that the URL points at Prometheus")]
    BadJson {
        url: String,
        query: String,
        message: String,
    },
}

/// Which expressions the figures came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpeedSource {
    /// The project's recording rules (`region:probe_…:median_1d`, …).
    RecordingRules,
    /// Raw `probe_…_bytes_per_second` gauges, grouped by `region` (no recording rules found).
    RawExpressions,
}

/// Where a region's target came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetSource {
    /// `region:probe_…:target` recorded in Prometheus (baseline × factor).
    Prometheus,
    /// `[speeds] target_…_bytes_per_second` of the planner config.
    Config,
}

/// One region's measured speeds against its targets (one row of `speeds.regions` and
/// speeds.csv). Speeds in bytes per second; the 1-day medians are judged against the target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionSpeeds {
    /// ISO 3166-2 region code.
    pub region: String,
    pub name: String,
    /// The Prometheus `region` label the figures came from (empty without measurements).
    pub label: String,
    /// Whether Prometheus has any speed for this region.
    pub measured: bool,
    /// Agents with a download result in the last day.
    pub agents: u64,
    pub download_bytes_per_second: Option<f64>,
    pub upload_bytes_per_second: Option<f64>,
    pub download_7d_bytes_per_second: Option<f64>,
    pub upload_7d_bytes_per_second: Option<f64>,
    pub download_target_bytes_per_second: Option<f64>,
    pub upload_target_bytes_per_second: Option<f64>,
    pub download_target_source: Option<TargetSource>,
    pub upload_target_source: Option<TargetSource>,
    /// 1-day median / target (the target is met at ≥ 1).
    pub download_ratio_to_target: Option<f64>,
    pub upload_ratio_to_target: Option<f64>,
    /// Measured and below target in download or upload.
    pub below_target: bool,
    /// 1-day medians per target scope: targets labelled `scope="domestic"` (inside the
    /// agents' country) and `scope="international"` (abroad, through the gateways).
    pub domestic_download_bytes_per_second: Option<f64>,
    pub international_download_bytes_per_second: Option<f64>,
    pub domestic_upload_bytes_per_second: Option<f64>,
    pub international_upload_bytes_per_second: Option<f64>,
    /// International / domestic 1-day median (1 = the international path costs nothing).
    pub international_download_ratio: Option<f64>,
    pub international_upload_ratio: Option<f64>,
    /// The lowest acceptable international / domestic ratio for the region.
    pub international_ratio_min: f64,
    /// `prometheus` (`region:probe_international_ratio:min`) or `config`
    /// (`[speeds] international_ratio_min`).
    pub international_ratio_min_source: TargetSource,
    /// The download or upload ratio is below the minimum: the international path (gateways,
    /// upstream capacity), not the access network, limits the region's speeds.
    pub international_bottleneck: bool,
}

/// The `speeds` object of the analysis JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Speeds {
    /// The Prometheus server queried.
    pub url: String,
    pub source: SpeedSource,
    /// The improvement factor recorded in Prometheus (`probe:speed_target:factor`), if any.
    pub target_factor: Option<f64>,
    /// Every region of the dataset, sorted by code.
    pub regions: Vec<RegionSpeeds>,
    pub regions_measured: usize,
    pub regions_below_target: Vec<String>,
    /// Regions whose international path is the bottleneck (`international_bottleneck`).
    pub regions_international_bottleneck: Vec<String>,
    /// `region` labels that match no region of the dataset (or several).
    pub unmatched_labels: Vec<String>,
    pub warnings: Vec<String>,
}

impl Speeds {
    /// The regions measured in both scopes (an international / domestic ratio exists).
    pub fn regions_with_both_scopes(&self) -> Vec<&RegionSpeeds> {
        self.regions
            .iter()
            .filter(|r| {
                r.international_download_ratio.is_some() || r.international_upload_ratio.is_some()
            })
            .collect()
    }
}

/// A blocking client for instant queries against one Prometheus server.
struct Client {
    http: reqwest::blocking::Client,
    /// The user's URL, for messages.
    url: String,
    endpoint: reqwest::Url,
}

impl Client {
    fn new(url: &str, timeout: Duration) -> Result<Client, SpeedsError> {
        let bad = |message: String| SpeedsError::BadUrl {
            url: url.to_string(),
            message,
        };
        let mut endpoint = reqwest::Url::parse(url).map_err(|e| bad(e.to_string()))?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(bad(format!(
                "scheme `{}` is not http or https",
                endpoint.scheme()
            )));
        }
        // Keep a path prefix (Prometheus behind a reverse proxy at /prometheus).
        let path = format!("{}/api/v1/query", endpoint.path().trim_end_matches('/'));
        endpoint.set_path(&path);
        endpoint.set_query(None);
        // reqwest is built without a crypto provider, so HTTPS URLs need one installed; a
        // second install in the same process fails harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("planner/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| bad(error_chain(&e)))?;
        Ok(Client {
            http,
            url: url.to_string(),
            endpoint,
        })
    }

    /// Evaluates `query` now; returns one sample per series. Labels a series lacks are "".
    fn vector(&self, query: &str) -> Result<Vec<Sample>, SpeedsError> {
        let mut endpoint = self.endpoint.clone();
        endpoint.query_pairs_mut().append_pair("query", query);
        let resp = self
            .http
            .get(endpoint)
            .send()
            .map_err(|e| SpeedsError::Connect {
                url: self.url.clone(),
                message: error_chain(&e),
            })?;
        let status = resp.status().as_u16();
        let body = resp.text().map_err(|e| SpeedsError::Connect {
            url: self.url.clone(),
            message: error_chain(&e),
        })?;
        let parsed: Result<Value, _> = serde_json::from_str(&body);
        // Prometheus answers errors as JSON with a 4xx/5xx status: prefer its message.
        if let Ok(v) = &parsed {
            if v.get("status").and_then(Value::as_str) == Some("error") {
                return Err(SpeedsError::Prometheus {
                    url: self.url.clone(),
                    query: query.to_string(),
                    error_type: v["errorType"].as_str().unwrap_or("error").to_string(),
                    error: v["error"].as_str().unwrap_or("(no message)").to_string(),
                });
            }
        }
        if !(200..300).contains(&status) {
            return Err(SpeedsError::Http {
                url: self.url.clone(),
                status,
                query: query.to_string(),
                body: excerpt(&body),
            });
        }
        let bad = |message: String| SpeedsError::BadJson {
            url: self.url.clone(),
            query: query.to_string(),
            message,
        };
        let v = parsed.map_err(|e| bad(format!("{e}; body starts: {}", excerpt(&body))))?;
        if v.get("status").and_then(Value::as_str) != Some("success") {
            return Err(bad("no \"status\": \"success\"".into()));
        }
        let data = &v["data"];
        if data["resultType"].as_str() != Some("vector") {
            return Err(bad(format!(
                "resultType is {}, expected vector",
                data["resultType"]
            )));
        }
        let result = data["result"]
            .as_array()
            .ok_or_else(|| bad("data.result is not a list".into()))?;
        let mut out = Vec::with_capacity(result.len());
        for s in result {
            let label = |name: &str| s["metric"][name].as_str().unwrap_or("").to_string();
            // Sample values are strings so that NaN and ±Inf survive JSON.
            let value = s["value"][1]
                .as_str()
                .and_then(|x| x.parse::<f64>().ok())
                .ok_or_else(|| bad(format!("sample without a numeric value: {s}")))?;
            out.push(Sample {
                region: label("region"),
                scope: label("scope"),
                value,
            });
        }
        Ok(out)
    }
}

/// One series of an instant query's answer: the labels the planner uses and the value.
struct Sample {
    region: String,
    scope: String,
    value: f64,
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = c.source();
    }
    s
}

fn excerpt(body: &str) -> String {
    let t = body.trim();
    let cut: String = t.chars().take(200).collect();
    if cut.len() < t.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// The PromQL of each figure, for one source.
struct Queries {
    median: [[String; 2]; 2],
    agents: String,
}

const DIRS: [&str; 2] = ["download", "upload"];
const WINDOWS: [&str; 2] = ["1d", "7d"];

fn queries(source: SpeedSource) -> Queries {
    let median = |dir: &str, w: &str| {
        match source {
        SpeedSource::RecordingRules => format!("region:probe_{dir}_bytes_per_second:median_{w}"),
        // The recording rules' two steps in one expression: per series median over the
        // window, then the median across the region's series.
        SpeedSource::RawExpressions => format!(
            "quantile by (region) (0.5, quantile_over_time(0.5, probe_{dir}_bytes_per_second{{region!=\"\"}}[{w}]))"
        ),
    }
    };
    let per_agent = match source {
        SpeedSource::RecordingRules => {
            "instance_target:probe_download_bytes_per_second:median_1d".to_string()
        }
        SpeedSource::RawExpressions => {
            "last_over_time(probe_download_bytes_per_second{region!=\"\"}[1d])".to_string()
        }
    };
    Queries {
        median: [
            [median(DIRS[0], WINDOWS[0]), median(DIRS[0], WINDOWS[1])],
            [median(DIRS[1], WINDOWS[0]), median(DIRS[1], WINDOWS[1])],
        ],
        agents: format!("count by (region) (count by (region, instance) ({per_agent}))"),
    }
}

/// The per-region, per-scope 1-day median of `dir`: the recorded series, or the same two-step
/// median from the raw gauges.
fn scope_query(source: SpeedSource, dir: &str) -> String {
    match source {
        SpeedSource::RecordingRules => {
            format!("region_scope:probe_{dir}_bytes_per_second:median_1d")
        }
        SpeedSource::RawExpressions => format!(
            "quantile by (region, scope) (0.5, quantile_over_time(0.5, probe_{dir}_bytes_per_second{{region!=\"\",scope=~\"domestic|international\"}}[1d]))"
        ),
    }
}

/// The scopes of `scope_query`, in the order of the per-scope arrays.
const SCOPES: [&str; 2] = ["domestic", "international"];

/// Region label → [domestic, international] median (finite values only).
fn to_scope_map(v: Vec<Sample>) -> BTreeMap<String, [Option<f64>; 2]> {
    let mut m: BTreeMap<String, [Option<f64>; 2]> = BTreeMap::new();
    for s in v {
        let Some(k) = SCOPES.iter().position(|&x| x == s.scope) else {
            continue;
        };
        if !s.region.is_empty() && s.value.is_finite() {
            m.entry(s.region).or_default()[k] = Some(s.value);
        }
    }
    m
}

/// Maps Prometheus `region` labels to region codes.
struct RegionMatcher {
    by_code: BTreeMap<String, String>,
    by_name: BTreeMap<String, BTreeSet<String>>,
}

enum Match {
    Code(String),
    Name(String),
    Ambiguous(Vec<String>),
    None,
}

impl RegionMatcher {
    fn new(regions: &[Region]) -> RegionMatcher {
        let mut by_code = BTreeMap::new();
        let mut by_name: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in regions {
            by_code.insert(r.code.to_lowercase(), r.code.clone());
            for n in [Some(&r.name_en), r.name_local.as_ref(), r.name_ru.as_ref()]
                .into_iter()
                .flatten()
            {
                by_name
                    .entry(n.trim().to_lowercase())
                    .or_default()
                    .insert(r.code.clone());
            }
        }
        RegionMatcher { by_code, by_name }
    }

    fn find(&self, label: &str) -> Match {
        let key = label.trim().to_lowercase();
        if let Some(c) = self.by_code.get(&key) {
            return Match::Code(c.clone());
        }
        match self.by_name.get(&key) {
            Some(codes) if codes.len() == 1 => {
                Match::Name(codes.iter().next().expect("one").clone())
            }
            Some(codes) => Match::Ambiguous(codes.iter().cloned().collect()),
            None => Match::None,
        }
    }
}

fn to_map(v: Vec<Sample>) -> BTreeMap<String, f64> {
    v.into_iter()
        .filter(|s| !s.region.is_empty())
        .map(|s| (s.region, s.value))
        .collect()
}

/// Queries `url` and judges every region of `regions` against its target.
pub fn fetch(url: &str, cfg: &SpeedsConfig, regions: &[Region]) -> Result<Speeds, SpeedsError> {
    let client = Client::new(url, cfg.timeout())?;
    let recorded = client.vector(&queries(SpeedSource::RecordingRules).median[0][0])?;
    let source = if recorded.iter().any(|s| !s.region.is_empty()) {
        SpeedSource::RecordingRules
    } else {
        SpeedSource::RawExpressions
    };
    let q = queries(source);
    // medians[dir][window]: label → bytes/s
    let mut medians: Vec<Vec<BTreeMap<String, f64>>> = Vec::new();
    for dir in &q.median {
        let mut per_window = Vec::new();
        for query in dir {
            per_window.push(to_map(client.vector(query)?));
        }
        medians.push(per_window);
    }
    let agents = to_map(client.vector(&q.agents)?);
    // Targets are recorded from configured baselines even without measurements, so they are
    // looked up whatever the source of the medians.
    let mut targets = Vec::new();
    for dir in DIRS {
        targets.push(to_map(
            client.vector(&format!("region:probe_{dir}_bytes_per_second:target"))?,
        ));
    }
    let target_factor = client
        .vector("probe:speed_target:factor")?
        .first()
        .map(|s| s.value);
    // scoped[dir]: label → [domestic, international]. Rules older than the scope split record
    // no per-scope series, so an empty recorded answer falls back to the raw expression.
    let mut scoped = Vec::new();
    for dir in DIRS {
        let mut v = client.vector(&scope_query(source, dir))?;
        if v.is_empty() && source == SpeedSource::RecordingRules {
            v = client.vector(&scope_query(SpeedSource::RawExpressions, dir))?;
        }
        scoped.push(to_scope_map(v));
    }
    let ratio_min = to_map(client.vector("region:probe_international_ratio:min")?);

    let mut labels: BTreeSet<String> = BTreeSet::new();
    for m in medians.iter().flatten().chain([&agents]) {
        labels.extend(m.keys().cloned());
    }
    let matcher = RegionMatcher::new(regions);
    let mut warnings = Vec::new();
    let mut unmatched = Vec::new();
    // code → label; a code label wins over a name label for the same region.
    let mut chosen: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for label in &labels {
        let (code, by_code) = match matcher.find(label) {
            Match::Code(c) => (c, true),
            Match::Name(c) => {
                warnings.push(format!(
                    "region label `{label}` matched region {c} by name; label the agents region=\"{c}\" to be unambiguous"
                ));
                (c, false)
            }
            Match::Ambiguous(codes) => {
                warnings.push(format!(
                    "region label `{label}` names several regions ({}); label the agents with one region code",
                    codes.join(", ")
                ));
                unmatched.push(label.clone());
                continue;
            }
            Match::None => {
                warnings.push(format!(
                    "region label `{label}` matches no region of the dataset; label the agents with a region code such as {}",
                    regions.first().map(|r| r.code.as_str()).unwrap_or("UZ-TO")
                ));
                unmatched.push(label.clone());
                continue;
            }
        };
        match chosen.get(&code) {
            Some((prev, true)) if !by_code => {
                warnings.push(format!(
                    "region label `{label}` and `{prev}` both mean {code}; only `{prev}` is used"
                ));
            }
            Some((prev, _)) => {
                warnings.push(format!(
                    "region label `{prev}` and `{label}` both mean {code}; only `{label}` is used"
                ));
                chosen.insert(code, (label.clone(), by_code));
            }
            None => {
                chosen.insert(code, (label.clone(), by_code));
            }
        }
    }
    for (label, v) in medians.iter().flatten().flat_map(|m| m.iter()) {
        if !v.is_finite() {
            warnings.push(format!("region label `{label}`: Prometheus returned {v}"));
        }
    }

    let conf_target = [
        cfg.target_download_bytes_per_second,
        cfg.target_upload_bytes_per_second,
    ];
    let mut rows = Vec::new();
    let mut sorted: Vec<&Region> = regions.iter().collect();
    sorted.sort_by(|a, b| a.code.cmp(&b.code));
    for r in sorted {
        let label = chosen.get(&r.code).map(|(l, _)| l.clone());
        let get = |m: &BTreeMap<String, f64>| {
            label
                .as_ref()
                .and_then(|l| m.get(l))
                .copied()
                .filter(|v| v.is_finite())
        };
        let med: Vec<[Option<f64>; 2]> = (0..2)
            .map(|d| [get(&medians[d][0]), get(&medians[d][1])])
            .collect();
        let mut tgt = [None, None];
        let mut tgt_src = [None, None];
        let mut ratio = [None, None];
        let mut below = false;
        for d in 0..2 {
            // Look the target up by the region's label, and by its code when it has no
            // measurements (baselines may be configured before any agent reports).
            let recorded = label
                .as_ref()
                .and_then(|l| targets[d].get(l))
                .or_else(|| targets[d].get(&r.code))
                .copied()
                .filter(|v| v.is_finite() && *v > 0.0);
            (tgt[d], tgt_src[d]) = match (recorded, conf_target[d]) {
                (Some(t), _) => (Some(t), Some(TargetSource::Prometheus)),
                (None, Some(t)) => (Some(t), Some(TargetSource::Config)),
                (None, None) => (None, None),
            };
            if let (Some(m), Some(t)) = (med[d][0], tgt[d]) {
                ratio[d] = Some(round(m / t, 4));
                below |= m < t;
            }
        }
        let measured = med.iter().flatten().any(Option::is_some);
        let r1 = |v: Option<f64>| v.map(|x| round(x, 1));
        let sc: Vec<[Option<f64>; 2]> = (0..2)
            .map(|d| {
                label
                    .as_ref()
                    .and_then(|l| scoped[d].get(l))
                    .copied()
                    .unwrap_or_default()
            })
            .collect();
        let intl_ratio: Vec<Option<f64>> = sc
            .iter()
            .map(|&[dom, intl]| match (dom, intl) {
                (Some(dom), Some(intl)) if dom > 0.0 => Some(intl / dom),
                _ => None,
            })
            .collect();
        let (ratio_min_v, ratio_min_src) = match label
            .as_ref()
            .and_then(|l| ratio_min.get(l))
            .or_else(|| ratio_min.get(&r.code))
            .copied()
            .filter(|v| v.is_finite() && *v > 0.0)
        {
            Some(m) => (m, TargetSource::Prometheus),
            None => (cfg.international_ratio_min, TargetSource::Config),
        };
        let bottleneck = intl_ratio.iter().flatten().any(|&x| x < ratio_min_v);
        rows.push(RegionSpeeds {
            region: r.code.clone(),
            name: r.name_en.clone(),
            label: if measured {
                label.clone().unwrap_or_default()
            } else {
                String::new()
            },
            measured,
            agents: label
                .as_ref()
                .and_then(|l| agents.get(l))
                .map(|&n| n as u64)
                .unwrap_or(0),
            download_bytes_per_second: r1(med[0][0]),
            upload_bytes_per_second: r1(med[1][0]),
            download_7d_bytes_per_second: r1(med[0][1]),
            upload_7d_bytes_per_second: r1(med[1][1]),
            download_target_bytes_per_second: r1(tgt[0]),
            upload_target_bytes_per_second: r1(tgt[1]),
            download_target_source: tgt_src[0],
            upload_target_source: tgt_src[1],
            download_ratio_to_target: ratio[0],
            upload_ratio_to_target: ratio[1],
            below_target: below,
            domestic_download_bytes_per_second: r1(sc[0][0]),
            international_download_bytes_per_second: r1(sc[0][1]),
            domestic_upload_bytes_per_second: r1(sc[1][0]),
            international_upload_bytes_per_second: r1(sc[1][1]),
            international_download_ratio: intl_ratio[0].map(|x| round(x, 4)),
            international_upload_ratio: intl_ratio[1].map(|x| round(x, 4)),
            international_ratio_min: ratio_min_v,
            international_ratio_min_source: ratio_min_src,
            international_bottleneck: bottleneck,
        });
    }
    let regions_measured = rows.iter().filter(|r| r.measured).count();
    if regions_measured == 0 && unmatched.is_empty() {
        warnings.push(format!(
            "Prometheus at {url} has no probe_download_bytes_per_second / probe_upload_bytes_per_second with a region label: are agents scraped with region labels?"
        ));
    }
    let regions_below_target = rows
        .iter()
        .filter(|r| r.below_target)
        .map(|r| r.region.clone())
        .collect();
    let regions_international_bottleneck = rows
        .iter()
        .filter(|r| r.international_bottleneck)
        .map(|r| r.region.clone())
        .collect();
    Ok(Speeds {
        url: url.to_string(),
        source,
        target_factor,
        regions: rows,
        regions_measured,
        regions_below_target,
        regions_international_bottleneck,
        unmatched_labels: unmatched,
        warnings,
    })
}

fn mbit(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}", x * 8.0 / 1e6))
        .unwrap_or_else(|| "-".into())
}

/// Human summary: one line per region, Mbit/s, below-target regions flagged.
pub fn render_text(s: &Speeds) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "Measured speeds from {} ({}), 1-day medians in Mbit/s{}",
        s.url,
        match s.source {
            SpeedSource::RecordingRules => "recording rules",
            SpeedSource::RawExpressions => "raw probe gauges: recording rules not found",
        },
        s.target_factor
            .map(|f| format!(", target = baseline × {f}"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        o,
        "  {:<8} {:<16} {:>6} {:>10} {:>10} {:>10} {:>10}",
        "region", "name", "agents", "down", "target", "up", "target"
    );
    for r in &s.regions {
        if !r.measured {
            continue;
        }
        let _ = writeln!(
            o,
            "  {:<8} {:<16} {:>6} {:>10} {:>10} {:>10} {:>10}  {}",
            r.region,
            r.name,
            r.agents,
            mbit(r.download_bytes_per_second),
            mbit(r.download_target_bytes_per_second),
            mbit(r.upload_bytes_per_second),
            mbit(r.upload_target_bytes_per_second),
            if r.below_target {
                "BELOW TARGET"
            } else if r.download_target_bytes_per_second.is_none()
                && r.upload_target_bytes_per_second.is_none()
            {
                "no target"
            } else {
                "ok"
            }
        );
    }
    let none: Vec<&str> = s
        .regions
        .iter()
        .filter(|r| !r.measured)
        .map(|r| r.region.as_str())
        .collect();
    if !none.is_empty() {
        let _ = writeln!(o, "  no measurements: {}", none.join(", "));
    }
    let _ = writeln!(
        o,
        "  {} of {} measured regions below target{}",
        s.regions_below_target.len(),
        s.regions_measured,
        if s.regions_below_target.is_empty() {
            String::new()
        } else {
            format!(": {}", s.regions_below_target.join(", "))
        }
    );
    let scoped = s.regions_with_both_scopes();
    if !scoped.is_empty() {
        let _ = writeln!(
            o,
            "  Domestic vs international (1-day medians, Mbit/s; ratio = international / domestic)"
        );
        let _ = writeln!(
            o,
            "  {:<8} {:>9} {:>9} {:>6} {:>9} {:>9} {:>6} {:>5}",
            "region", "dom down", "int down", "ratio", "dom up", "int up", "ratio", "min"
        );
        let ratio = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
        for r in scoped {
            let _ = writeln!(
                o,
                "  {:<8} {:>9} {:>9} {:>6} {:>9} {:>9} {:>6} {:>5}  {}",
                r.region,
                mbit(r.domestic_download_bytes_per_second),
                mbit(r.international_download_bytes_per_second),
                ratio(r.international_download_ratio),
                mbit(r.domestic_upload_bytes_per_second),
                mbit(r.international_upload_bytes_per_second),
                ratio(r.international_upload_ratio),
                format!("{:.2}", r.international_ratio_min),
                if r.international_bottleneck {
                    "INTERNATIONAL BOTTLENECK"
                } else {
                    "ok"
                }
            );
        }
        let _ = writeln!(
            o,
            "  {} of {} measured regions limited by the international path{}",
            s.regions_international_bottleneck.len(),
            s.regions_measured,
            if s.regions_international_bottleneck.is_empty() {
                String::new()
            } else {
                format!(": {}", s.regions_international_bottleneck.join(", "))
            }
        );
    }
    for w in &s.warnings {
        let _ = writeln!(o, "  warning: {w}");
    }
    o
}

/// speeds.csv: the rows of `speeds.regions`.
pub fn csv_bytes(s: &Speeds) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in &s.regions {
        w.serialize(r)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(code: &str, name: &str) -> Region {
        Region {
            code: code.into(),
            name_en: name.into(),
            name_local: None,
            name_ru: None,
            geometry: geo_types::MultiPolygon(vec![]),
        }
    }

    #[test]
    fn labels_match_codes_then_unique_names() {
        let rs = [
            region("UZ-TK", "Tashkent"),
            region("UZ-TO", "Tashkent"),
            region("UZ-QR", "Karakalpakstan"),
        ];
        let m = RegionMatcher::new(&rs);
        assert!(matches!(m.find("uz-to"), Match::Code(c) if c == "UZ-TO"));
        assert!(matches!(m.find("Karakalpakstan"), Match::Name(c) if c == "UZ-QR"));
        assert!(matches!(m.find("Tashkent"), Match::Ambiguous(v) if v.len() == 2));
        assert!(matches!(m.find("Atlantis"), Match::None));
    }

    #[test]
    fn config_rejects_bad_values_and_unknown_keys() {
        let c: SpeedsConfig =
            toml::from_str("timeout_s = 0\ntarget_upload_bytes_per_second = -1").unwrap();
        assert_eq!(
            c.problems(),
            vec![
                "speeds.timeout_s = 0: give a positive number of seconds, at most 3600",
                "speeds.target_upload_bytes_per_second = -1: give a positive speed in bytes per second (Mbit/s × 125000), at most 1e12",
            ]
        );
        // Regression: 1e300 s passed validation and panicked in Duration::from_secs_f64.
        let c: SpeedsConfig = toml::from_str("timeout_s = 1e300").unwrap();
        assert_eq!(
            c.problems(),
            vec!["speeds.timeout_s = 1e300: give a positive number of seconds, at most 3600"]
        );
        assert_eq!(c.timeout(), Duration::from_secs(3600));
        for bad in ["0", "1.5", "-0.2", "nan"] {
            let c: SpeedsConfig =
                toml::from_str(&format!("international_ratio_min = {bad}")).unwrap();
            assert_eq!(c.problems().len(), 1, "{bad}");
            assert!(
                c.problems()[0].starts_with("speeds.international_ratio_min = "),
                "{:?}",
                c.problems()
            );
        }
        assert!(
            toml::from_str::<SpeedsConfig>("international_ratio_min = 1.0")
                .unwrap()
                .problems()
                .is_empty()
        );
        let e = toml::from_str::<SpeedsConfig>("target_mbit = 5")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `target_mbit`"), "{e}");
    }

    #[test]
    fn unusable_urls_are_rejected_before_any_request() {
        for u in ["not a url", "ftp://127.0.0.1:9090"] {
            let e = fetch(u, &SpeedsConfig::default(), &[]).unwrap_err();
            assert!(matches!(e, SpeedsError::BadUrl { .. }), "{e}");
            assert!(e.to_string().contains(u), "{e}");
        }
    }
}
