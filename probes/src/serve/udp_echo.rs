//! The UDP echo behind the loss test: datagrams starting with [`UDP_MAGIC`], at most
//! [`UDP_MAX_BYTES`], are sent back unchanged to their sender (never larger, so no
//! amplification), globally rate-limited.

use std::time::Instant;

use tokio::net::UdpSocket;

use super::pacing::Bucket;
use crate::protocol::{UDP_MAGIC, UDP_MAX_BYTES};

/// Echo until the socket fails for good (the task is aborted at shutdown).
pub async fn run(sock: UdpSocket, rate_per_s: f64) {
    let mut buf = vec![0u8; 2048];
    let mut bucket = Bucket::full(rate_per_s, Instant::now());
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(v) => v,
            Err(e) => {
                // ICMP errors from earlier sends surface here; keep serving.
                tracing::debug!("udp echo recv: {e}");
                continue;
            }
        };
        if n < UDP_MAGIC.len() || n > UDP_MAX_BYTES || &buf[..4] != UDP_MAGIC {
            continue;
        }
        if !bucket.take(rate_per_s, rate_per_s, Instant::now()) {
            continue;
        }
        let _ = sock.send_to(&buf[..n], from).await;
    }
}
