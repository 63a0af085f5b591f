//! Wire formats shared by `probe serve` and its clients: the upload receipt, the `/info`
//! answer and the UDP echo datagram.

use serde::{Deserialize, Serialize};

/// Magic prefix of UDP echo datagrams.
pub const UDP_MAGIC: &[u8; 4] = b"PRBE";
/// Largest UDP datagram echoed.
pub const UDP_MAX_BYTES: usize = 512;
/// Upload receipt: bytes received and the receive timeline on the server's clock.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UploadReport {
    /// Body bytes received.
    pub bytes: u64,
    /// Server-clock time of the first body byte, seconds since server start.
    pub first_byte_s: f64,
    /// Server-clock time of the last body byte, seconds since server start.
    pub last_byte_s: f64,
    /// `(time_s, cumulative_bytes)` samples, at least every 50 ms while data flows.
    pub samples: Vec<(f64, u64)>,
}

/// `GET /info` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerInfo {
    /// Always `"probe"`.
    pub server: String,
    /// Server version.
    pub version: String,
    /// UDP echo port, if running.
    pub udp_echo_port: Option<u16>,
    /// Byte limit per request.
    pub max_bytes_per_request: u64,
}
