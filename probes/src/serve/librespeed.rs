//! LibreSpeed-compatible paths, behaving like the reference PHP backend path by path:
//!
//! | path | methods | behaviour |
//! |---|---|---|
//! | `garbage[.php]?ckSize=N` | any | N × 1 MiB of random data; `ckSize` read like PHP's `intval` (leading integer, `abc` → 0); missing or 0 → 4, above 1024 → 1024, negative → empty body |
//! | `empty[.php]` | any | 200 with an empty body; the request body is read and discarded (upload sink, ping) |
//! | `getIP[.php]` | any | `{"processedString": IP, "rawIspInfo": ""}`; loopback, private, link-local and CGNAT addresses get the reference's ` - localhost IPv4 access`-style suffix; `::ffff:` is stripped |
//!
//! With a `cors` query parameter (the LibreSpeed client adds `cors=true` when it measures a
//! server on another origin) responses carry `Access-Control-Allow-Origin: *` and
//! `Access-Control-Allow-Methods: GET, POST`, `empty` also `Access-Control-Allow-Headers:
//! Content-Encoding, Content-Type`; an `OPTIONS` preflight gets the same headers and 200.
//! Every path is served at the root and under `/backend/`, where a standard LibreSpeed install
//! keeps its backend.
//!
//! Deviation from the reference: the client address is the socket's peer address; proxy
//! headers (`Client-IP`, `X-Forwarded-For`) are not trusted, and `isp=true` does not look the
//! address up at an external service.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::Deserialize;

use super::{error, pace, rate_limited, stream_bytes, ServerState};
use crate::listener::{body_too_large, linger_on_rejected_body, ClientAddr};

/// The LibreSpeed routes (mounted at `/` and `/backend/`).
pub fn routes() -> Router<Arc<ServerState>> {
    Router::new()
        .route("/garbage", any(garbage))
        .route("/garbage.php", any(garbage))
        .route("/empty", any(empty))
        .route("/empty.php", any(empty))
        .route("/getIP", any(get_ip))
        .route("/getIP.php", any(get_ip))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    ck_size: Option<String>,
    cors: Option<String>,
}

/// The reference backend's cache headers (it sends both `Cache-Control` lines).
fn no_store(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache, must-revalidate, max-age=0, s-maxage=0"),
    );
    h.append(
        header::CACHE_CONTROL,
        HeaderValue::from_static("post-check=0, pre-check=0"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn cors(r: &mut Response, with_headers: bool) {
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    if with_headers {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Content-Encoding, Content-Type"),
        );
    }
}

/// `ckSize` as PHP's `intval` reads it, then the reference's rules: 0 → 4, > 1024 → 1024; a
/// negative count sends nothing.
pub fn chunk_count(ck_size: Option<&str>) -> u64 {
    let Some(s) = ck_size else {
        return 4;
    };
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: u64 = 0;
    for c in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(u64::from(c - b'0'));
    }
    match (neg, n) {
        (_, 0) => 4,
        (true, _) => 0,
        (false, n) => n.min(1024),
    }
}

async fn garbage(
    State(st): State<Arc<ServerState>>,
    ConnectInfo(c): ConnectInfo<ClientAddr>,
    method: Method,
    Query(q): Query<Params>,
) -> Response {
    let with_cors = q.cors.is_some();
    let mut r = if method == Method::OPTIONS {
        StatusCode::OK.into_response()
    } else if !st.allow(c.0.ip()) {
        rate_limited()
    } else {
        let bytes = (chunk_count(q.ck_size.as_deref()) << 20).min(st.cfg.max_bytes_per_request);
        match st.tests.clone().try_acquire_owned() {
            Err(_) => super::busy(),
            Ok(permit) => {
                let mut r = stream_bytes(&st, c.0.ip(), bytes, permit);
                let h = r.headers_mut();
                h.insert(
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_static("attachment; filename=random.dat"),
                );
                h.insert(
                    "content-description",
                    HeaderValue::from_static("File Transfer"),
                );
                h.insert(
                    "content-transfer-encoding",
                    HeaderValue::from_static("binary"),
                );
                r
            }
        }
    };
    if with_cors {
        cors(&mut r, false);
    }
    no_store(&mut r);
    r
}

async fn empty(
    State(st): State<Arc<ServerState>>,
    ConnectInfo(c): ConnectInfo<ClientAddr>,
    method: Method,
    Query(q): Query<Params>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut r = if method == Method::OPTIONS {
        StatusCode::OK.into_response()
    } else if !st.allow(c.0.ip()) {
        rate_limited()
    } else if body_too_large(&headers, st.cfg.max_bytes_per_request) {
        linger_on_rejected_body(&headers, body.into_data_stream());
        super::too_large(st.cfg.max_bytes_per_request)
    } else {
        let pacer = st.pacer(c.0.ip());
        let mut stream = body.into_data_stream();
        let mut bytes = 0u64;
        let mut r = StatusCode::OK.into_response();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(c) => {
                    pace(&pacer, c.len()).await;
                    bytes += c.len() as u64;
                }
                Err(_) => {
                    r = error(StatusCode::BAD_REQUEST, "upload body aborted");
                    break;
                }
            }
            if bytes > st.cfg.max_bytes_per_request {
                r = super::too_large(st.cfg.max_bytes_per_request);
                linger_on_rejected_body(&headers, stream);
                break;
            }
        }
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        r
    };
    if q.cors.is_some() {
        cors(&mut r, true);
    }
    no_store(&mut r);
    r
}

/// The reference's note on addresses that an ISP lookup cannot describe.
pub fn local_address_note(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return local_address_note(IpAddr::V4(v4));
            }
            if v6.is_loopback() {
                Some("localhost IPv6 access")
            } else if (v6.segments()[0] & 0xffc0) == 0xfe80 {
                Some("link-local IPv6 access")
            } else {
                None
            }
        }
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if o[0] == 127 {
                Some("localhost IPv4 access")
            } else if v4.is_private() {
                Some("private IPv4 access")
            } else if v4.is_link_local() {
                Some("link-local IPv4 access")
            } else if o[0] == 100 && (64..128).contains(&o[1]) {
                Some("CGNAT IPv4 access")
            } else {
                None
            }
        }
    }
}

async fn get_ip(
    State(st): State<Arc<ServerState>>,
    ConnectInfo(c): ConnectInfo<ClientAddr>,
    method: Method,
    Query(q): Query<Params>,
) -> Response {
    let mut r = if method == Method::OPTIONS {
        StatusCode::OK.into_response()
    } else if !st.allow(c.0.ip()) {
        rate_limited()
    } else {
        let ip = match c.0.ip() {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        // The client asks for its own address; it is returned to that client only, never
        // logged.
        let processed = match local_address_note(ip) {
            Some(note) => format!("{ip} - {note}"),
            None => ip.to_string(),
        };
        let mut r = Json(serde_json::json!({
            "processedString": processed,
            "rawIspInfo": "",
        }))
        .into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        r
    };
    if q.cors.is_some() {
        cors(&mut r, false);
    }
    no_store(&mut r);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ck_size_like_the_reference() {
        for (input, want) in [
            (None, 4),
            (Some("0"), 4),
            (Some(""), 4),
            (Some("abc"), 4),
            (Some("1"), 1),
            (Some("12abc"), 12),
            (Some("1.9"), 1),
            (Some("-3"), 0),
            (Some("1024"), 1024),
            (Some("1025"), 1024),
            (Some("99999999999999999999999"), 1024),
        ] {
            assert_eq!(chunk_count(input), want, "{input:?}");
        }
    }

    #[test]
    fn local_notes_like_the_reference() {
        let n = |s: &str| local_address_note(s.parse().unwrap());
        assert_eq!(n("127.0.0.1"), Some("localhost IPv4 access"));
        assert_eq!(n("::1"), Some("localhost IPv6 access"));
        assert_eq!(n("fe80::1"), Some("link-local IPv6 access"));
        assert_eq!(n("10.1.2.3"), Some("private IPv4 access"));
        assert_eq!(n("172.20.0.1"), Some("private IPv4 access"));
        assert_eq!(n("192.168.1.1"), Some("private IPv4 access"));
        assert_eq!(n("169.254.0.9"), Some("link-local IPv4 access"));
        assert_eq!(n("100.64.0.1"), Some("CGNAT IPv4 access"));
        assert_eq!(n("100.128.0.1"), None);
        assert_eq!(n("::ffff:10.0.0.1"), Some("private IPv4 access"));
        assert_eq!(n("8.8.8.8"), None);
    }
}
