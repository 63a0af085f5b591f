//! Agent configuration: strict TOML parsing, defaults, and whole-file validation that reports
//! every problem at once, each naming the field and what to do.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use crate::duration::{format_duration, parse_duration};
use crate::endpoint::{read_server_list, Endpoints, ServerKind};
use crate::net::{client_tls_config, ClientTls, Resolver};
use crate::probers::{ProbeSettings, TestKind};

/// A configuration that failed to load; lists every problem found.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// File the problems are in.
    pub path: PathBuf,
    /// One line per problem.
    pub problems: Vec<String>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid config {}:", self.path.display())?;
        for p in &self.problems {
            // Multi-line problems (TOML parse errors with a source excerpt) stay indented.
            write!(f, "\n  - {}", p.replace('\n', "\n    "))?;
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    agent: RawAgent,
    #[serde(default)]
    web: RawWeb,
    #[serde(default)]
    tests: RawTests,
    #[serde(default)]
    targets: Vec<RawTarget>,
    #[serde(default)]
    remote_write: Option<RawRemoteWrite>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRemoteWrite {
    url: String,
    #[serde(default)]
    basic_auth: Option<RawBasicAuth>,
    #[serde(default)]
    bearer_token: Option<String>,
    #[serde(default)]
    bearer_token_file: Option<PathBuf>,
    #[serde(default)]
    ca_file: Option<PathBuf>,
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    queue_capacity_samples: Option<usize>,
    #[serde(default)]
    max_samples_per_batch: Option<usize>,
    #[serde(default)]
    retry_backoff_min: Option<String>,
    #[serde(default)]
    retry_backoff_max: Option<String>,
    #[serde(default)]
    job: Option<String>,
    #[serde(default)]
    instance: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBasicAuth {
    username: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    password_file: Option<PathBuf>,
}

/// A secret given inline or in a file (so the config itself can stay world-readable); file
/// contents are trimmed.
fn read_secret(
    key: &str,
    inline: &Option<String>,
    file: &Option<PathBuf>,
    path: &Path,
    p: &mut Vec<String>,
) -> Option<String> {
    match (inline, file) {
        (Some(_), Some(_)) => {
            p.push(format!("{key} and {key}_file are both set: keep one"));
            None
        }
        (Some(s), None) => Some(s.clone()),
        (None, Some(f)) => {
            let f = relative_to(path, f);
            match std::fs::read_to_string(&f) {
                Ok(t) if !t.trim().is_empty() => Some(t.trim().to_string()),
                Ok(_) => {
                    p.push(format!(
                        "{key}_file = \"{}\" is empty: put the secret in it",
                        f.display()
                    ));
                    None
                }
                Err(e) => {
                    p.push(format!(
                        "{key}_file = \"{}\" cannot be read: {e}",
                        f.display()
                    ));
                    None
                }
            }
        }
        (None, None) => None,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    region: String,
    site: String,
    latitude: f64,
    longitude: f64,
    #[serde(default)]
    isp: String,
    #[serde(default = "default_listen")]
    listen: String,
    daily_budget_bytes: u64,
    #[serde(default)]
    nameserver: Option<String>,
}

fn default_listen() -> String {
    "127.0.0.1:9469".into()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeb {
    tls_cert_file: Option<PathBuf>,
    tls_key_file: Option<PathBuf>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTests {
    #[serde(default)]
    download: RawTest,
    #[serde(default)]
    upload: RawTest,
    #[serde(default)]
    latency: RawTest,
    #[serde(default)]
    loss: RawTest,
    #[serde(default)]
    dns: RawTest,
    #[serde(default)]
    http: RawTest,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    interval: Option<String>,
    jitter: Option<String>,
    timeout: Option<String>,
    duration: Option<String>,
    grace: Option<String>,
    stall_timeout: Option<String>,
    streams: Option<usize>,
    max_bytes: Option<u64>,
    stop_when_stable: Option<bool>,
    loaded_latency: Option<bool>,
    samples: Option<usize>,
    packets: Option<usize>,
    packet_interval: Option<String>,
    http_bytes: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: String,
    #[serde(default = "default_kind")]
    kind: ServerKind,
    url: Option<String>,
    server_list: Option<PathBuf>,
    server: Option<String>,
    tests: Vec<TestKind>,
    ca_file: Option<PathBuf>,
    udp_port: Option<u16>,
}

fn default_kind() -> ServerKind {
    ServerKind::Probe
}

/// Agent identity and process settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSection {
    /// Region name (label on `probe_agent_info`).
    pub region: String,
    /// Site name.
    pub site: String,
    /// Latitude, WGS84 degrees.
    pub latitude: f64,
    /// Longitude, WGS84 degrees.
    pub longitude: f64,
    /// Internet service provider.
    pub isp: String,
    /// Address `/metrics` listens on.
    pub listen: SocketAddr,
    /// Bytes all tests together may move per UTC day.
    pub daily_budget_bytes: u64,
    /// Resolver used by every prober.
    pub resolver: Resolver,
}

/// Exporter web settings.
#[derive(Debug, Clone, Default)]
pub struct WebSection {
    /// TLS certificate chain and key for `/metrics`.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Basic auth users and their bcrypt hashes.
    pub basic_auth_users: BTreeMap<String, String>,
}

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

/// One measured server.
#[derive(Debug, Clone)]
pub struct Target {
    /// Label value.
    pub name: String,
    /// URLs.
    pub endpoints: Endpoints,
    /// TLS roots.
    pub tls: ClientTls,
    /// Tests run against it.
    pub tests: Vec<TestKind>,
    /// UDP echo port override.
    pub udp_port: Option<u16>,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// File it came from.
    pub path: PathBuf,
    /// Agent identity.
    pub agent: AgentSection,
    /// Exporter web settings.
    pub web: WebSection,
    /// Test schedules.
    pub tests: BTreeMap<TestKind, TestConfig>,
    /// Targets.
    pub targets: Vec<Target>,
    /// Push results to a remote-write receiver (`[remote_write]`), if set.
    pub remote_write: Option<crate::remote_write::RemoteWriteConfig>,
}

struct Defaults {
    interval: &'static str,
    jitter: &'static str,
    timeout: &'static str,
    max_bytes: u64,
    streams: usize,
    allowed: &'static [&'static str],
}

const COMMON: [&str; 4] = ["interval", "jitter", "timeout", "max_bytes"];

fn defaults(t: TestKind) -> Defaults {
    match t {
        TestKind::Download => Defaults {
            interval: "1h",
            jitter: "5m",
            timeout: "30s",
            max_bytes: 500_000_000,
            streams: 4,
            allowed: &[
                "duration",
                "grace",
                "stall_timeout",
                "streams",
                "stop_when_stable",
                "loaded_latency",
            ],
        },
        TestKind::Upload => Defaults {
            interval: "1h",
            jitter: "5m",
            timeout: "30s",
            max_bytes: 250_000_000,
            streams: 3,
            allowed: &[
                "duration",
                "grace",
                "stall_timeout",
                "streams",
                "stop_when_stable",
            ],
        },
        TestKind::Latency => Defaults {
            interval: "1m",
            jitter: "10s",
            timeout: "10s",
            max_bytes: 1_000_000,
            streams: 1,
            allowed: &["samples"],
        },
        TestKind::Loss => Defaults {
            interval: "5m",
            jitter: "30s",
            timeout: "15s",
            max_bytes: 1_000_000,
            streams: 1,
            allowed: &["packets", "packet_interval"],
        },
        TestKind::Dns => Defaults {
            interval: "1m",
            jitter: "10s",
            timeout: "5s",
            max_bytes: 100_000,
            streams: 1,
            allowed: &[],
        },
        TestKind::Http => Defaults {
            interval: "5m",
            jitter: "30s",
            timeout: "10s",
            max_bytes: 2_000_000,
            streams: 1,
            allowed: &["http_bytes"],
        },
    }
}

fn set_keys(r: &RawTest) -> Vec<&'static str> {
    let mut v = Vec::new();
    macro_rules! k {
        ($($f:ident),*) => { $( if r.$f.is_some() { v.push(stringify!($f)); } )* };
    }
    k!(
        interval,
        jitter,
        timeout,
        duration,
        grace,
        stall_timeout,
        streams,
        max_bytes,
        stop_when_stable,
        loaded_latency,
        samples,
        packets,
        packet_interval,
        http_bytes
    );
    v
}

/// Which tests a server kind supports.
pub fn supports(kind: ServerKind, test: TestKind) -> bool {
    match kind {
        ServerKind::Probe => true,
        ServerKind::Librespeed => test != TestKind::Loss,
        ServerKind::Url => matches!(
            test,
            TestKind::Download | TestKind::Latency | TestKind::Dns | TestKind::Http
        ),
    }
}

fn valid_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn relative_to(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.parent().unwrap_or(Path::new(".")).join(p)
    }
}

/// Read and validate a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        path: path.into(),
        problems: vec![format!("cannot read the file: {e}")],
    })?;
    parse(&text, path)
}

/// Parse and validate configuration text; `path` is used in messages and to resolve relative
/// file names.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError {
        path: path.into(),
        problems: vec![e.to_string().trim_end().to_string()],
    })?;
    let mut p: Vec<String> = Vec::new();

    let a = &raw.agent;
    if a.region.trim().is_empty() {
        p.push("agent.region is empty: name the region this agent measures (it labels probe_agent_info)".into());
    }
    if a.site.trim().is_empty() {
        p.push("agent.site is empty: name the site or host this agent runs on".into());
    }
    if !(-90.0..=90.0).contains(&a.latitude) {
        p.push(format!(
            "agent.latitude = {} is outside -90..90: give WGS84 decimal degrees",
            a.latitude
        ));
    }
    if !(-180.0..=180.0).contains(&a.longitude) {
        p.push(format!(
            "agent.longitude = {} is outside -180..180: give WGS84 decimal degrees",
            a.longitude
        ));
    }
    let listen = match a.listen.parse::<SocketAddr>() {
        Ok(l) => Some(l),
        Err(_) => {
            p.push(format!(
                "agent.listen = \"{}\" is not an address: write IP:PORT, e.g. \"127.0.0.1:9469\"",
                a.listen
            ));
            None
        }
    };
    if a.daily_budget_bytes == 0 {
        p.push("agent.daily_budget_bytes is 0: allow the bytes all tests may move per day, e.g. 2000000000".into());
    }
    let resolver = match &a.nameserver {
        None => Some(Resolver::System),
        Some(ns) => match ns.parse::<SocketAddr>() {
            Ok(s) => Some(Resolver::Server(s)),
            Err(_) => {
                p.push(format!("agent.nameserver = \"{ns}\" is not an address: write IP:PORT, e.g. \"9.9.9.9:53\", or remove it to use the system resolver"));
                None
            }
        },
    };

    // Web.
    let web_tls = match (&raw.web.tls_cert_file, &raw.web.tls_key_file) {
        (Some(c), Some(k)) => {
            let (c, k) = (relative_to(path, c), relative_to(path, k));
            if let Err(e) = crate::net::server_tls_config(&c, &k) {
                p.push(format!("web.tls_cert_file/tls_key_file: {e}"));
            }
            Some((c, k))
        }
        (None, None) => None,
        _ => {
            p.push("web.tls_cert_file and web.tls_key_file must be set together".into());
            None
        }
    };
    for (user, hash) in &raw.web.basic_auth_users {
        if !crate::agent::is_bcrypt_hash(hash) {
            p.push(format!("web.basic_auth_users.{user} is not a bcrypt hash (\"$2b$...\"): store the output of `htpasswd -nbBC 10 USER PASSWORD`, never the password"));
        }
    }

    // Tests.
    let used: HashSet<TestKind> = raw
        .targets
        .iter()
        .flat_map(|t| t.tests.iter().copied())
        .collect();
    let mut tests = BTreeMap::new();
    let raw_tests = [
        (TestKind::Download, &raw.tests.download),
        (TestKind::Upload, &raw.tests.upload),
        (TestKind::Latency, &raw.tests.latency),
        (TestKind::Loss, &raw.tests.loss),
        (TestKind::Dns, &raw.tests.dns),
        (TestKind::Http, &raw.tests.http),
    ];
    for (kind, rt) in raw_tests {
        let d = defaults(kind);
        let sec = format!("tests.{kind}");
        for key in set_keys(rt) {
            if !COMMON.contains(&key) && !d.allowed.contains(&key) {
                let mut ok: Vec<&str> = COMMON.to_vec();
                ok.extend_from_slice(d.allowed);
                p.push(format!(
                    "{sec}.{key} does not apply to the {kind} test: its keys are {}",
                    ok.join(", ")
                ));
            }
        }
        let mut dur = |key: &str, v: &Option<String>, default: &str| -> Duration {
            let text = v.as_deref().unwrap_or(default);
            match parse_duration(text) {
                Ok(d) => d,
                Err(e) => {
                    p.push(format!("{sec}.{key}: {e}"));
                    parse_duration(default).expect("valid default")
                }
            }
        };
        let interval = dur("interval", &rt.interval, d.interval);
        let jitter = dur("jitter", &rt.jitter, d.jitter);
        let timeout = dur("timeout", &rt.timeout, d.timeout);
        let base = ProbeSettings::default();
        let duration = dur("duration", &rt.duration, &format_duration(base.duration));
        let grace = dur("grace", &rt.grace, &format_duration(base.grace));
        let stall = dur(
            "stall_timeout",
            &rt.stall_timeout,
            &format_duration(base.stall_timeout),
        );
        let packet_interval = dur(
            "packet_interval",
            &rt.packet_interval,
            &format_duration(base.packet_interval),
        );
        if interval < Duration::from_secs(1) {
            p.push(format!(
                "{sec}.interval = {} is shorter than 1s",
                format_duration(interval)
            ));
        }
        if timeout >= interval {
            p.push(format!(
                "{sec}.timeout ({}) must be shorter than {sec}.interval ({}) so runs never overlap",
                format_duration(timeout),
                format_duration(interval)
            ));
        }
        if jitter >= interval {
            p.push(format!(
                "{sec}.jitter ({}) must be shorter than {sec}.interval ({})",
                format_duration(jitter),
                format_duration(interval)
            ));
        }
        let streams = rt.streams.unwrap_or(d.streams);
        let max_bytes = rt.max_bytes.unwrap_or(d.max_bytes);
        if kind.is_heavy() {
            if grace >= duration {
                p.push(format!(
                    "{sec}.grace ({}) must be shorter than {sec}.duration ({}): the figure is measured after the ramp-up",
                    format_duration(grace),
                    format_duration(duration)
                ));
            }
            if timeout <= duration + Duration::from_secs(2) {
                p.push(format!(
                    "{sec}.timeout ({}) must exceed {sec}.duration ({}) by more than 2s to leave time for connection setup",
                    format_duration(timeout),
                    format_duration(duration)
                ));
            }
            if !(1..=32).contains(&streams) {
                p.push(format!("{sec}.streams = {streams} is outside 1..32"));
            }
        }
        if max_bytes == 0 {
            p.push(format!(
                "{sec}.max_bytes is 0: allow at least some bytes per run"
            ));
        } else if max_bytes > a.daily_budget_bytes
            && a.daily_budget_bytes > 0
            && used.contains(&kind)
        {
            p.push(format!(
                "{sec}.max_bytes ({max_bytes}) exceeds agent.daily_budget_bytes ({}): one run could never fit the budget",
                a.daily_budget_bytes
            ));
        }
        let samples = rt.samples.unwrap_or(base.samples);
        if !(2..=1000).contains(&samples) {
            p.push(format!("{sec}.samples = {samples} is outside 2..1000"));
        }
        let packets = rt.packets.unwrap_or(base.packets);
        if !(1..=10_000).contains(&packets) {
            p.push(format!("{sec}.packets = {packets} is outside 1..10000"));
        }
        let settings = ProbeSettings {
            streams,
            duration,
            grace,
            stop_when_stable: rt.stop_when_stable.unwrap_or(false),
            stall_timeout: stall,
            loaded_latency: rt.loaded_latency.unwrap_or(true),
            samples,
            packets,
            packet_interval,
            loss_wait: base.loss_wait,
            udp_port: None,
            http_bytes: rt.http_bytes.unwrap_or(base.http_bytes),
            connect_timeout: base.connect_timeout.min(timeout),
        };
        tests.insert(
            kind,
            TestConfig {
                interval,
                jitter,
                timeout,
                max_bytes,
                settings,
            },
        );
    }

    // Targets.
    if raw.targets.is_empty() {
        p.push("no [[targets]]: add at least one server to measure, e.g. [[targets]] name = \"home\" url = \"http://speed.example:8080/\" tests = [\"download\"]".into());
    }
    let mut names = HashSet::new();
    let mut targets = Vec::new();
    for (i, t) in raw.targets.iter().enumerate() {
        let at = format!("targets[{i}]");
        if !valid_label(&t.name) {
            p.push(format!("{at}.name = \"{}\" must be 1-64 characters of A-Z a-z 0-9 - _ . (it becomes a label value)", t.name));
        } else if !names.insert(t.name.clone()) {
            p.push(format!(
                "{at}.name = \"{}\" is used by an earlier target: names must be unique",
                t.name
            ));
        }
        let at = format!("targets[{i}] ({})", t.name);
        if t.tests.is_empty() {
            p.push(format!("{at}: tests is empty: list what to measure, e.g. [\"download\", \"upload\", \"latency\"]"));
        }
        let mut seen = BTreeSet::new();
        for test in &t.tests {
            if !seen.insert(*test) {
                p.push(format!("{at}: test \"{test}\" is listed twice"));
            }
            if !supports(t.kind, *test) {
                p.push(format!(
                    "{at}: the {test} test is not supported by kind = \"{}\" targets",
                    serde_json::to_value(t.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                ));
            }
        }
        let endpoints = match (t.kind, &t.url, &t.server_list) {
            (ServerKind::Librespeed, None, Some(list)) => {
                let list_path = relative_to(path, list);
                match read_server_list(&list_path) {
                    Err(e) => {
                        p.push(format!("{at}.server_list: {e}"));
                        None
                    }
                    Ok(servers) => {
                        let want = t.server.as_deref().unwrap_or("");
                        let found = servers
                            .iter()
                            .find(|s| s.name == want || s.id.to_string().trim_matches('"') == want);
                        match found {
                            None => {
                                p.push(format!(
                                    "{at}.server = \"{want}\" is not in {}: use one of the names or ids listed there",
                                    list_path.display()
                                ));
                                None
                            }
                            Some(s) => match Endpoints::from_librespeed(s) {
                                Ok(e) => Some(e),
                                Err(e) => {
                                    p.push(format!("{at}.server_list: {e}"));
                                    None
                                }
                            },
                        }
                    }
                }
            }
            (_, Some(u), None) => match Url::parse(u) {
                Ok(url)
                    if (url.scheme() == "http" || url.scheme() == "https")
                        && url.host_str().is_some() =>
                {
                    Some(Endpoints::new(t.kind, url))
                }
                Ok(_) => {
                    p.push(format!(
                        "{at}.url = \"{u}\" must be an http:// or https:// URL with a host"
                    ));
                    None
                }
                Err(e) => {
                    p.push(format!("{at}.url = \"{u}\" is not a URL: {e}"));
                    None
                }
            },
            (ServerKind::Librespeed, Some(_), Some(_)) => {
                p.push(format!("{at}: set either url or server_list, not both"));
                None
            }
            (ServerKind::Librespeed, None, None) => {
                p.push(format!("{at}: a librespeed target needs url (the backend's base URL) or server_list and server"));
                None
            }
            (_, _, Some(_)) => {
                p.push(format!(
                    "{at}.server_list only applies to kind = \"librespeed\""
                ));
                None
            }
            (_, None, None) => {
                p.push(format!("{at}.url is missing: give the server's URL, e.g. \"http://speed.example:8080/\""));
                None
            }
        };
        if let Some(e) = &endpoints {
            if t.tests.contains(&TestKind::Dns)
                && e.host()
                    .trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok()
            {
                p.push(format!(
                    "{at}: the dns test needs a host name in the URL, not the IP address {}",
                    e.host()
                ));
            }
        }
        let ca = t.ca_file.as_ref().map(|c| relative_to(path, c));
        let tls = match client_tls_config(ca.as_deref()) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                p.push(format!("{at}.ca_file: {e}"));
                None
            }
        };
        if let (Some(endpoints), Some(tls)) = (endpoints, tls) {
            targets.push(Target {
                name: t.name.clone(),
                endpoints,
                tls,
                tests: t.tests.clone(),
                udp_port: t.udp_port,
            });
        }
    }

    let remote_write = raw
        .remote_write
        .as_ref()
        .and_then(|rw| remote_write_section(rw, path, a, &mut p));

    if !p.is_empty() {
        return Err(ConfigError {
            path: path.into(),
            problems: p,
        });
    }
    Ok(Config {
        path: path.into(),
        agent: AgentSection {
            region: a.region.clone(),
            site: a.site.clone(),
            latitude: a.latitude,
            longitude: a.longitude,
            isp: a.isp.clone(),
            listen: listen.expect("checked"),
            daily_budget_bytes: a.daily_budget_bytes,
            resolver: resolver.expect("checked"),
        },
        web: WebSection {
            tls: web_tls,
            basic_auth_users: raw.web.basic_auth_users.clone(),
        },
        tests,
        targets,
        remote_write,
    })
}

/// Labels the measurements themselves set (dashboards and rules select on them), plus the two
/// with their own keys; extra remote-write labels must not replace them.
const RESERVED_LABELS: [&str; 8] = [
    "target", "test", "reason", "result", "stat", "phase", "job", "instance",
];

fn remote_write_section(
    rw: &RawRemoteWrite,
    path: &Path,
    agent: &RawAgent,
    p: &mut Vec<String>,
) -> Option<crate::remote_write::RemoteWriteConfig> {
    use crate::remote_write::{RemoteWriteAuth, RemoteWriteConfig};
    let problems_before = p.len();
    let url = match Url::parse(&rw.url) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some() => {
            Some(u)
        }
        Ok(_) => {
            p.push(format!("remote_write.url = \"{}\" must be an http:// or https:// URL with a host, e.g. \"https://prometheus.example/api/v1/write\"", rw.url));
            None
        }
        Err(e) => {
            p.push(format!(
                "remote_write.url = \"{}\" is not a URL: {e}",
                rw.url
            ));
            None
        }
    };
    let bearer = read_secret(
        "remote_write.bearer_token",
        &rw.bearer_token,
        &rw.bearer_token_file,
        path,
        p,
    );
    let auth = match (&rw.basic_auth, bearer) {
        (Some(_), Some(_)) => {
            p.push("remote_write: set either basic_auth or bearer_token, not both".into());
            None
        }
        (Some(b), None) => {
            let password = read_secret(
                "remote_write.basic_auth.password",
                &b.password,
                &b.password_file,
                path,
                p,
            );
            if b.password.is_none() && b.password_file.is_none() {
                p.push("remote_write.basic_auth needs password or password_file (a file keeps the secret out of this config)".into());
            }
            password.map(|password| RemoteWriteAuth::Basic {
                username: b.username.clone(),
                password,
            })
        }
        (None, Some(t)) => Some(RemoteWriteAuth::Bearer(t)),
        (None, None) => None,
    };
    let mut dur = |key: &str, v: &Option<String>, default: &str| -> Duration {
        match parse_duration(v.as_deref().unwrap_or(default)) {
            Ok(d) => d,
            Err(e) => {
                p.push(format!("remote_write.{key}: {e}"));
                parse_duration(default).expect("valid default")
            }
        }
    };
    let interval = dur("interval", &rw.interval, "10s");
    let timeout = dur("timeout", &rw.timeout, "10s");
    let backoff_min = dur("retry_backoff_min", &rw.retry_backoff_min, "500ms");
    let backoff_max = dur("retry_backoff_max", &rw.retry_backoff_max, "30s");
    if interval < Duration::from_secs(1) {
        p.push(format!(
            "remote_write.interval = {} is shorter than 1s",
            format_duration(interval)
        ));
    }
    if timeout < Duration::from_millis(100) {
        p.push(format!(
            "remote_write.timeout = {} is shorter than 100ms: allow the receiver time to answer",
            format_duration(timeout)
        ));
    }
    if backoff_min.is_zero() || backoff_min > backoff_max {
        p.push(format!(
            "remote_write.retry_backoff_min ({}) must be above 0 and at most remote_write.retry_backoff_max ({})",
            format_duration(backoff_min),
            format_duration(backoff_max)
        ));
    }
    let capacity = rw.queue_capacity_samples.unwrap_or(100_000);
    let batch = rw.max_samples_per_batch.unwrap_or(2_000);
    if !(1_000..=10_000_000).contains(&capacity) {
        p.push(format!("remote_write.queue_capacity_samples = {capacity} is outside 1000..10000000 (each queued sample takes about 24 bytes)"));
    }
    if !(1..=50_000).contains(&batch) {
        p.push(format!(
            "remote_write.max_samples_per_batch = {batch} is outside 1..50000"
        ));
    } else if batch > capacity {
        p.push(format!("remote_write.max_samples_per_batch ({batch}) exceeds remote_write.queue_capacity_samples ({capacity})"));
    }
    // Defaults mirror what the `probe-agent` scrape job attaches (job, and region/site from
    // the discovery file), so rules and dashboards treat pushed and scraped agents alike.
    let mut labels = BTreeMap::from([
        ("region".to_string(), agent.region.clone()),
        ("site".to_string(), agent.site.clone()),
    ]);
    for (key, value) in [
        ("job", rw.job.as_deref().unwrap_or("probe-agent")),
        ("instance", rw.instance.as_deref().unwrap_or(&agent.site)),
    ] {
        if value.trim().is_empty() {
            p.push(format!("remote_write.{key} is empty: it labels every pushed series; remove it for the default"));
        }
        labels.insert(key.to_string(), value.to_string());
    }
    for (name, value) in &rw.labels {
        let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            p.push(format!("remote_write.labels.{name} is not a valid label name: use lowercase letters, digits and _, starting with a letter"));
        } else if RESERVED_LABELS.contains(&name.as_str()) {
            p.push(format!("remote_write.labels.{name} is reserved: target, test, reason, result, stat and phase come from the measurements, job and instance have their own keys"));
        } else if value.is_empty() {
            p.push(format!(
                "remote_write.labels.{name} is empty: give a value or remove the label"
            ));
        }
        labels.insert(name.clone(), value.clone());
    }
    let ca = rw.ca_file.as_ref().map(|c| relative_to(path, c));
    let tls = match client_tls_config(ca.as_deref()) {
        Ok(c) => Some(Arc::new(c)),
        Err(e) => {
            p.push(format!("remote_write.ca_file: {e}"));
            None
        }
    };
    if p.len() > problems_before {
        return None;
    }
    Some(RemoteWriteConfig {
        url: url?,
        auth,
        tls: tls?,
        interval,
        timeout,
        queue_capacity_samples: capacity,
        max_samples_per_batch: batch,
        retry_backoff_min: backoff_min,
        retry_backoff_max: backoff_max,
        labels,
    })
}
