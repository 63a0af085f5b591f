//! Faults: every broken server gives a failed run with a bounded reason, no panic, bounded
//! memory and bytes, and the agent keeps serving. All servers are real sockets on 127.0.0.1;
//! "unreachable" uses 255.255.255.255, which Linux refuses locally (ENETUNREACH) without
//! sending a packet.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use probes::endpoint::{Endpoints, ServerKind};
use probes::net::{client_tls_config, Resolver};
use probes::probers::{prober_for, ProbeContext, ProbeSettings, TestKind};
use probes::runner::{self, RunResult};
use probes::FailureReason;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Answer HTTP 503.
    Status5xx,
    /// Answer bytes that are not HTTP.
    Garbage,
    /// Promise 100 MB, send 256 KiB, then reset the connection.
    ResetMidTransfer,
    /// Send headers and 64 KiB, then go silent with the connection open.
    Stall,
    /// Send an endless body (no length, never ends).
    Endless,
}

async fn read_request(s: &mut TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 1 << 16 {
            return false;
        }
    }
    true
}

async fn handle(mut s: TcpStream, fault: Fault) {
    if !read_request(&mut s).await {
        return;
    }
    let zeros = vec![0u8; 64 << 10];
    match fault {
        Fault::Status5xx => {
            let _ = s
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nbusy\n")
                .await;
            // Lingering close, as real servers do: closing with an unread request body in the
            // receive buffer makes the kernel send a reset, which can reach an uploading client
            // before it reads the 503 (the test then saw connection_reset about 1 run in 10).
            let _ = s.shutdown().await;
            let mut sink = [0u8; 16 << 10];
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
                while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
            })
            .await;
        }
        Fault::Garbage => {
            let _ = s
                .write_all(b"SSH-2.0-OpenSSH_9.2 not http at all\r\n\r\n")
                .await;
        }
        Fault::ResetMidTransfer => {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
                .await;
            for _ in 0..4 {
                let _ = s.write_all(&zeros).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            let _ = s.set_zero_linger();
            drop(s);
        }
        Fault::Stall => {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
                .await;
            let _ = s.write_all(&zeros).await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Fault::Endless => {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                .await;
            while s.write_all(&zeros).await.is_ok() {}
        }
    }
}

async fn fault_server(fault: Fault) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(handle(s, fault));
        }
    });
    addr
}

/// A DNS server on loopback answering NXDOMAIN for every name except `probe.test`.
async fn dns_server() -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let q = &buf[..n];
            let known = q.windows(11).any(|w| w == b"\x05probe\x04test");
            let mut r = q.to_vec();
            r[2] |= 0x80; // response
            r[3] = 0x80 | if known { 0 } else { 3 }; // RA + NOERROR/NXDOMAIN
            if known && q[n - 3] == 1 {
                r[7] = 1; // one A answer: 127.0.0.1
                r.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 127, 0, 0, 1]);
            }
            let _ = sock.send_to(&r, from).await;
        }
    });
    addr
}

fn ctx(url: &str, kind: ServerKind) -> ProbeContext {
    probes::net::install_crypto_provider();
    ProbeContext {
        target: "fault".into(),
        endpoints: Endpoints::new(kind, reqwest::Url::parse(url).unwrap()),
        tls: Arc::new(client_tls_config(None).unwrap()),
        resolver: Resolver::System,
        settings: ProbeSettings {
            streams: 2,
            duration: Duration::from_secs(3),
            grace: Duration::from_millis(500),
            stall_timeout: Duration::from_secs(1),
            samples: 3,
            connect_timeout: Duration::from_secs(2),
            ..ProbeSettings::default()
        },
        byte_cap: 50_000_000,
        bytes_used: Default::default(),
    }
}

async fn run(c: &ProbeContext, test: TestKind) -> RunResult {
    runner::run(prober_for(test), c, Duration::from_secs(6)).await
}

fn reason(r: &RunResult) -> FailureReason {
    match &r.outcome {
        Ok(o) => panic!("{} {} should fail but measured {o:?}", r.target, r.test),
        Err(e) => e.reason,
    }
}

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_and_refused() {
    let c = ctx("http://255.255.255.255:8080/", ServerKind::Probe);
    for test in [TestKind::Latency, TestKind::Download, TestKind::Http] {
        assert_eq!(
            reason(&run(&c, test).await),
            FailureReason::Unreachable,
            "{test}"
        );
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = ctx(&format!("http://127.0.0.1:{port}/"), ServerKind::Probe);
    for test in [
        TestKind::Latency,
        TestKind::Download,
        TestKind::Upload,
        TestKind::Http,
        TestKind::Loss,
    ] {
        assert_eq!(
            reason(&run(&c, test).await),
            FailureReason::ConnectionRefused,
            "{test}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_5xx_and_garbage() {
    let a = fault_server(Fault::Status5xx).await;
    let c = ctx(&format!("http://{a}/"), ServerKind::Probe);
    for test in [
        TestKind::Latency,
        TestKind::Download,
        TestKind::Upload,
        TestKind::Http,
    ] {
        assert_eq!(
            reason(&run(&c, test).await),
            FailureReason::HttpStatus,
            "{test}"
        );
    }
    let a = fault_server(Fault::Garbage).await;
    let c = ctx(&format!("http://{a}/"), ServerKind::Probe);
    for test in [TestKind::Latency, TestKind::Download, TestKind::Http] {
        assert_eq!(
            reason(&run(&c, test).await),
            FailureReason::Protocol,
            "{test}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_mid_transfer_and_stall() {
    let a = fault_server(Fault::ResetMidTransfer).await;
    let c = ctx(&format!("http://{a}/"), ServerKind::Probe);
    let r = run(&c, TestKind::Download).await;
    assert_eq!(reason(&r), FailureReason::ConnectionReset);
    assert!(
        r.bytes_used > 0 && r.bytes_used <= 2 * 256 * 1024,
        "{}",
        r.bytes_used
    );

    let a = fault_server(Fault::Stall).await;
    let c = ctx(&format!("http://{a}/"), ServerKind::Probe);
    let r = run(&c, TestKind::Download).await;
    assert_eq!(reason(&r), FailureReason::Stalled);
    assert!(
        r.duration_seconds < 3.0,
        "stall detected after {} s",
        r.duration_seconds
    );
    // A stalled ping runs into the runner's timeout.
    let r = runner::run(prober_for(TestKind::Latency), &c, Duration::from_secs(1)).await;
    assert_eq!(reason(&r), FailureReason::Timeout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_data_is_bounded() {
    let a = fault_server(Fault::Endless).await;
    let before = rss_bytes();
    // A ping endpoint that never stops talking is not a ping endpoint.
    let c = ctx(&format!("http://{a}/"), ServerKind::Probe);
    assert_eq!(
        reason(&run(&c, TestKind::Latency).await),
        FailureReason::Protocol
    );
    // A download from it stops at the byte cap; with the cap below the ramp-up there is no
    // measurement, and never more than the cap plus one chunk per stream is read.
    let mut c = ctx(&format!("http://{a}/"), ServerKind::Probe);
    c.byte_cap = 20_000_000;
    c.settings.grace = Duration::from_secs(2);
    let r = run(&c, TestKind::Download).await;
    assert_eq!(reason(&r), FailureReason::ByteCap);
    assert!(
        r.bytes_used <= 20_000_000 + 2 * (1 << 20),
        "{}",
        r.bytes_used
    );
    let grown = rss_bytes().saturating_sub(before);
    assert!(grown < 64 << 20, "RSS grew by {grown} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_failure_and_success_with_local_nameserver() {
    let ns = dns_server().await;
    let server = probes::serve::Server::bind(probes::serve::ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .unwrap();
    let port = server.local_addr().port();
    tokio::spawn(server.run(std::future::pending()));

    let mut c = ctx(&format!("http://nosuch.test:{port}/"), ServerKind::Probe);
    c.resolver = Resolver::Server(ns);
    for test in [
        TestKind::Dns,
        TestKind::Latency,
        TestKind::Http,
        TestKind::Download,
    ] {
        let r = run(&c, test).await;
        assert_eq!(reason(&r), FailureReason::Dns, "{test}");
        let Err(e) = &r.outcome else { unreachable!() };
        assert!(e.message.contains("NXDOMAIN"), "{}", e.message);
    }
    let mut c = ctx(&format!("http://probe.test:{port}/"), ServerKind::Probe);
    c.resolver = Resolver::Server(ns);
    let r = run(&c, TestKind::Dns).await;
    let o = r.outcome.as_ref().expect("probe.test resolves");
    assert!(o.dns_lookup_seconds.unwrap() > 0.0);
    let r = run(&c, TestKind::Http).await;
    let o = r
        .outcome
        .as_ref()
        .expect("HTTP phases over the resolved name");
    let phases: Vec<&str> = o.http_phases.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(phases, ["dns", "connect", "ttfb", "transfer"]);
    // A nameserver that does not answer is a dns failure too, within the connect timeout.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    c.resolver = Resolver::Server(silent.local_addr().unwrap());
    assert_eq!(reason(&run(&c, TestKind::Dns).await), FailureReason::Dns);
}

/// The agent keeps running and reports each broken target with its own reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_reports_faults_and_keeps_serving() {
    let s5 = fault_server(Fault::Status5xx).await;
    let garbage = fault_server(Fault::Garbage).await;
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(
        &path,
        format!(
            r#"[agent]
region = "R"
site = "S"
latitude = 0.0
longitude = 0.0
listen = "127.0.0.1:0"
daily_budget_bytes = 100_000_000

[tests.latency]
interval = "2s"
jitter = "100ms"
timeout = "1s"
samples = 2

[[targets]]
name = "five-hundred"
url = "http://{s5}/"
tests = ["latency"]

[[targets]]
name = "garbage"
url = "http://{garbage}/"
tests = ["latency"]

[[targets]]
name = "refused"
url = "http://{refused}/"
tests = ["latency"]

[[targets]]
name = "unreachable"
url = "http://255.255.255.255:9/"
tests = ["latency"]
"#
        ),
    )
    .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let agent = probes::agent::start(&path, async move {
        let _ = rx.await;
    })
    .await
    .unwrap();
    let url = format!("http://{}/metrics", agent.addr);
    let client = reqwest::Client::new();
    let want = [
        ("five-hundred", "http_status"),
        ("garbage", "protocol"),
        ("refused", "connection_refused"),
        ("unreachable", "unreachable"),
    ];
    let mut text = String::new();
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        text = client.get(&url).send().await.unwrap().text().await.unwrap();
        if want.iter().all(|(t, r)| {
            text.contains(&format!(
                "probe_failure_reason{{target=\"{t}\",test=\"latency\",reason=\"{r}\"}} 1"
            ))
        }) {
            break;
        }
    }
    for (t, r) in want {
        assert!(
            text.contains(&format!(
                "probe_failure_reason{{target=\"{t}\",test=\"latency\",reason=\"{r}\"}} 1"
            )),
            "{t}: {r} missing in\n{text}"
        );
        assert!(text.contains(&format!(
            "probe_success{{target=\"{t}\",test=\"latency\"}} 0"
        )));
        assert!(text.contains(&format!(
            "probe_runs_total{{target=\"{t}\",test=\"latency\",result=\"{r}\"}}"
        )));
    }
    let healthy = client
        .get(format!("http://{}/-/healthy", agent.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(healthy.status(), 200);
    tx.send(()).unwrap();
    agent.wait().await.unwrap();
}
