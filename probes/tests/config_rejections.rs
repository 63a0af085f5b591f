//! Every configuration rule has a bad-config fixture under `tests/fixtures/`; each test asserts
//! the exact message `probe validate` and the agent print for it.

use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Load `bad_<name>.toml` and compare the whole error text (`{dir}` stands for the fixture
/// directory).
fn assert_rejected(name: &str, expected_problems: &str) {
    let path = fixtures().join(format!("bad_{name}.toml"));
    let err = probes::config::load(&path).expect_err("fixture must be rejected");
    let expected = format!(
        "invalid config {}:\n{}",
        path.display(),
        expected_problems.replace("{dir}", &fixtures().display().to_string())
    );
    assert_eq!(err.to_string(), expected);
}

#[test]
fn good_fixture_and_shipped_examples_are_valid() {
    let cfg = probes::config::load(&fixtures().join("good_minimal.toml")).unwrap();
    assert_eq!(cfg.targets.len(), 1);
    assert_eq!(cfg.agent.listen.to_string(), "127.0.0.1:9469");
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/probes");
    for entry in std::fs::read_dir(&examples).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            probes::config::load(&p).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[test]
fn every_bad_fixture_has_a_test() {
    let tested: Vec<&str> = CASES.iter().map(|c| c.0).collect();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(rule) = name
            .strip_prefix("bad_")
            .and_then(|n| n.strip_suffix(".toml"))
        {
            assert!(
                tested.contains(&rule),
                "fixture {name} has no expected message"
            );
        }
    }
}

/// What an HTTP response may say about a bad config: keys and lines, never values (the
/// fixtures hold URLs and would-be passwords).
#[test]
fn redacted_summaries_name_keys_and_lines_only() {
    let path = fixtures().join("bad_many_problems.toml");
    let err = probes::config::load(&path).unwrap_err();
    assert_eq!(
        err.redacted(),
        "4 problems in the configuration file:\n  - agent.site (line 3)\n  - agent.latitude (line 4)\n  - tests.upload.streams (line 14)\n  - targets[0].name (line 9)\nrun `probe validate` on the file, or see the agent's log, for the details"
    );
    let path = fixtures().join("bad_plaintext_password.toml");
    let err = probes::config::load(&path).unwrap_err();
    let text = std::fs::read_to_string(&path).unwrap();
    let secret = text
        .lines()
        .find_map(|l| l.strip_prefix("prometheus = "))
        .unwrap()
        .trim_matches('"');
    assert!(err.to_string().contains("web.basic_auth_users.prometheus"));
    assert!(!err.redacted().contains(secret), "{}", err.redacted());
    let path = fixtures().join("bad_syntax_error.toml");
    let r = probes::config::load(&path).unwrap_err().redacted();
    assert!(r.contains("  - line 7\n"), "{r}");
    assert!(!r.contains("region"), "{r}");
}

#[test]
fn each_rule_reports_its_exact_message() {
    for (name, expected) in CASES {
        assert_rejected(name, expected);
    }
}

const CASES: &[(&str, &str)] = &[
    (
        "window_too_short",
        r##"  - tests.download.grace (1.2s) must be at least 500ms shorter than tests.download.duration (1.5s): the figure is measured after the ramp-up"##,
    ),
    (
        "zero_min_bytes",
        r##"  - tests.upload.min_bytes is 0: a run that moved nothing must not count as a measurement; give at least 1"##,
    ),
    (
        "web_limits",
        r##"  - web.idle_timeout is shorter than 100ms: clients need time to send a request
  - web.max_connections_per_address = 0 is outside 1..100000"##,
    ),
    (
        "bad_duration",
        r##"  - tests.latency.interval: "5 parsecs" has no known unit: use ms, s, m, h or d, e.g. "10s""##,
    ),
    (
        "bad_listen",
        r##"  - agent.listen = "localhost" is not an address: write IP:PORT, e.g. "127.0.0.1:9469""##,
    ),
    (
        "bad_nameserver",
        r##"  - agent.nameserver = "dns.example" is not an address: write IP:PORT, e.g. "9.9.9.9:53", or remove it to use the system resolver"##,
    ),
    (
        "bad_target_name",
        r##"  - targets[0].name = "my target!" must be 1-64 characters of A-Z a-z 0-9 - _ . (it becomes a label value)"##,
    ),
    (
        "bad_url",
        r##"  - targets[0] (t1).url = "ftp://127.0.0.1/" must be an http:// or https:// URL with a host"##,
    ),
    (
        "dns_on_ip",
        r##"  - targets[0] (t1): the dns test needs a host name in the URL, not the IP address 127.0.0.1"##,
    ),
    (
        "duplicate_target",
        r##"  - targets[1].name = "t1" is used by an earlier target: names must be unique"##,
    ),
    (
        "duplicate_test",
        r##"  - targets[0] (t1): test "latency" is listed twice"##,
    ),
    (
        "empty_region",
        r##"  - agent.region is empty: name the region this agent measures (it labels probe_agent_info)"##,
    ),
    (
        "empty_site",
        r##"  - agent.site is empty: name the site or host this agent runs on"##,
    ),
    (
        "empty_tests",
        r##"  - targets[0] (t1): tests is empty: list what to measure, e.g. ["download", "upload", "latency"]"##,
    ),
    (
        "grace_not_below_duration",
        r##"  - tests.download.grace (3s) must be at least 500ms shorter than tests.download.duration (2s): the figure is measured after the ramp-up"##,
    ),
    (
        "jitter_not_below_interval",
        r##"  - tests.latency.jitter (30s) must be shorter than tests.latency.interval (30s)"##,
    ),
    (
        "key_not_for_test",
        r##"  - TOML parse error at line 14, column 1
       |
    14 | streams = 4
       | ^^^^^^^
    unknown field `streams`, expected one of `interval`, `jitter`, `timeout`, `max_bytes`, `samples`"##,
    ),
    (
        "latitude_range",
        r##"  - agent.latitude = 141.3 is outside -90..90: give WGS84 decimal degrees"##,
    ),
    (
        "librespeed_unknown_server",
        r##"  - targets[0] (t1).server = "Nowhere" is not in {dir}/librespeed-servers.json: use one of the names or ids listed there"##,
    ),
    (
        "librespeed_without_server",
        r##"  - targets[0] (t1): a librespeed target needs url (the backend's base URL) or server_list and server"##,
    ),
    (
        "longitude_range",
        r##"  - agent.longitude = -269.2 is outside -180..180: give WGS84 decimal degrees"##,
    ),
    (
        "many_problems",
        r##"  - agent.site is empty: name the site or host this agent runs on
  - agent.latitude = 91 is outside -90..90: give WGS84 decimal degrees
  - tests.upload.streams = 99 is outside 1..32
  - targets[0].name = "" must be 1-64 characters of A-Z a-z 0-9 - _ . (it becomes a label value)"##,
    ),
    (
        "max_bytes_over_budget",
        r##"  - tests.download.max_bytes (2000000000) exceeds agent.daily_budget_bytes (1000000000): one run could never fit the budget"##,
    ),
    (
        "missing_agent_field",
        r##"  - TOML parse error at line 1, column 1
      |
    1 | [agent]
      | ^^^^^^^
    missing field `site`"##,
    ),
    (
        // A device would block or never end: only regular files are read.
        "device_ca_file",
        r##"  - targets[0] (t1).ca_file: /dev/zero: cannot read certificates: not a regular file (a device, FIFO or directory cannot be read as one)"##,
    ),
    (
        "missing_ca_file",
        r##"  - targets[0] (t1).ca_file: {dir}/no-such-ca.pem: cannot read certificates: No such file or directory (os error 2)"##,
    ),
    (
        "missing_url",
        r##"  - targets[0] (t1).url is missing: give the server's URL, e.g. "http://speed.example:8080/""##,
    ),
    (
        "no_targets",
        r##"  - no [[targets]]: add at least one server to measure, e.g. [[targets]] name = "home" url = "http://speed.example:8080/" tests = ["download"]"##,
    ),
    (
        "packets_range",
        r##"  - tests.loss.packets = 0 is outside 1..10000"##,
    ),
    (
        "plaintext_password",
        r##"  - web.basic_auth_users.prometheus is not a bcrypt hash ("$2b$..."): store the output of `htpasswd -nbBC 10 USER PASSWORD`, never the password"##,
    ),
    (
        "samples_range",
        r##"  - tests.latency.samples = 1 is outside 2..1000"##,
    ),
    (
        "streams_range",
        r##"  - tests.download.streams = 0 is outside 1..32"##,
    ),
    (
        "syntax_error",
        r##"  - TOML parse error at line 7, column 10
      |
    7 | region = 
      |          ^
    invalid string
    expected `"`, `'`"##,
    ),
    (
        "timeout_not_above_duration",
        r##"  - tests.download.timeout (21s) must exceed tests.download.duration (20s) by more than 2s to leave time for connection setup"##,
    ),
    (
        "timeout_not_below_interval",
        r##"  - tests.latency.timeout (10s) must be shorter than tests.latency.interval (10s) so runs never overlap"##,
    ),
    (
        "tls_cert_without_key",
        r##"  - web.tls_cert_file and web.tls_key_file must be set together"##,
    ),
    (
        "unknown_key",
        r##"  - TOML parse error at line 7, column 1
      |
    7 | colour = "blue"
      | ^^^^^^
    unknown field `colour`, expected one of `region`, `site`, `latitude`, `longitude`, `isp`, `listen`, `daily_budget_bytes`, `nameserver`"##,
    ),
    (
        "unknown_test",
        r##"  - TOML parse error at line 11, column 22
       |
    11 | tests = ["download", "speed"]
       |                      ^^^^^^^
    unknown variant `speed`, expected one of `download`, `upload`, `latency`, `loss`, `dns`, `http`"##,
    ),
    (
        "unknown_scope",
        r##"  - TOML parse error at line 11, column 9
       |
    11 | scope = "abroad"
       |         ^^^^^^^^
    unknown variant `abroad`, expected `domestic` or `international`"##,
    ),
    (
        "unparsable_url",
        r##"  - targets[0] (t1).url = "not a url" is not a URL: relative URL without a base"##,
    ),
    (
        "unsupported_test",
        r##"  - targets[0] (t1): the upload test is not supported by kind = "url" targets"##,
    ),
    (
        "zero_budget",
        r##"  - agent.daily_budget_bytes is 0: allow the bytes all tests may move per day, e.g. 2000000000"##,
    ),
    (
        "zero_max_bytes",
        r##"  - tests.latency.max_bytes is 0: allow at least some bytes per run"##,
    ),
    (
        "remote_write_backoff_order",
        r##"  - remote_write.retry_backoff_min (1m) must be above 0 and at most remote_write.retry_backoff_max (30s)"##,
    ),
    (
        "remote_write_bad_duration",
        r##"  - remote_write.interval: "soon" is not a duration: write a number and a unit, e.g. "500ms", "10s", "5m", "1h""##,
    ),
    (
        "remote_write_batch_over_capacity",
        r##"  - remote_write.max_samples_per_batch (10000) exceeds remote_write.queue_capacity_samples (5000)"##,
    ),
    (
        "remote_write_batch_range",
        r##"  - remote_write.max_samples_per_batch = 0 is outside 1..50000"##,
    ),
    (
        "remote_write_capacity_range",
        r##"  - remote_write.queue_capacity_samples = 20000000 is outside 1000..10000000 (each queued sample takes about 24 bytes)"##,
    ),
    (
        "remote_write_empty_job",
        r##"  - remote_write.job is empty: it labels every pushed series; remove it for the default"##,
    ),
    (
        "remote_write_empty_label",
        r##"  - remote_write.labels.rack is empty: give a value or remove the label"##,
    ),
    (
        "remote_write_label_clash",
        r##"  - remote_write.labels.target is reserved: target, test, reason, result, stat and phase come from the measurements, job and instance have their own keys"##,
    ),
    (
        "remote_write_headers",
        r##"  - remote_write.headers."Authorization" is set by the agent itself: use remote_write.basic_auth or bearer_token for credentials
  - remote_write.headers."Bad Header" is not a valid HTTP header name: use letters, digits and -, e.g. "X-Scope-OrgID"
  - remote_write.headers."X-Scope-OrgID" is empty: give a value or remove the header"##,
    ),
    (
        "remote_write_label_name",
        r##"  - remote_write.labels.Bad-Name is not a valid label name: use lowercase letters, digits and _, starting with a letter"##,
    ),
    (
        "remote_write_missing_ca_file",
        r##"  - remote_write.ca_file: {dir}/no-such-ca.pem: cannot read certificates: No such file or directory (os error 2)"##,
    ),
    (
        "remote_write_missing_token_file",
        r##"  - remote_write.bearer_token_file = "{dir}/no-such-token.txt" cannot be read: No such file or directory (os error 2)"##,
    ),
    (
        "remote_write_no_password",
        r##"  - remote_write.basic_auth needs password or password_file (a file keeps the secret out of this config)"##,
    ),
    (
        "remote_write_short_interval",
        r##"  - remote_write.interval = 100ms is shorter than 1s"##,
    ),
    (
        "remote_write_short_timeout",
        r##"  - remote_write.timeout = 10ms is shorter than 100ms: allow the receiver time to answer"##,
    ),
    (
        "remote_write_token_twice",
        r##"  - remote_write.bearer_token and remote_write.bearer_token_file are both set: keep one"##,
    ),
    (
        "remote_write_two_auths",
        r##"  - remote_write: set either basic_auth or bearer_token, not both"##,
    ),
    (
        "remote_write_unknown_key",
        r##"  - TOML parse error at line 15, column 1
       |
    15 | queue_size = 100
       | ^^^^^^^^^^
    unknown field `queue_size`, expected one of `url`, `basic_auth`, `bearer_token`, `bearer_token_file`, `ca_file`, `interval`, `timeout`, `queue_capacity_samples`, `max_samples_per_batch`, `retry_backoff_min`, `retry_backoff_max`, `job`, `instance`, `labels`, `headers`"##,
    ),
    (
        "remote_write_unparsable_url",
        r##"  - remote_write.url = "not a url" is not a URL: relative URL without a base"##,
    ),
    (
        "remote_write_url",
        r##"  - remote_write.url = "ftp://prom.example/api/v1/write" must be an http:// or https:// URL with a host, e.g. "https://prometheus.example/api/v1/write""##,
    ),
];
