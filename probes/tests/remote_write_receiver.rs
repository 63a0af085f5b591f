//! The remote-write encoder against Debian's real Prometheus (receiver enabled, loopback), and
//! the receiver behaviour the sender's retry rules rely on: out-of-bounds and out-of-order
//! samples are refused with HTTP 400 (so dropping, not retrying, is right) and one bad sample
//! refuses its whole batch.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use probes::remote_write::{encode_batch, SeriesLabelsRef};

struct Prometheus {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_prometheus() -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, "global: {}\n").unwrap();
    let child = Command::new("/usr/bin/prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("/usr/bin/prometheus (Debian package prometheus) must be installed");
    let p = Prometheus {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let t0 = Instant::now();
    loop {
        if let Ok(r) = client().get(format!("{}/-/ready", p.base)).send().await {
            if r.status().is_success() {
                return p;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "prometheus not ready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn labels(name: &str) -> Vec<(String, String)> {
    vec![
        ("__name__".into(), name.into()),
        ("instance".into(), "rx-test".into()),
        ("job".into(), "probe-agent".into()),
    ]
}

/// POST one batch the way the agent does; returns status and body.
async fn push(p: &Prometheus, samples: &[(&SeriesLabelsRef, f64, i64)]) -> (u16, String) {
    let body = encode_batch(samples.iter().copied());
    let r = client()
        .post(format!("{}/api/v1/write", p.base))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn count(p: &Prometheus, name: &str) -> usize {
    let v: serde_json::Value = client()
        // `name[3h]`, percent-encoded: the raw samples of the last 3 h.
        .get(format!("{}/api/v1/query?query={name}%5B3h%5D", p.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["values"].as_array().unwrap().len())
        .sum()
}

#[tokio::test]
async fn prometheus_accepts_batches_and_refuses_out_of_bounds_with_400() {
    probes::net::install_crypto_provider();
    let p = start_prometheus().await;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let a = labels("rx_a");
    let b = labels("rx_b");
    let c = labels("rx_c");

    // Several samples of two series in one request, grouped per series by the encoder.
    let (status, body) = push(
        &p,
        &[
            (&a, 1.0, now_ms - 2000),
            (&b, 5.0, now_ms - 2000),
            (&a, 2.0, now_ms - 1000),
            (&a, 3.0, now_ms),
        ],
    )
    .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(count(&p, "rx_a").await, 3);
    assert_eq!(count(&p, "rx_b").await, 1);

    // Older than the head's newest sample minus 1 h: out of bounds, 400 (not retried).
    let two_h = 2 * 3600 * 1000;
    let (status, body) = push(&p, &[(&c, 1.0, now_ms - two_h)]).await;
    assert_eq!((status, body.trim()), (400, "out of bounds"));
    // Older than the series' last sample: out of order, 400.
    let (status, body) = push(&p, &[(&a, 9.0, now_ms - 500)]).await;
    assert_eq!((status, body.trim()), (400, "out of order sample"));
    // The same timestamp again with the same value is accepted (a retried batch that had
    // arrived), with another value refused.
    assert_eq!(push(&p, &[(&a, 3.0, now_ms)]).await.0, 204);
    let (status, body) = push(&p, &[(&a, 4.0, now_ms)]).await;
    assert_eq!(
        (status, body.trim()),
        (400, "duplicate sample for timestamp")
    );

    // One bad sample refuses the whole batch: the good one is not stored either.
    let (status, _) = push(&p, &[(&c, 1.0, now_ms + 1000), (&b, 1.0, now_ms - two_h)]).await;
    assert_eq!(status, 400);
    assert_eq!(count(&p, "rx_c").await, 0);
}
