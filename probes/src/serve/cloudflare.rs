//! Cloudflare-style speed endpoints, as speed.cloudflare.com serves them, so `kind =
//! "cloudflare"` targets and Cloudflare's browser speed test can measure against `probe serve`:
//!
//! | path | methods | behaviour |
//! |---|---|---|
//! | `__down?bytes=N` | GET | N bytes of incompressible data (`bytes` missing: 0, the latency probe); above `--max-bytes-per-request` → 413, not a number → 400 |
//! | `__up` | POST | reads and discards the body (capped like `/upload`), answers 200 with an empty body |
//!
//! Both answer `Server-Timing: cfRequestDuration;dur=MS` (the time the server spent, which
//! Cloudflare's client subtracts from its latency samples) and `Timing-Allow-Origin: *`, so
//! browsers expose resource timings cross-origin; `OPTIONS` preflights get the CORS headers.
//! Rate limit, concurrent-test cap and per-client pacing are the server's own.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::StreamExt;

use super::{busy, error, no_cache, pace, rate_limited, stream_bytes, too_large, ServerState};
use crate::listener::{body_too_large, linger_on_rejected_body, ClientAddr};

/// The Cloudflare-style routes (mounted at `/`).
pub fn routes() -> Router<Arc<ServerState>> {
    Router::new()
        .route("/__down", get(down).options(preflight))
        .route("/__up", axum::routing::post(up).options(preflight))
}

fn timing(r: &mut Response, since: Instant) {
    let ms = since.elapsed().as_secs_f64() * 1000.0;
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("cfRequestDuration;dur={ms:.3}")) {
        h.insert("server-timing", v);
    }
    h.insert("timing-allow-origin", HeaderValue::from_static("*"));
}

async fn preflight() -> Response {
    let mut r = no_cache(StatusCode::OK.into_response());
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type"),
    );
    r
}

/// The `bytes` parameter: missing or empty → 0; anything but a whole number → `None`.
pub fn requested_bytes(query: Option<&str>) -> Option<u64> {
    let Some(q) = query else {
        return Some(0);
    };
    let mut bytes = Some(0);
    for pair in q.split('&') {
        if let Some(v) = pair.strip_prefix("bytes=") {
            bytes = if v.is_empty() {
                Some(0)
            } else {
                v.parse().ok()
            };
        }
    }
    bytes
}

async fn down(
    State(st): State<Arc<ServerState>>,
    ConnectInfo(c): ConnectInfo<ClientAddr>,
    RawQuery(q): RawQuery,
) -> Response {
    let t0 = Instant::now();
    let mut r = if !st.allow(c.0.ip()) {
        rate_limited()
    } else {
        match requested_bytes(q.as_deref()) {
            None => error(
                StatusCode::BAD_REQUEST,
                "bytes must be a whole number of bytes, e.g. __down?bytes=1000000",
            ),
            Some(n) if n > st.cfg.max_bytes_per_request => error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "bytes={n} exceeds this server's limit of {} bytes per request",
                    st.cfg.max_bytes_per_request
                ),
            ),
            Some(n) => match st.tests.clone().try_acquire_owned() {
                Err(_) => busy(),
                Ok(permit) => stream_bytes(&st, c.0.ip(), n, permit),
            },
        }
    };
    timing(&mut r, t0);
    r
}

async fn up(
    State(st): State<Arc<ServerState>>,
    ConnectInfo(c): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let t0 = Instant::now();
    let limit = st.cfg.max_bytes_per_request;
    let mut r = if !st.allow(c.0.ip()) {
        rate_limited()
    } else if body_too_large(&headers, limit) {
        linger_on_rejected_body(&headers, body.into_data_stream());
        too_large(limit)
    } else {
        match st.tests.clone().try_acquire_owned() {
            Err(_) => busy(),
            Ok(_permit) => {
                let pacer = st.pacer(c.0.ip());
                let mut stream = body.into_data_stream();
                let mut bytes = 0u64;
                let mut r = no_cache(StatusCode::OK.into_response());
                while let Some(chunk) = stream.next().await {
                    match chunk {
                        Ok(c) => {
                            // Paced reads slow the sender through TCP flow control.
                            pace(&pacer, c.len()).await;
                            bytes += c.len() as u64;
                        }
                        Err(_) => {
                            r = error(StatusCode::BAD_REQUEST, "upload body aborted");
                            break;
                        }
                    }
                    if bytes > limit {
                        r = too_large(limit);
                        linger_on_rejected_body(&headers, stream);
                        break;
                    }
                }
                r
            }
        }
    };
    timing(&mut r, t0);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_parameter() {
        assert_eq!(requested_bytes(None), Some(0));
        assert_eq!(requested_bytes(Some("bytes=25000000")), Some(25_000_000));
        assert_eq!(requested_bytes(Some("measId=7&bytes=100")), Some(100));
        assert_eq!(requested_bytes(Some("bytes=")), Some(0));
        assert_eq!(requested_bytes(Some("bytes=-1")), None);
        assert_eq!(requested_bytes(Some("bytes=1e6")), None);
        assert_eq!(requested_bytes(Some("other=1")), Some(0));
    }
}
