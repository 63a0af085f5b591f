//! Cloudflare-style endpoints: `probe serve`'s `/__down` and `/__up` behave as
//! speed.cloudflare.com's, and `kind = "cloudflare"` targets measure download, upload and
//! latency through them (multi-stream, ramp-up excluded). All on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use probes::endpoint::{Endpoints, ServerKind};
use probes::net::{client_tls_config, Resolver};
use probes::probers::{prober_for, ProbeContext, ProbeSettings, TestKind};
use probes::serve::{ServeConfig, Server, ServerState};

async fn server(cfg: ServeConfig) -> std::net::SocketAddr {
    let s = Server::bind(ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        udp_echo: false,
        ..cfg
    })
    .await
    .unwrap();
    let addr = s.local_addr();
    tokio::spawn(s.run(std::future::pending()));
    addr
}

fn ctx(url: &str) -> ProbeContext {
    probes::net::install_crypto_provider();
    ProbeContext {
        target: "cf".into(),
        endpoints: Endpoints::new(ServerKind::Cloudflare, reqwest::Url::parse(url).unwrap()),
        tls: Arc::new(client_tls_config(None).unwrap()),
        resolver: Resolver::System,
        settings: ProbeSettings {
            streams: 3,
            duration: Duration::from_secs(4),
            grace: Duration::from_secs(1),
            ..ProbeSettings::default()
        },
        byte_cap: 500_000_000,
        bytes_used: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_and_up_answer_like_cloudflare() {
    let addr = server(ServeConfig {
        max_bytes_per_request: 10_000_000,
        ..Default::default()
    })
    .await;
    let http = reqwest::Client::new();
    let get = |q: &str| http.get(format!("http://{addr}/__down{q}")).send();

    let r = get("?bytes=123456").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert!(r.headers()["server-timing"]
        .to_str()
        .unwrap()
        .starts_with("cfRequestDuration;dur="));
    assert_eq!(r.headers()["timing-allow-origin"], "*");
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert_eq!(r.bytes().await.unwrap().len(), 123_456);

    // The latency probe: no bytes asked for, an empty body.
    let r = get("").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().is_empty());
    assert_eq!(get("?bytes=lots").await.unwrap().status(), 400);
    assert_eq!(get("?bytes=10000001").await.unwrap().status(), 413);

    let up = |n: usize| {
        http.post(format!("http://{addr}/__up"))
            .body(vec![1u8; n])
            .send()
    };
    let r = up(1_000_000).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("server-timing"));
    assert!(r.bytes().await.unwrap().is_empty());
    assert_eq!(up(10_000_001).await.unwrap().status(), 413);

    let pre = http
        .request(reqwest::Method::OPTIONS, format!("http://{addr}/__up"))
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 200);
    assert!(pre.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
}

/// Against a server paced to 4 MB/s per client the download and upload figures stay at or
/// below the pace (above half of it), and latency comes from empty `__down` requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudflare_targets_measure_download_upload_and_latency() {
    let rate = 4e6;
    let addr = server(ServeConfig {
        max_client_bytes_per_second: Some(rate),
        ..Default::default()
    })
    .await;
    let c = ctx(&format!("http://{addr}/"));
    for test in [TestKind::Download, TestKind::Upload] {
        let r = probes::runner::run(
            prober_for(test, ServerKind::Cloudflare).unwrap(),
            &c,
            Duration::from_secs(20),
        )
        .await;
        let out = r.outcome.unwrap_or_else(|e| panic!("{test}: {e}"));
        let (got, over) = match test {
            TestKind::Download => (out.download_bytes_per_second.unwrap(), 0.15),
            _ => {
                // No receipts from a Cloudflare endpoint: on Linux the figure is the bytes the
                // receiver's kernel acknowledged (TCP_INFO bytes_acked), which also counts what
                // fills the server's (large, loopback) receive buffer while it reads at its pace.
                #[cfg(target_os = "linux")]
                {
                    assert_eq!(out.byte_counter, Some("kernel"));
                    assert_eq!(out.upload_measured_at_receiver, Some(true));
                }
                (out.upload_bytes_per_second.unwrap(), 0.6)
            }
        };
        // The pace caps what the server sends; a server starved of CPU on a loaded machine
        // sends less (84 % seen with two other test suites beside it), so the floor only shows
        // that the figure is the transfer's. Exactness against what a link carried is judged on
        // shaped links (tests/tests/probe_e2e.rs); here no figure may exceed the pace by more
        // than the counters allow.
        assert!(
            got > rate * 0.5 && got < rate * (1.0 + over),
            "{test}: {got:.0} B/s against a pace of {rate} B/s"
        );
    }
    let r = probes::runner::run(
        prober_for(TestKind::Latency, ServerKind::Cloudflare).unwrap(),
        &c,
        Duration::from_secs(10),
    )
    .await;
    let out = r.outcome.unwrap();
    assert!(out.latency_min_seconds.unwrap() < 0.5);
    assert!(prober_for(TestKind::Loss, ServerKind::Cloudflare).is_none());
}

/// `probe run` without `--kind` recognises a server that serves only the Cloudflare paths.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detection_finds_a_cloudflare_only_server() {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let state = ServerState::new(ServeConfig::default(), None);
    let app = probes::serve::cloudflare::routes().with_state(state);
    let listener = probes::listener::HttpListener::new(tcp, None, probes::serve::SERVE_LIMITS);
    tokio::spawn(listener.serve(app, std::future::pending()));
    let mut c = ctx(&format!("http://{addr}/"));
    c.endpoints = Endpoints::new(ServerKind::Probe, c.endpoints.base.clone());
    let d = probes::oneshot::detect(&c).await.unwrap();
    assert_eq!(d.kind, ServerKind::Cloudflare);
    assert!(d.why.contains("Cloudflare-style"), "{}", d.why);
}
