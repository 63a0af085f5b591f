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
    /// Read the request, never answer, keep the connection open.
    Silent,
    /// Send response headers promising 100 MB, then nothing.
    HeadersOnly,
    /// Answer every request with a plain-HTTP 400 (a TLS client speaking to a plain port).
    PlainHttp,
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
    if let Fault::PlainHttp = fault {
        // Whatever arrives (a TLS ClientHello) gets what a plain HTTP server sends.
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf).await;
        let _ = s
            .write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await;
        return;
    }
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
        Fault::Silent => {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Fault::HeadersOnly => {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
                .await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Fault::PlainHttp => unreachable!("handled above"),
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

/// The answer of the loopback DNS server: NXDOMAIN for every name except `probe.test` and
/// `big.test` (127.0.0.1); over UDP `big.test` is answered truncated (TC, no records), so only
/// a client that retries over TCP resolves it.
fn dns_answer(q: &[u8], over_tcp: bool) -> Vec<u8> {
    let n = q.len();
    let probe = q.windows(11).any(|w| w == b"\x05probe\x04test");
    let big = q.windows(9).any(|w| w == b"\x03big\x04test");
    let mut r = q.to_vec();
    r[2] |= 0x80; // response
    r[3] = 0x80 | if probe || big { 0 } else { 3 }; // RA + NOERROR/NXDOMAIN
    if big && !over_tcp {
        r[2] |= 0x02; // TC
    } else if (probe || big) && q[n - 3] == 1 {
        r[7] = 1; // one A answer: 127.0.0.1
        r.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 127, 0, 0, 1]);
    }
    r
}

/// The loopback DNS server, UDP and TCP on the same port.
async fn dns_server() -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let tcp = TcpListener::bind(addr).await.unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let _ = sock.send_to(&dns_answer(&buf[..n], false), from).await;
        }
    });
    tokio::spawn(async move {
        while let Ok((mut s, _)) = tcp.accept().await {
            tokio::spawn(async move {
                let mut len = [0u8; 2];
                if s.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
                if s.read_exact(&mut q).await.is_err() {
                    return;
                }
                let r = dns_answer(&q, true);
                let mut framed = (r.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&r);
                let _ = s.write_all(&framed).await;
            });
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
    runner::run(
        prober_for(test, ServerKind::Probe).unwrap(),
        c,
        Duration::from_secs(6),
    )
    .await
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
    let r = runner::run(
        prober_for(TestKind::Latency, ServerKind::Probe).unwrap(),
        &c,
        Duration::from_secs(1),
    )
    .await;
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
    // A truncated UDP answer is asked again over TCP.
    let mut big = ctx(&format!("http://big.test:{port}/"), ServerKind::Probe);
    big.resolver = Resolver::Server(ns);
    let r = run(&big, TestKind::Dns).await;
    assert!(
        r.success(),
        "truncated answer retried over TCP: {:?}",
        r.outcome
    );
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
                "probe_failure_reason{{target=\"{t}\",scope=\"domestic\",test=\"latency\",reason=\"{r}\"}} 1"
            ))
        }) {
            break;
        }
    }
    for (t, r) in want {
        assert!(
            text.contains(&format!(
                "probe_failure_reason{{target=\"{t}\",scope=\"domestic\",test=\"latency\",reason=\"{r}\"}} 1"
            )),
            "{t}: {r} missing in\n{text}"
        );
        assert!(text.contains(&format!(
            "probe_success{{target=\"{t}\",scope=\"domestic\",test=\"latency\"}} 0"
        )));
        assert!(text.contains(&format!(
            "probe_runs_total{{target=\"{t}\",scope=\"domestic\",test=\"latency\",result=\"{r}\"}}"
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

/// No false success: for every duration `validate` accepts (here its shortest windows and the
/// defaults), a server that never answers or stalls after its headers yields `no_data` or
/// `stalled`, never a 0 B/s success. Regression test for the `--duration 4s` /
/// `duration = "1500ms"` false successes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_stalled_servers_are_never_a_success() {
    let silent = fault_server(Fault::Silent).await;
    let headers_only = fault_server(Fault::HeadersOnly).await;
    let stall = fault_server(Fault::Stall).await;
    let mut cases = Vec::new();
    for (duration_ms, grace_ms) in [(600u64, 100u64), (1500, 1000), (4000, 1500)] {
        for (name, addr) in [
            ("silent", silent),
            ("headers-only", headers_only),
            ("stall", stall),
        ] {
            for test in [TestKind::Download, TestKind::Upload] {
                cases.push(async move {
                    let mut c = ctx(&format!("http://{addr}/"), ServerKind::Probe);
                    c.settings.duration = Duration::from_millis(duration_ms);
                    c.settings.grace = Duration::from_millis(grace_ms);
                    // The default stall timeout (5 s) is longer than most of these runs.
                    c.settings.stall_timeout = Duration::from_secs(5);
                    let r = runner::run(
                        prober_for(test, ServerKind::Probe).unwrap(),
                        &c,
                        Duration::from_millis(duration_ms) + Duration::from_secs(7),
                    )
                    .await;
                    (
                        format!("{name} {test} at duration {duration_ms} ms, grace {grace_ms} ms"),
                        r,
                    )
                });
            }
        }
    }
    // All at once: each case waits on its server, not on the CPU.
    for (case, r) in futures_util::future::join_all(cases).await {
        let why = reason(&r);
        assert!(
            matches!(
                why,
                FailureReason::NoData | FailureReason::Stalled | FailureReason::Timeout
            ),
            "{case}: {why}"
        );
    }
}

/// TLS spoken to a plain HTTP port fails with `tls` in every test, not `io_error` in some.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_a_plain_port_is_tls_everywhere() {
    let a = fault_server(Fault::PlainHttp).await;
    let c = ctx(&format!("https://{a}/"), ServerKind::Probe);
    for test in [
        TestKind::Latency,
        TestKind::Download,
        TestKind::Upload,
        TestKind::Http,
    ] {
        let r = run(&c, test).await;
        assert_eq!(reason(&r), FailureReason::Tls, "{test}: {:?}", r.outcome);
    }
}
