//! Agent configuration: strict TOML parsing, defaults, and whole-file validation that reports
//! every problem at once, each naming the field and what to do.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use crate::duration::parse_duration;
use crate::endpoint::{read_server_list, Endpoints, ServerKind};
use crate::net::{client_tls_config, ClientTls, Resolver};
use crate::probers::TestKind;
use crate::scope::Scope;

mod locate;
mod remote_write;
mod tests;

pub use tests::{TestConfig, TestsSection, MIN_WINDOW};

/// One problem of a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted path of the key it is about (`tests.download.grace`, `targets[1].url`), if any.
    pub key: Option<String>,
    /// 1-based line of that key (or of the syntax error) in the file, if known.
    pub line: Option<usize>,
    /// What is wrong and what to do. May quote values from the file, so it goes to the
    /// operator's terminal and log only, never into an HTTP response.
    pub message: String,
}

/// Problems collected while validating; every rule adds to it, none stops the others.
#[derive(Debug, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    /// Add a problem about `key`.
    pub fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            key: Some(key.into()),
            line: None,
            message: message.into(),
        });
    }

    /// Add a problem whose message starts with the key it is about (every rule's message
    /// does: `agent.site is empty…`, `targets[2] (home).url = …`), taking the key from there.
    pub fn add(&mut self, message: String) {
        let key = locate::key_of_message(&message);
        self.0.push(Problem {
            key,
            line: None,
            message,
        });
    }

    /// How many so far.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A configuration that failed to load; lists every problem found.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// File the problems are in.
    pub path: PathBuf,
    /// Every problem.
    pub problems: Vec<Problem>,
    /// The file could not be read at all (an I/O error, not an invalid config).
    pub unreadable: bool,
}

impl ConfigError {
    /// A summary safe to put in an HTTP response: the keys and lines of the problems, no value
    /// or excerpt of the file (which may hold passwords).
    pub fn redacted(&self) -> String {
        let mut s = format!(
            "{} problem{} in the configuration file:",
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        );
        for p in &self.problems {
            s.push_str("\n  - ");
            match (&p.key, p.line) {
                (Some(k), Some(l)) => s.push_str(&format!("{k} (line {l})")),
                (Some(k), None) => s.push_str(k),
                (None, Some(l)) => s.push_str(&format!("line {l}")),
                (None, None) => s.push_str("(no location)"),
            }
        }
        s.push_str("\nrun `probe validate` on the file, or see the agent's log, for the details");
        s
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid config {}:", self.path.display())?;
        for p in &self.problems {
            // Multi-line problems (TOML parse errors with a source excerpt) stay indented.
            write!(f, "\n  - {}", p.message.replace('\n', "\n    "))?;
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
    tests: TestsSection,
    #[serde(default)]
    targets: Vec<RawTarget>,
    #[serde(default)]
    remote_write: Option<remote_write::RawRemoteWrite>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAgent {
    pub(crate) region: String,
    pub(crate) site: String,
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
    #[serde(default)]
    enable_lifecycle: bool,
    header_read_timeout: Option<String>,
    idle_timeout: Option<String>,
    max_connections_per_address: Option<usize>,
}

/// Connection limits of the agent's web listener when `[web]` does not set them.
pub const WEB_LIMITS: crate::listener::Limits = crate::listener::Limits {
    header_read_timeout: Duration::from_secs(10),
    idle_timeout: Duration::from_secs(120),
    max_connections_per_address: 16,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: String,
    #[serde(default = "default_kind")]
    kind: ServerKind,
    #[serde(default)]
    scope: Scope,
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
#[derive(Debug, Clone)]
pub struct WebSection {
    /// TLS certificate chain and key for `/metrics`.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Basic auth users and their bcrypt hashes.
    pub basic_auth_users: BTreeMap<String, String>,
    /// Whether `POST /-/reload` is served.
    pub enable_lifecycle: bool,
    /// Connection limits.
    pub limits: crate::listener::Limits,
}

/// One measured server.
#[derive(Debug, Clone)]
pub struct Target {
    /// Label value.
    pub name: String,
    /// Inside the agent's country or abroad (the `scope` label).
    pub scope: Scope,
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

pub use crate::probers::supports;

fn valid_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

pub(crate) fn relative_to(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.parent().unwrap_or(Path::new(".")).join(p)
    }
}

/// Read and validate a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = crate::files::read_text(path).map_err(|e| ConfigError {
        path: path.into(),
        problems: vec![Problem {
            key: None,
            line: None,
            message: format!("cannot read the file: {e}"),
        }],
        unreadable: true,
    })?;
    parse(&text, path)
}

/// Parse and validate configuration text; `path` is used in messages and to resolve relative
/// file names.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError {
        path: path.into(),
        problems: vec![Problem {
            key: None,
            line: e.span().map(|r| locate::line_of(text, r.start)),
            message: e.to_string().trim_end().to_string(),
        }],
        unreadable: false,
    })?;
    let mut p = Problems::default();

    let a = &raw.agent;
    if a.region.trim().is_empty() {
        p.add("agent.region is empty: name the region this agent measures (it labels probe_agent_info)".into());
    }
    if a.site.trim().is_empty() {
        p.add("agent.site is empty: name the site or host this agent runs on".into());
    }
    if !(-90.0..=90.0).contains(&a.latitude) {
        p.add(format!(
            "agent.latitude = {} is outside -90..90: give WGS84 decimal degrees",
            a.latitude
        ));
    }
    if !(-180.0..=180.0).contains(&a.longitude) {
        p.add(format!(
            "agent.longitude = {} is outside -180..180: give WGS84 decimal degrees",
            a.longitude
        ));
    }
    let listen = match a.listen.parse::<SocketAddr>() {
        Ok(l) => Some(l),
        Err(_) => {
            p.add(format!(
                "agent.listen = \"{}\" is not an address: write IP:PORT, e.g. \"127.0.0.1:9469\"",
                a.listen
            ));
            None
        }
    };
    if a.daily_budget_bytes == 0 {
        p.add("agent.daily_budget_bytes is 0: allow the bytes all tests may move per day, e.g. 2000000000".into());
    }
    let resolver = match &a.nameserver {
        None => Some(Resolver::System),
        Some(ns) => match ns.parse::<SocketAddr>() {
            Ok(s) => Some(Resolver::Server(s)),
            Err(_) => {
                p.add(format!("agent.nameserver = \"{ns}\" is not an address: write IP:PORT, e.g. \"9.9.9.9:53\", or remove it to use the system resolver"));
                None
            }
        },
    };

    // Web.
    let web_tls = match (&raw.web.tls_cert_file, &raw.web.tls_key_file) {
        (Some(c), Some(k)) => {
            let (c, k) = (relative_to(path, c), relative_to(path, k));
            if let Err(e) = crate::net::server_tls_config(&c, &k) {
                p.add(format!("web.tls_cert_file/tls_key_file: {e}"));
            }
            Some((c, k))
        }
        (None, None) => None,
        _ => {
            p.add("web.tls_cert_file and web.tls_key_file must be set together".into());
            None
        }
    };
    for (user, hash) in &raw.web.basic_auth_users {
        if !crate::auth::is_bcrypt_hash(hash) {
            p.add(format!("web.basic_auth_users.{user} is not a bcrypt hash (\"$2b$...\"): store the output of `htpasswd -nbBC 10 USER PASSWORD`, never the password"));
        }
    }

    let web_limits = {
        let w = &raw.web;
        let mut dur = |key: &str, v: &Option<String>, default: Duration| match v
            .as_deref()
            .map(parse_duration)
        {
            None => default,
            Some(Ok(d)) if d >= Duration::from_millis(100) => d,
            Some(Ok(_)) => {
                p.add(format!(
                    "web.{key} is shorter than 100ms: clients need time to send a request"
                ));
                default
            }
            Some(Err(e)) => {
                p.add(format!("web.{key}: {e}"));
                default
            }
        };
        let header_read_timeout = dur(
            "header_read_timeout",
            &w.header_read_timeout,
            WEB_LIMITS.header_read_timeout,
        );
        let idle_timeout = dur("idle_timeout", &w.idle_timeout, WEB_LIMITS.idle_timeout);
        let max = w
            .max_connections_per_address
            .unwrap_or(WEB_LIMITS.max_connections_per_address);
        if !(1..=100_000).contains(&max) {
            p.add(format!(
                "web.max_connections_per_address = {max} is outside 1..100000"
            ));
        }
        crate::listener::Limits {
            header_read_timeout,
            idle_timeout,
            max_connections_per_address: max.max(1),
        }
    };

    // Tests.
    let used: HashSet<TestKind> = raw
        .targets
        .iter()
        .flat_map(|t| t.tests.iter().copied())
        .collect();
    let tests = raw.tests.validate(a.daily_budget_bytes, &used, &mut p);

    // Targets.
    if raw.targets.is_empty() {
        p.add("no [[targets]]: add at least one server to measure, e.g. [[targets]] name = \"home\" url = \"http://speed.example:8080/\" tests = [\"download\"]".into());
    }
    let mut names = HashSet::new();
    let mut targets = Vec::new();
    for (i, t) in raw.targets.iter().enumerate() {
        let at = format!("targets[{i}]");
        if !valid_label(&t.name) {
            p.add(format!("{at}.name = \"{}\" must be 1-64 characters of A-Z a-z 0-9 - _ . (it becomes a label value)", t.name));
        } else if !names.insert(t.name.clone()) {
            p.add(format!(
                "{at}.name = \"{}\" is used by an earlier target: names must be unique",
                t.name
            ));
        }
        let at = format!("targets[{i}] ({})", t.name);
        if t.tests.is_empty() {
            p.add(format!("{at}: tests is empty: list what to measure, e.g. [\"download\", \"upload\", \"latency\"]"));
        }
        let mut seen = BTreeSet::new();
        for test in &t.tests {
            if !seen.insert(*test) {
                p.add(format!("{at}: test \"{test}\" is listed twice"));
            }
            if !supports(t.kind, *test) {
                p.add(format!(
                    "{at}: the {test} test is not supported by kind = \"{}\" targets",
                    t.kind.as_str()
                ));
            }
        }
        let endpoints = match (t.kind, &t.url, &t.server_list) {
            (ServerKind::Librespeed, None, Some(list)) => {
                let list_path = relative_to(path, list);
                match read_server_list(&list_path) {
                    Err(e) => {
                        p.add(format!("{at}.server_list: {e}"));
                        None
                    }
                    Ok(servers) => {
                        let want = t.server.as_deref().unwrap_or("");
                        let found = servers
                            .iter()
                            .find(|s| s.name == want || s.id.to_string().trim_matches('"') == want);
                        match found {
                            None => {
                                p.add(format!(
                                    "{at}.server = \"{want}\" is not in {}: use one of the names or ids listed there",
                                    list_path.display()
                                ));
                                None
                            }
                            Some(s) => match Endpoints::from_librespeed(s) {
                                Ok(e) => Some(e),
                                Err(e) => {
                                    p.add(format!("{at}.server_list: {e}"));
                                    None
                                }
                            },
                        }
                    }
                }
            }
            (_, Some(u), None) => match Url::parse(u) {
                Ok(url)
                    if (url.scheme() == "http"
                        || url.scheme() == "https"
                        || (t.kind == ServerKind::Ndt7
                            && (url.scheme() == "ws" || url.scheme() == "wss")))
                        && url.host_str().is_some() =>
                {
                    if url.port() == Some(0) {
                        p.add(format!("{at}.url = \"{u}\" has port 0, which nothing can be reached on: give the server's port, or none for the scheme's default"));
                        None
                    } else {
                        let e = Endpoints::new(t.kind, url);
                        if t.kind == ServerKind::Librespeed {
                            Some(e.finding_backend())
                        } else {
                            Some(e)
                        }
                    }
                }
                Ok(_) if t.kind == ServerKind::Ndt7 => {
                    p.add(format!(
                        "{at}.url = \"{u}\" must be a Locate API base URL (http:// or https://) or an ndt7 server (ws:// or wss://) with a host"
                    ));
                    None
                }
                Ok(_) => {
                    p.add(format!(
                        "{at}.url = \"{u}\" must be an http:// or https:// URL with a host"
                    ));
                    None
                }
                Err(e) => {
                    p.add(format!("{at}.url = \"{u}\" is not a URL: {e}"));
                    None
                }
            },
            (ServerKind::Librespeed, Some(_), Some(_)) => {
                p.add(format!("{at}: set either url or server_list, not both"));
                None
            }
            (ServerKind::Librespeed, None, None) => {
                p.add(format!("{at}: a librespeed target needs url (the backend's base URL) or server_list and server"));
                None
            }
            (_, _, Some(_)) => {
                p.add(format!(
                    "{at}.server_list only applies to kind = \"librespeed\""
                ));
                None
            }
            (_, None, None) => {
                p.add(format!("{at}.url is missing: give the server's URL, e.g. \"http://speed.example:8080/\""));
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
                p.add(format!(
                    "{at}: the dns test needs a host name in the URL, not the IP address {}",
                    e.host()
                ));
            }
        }
        let ca = t.ca_file.as_ref().map(|c| relative_to(path, c));
        let tls = match client_tls_config(ca.as_deref()) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                p.add(format!("{at}.ca_file: {e}"));
                None
            }
        };
        if let (Some(endpoints), Some(tls)) = (endpoints, tls) {
            targets.push(Target {
                name: t.name.clone(),
                scope: t.scope,
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
        .and_then(|rw| remote_write::section(rw, path, a, &mut p));

    if !p.is_empty() {
        return Err(ConfigError {
            path: path.into(),
            problems: locate::lines(text, p.0),
            unreadable: false,
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
            enable_lifecycle: raw.web.enable_lifecycle,
            limits: web_limits,
        },
        tests,
        targets,
        remote_write,
    })
}

/// Bind `agent.listen` briefly, as the agent will (what `probe validate` adds to [`load`]): an
/// address the machine does not have or a port another process holds is a problem now, not at
/// the next restart.
pub fn check_listen(cfg: &Config) -> Result<(), ConfigError> {
    let addr = cfg.agent.listen;
    let message = match std::net::TcpListener::bind(addr) {
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => format!(
            "agent.listen = \"{addr}\" is in use by another process (if that is this agent, stop it first or validate a copy with another port)"
        ),
        Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => format!(
            "agent.listen = \"{addr}\" is not an address of this machine: use one of its addresses, 127.0.0.1 or 0.0.0.0"
        ),
        Err(e) => format!("agent.listen = \"{addr}\" cannot be bound: {e}"),
    };
    let text = crate::files::read_text(&cfg.path).unwrap_or_default();
    let mut p = Problems::default();
    p.add(message);
    Err(ConfigError {
        path: cfg.path.clone(),
        problems: locate::lines(&text, p.0),
        unreadable: false,
    })
}

#[cfg(test)]
mod port_tests {
    use super::*;

    const AGENT: &str = "[agent]\nregion = \"r\"\nsite = \"s\"\nlatitude = 1.0\nlongitude = 2.0\ndaily_budget_bytes = 1_000_000_000\n";

    fn problems(text: &str) -> Vec<String> {
        match parse(text, Path::new("/nonexistent/agent.toml")) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.into_iter().map(|p| p.message).collect(),
        }
    }

    /// Port 0 parses as a URL but reaches nothing: refused where the URL is given, as the
    /// librespeed_server_list fuzz target found for server-list entries.
    #[test]
    fn port_zero_urls_are_refused() {
        let target = |url: &str| {
            format!("{AGENT}[[targets]]\nname = \"t\"\nurl = \"{url}\"\ntests = [\"latency\"]\n")
        };
        assert!(problems(&target("http://127.0.0.1:8080/")).is_empty());
        let p = problems(&target("http://127.0.0.1:0/"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("targets[0] (t).url = \"http://127.0.0.1:0/\" has port 0"));
        let rw = format!(
            "{}[remote_write]\nurl = \"https://prom.example:00/api/v1/write\"\n",
            target("http://127.0.0.1:8080/")
        );
        let p = problems(&rw);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0]
            .starts_with("remote_write.url = \"https://prom.example:00/api/v1/write\" has port 0"));
    }
}
