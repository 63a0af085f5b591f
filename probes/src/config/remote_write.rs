//! The `[remote_write]` section: receiver URL, credentials (inline or from files), queue and
//! retry settings, and the labels added to every pushed series.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use super::{relative_to, Problems, RawAgent};
use crate::duration::{format_duration, parse_duration};
use crate::net::client_tls_config;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRemoteWrite {
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
    /// Extra HTTP headers on every request, e.g. a tenant (`X-Scope-OrgID` for Mimir/Cortex,
    /// `THANOS-TENANT` for Thanos Receive).
    #[serde(default)]
    headers: BTreeMap<String, String>,
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
pub(super) fn read_secret(
    key: &str,
    inline: &Option<String>,
    file: &Option<PathBuf>,
    path: &Path,
    p: &mut Problems,
) -> Option<String> {
    match (inline, file) {
        (Some(_), Some(_)) => {
            p.add(format!("{key} and {key}_file are both set: keep one"));
            None
        }
        (Some(s), None) => Some(s.clone()),
        (None, Some(f)) => {
            let f = relative_to(path, f);
            match crate::files::read_text(&f) {
                Ok(t) if !t.trim().is_empty() => Some(t.trim().to_string()),
                Ok(_) => {
                    p.add(format!(
                        "{key}_file = \"{}\" is empty: put the secret in it",
                        f.display()
                    ));
                    None
                }
                Err(e) => {
                    p.add(format!(
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

/// Labels the measurements themselves set (dashboards and rules select on them), plus the two
/// with their own keys; extra remote-write labels must not replace them.
const RESERVED_LABELS: [&str; 8] = [
    "target", "test", "reason", "result", "stat", "phase", "job", "instance",
];

pub(super) fn section(
    rw: &RawRemoteWrite,
    path: &Path,
    agent: &RawAgent,
    p: &mut Problems,
) -> Option<crate::remote_write::RemoteWriteConfig> {
    use crate::remote_write::{RemoteWriteAuth, RemoteWriteConfig};
    let problems_before = p.len();
    let url = match Url::parse(&rw.url) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some() => {
            if u.port() == Some(0) {
                p.add(format!("remote_write.url = \"{}\" has port 0, which nothing can be reached on: give the receiver's port, or none for the scheme's default", rw.url));
                None
            } else {
                Some(u)
            }
        }
        Ok(_) => {
            p.add(format!("remote_write.url = \"{}\" must be an http:// or https:// URL with a host, e.g. \"https://prometheus.example/api/v1/write\"", rw.url));
            None
        }
        Err(e) => {
            p.add(format!(
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
            p.add("remote_write: set either basic_auth or bearer_token, not both".into());
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
                p.add("remote_write.basic_auth needs password or password_file (a file keeps the secret out of this config)".into());
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
                p.add(format!("remote_write.{key}: {e}"));
                parse_duration(default).expect("valid default")
            }
        }
    };
    let interval = dur("interval", &rw.interval, "10s");
    let timeout = dur("timeout", &rw.timeout, "10s");
    let backoff_min = dur("retry_backoff_min", &rw.retry_backoff_min, "500ms");
    let backoff_max = dur("retry_backoff_max", &rw.retry_backoff_max, "30s");
    if interval < Duration::from_secs(1) {
        p.add(format!(
            "remote_write.interval = {} is shorter than 1s",
            format_duration(interval)
        ));
    }
    if timeout < Duration::from_millis(100) {
        p.add(format!(
            "remote_write.timeout = {} is shorter than 100ms: allow the receiver time to answer",
            format_duration(timeout)
        ));
    }
    if backoff_min.is_zero() || backoff_min > backoff_max {
        p.add(format!(
            "remote_write.retry_backoff_min ({}) must be above 0 and at most remote_write.retry_backoff_max ({})",
            format_duration(backoff_min),
            format_duration(backoff_max)
        ));
    }
    let capacity = rw.queue_capacity_samples.unwrap_or(100_000);
    let batch = rw.max_samples_per_batch.unwrap_or(2_000);
    if !(1_000..=10_000_000).contains(&capacity) {
        p.add(format!("remote_write.queue_capacity_samples = {capacity} is outside 1000..10000000 (each queued sample takes about 24 bytes)"));
    }
    if !(1..=50_000).contains(&batch) {
        p.add(format!(
            "remote_write.max_samples_per_batch = {batch} is outside 1..50000"
        ));
    } else if batch > capacity {
        p.add(format!("remote_write.max_samples_per_batch ({batch}) exceeds remote_write.queue_capacity_samples ({capacity})"));
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
            p.add(format!("remote_write.{key} is empty: it labels every pushed series; remove it for the default"));
        }
        labels.insert(key.to_string(), value.to_string());
    }
    for (name, value) in &rw.labels {
        let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            p.add(format!("remote_write.labels.{name} is not a valid label name: use lowercase letters, digits and _, starting with a letter"));
        } else if RESERVED_LABELS.contains(&name.as_str()) {
            p.add(format!("remote_write.labels.{name} is reserved: target, test, reason, result, stat and phase come from the measurements, job and instance have their own keys"));
        } else if value.is_empty() {
            p.add(format!(
                "remote_write.labels.{name} is empty: give a value or remove the label"
            ));
        }
        labels.insert(name.clone(), value.clone());
    }
    let headers = remote_write_headers(&rw.headers, p);
    let ca = rw.ca_file.as_ref().map(|c| relative_to(path, c));
    let tls = match client_tls_config(ca.as_deref()) {
        Ok(c) => Some(Arc::new(c)),
        Err(e) => {
            p.add(format!("remote_write.ca_file: {e}"));
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
        headers,
    })
}

/// Headers the protocol or the HTTP client set themselves (as Prometheus' own remote_write
/// refuses them): replacing one would break the request or bypass the auth keys.
const RESERVED_HEADERS: [&str; 16] = [
    "authorization",
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "transfer-encoding",
    "upgrade",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
];

/// `[remote_write.headers]` as a header map; values are marked sensitive so a header carrying
/// an API key never shows up in debug output.
fn remote_write_headers(
    raw: &BTreeMap<String, String>,
    p: &mut Problems,
) -> reqwest::header::HeaderMap {
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
    let mut headers = HeaderMap::new();
    for (name, value) in raw {
        let parsed = HeaderName::from_bytes(name.as_bytes());
        let Ok(header) = parsed else {
            p.add(format!("remote_write.headers.\"{name}\" is not a valid HTTP header name: use letters, digits and -, e.g. \"X-Scope-OrgID\""));
            continue;
        };
        if RESERVED_HEADERS.contains(&header.as_str()) {
            p.add(format!("remote_write.headers.\"{name}\" is set by the agent itself: use remote_write.basic_auth or bearer_token for credentials"));
            continue;
        }
        match HeaderValue::from_str(value) {
            Ok(mut v) if !value.trim().is_empty() => {
                v.set_sensitive(true);
                headers.insert(header, v);
            }
            Ok(_) => p.add(format!(
                "remote_write.headers.\"{name}\" is empty: give a value or remove the header"
            )),
            Err(_) => p.add(format!("remote_write.headers.\"{name}\" has characters an HTTP header cannot carry: use visible ASCII")),
        }
    }
    headers
}
