//! TLS end to end on loopback: `probe serve` over HTTPS measured with and without the private
//! CA, and the agent's `/metrics` behind TLS and bcrypt basic auth. Certificates come from the
//! `openssl` command line tool into a temp dir.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use probes::endpoint::{Endpoints, ServerKind};
use probes::net::{client_tls_config, Resolver};
use probes::probers::{prober_for, Phase, ProbeContext, ProbeSettings, TestKind};
use probes::FailureReason;

struct Pki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private CA and a leaf for localhost / 127.0.0.1 signed by it.
fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut a = vec!["req", "-x509"];
    a.extend_from_slice(&ec);
    a.extend_from_slice(&[
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=probe test CA",
        "-days",
        "2",
    ]);
    openssl(d, &a);
    let mut a = vec!["req"];
    a.extend_from_slice(&ec);
    a.extend_from_slice(&[
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=localhost",
    ]);
    openssl(d, &a);
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    Pki {
        ca: d.join("ca.pem"),
        cert: d.join("leaf.pem"),
        key: d.join("leaf.key"),
        _dir: dir,
    }
}

fn ctx(url: &str, ca: Option<&Path>) -> ProbeContext {
    ProbeContext {
        target: "tls".into(),
        endpoints: Endpoints::new(ServerKind::Probe, reqwest::Url::parse(url).unwrap()),
        tls: Arc::new(client_tls_config(ca).unwrap()),
        resolver: Resolver::System,
        settings: ProbeSettings {
            streams: 2,
            duration: Duration::from_secs(2),
            grace: Duration::from_millis(500),
            samples: 3,
            ..ProbeSettings::default()
        },
        byte_cap: 200_000_000,
        bytes_used: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_server_is_measured_only_with_its_ca() {
    probes::net::install_crypto_provider();
    let pki = pki();
    let server = probes::serve::Server::bind(probes::serve::ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: Some((pki.cert.clone(), pki.key.clone())),
        max_client_bytes_per_second: Some(20e6),
        ..Default::default()
    })
    .await
    .unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run(std::future::pending()));
    let url = format!("https://{addr}/");

    // Without the private CA the bundled web roots do not trust it.
    let c = ctx(&url, None);
    for test in [TestKind::Latency, TestKind::Download, TestKind::Http] {
        let r = probes::runner::run(
            prober_for(test, ServerKind::Probe).unwrap(),
            &c,
            Duration::from_secs(5),
        )
        .await;
        let e = r.outcome.expect_err("untrusted certificate must fail");
        assert_eq!(e.reason, FailureReason::Tls, "{test}: {e}");
    }

    // With it, every test works and the phases include the handshake.
    let c = ctx(&url, Some(&pki.ca));
    let r = probes::runner::run(
        prober_for(TestKind::Http, ServerKind::Probe).unwrap(),
        &c,
        Duration::from_secs(5),
    )
    .await;
    let o = r.outcome.unwrap();
    let phases: Vec<Phase> = o.http_phases.iter().map(|p| p.0).collect();
    assert_eq!(
        phases,
        [
            Phase::Dns,
            Phase::Connect,
            Phase::Tls,
            Phase::Ttfb,
            Phase::Transfer
        ]
    );
    assert!(o.http_phases[2].1 > 0.0);
    let r = probes::runner::run(
        prober_for(TestKind::Download, ServerKind::Probe).unwrap(),
        &c,
        Duration::from_secs(10),
    )
    .await;
    let d = r.outcome.unwrap().download_bytes_per_second.unwrap();
    assert!(
        (d / 20e6 - 1.0).abs() < 0.15,
        "HTTPS download {d} B/s vs paced 20 MB/s"
    );
    let r = probes::runner::run(
        prober_for(TestKind::Upload, ServerKind::Probe).unwrap(),
        &c,
        Duration::from_secs(10),
    )
    .await;
    let u = r.outcome.unwrap().upload_bytes_per_second.unwrap();
    assert!(
        (u / 20e6 - 1.0).abs() < 0.15,
        "HTTPS upload {u} B/s vs paced 20 MB/s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_endpoint_with_tls_and_basic_auth() {
    probes::net::install_crypto_provider();
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(
        &path,
        format!(
            r#"[agent]
region = "R"
site = "S"
latitude = 1.5
longitude = 2.5
listen = "127.0.0.1:0"
daily_budget_bytes = 100_000_000

[web]
tls_cert_file = "{}"
tls_key_file = "{}"

[web.basic_auth_users]
prometheus = "{hash}"

[tests.latency]
interval = "1h"
jitter = "1s"

[[targets]]
name = "t"
url = "http://127.0.0.1:9/"
tests = ["latency"]
"#,
            pki.cert.display(),
            pki.key.display()
        ),
    )
    .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let agent = probes::agent::start(&path, async move {
        let _ = rx.await;
    })
    .await
    .unwrap();
    let url = format!("https://localhost:{}/metrics", agent.addr.port());
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(client_tls_config(Some(&pki.ca)).unwrap())
        .resolve("localhost", agent.addr)
        .build()
        .unwrap();
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let r = client
        .get(&url)
        .basic_auth("prometheus", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .get(&url)
        .basic_auth("prometheus", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains(r#"probe_agent_info{region="R",site="S",latitude="1.5",longitude="2.5",isp="",version=""#), "{text}");
    // Plain HTTP on the TLS port gets nothing.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/metrics", agent.addr))
        .timeout(Duration::from_secs(3))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
    tx.send(()).unwrap();
    agent.wait().await.unwrap();
}

/// A self-signed certificate that marks itself a CA (`openssl req -x509`'s default) works as
/// `ca_file`; without it the server stays untrusted. Regression test for `CaUsedAsEndEntity`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_ca_certificate_is_accepted_as_ca_file() {
    probes::net::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "self.key",
            "-out",
            "self.pem",
            "-subj",
            "/CN=localhost",
            "-days",
            "2",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ],
    );
    let server = probes::serve::Server::bind(probes::serve::ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: Some((d.join("self.pem"), d.join("self.key"))),
        ..Default::default()
    })
    .await
    .unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run(std::future::pending()));
    let url = format!("https://{addr}/");
    let probe = prober_for(TestKind::Latency, ServerKind::Probe).unwrap();
    let r = probes::runner::run(probe, &ctx(&url, None), Duration::from_secs(5)).await;
    assert_eq!(r.outcome.unwrap_err().reason, FailureReason::Tls);
    let r = probes::runner::run(
        probe,
        &ctx(&url, Some(&d.join("self.pem"))),
        Duration::from_secs(5),
    )
    .await;
    assert!(r.success(), "{:?}", r.outcome);
    // The name is still checked: the same certificate for another host is refused.
    let other = format!("https://localhost.localdomain:{}/", addr.port());
    let mut c = ctx(&other, Some(&d.join("self.pem")));
    c.resolver = Resolver::System;
    let r = probes::runner::run(probe, &c, Duration::from_secs(5)).await;
    if let Err(e) = &r.outcome {
        assert!(
            matches!(e.reason, FailureReason::Tls | FailureReason::Dns),
            "{e}"
        );
    } else {
        panic!("a pinned certificate must not be accepted for another name");
    }
}
