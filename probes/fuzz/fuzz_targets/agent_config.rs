//! Any text given as an agent config (`probes::config::parse`, what `probe validate`, start-up
//! and every reload run) is either a valid config or a list of problems; never a panic.
//!
//! - A config that validates holds what the rules promise (unique label-safe target names,
//!   http(s)/ws(s) URLs with a host and a port, schedules whose runs cannot overlap, byte caps
//!   within the daily budget, remote-write batches within the queue), and validates again to
//!   the same config (a reload of an unchanged file keeps it).
//! - Every problem says something, and its line, when it has one, is a line of the file.
//! - The redacted summary (served over HTTP by `/-/reload`) names keys and lines only: each
//!   entry is made of key characters, never a value or an excerpt of the file.
#![no_main]

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use probes::config::{parse, Config};
use probes::endpoint::ServerKind;

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '-')
}

fn check_valid(cfg: &Config) {
    let a = &cfg.agent;
    assert!(!a.region.trim().is_empty() && !a.site.trim().is_empty());
    assert!((-90.0..=90.0).contains(&a.latitude), "{}", a.latitude);
    assert!((-180.0..=180.0).contains(&a.longitude), "{}", a.longitude);
    assert!(a.daily_budget_bytes > 0);
    assert!(!cfg.targets.is_empty());
    let mut names = HashSet::new();
    let mut used = HashSet::new();
    for t in &cfg.targets {
        assert!(
            !t.name.is_empty()
                && t.name.len() <= 64
                && t.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "target name {:?}",
            t.name
        );
        assert!(names.insert(t.name.clone()), "duplicate target {}", t.name);
        assert!(!t.tests.is_empty());
        let mut seen = HashSet::new();
        for test in &t.tests {
            assert!(seen.insert(*test), "{} listed twice", test);
            assert!(probes::config::supports(t.endpoints.kind, *test));
            used.insert(*test);
        }
        let base = &t.endpoints.base;
        let web = matches!(base.scheme(), "http" | "https");
        let ws = t.endpoints.kind == ServerKind::Ndt7 && matches!(base.scheme(), "ws" | "wss");
        assert!(web || ws, "target {} scheme {}", t.name, base.scheme());
        assert!(
            !t.endpoints.host().is_empty(),
            "target {} has no host",
            t.name
        );
        assert!(t.endpoints.port() != 0, "target {} on port 0", t.name);
    }
    for (kind, tc) in &cfg.tests {
        assert!(tc.interval >= Duration::from_secs(1), "{kind}");
        assert!(tc.timeout < tc.interval, "{kind}: runs could overlap");
        assert!(tc.jitter < tc.interval, "{kind}");
        assert!(tc.max_bytes > 0, "{kind}");
        if used.contains(kind) {
            assert!(tc.max_bytes <= a.daily_budget_bytes, "{kind}");
        }
    }
    if let Some(rw) = &cfg.remote_write {
        assert!(matches!(rw.url.scheme(), "http" | "https") && rw.url.host_str().is_some());
        assert!(rw.url.port() != Some(0), "remote_write on port 0");
        assert!((1..=rw.queue_capacity_samples).contains(&rw.max_samples_per_batch));
        assert!(!rw.retry_backoff_min.is_zero() && rw.retry_backoff_min <= rw.retry_backoff_max);
        assert!(rw.interval >= Duration::from_secs(1));
        for (name, value) in &rw.labels {
            assert!(!name.is_empty(), "empty label name");
            assert!(!value.trim().is_empty() || !["job", "instance"].contains(&name.as_str()));
        }
    }
}

/// What a reload compares: the same file gives the same config.
fn same(a: &Config, b: &Config) -> bool {
    let targets = |c: &Config| {
        c.targets
            .iter()
            .map(|t| {
                let e = &t.endpoints;
                (
                    t.name.clone(),
                    t.scope,
                    e.kind,
                    e.base.to_string(),
                    t.tests.clone(),
                    t.udp_port,
                )
            })
            .collect::<Vec<_>>()
    };
    let tests = |c: &Config| {
        c.tests
            .iter()
            .map(|(k, t)| (*k, t.interval, t.jitter, t.timeout, t.max_bytes))
            .collect::<Vec<_>>()
    };
    let rw = |c: &Config| {
        c.remote_write.as_ref().map(|r| {
            (
                r.url.to_string(),
                r.interval,
                r.timeout,
                r.queue_capacity_samples,
                r.labels.clone(),
            )
        })
    };
    a.agent == b.agent
        && a.web.basic_auth_users == b.web.basic_auth_users
        && a.web.enable_lifecycle == b.web.enable_lifecycle
        && targets(a) == targets(b)
        && tests(a) == tests(b)
        && rw(a) == rw(b)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Validation reads the files a config names (server lists, certificates, secrets). Skip
    // texts that could name a device or a kernel file, whose reads block or never end: that
    // is the operator's own choice of file, not a parsing question. TOML's \u escapes could
    // spell such a path too; the same characters can be given as UTF-8, so nothing is lost.
    if ["/dev", "/proc", "/sys", "\\u", "\\U"]
        .iter()
        .any(|s| text.contains(s))
    {
        return;
    }
    let path = Path::new("/nonexistent/fuzz/agent.toml");
    let lines = text.matches('\n').count() + 1;
    match parse(text, path) {
        Ok(cfg) => {
            check_valid(&cfg);
            let again = parse(text, path).expect("a config that validated validates again");
            assert!(same(&cfg, &again), "the same text gave another config");
        }
        Err(e) => {
            assert!(!e.unreadable);
            assert!(!e.problems.is_empty());
            let shown = e.to_string();
            for p in &e.problems {
                assert!(!p.message.trim().is_empty(), "a problem that says nothing");
                assert!(shown.contains(p.message.lines().next().unwrap_or("")));
                if let Some(line) = p.line {
                    assert!(
                        (1..=lines).contains(&line),
                        "line {line} of a {lines}-line file"
                    );
                }
                if let Some(key) = &p.key {
                    assert!(
                        !key.is_empty() && key.chars().all(is_key_char),
                        "key {key:?}"
                    );
                }
            }
            let r = e.redacted();
            let n = e.problems.len();
            let head = format!(
                "{n} problem{} in the configuration file:",
                if n == 1 { "" } else { "s" }
            );
            let rows: Vec<&str> = r.lines().collect();
            assert_eq!(rows.len(), n + 2, "{r}");
            assert_eq!(rows[0], head);
            assert!(rows[n + 1].starts_with("run `probe validate`"));
            for (row, p) in rows[1..=n].iter().zip(&e.problems) {
                let entry = row.strip_prefix("  - ").expect("entry");
                let expected = match (&p.key, p.line) {
                    (Some(k), Some(l)) => format!("{k} (line {l})"),
                    (Some(k), None) => k.clone(),
                    (None, Some(l)) => format!("line {l}"),
                    (None, None) => "(no location)".into(),
                };
                assert_eq!(entry, expected);
            }
        }
    }
});
