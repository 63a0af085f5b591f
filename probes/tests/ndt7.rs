//! ndt7: `probe serve`'s server conforms to M-Lab's spec (subprotocol, message types, JSON
//! field names and units, 250 ms spacing, 10 s bound, close codes), the client measures
//! against it and against a Locate API stub, and hostile servers (wrong or no subprotocol,
//! oversized messages, garbage JSON, never closing, refusing) end in clear reasons. Everything
//! listens on 127.0.0.1.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use probes::endpoint::{Endpoints, ServerKind};
use probes::net::{client_tls_config, Resolver};
use probes::probers::{prober_for, ProbeContext, ProbeOutput, ProbeSettings, TestKind};
use probes::reason::{FailureReason, ProbeError};
use probes::serve::{ServeConfig, Server};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

const PROTO: &str = "net.measurementlab.ndt.v7";

async fn server(cfg: ServeConfig) -> SocketAddr {
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

fn paced() -> ServeConfig {
    // Paced so loopback runs for the whole subtest instead of hitting the byte limit at once.
    ServeConfig {
        max_client_bytes_per_second: Some(20e6),
        ..Default::default()
    }
}

fn ctx(url: &str, duration_s: u64) -> ProbeContext {
    probes::net::install_crypto_provider();
    ProbeContext {
        target: "ndt7".into(),
        endpoints: Endpoints::new(ServerKind::Ndt7, reqwest::Url::parse(url).unwrap()),
        tls: Arc::new(client_tls_config(None).unwrap()),
        resolver: Resolver::System,
        settings: ProbeSettings {
            duration: Duration::from_secs(duration_s),
            grace: Duration::from_millis(500),
            ..ProbeSettings::default()
        },
        byte_cap: 2_000_000_000,
        bytes_used: Default::default(),
    }
}

async fn run(test: TestKind, c: &ProbeContext) -> Result<ProbeOutput, ProbeError> {
    let p = prober_for(test, ServerKind::Ndt7).expect("ndt7 prober");
    // Far above the spec's bound: a hang fails the test instead of blocking it.
    tokio::time::timeout(Duration::from_secs(30), p.probe(c))
        .await
        .expect("the ndt7 client returned within 30 s")
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A plain WebSocket client (tokio-tungstenite over our own TCP connection to 127.0.0.1).
async fn ws_connect(
    req: Request,
) -> Result<
    (
        Ws,
        tokio_tungstenite::tungstenite::http::Response<Option<Vec<u8>>>,
    ),
    tokio_tungstenite::tungstenite::Error,
> {
    let authority = req.uri().authority().unwrap().as_str().to_string();
    let sock = tokio::net::TcpStream::connect(authority).await?;
    tokio_tungstenite::client_async(req, sock).await
}

fn upgrade_request(addr: SocketAddr, path: &str, proto: Option<&str>) -> Request {
    let mut r = format!("ws://{addr}{path}").into_client_request().unwrap();
    if let Some(p) = proto {
        r.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).unwrap());
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_refuses_upgrades_without_the_ndt7_subprotocol() {
    let addr = server(ServeConfig::default()).await;
    for proto in [None, Some("chat"), Some("net.measurementlab.ndt.v5")] {
        let e = ws_connect(upgrade_request(addr, "/ndt/v7/download", proto))
            .await
            .expect_err("upgrade without ndt7 must fail");
        match e {
            tokio_tungstenite::tungstenite::Error::Http(r) => {
                assert_eq!(r.status(), 400, "{proto:?}");
                let body = String::from_utf8_lossy(r.body().as_deref().unwrap_or_default());
                assert!(body.contains(PROTO), "{body}");
            }
            e => panic!("{proto:?}: {e}"),
        }
    }
    // A plain GET is not an upgrade.
    let r = reqwest::get(format!("http://{addr}/ndt/v7/upload"))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Over-long query strings are refused (spec: at most 4096 bytes).
    let long = format!("/ndt/v7/download?client_name={}", "x".repeat(5000));
    let e = ws_connect(upgrade_request(addr, &long, Some(PROTO)))
        .await
        .unwrap_err();
    assert!(matches!(e, tokio_tungstenite::tungstenite::Error::Http(ref r) if r.status() == 400));
    // Offered among others, ndt7 is selected.
    let (_ws, resp) = ws_connect(upgrade_request(
        addr,
        "/ndt/v7/download?client_name=test",
        Some(&format!("chat, {PROTO}")),
    ))
    .await
    .unwrap();
    assert_eq!(resp.status(), 101);
    assert_eq!(resp.headers()["sec-websocket-protocol"], PROTO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_origins_are_checked_when_configured() {
    let addr = server(ServeConfig {
        ndt7_allowed_origins: vec!["https://speed.example".into()],
        ..Default::default()
    })
    .await;
    let with_origin = |o: &str| {
        let mut r = upgrade_request(addr, "/ndt/v7/download", Some(PROTO));
        r.headers_mut()
            .insert("Origin", HeaderValue::from_str(o).unwrap());
        r
    };
    let e = ws_connect(with_origin("https://evil.example"))
        .await
        .unwrap_err();
    assert!(matches!(e, tokio_tungstenite::tungstenite::Error::Http(ref r) if r.status() == 403));
    let (mut ws, _) = ws_connect(with_origin("https://speed.example"))
        .await
        .unwrap();
    assert!(ws.next().await.unwrap().unwrap().is_text());
    // Non-browser clients send no Origin and are allowed.
    let (_ws, r) = ws_connect(upgrade_request(addr, "/ndt/v7/upload", Some(PROTO)))
        .await
        .unwrap();
    assert_eq!(r.status(), 101);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_download_conforms_to_the_spec() {
    let addr = server(paced()).await;
    let started = Instant::now();
    let (mut ws, _) = ws_connect(upgrade_request(addr, "/ndt/v7/download", Some(PROTO)))
        .await
        .unwrap();
    let mut texts: Vec<serde_json::Value> = Vec::new();
    let mut sizes: Vec<usize> = Vec::new();
    let mut close = None;
    while let Some(m) = ws.next().await {
        match m.unwrap() {
            Message::Text(t) => texts.push(serde_json::from_str(t.as_str()).unwrap()),
            Message::Binary(b) => sizes.push(b.len()),
            Message::Close(f) => {
                close = f;
                break;
            }
            _ => {}
        }
    }
    let took = started.elapsed();
    let close = close.expect("the server sends a Close frame");
    assert_eq!(close.code, CloseCode::Normal);
    // 10 s of sending, the Close right after (a loaded machine gets some slack).
    assert!(took >= Duration::from_secs(9), "{took:?}");
    assert!(took < Duration::from_secs(12), "{took:?}");
    // Growing binary messages, starting at 8 KiB, none above the spec's 16 MiB.
    assert_eq!(sizes[0], 8192);
    assert!(sizes.windows(2).all(|w| w[1] >= w[0]));
    assert!(*sizes.last().unwrap() > 8192 * 16);
    assert!(sizes.iter().all(|s| *s <= 1 << 24));
    // Measurements: spec field names, microseconds, the first with ConnectionInfo.
    assert!(texts.len() >= 30, "{} measurements", texts.len());
    let first = &texts[0];
    let ci = &first["ConnectionInfo"];
    assert!(ci["Client"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(ci["Server"].as_str().unwrap(), addr.to_string());
    assert_eq!(ci["UUID"].as_str().unwrap().len(), 36);
    assert!(texts[1].get("ConnectionInfo").is_none());
    let mut last_elapsed = -1i64;
    for m in &texts {
        assert_eq!(m["Origin"], "server");
        assert_eq!(m["Test"], "download");
        let app = &m["AppInfo"];
        let elapsed = app["ElapsedTime"].as_i64().expect("AppInfo.ElapsedTime µs");
        assert!(app["NumBytes"].as_i64().is_some());
        if last_elapsed >= 0 {
            assert!(
                elapsed - last_elapsed >= 250_000,
                "measurements {last_elapsed} µs and {elapsed} µs are closer than 250 ms"
            );
        }
        last_elapsed = elapsed;
        let tcp = &m["TCPInfo"];
        for k in [
            "RTT",
            "RTTVar",
            "MinRTT",
            "BytesAcked",
            "ElapsedTime",
            "BusyTime",
        ] {
            assert!(tcp[k].as_i64().is_some(), "TCPInfo.{k} missing in {m}");
        }
        // Loopback RTTs are micro-, not milliseconds: µs values stay well below 1 s.
        assert!(tcp["MinRTT"].as_i64().unwrap() < 1_000_000);
        if let Some(bbr) = m.get("BBRInfo") {
            for k in ["BW", "MinRTT", "PacingGain", "CwndGain", "ElapsedTime"] {
                assert!(bbr[k].as_i64().is_some(), "BBRInfo.{k}");
            }
        }
    }
    assert!(
        last_elapsed <= 10_300_000,
        "last measurement at {last_elapsed} µs"
    );
    let acked = texts.last().unwrap()["TCPInfo"]["BytesAcked"]
        .as_i64()
        .unwrap();
    let app = texts.last().unwrap()["AppInfo"]["NumBytes"]
        .as_i64()
        .unwrap();
    assert!(
        acked >= app / 2 && app > 50_000_000,
        "acked {acked}, app {app}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_closes_on_binary_from_the_downloading_client() {
    let addr = server(paced()).await;
    let (mut ws, _) = ws_connect(upgrade_request(addr, "/ndt/v7/download", Some(PROTO)))
        .await
        .unwrap();
    ws.send(Message::binary(vec![0u8; 1000])).await.unwrap();
    let code = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(m) = ws.next().await {
            if let Ok(Message::Close(f)) = m {
                return f.map(|f| f.code);
            }
        }
        None
    })
    .await
    .expect("the server closes within 5 s");
    assert_eq!(code, Some(CloseCode::Unsupported));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_upload_measures_what_it_received() {
    let addr = server(ServeConfig::default()).await;
    let (mut ws, _) = ws_connect(upgrade_request(addr, "/ndt/v7/upload", Some(PROTO)))
        .await
        .unwrap();
    let chunk = vec![7u8; 1 << 16];
    for _ in 0..40 {
        ws.send(Message::binary(chunk.clone())).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = 0;
    while Instant::now() < deadline {
        let Some(Ok(Message::Text(t))) = ws.next().await else {
            panic!("expected measurements")
        };
        let m: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
        assert_eq!(m["Test"], "upload");
        seen = m["AppInfo"]["NumBytes"].as_i64().unwrap();
        if seen == 40 << 16 {
            assert!(m["TCPInfo"]["BytesReceived"].as_i64().unwrap() >= seen);
            break;
        }
    }
    assert_eq!(seen, 40 << 16);
    ws.close(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_measures_own_server_both_ways() {
    let addr = server(paced()).await;
    let c = ctx(&format!("ws://{addr}/"), 4);
    let started = Instant::now();
    let down = run(TestKind::Download, &c).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(7));
    let rate = down.download_bytes_per_second.unwrap();
    assert!(
        (rate / 20e6 - 1.0).abs() < 0.05,
        "download {rate} B/s vs 20 MB/s"
    );
    let server_rate = down.ndt7_download_server_bytes_per_second.unwrap();
    assert!(
        (server_rate / 20e6 - 1.0).abs() < 0.05,
        "server {server_rate}"
    );
    assert!(down.latency_min_seconds.unwrap() < 0.01);
    assert!(down.loaded_latency_seconds.is_some());
    assert_eq!(down.ndt7_uuid.as_ref().unwrap().len(), 36);

    let up = run(TestKind::Upload, &c).await.unwrap();
    let rate = up.upload_bytes_per_second.unwrap();
    assert_eq!(up.upload_measured_at_receiver, Some(true));
    assert!(
        (rate / 20e6 - 1.0).abs() < 0.05,
        "upload {rate} B/s vs 20 MB/s"
    );
    assert!(up.ndt7_upload_client_bytes_per_second.is_some());
    assert!(up.latency_min_seconds.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_stops_at_the_byte_cap() {
    let addr = server(paced()).await;
    let mut c = ctx(&format!("ws://{addr}/"), 4);
    c.byte_cap = 30_000_000;
    let out = run(TestKind::Download, &c).await.unwrap();
    assert!(out.download_bytes_per_second.is_some());
    // The cap is checked per message (at most 1 MiB each).
    assert!(c.bytes() <= 30_000_000 + (1 << 20), "{}", c.bytes());
}

/// A Locate API v2 stub answering with `body` (and `status`), recording the request.
async fn locate_stub(
    status: u16,
    body: String,
) -> (SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/v2/nearest/ndt/ndt7",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let log = log.clone();
            let body = body.clone();
            async move {
                let ua = headers
                    .get("user-agent")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                log.lock().unwrap().push(ua);
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    [("content-type", "application/json")],
                    body,
                )
            }
        }),
    );
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_discovers_servers_through_locate() {
    let ndt = server(paced()).await;
    // The spec's response shape; URLs carry an access token and are used as returned.
    let body = format!(
        r#"{{"results":[{{"machine":"mlab1-test01.mlab-oti.measurement-lab.org",
        "location":{{"city":"Tashkent","country":"UZ"}},
        "urls":{{"ws:///ndt/v7/download":"ws://{ndt}/ndt/v7/download?access_token=tok1",
                 "ws:///ndt/v7/upload":"ws://{ndt}/ndt/v7/upload?access_token=tok2"}}}}]}}"#
    );
    let (locate, seen) = locate_stub(200, body).await;
    let c = ctx(&format!("http://{locate}/"), 3);
    let out = run(TestKind::Download, &c).await.unwrap();
    assert!(out.download_bytes_per_second.unwrap() > 1e6);
    assert_eq!(out.ndt7_server.as_deref(), Some("127.0.0.1"));
    let up = run(TestKind::Upload, &c).await.unwrap();
    assert!(up.upload_bytes_per_second.unwrap() > 1e6);
    let uas = seen.lock().unwrap().clone();
    assert_eq!(uas.len(), 2);
    assert!(uas[0].starts_with("probe/"), "{uas:?}");

    // Out of capacity: no results (200 {}), or 503.
    let (empty, _) = locate_stub(200, "{}".into()).await;
    let e = run(TestKind::Download, &ctx(&format!("http://{empty}/"), 3))
        .await
        .unwrap_err();
    assert_eq!(e.reason, FailureReason::Protocol);
    assert!(e.message.contains("no servers"), "{e}");
    let (full, _) = locate_stub(503, r#"{"error":{"title":"out of capacity"}}"#.into()).await;
    let e = run(TestKind::Download, &ctx(&format!("http://{full}/"), 3))
        .await
        .unwrap_err();
    assert_eq!(e.reason, FailureReason::HttpStatus, "{e}");
    let (garbage, _) = locate_stub(200, "<html>".into()).await;
    let e = run(TestKind::Download, &ctx(&format!("http://{garbage}/"), 3))
        .await
        .unwrap_err();
    assert_eq!(e.reason, FailureReason::Protocol, "{e}");
}

/// What a hostile ndt7 server does once the WebSocket is open.
#[derive(Clone, Copy, Debug)]
enum Hostile {
    /// Selects another subprotocol.
    WrongSubprotocol,
    /// Selects none.
    NoSubprotocol,
    /// Announces a 64 MiB binary frame.
    Oversized,
    /// Sends text that is not JSON.
    GarbageJson,
    /// Sends data forever and never closes.
    NeverCloses,
    /// Closes at once with 1008.
    PolicyClose,
}

async fn hostile(kind: Hostile) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = l.accept().await else {
                return;
            };
            tokio::spawn(async move {
                // The callback signature is tungstenite's (its error type is a full response).
                #[allow(clippy::result_large_err)]
                let cb = move |_req: &Request, mut resp: Response| {
                    let h = resp.headers_mut();
                    match kind {
                        Hostile::WrongSubprotocol => {
                            h.insert("Sec-WebSocket-Protocol", HeaderValue::from_static("chat"));
                        }
                        Hostile::NoSubprotocol => {}
                        _ => {
                            h.insert("Sec-WebSocket-Protocol", HeaderValue::from_static(PROTO));
                        }
                    }
                    Ok(resp)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(sock, cb).await else {
                    return;
                };
                match kind {
                    Hostile::Oversized => {
                        // Frame header of a 64 MiB binary message, then some of its payload:
                        // written raw, since a conforming library would not send it.
                        let mut raw = ws.into_inner();
                        let mut frame = vec![0x82u8, 127];
                        frame.extend_from_slice(&(64u64 << 20).to_be_bytes());
                        frame.resize(frame.len() + (1 << 20), 0);
                        use tokio::io::AsyncWriteExt;
                        let _ = raw.write_all(&frame).await;
                        tokio::time::sleep(Duration::from_secs(20)).await;
                    }
                    Hostile::GarbageJson => {
                        let _ = ws.send(Message::binary(vec![0u8; 100_000])).await;
                        let _ = ws.send(Message::text("{not json")).await;
                        tokio::time::sleep(Duration::from_secs(20)).await;
                    }
                    Hostile::NeverCloses => loop {
                        if ws.send(Message::binary(vec![0u8; 1 << 16])).await.is_err() {
                            return;
                        }
                        // Keep reading so pings/closes are processed but never answer Close.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    },
                    Hostile::PolicyClose => {
                        let _ = ws
                            .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                                code: CloseCode::Policy,
                                reason: "go away".into(),
                            }))
                            .await;
                    }
                    Hostile::WrongSubprotocol | Hostile::NoSubprotocol => {}
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_servers_end_in_clear_reasons() {
    for (kind, reason, words) in [
        (
            Hostile::WrongSubprotocol,
            FailureReason::Protocol,
            "subprotocol",
        ),
        (
            Hostile::NoSubprotocol,
            FailureReason::Protocol,
            "subprotocol",
        ),
        (Hostile::Oversized, FailureReason::Protocol, "limit"),
        (
            Hostile::GarbageJson,
            FailureReason::Protocol,
            "not ndt7 JSON",
        ),
        (Hostile::PolicyClose, FailureReason::Protocol, "1008"),
    ] {
        let addr = hostile(kind).await;
        let c = ctx(&format!("ws://{addr}/"), 3);
        let started = Instant::now();
        let e = run(TestKind::Download, &c).await.unwrap_err();
        assert_eq!(e.reason, reason, "{kind:?}: {e}");
        assert!(e.message.contains(words), "{kind:?}: {e}");
        assert!(started.elapsed() < Duration::from_secs(10), "{kind:?}");
        // Nothing of the 64 MiB message was buffered as payload.
        assert!(c.bytes() < 1 << 20, "{kind:?}: {}", c.bytes());
    }
    // A server that never stops: the client ends the subtest at its bound and measures.
    let addr = hostile(Hostile::NeverCloses).await;
    let c = ctx(&format!("ws://{addr}/"), 3);
    let started = Instant::now();
    let out = run(TestKind::Download, &c).await.unwrap();
    let took = started.elapsed();
    assert!(out.download_bytes_per_second.unwrap() > 0.0);
    assert!(took < Duration::from_secs(3 + 3), "{took:?}");
    // A refused connection.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = l.local_addr().unwrap();
    drop(l);
    let e = run(TestKind::Upload, &ctx(&format!("ws://{dead}/"), 3))
        .await
        .unwrap_err();
    assert_eq!(e.reason, FailureReason::ConnectionRefused, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_connections_count_against_the_per_address_cap() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = server(ServeConfig {
        limits: probes::listener::Limits {
            max_connections_per_address: 2,
            ..probes::serve::SERVE_LIMITS
        },
        ..paced()
    })
    .await;
    // One plain request on a closed connection: its status line, or nothing when the server
    // closed the connection at accept.
    let status_line = || async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _ = s
            .write_all(b"GET /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    };
    let mut held = Vec::new();
    for _ in 0..2 {
        let (ws, resp) = ws_connect(upgrade_request(addr, "/ndt/v7/download", Some(PROTO)))
            .await
            .unwrap();
        assert_eq!(resp.status(), 101);
        held.push(ws);
    }
    // Both upgraded connections are open: a third one from the same address is closed at
    // accept, like any connection over the cap.
    let third = tokio::time::timeout(Duration::from_secs(10), status_line())
        .await
        .expect("the third connection is closed, not left hanging");
    assert_eq!(third, "", "served past the cap: {third}");
    let ws3 = ws_connect(upgrade_request(addr, "/ndt/v7/upload", Some(PROTO))).await;
    assert!(ws3.is_err(), "a third WebSocket got through the cap");
    // The slots come back when the WebSocket connections close.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let line = status_line().await;
        if line.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still refused after the WebSockets closed: {line:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_run_kind_ndt7_without_tests_runs_download_and_upload() {
    probes::net::install_crypto_provider();
    let addr = server(paced()).await;
    let opts = probes::oneshot::RunOptions {
        server: reqwest::Url::parse(&format!("ws://{addr}/")).unwrap(),
        kind: Some(ServerKind::Ndt7),
        tests: Vec::new(),
        duration: Duration::from_secs(2),
        grace: Duration::from_millis(500),
        streams: 1,
        max_bytes: 500_000_000,
        ca_file: None,
        resolver: Resolver::System,
    };
    let r = probes::oneshot::run(&opts).await.unwrap();
    let tests: Vec<TestKind> = r.results.iter().map(|r| r.test).collect();
    assert_eq!(tests, [TestKind::Download, TestKind::Upload]);
    for res in &r.results {
        assert!(res.success(), "{}: {:?}", res.test, res.outcome);
    }
    assert!(r.why.contains("--kind ndt7"), "{}", r.why);
}

/// The uploading client sends its own measurements (spec: "when uploading, the client is
/// expected to send measurements to the server"), as text messages with the spec's field names
/// and units (microseconds, bytes), `Origin` client, `Test` upload, no more often than 250 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploading_client_sends_spec_measurements() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<(Vec<(Instant, String)>, u64)>();
    tokio::spawn(async move {
        let (sock, _) = l.accept().await.unwrap();
        #[allow(clippy::result_large_err)]
        let cb = |_req: &Request, mut resp: Response| {
            resp.headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(PROTO));
            Ok(resp)
        };
        let mut ws = tokio_tungstenite::accept_hdr_async(sock, cb).await.unwrap();
        let mut texts = Vec::new();
        let mut binary = 0u64;
        while let Some(Ok(m)) = ws.next().await {
            match m {
                Message::Text(t) => texts.push((Instant::now(), t.to_string())),
                Message::Binary(b) => binary += b.len() as u64,
                Message::Close(_) => break,
                _ => {}
            }
        }
        let _ = ws.close(None).await;
        let _ = tx.send((texts, binary));
    });
    let c = ctx(&format!("ws://{addr}/"), 2);
    // Our stub sends no server measurements, so the client's own figure is the result.
    let _ = run(TestKind::Upload, &c).await;
    let (texts, binary) = rx.await.unwrap();
    assert!(texts.len() >= 3, "{} measurements in 2 s", texts.len());
    for w in texts.windows(2) {
        // Received, not sent, times: allow the network some jitter below 250 ms.
        assert!(
            w[1].0 - w[0].0 >= Duration::from_millis(200),
            "too frequent"
        );
    }
    let mut last_bytes = -1i64;
    for (_, t) in &texts {
        let v: serde_json::Value = serde_json::from_str(t).unwrap();
        assert_eq!(v["Origin"], "client", "{v}");
        assert_eq!(v["Test"], "upload", "{v}");
        let app = &v["AppInfo"];
        let n = app["NumBytes"]
            .as_i64()
            .expect("AppInfo.NumBytes is an integer");
        let us = app["ElapsedTime"]
            .as_i64()
            .expect("AppInfo.ElapsedTime is an integer");
        assert!(n >= last_bytes && n as u64 <= binary, "{n} of {binary}");
        last_bytes = n;
        // Microseconds: within the 2 s subtest (plus scheduling), never seconds or ms.
        assert!((0..5_000_000).contains(&us), "{us}");
        if let Some(tcp) = v.get("TCPInfo") {
            let e = tcp["ElapsedTime"].as_i64().unwrap();
            assert!((0..5_000_000).contains(&e), "{e}");
            assert!(tcp["BytesAcked"].as_i64().is_some(), "{tcp}");
            assert!(tcp.get("tcpi_rtt").is_none() && tcp["RTT"].as_i64().is_some());
        }
        assert!(v.get("BBRInfo").is_none() && v.get("ConnectionInfo").is_none());
    }
}

/// A peer's measurement may leave out fields of an object (M-Lab's servers send what the
/// kernel has): the message still parses, the missing fields are zero.
#[test]
fn measurements_with_partial_objects_parse() {
    let m: probes::ndt7::Measurement = serde_json::from_str(
        r#"{"AppInfo":{"NumBytes":5},"BBRInfo":{"BW":125000,"MinRTT":1200},
            "ConnectionInfo":{"UUID":"x"},"TCPInfo":{"MinRTT":900,"MaxPacingRate":18446744073709551615},
            "Origin":"server","Test":"download"}"#,
    )
    .unwrap();
    assert_eq!(m.app_info.unwrap().num_bytes, 5);
    assert_eq!(m.app_info.unwrap().elapsed_time_us, 0);
    assert_eq!(m.bbr_info.unwrap().bw_bytes_per_second, 125_000);
    assert_eq!(m.connection_info.unwrap().uuid, "x");
    assert_eq!(m.tcp_info.unwrap().min_rtt_us, Some(900));
}
