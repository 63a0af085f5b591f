//! The ndt7 protocol (M-Lab's `spec/ndt7-protocol.md`, v0.9): constants, the JSON measurement
//! message and the Locate API v2 answer, shared by the server (`serve::ndt7`) and the
//! client (`probers::ndt7`).
//!
//! A subtest is one WebSocket connection with subprotocol [`SUBPROTOCOL`] to
//! [`DOWNLOAD_PATH`] or [`UPLOAD_PATH`]. The sender fills the connection with binary messages
//! for at most [`MAX_RUNTIME`]; the side that has measurements sends them as text messages no
//! more often than every [`MIN_MEASUREMENT_INTERVAL`]. Field names and units are the spec's:
//! times in microseconds (`ElapsedTime`, `RTT`, `MinRTT`, …), bytes as counted by the kernel or
//! the application, BBR bandwidth in bytes per second.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The WebSocket subprotocol that identifies ndt7.
pub const SUBPROTOCOL: &str = "net.measurementlab.ndt.v7";
/// Path of the download subtest.
pub const DOWNLOAD_PATH: &str = "/ndt/v7/download";
/// Path of the upload subtest.
pub const UPLOAD_PATH: &str = "/ndt/v7/upload";
/// The sender stops sending after this long.
pub const MAX_RUNTIME: Duration = Duration::from_secs(10);
/// A receiver may give up on a subtest older than this.
pub const RECEIVER_TIMEOUT: Duration = Duration::from_secs(15);
/// Measurements are not sent more often than this.
pub const MIN_MEASUREMENT_INTERVAL: Duration = Duration::from_millis(250);
/// Largest WebSocket message either side accepts (the spec's floor for this limit).
pub const MAX_MESSAGE_BYTES: usize = 1 << 24;
/// Size of the first binary message; later ones grow (see [`next_message_bytes`]).
pub const INITIAL_MESSAGE_BYTES: usize = 1 << 13;
/// Longest query string a server accepts.
pub const MAX_QUERY_BYTES: usize = 4096;
/// The Locate API v2 path that names the nearest ndt7 servers.
pub const LOCATE_PATH: &str = "v2/nearest/ndt/ndt7";
/// M-Lab's Locate API (the default base URL of discovery).
pub const DEFAULT_LOCATE_URL: &str = "https://locate.measurementlab.net/";

/// The size of the next binary message: doubled while it is at most 1/16 of the bytes sent so
/// far (so one message never takes more than about 1/16 of the elapsed time on the link) and
/// never above `max`.
pub fn next_message_bytes(current: usize, total_sent: u64, max: usize) -> usize {
    if current < max && (current as u64) * 16 <= total_sent {
        (current * 2).min(max)
    } else {
        current
    }
}

/// Which subtest a connection runs (the `Test` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Subtest {
    /// Server → client.
    Download,
    /// Client → server.
    Upload,
}

impl Subtest {
    /// The `Test` value and the label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Subtest::Download => "download",
            Subtest::Upload => "upload",
        }
    }

    /// The URL path of the subtest.
    pub fn path(self) -> &'static str {
        match self {
            Subtest::Download => DOWNLOAD_PATH,
            Subtest::Upload => UPLOAD_PATH,
        }
    }
}

/// Who took a measurement (the `Origin` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The client.
    Client,
    /// The server.
    Server,
}

/// Application-level progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AppInfo {
    /// Microseconds since the subtest began.
    #[serde(rename = "ElapsedTime")]
    pub elapsed_time_us: i64,
    /// Application payload bytes sent or received since the subtest began (no WebSocket, TLS
    /// or TCP/IP overhead).
    #[serde(rename = "NumBytes")]
    pub num_bytes: i64,
}

/// The connection's endpoints and the server's identifier of the measurement.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionInfo {
    /// Client address as the server saw it (`ip:port`, IPv6 in brackets).
    #[serde(rename = "Client")]
    pub client: String,
    /// Server address (`ip:port`).
    #[serde(rename = "Server")]
    pub server: String,
    /// Unique identifier of the measurement.
    #[serde(rename = "UUID")]
    pub uuid: String,
}

/// BBR's state (`TCP_CC_INFO`), as the spec names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BbrInfo {
    /// Max-filtered bandwidth estimate, bytes per second.
    #[serde(rename = "BW")]
    pub bw_bytes_per_second: i64,
    /// Min-filtered RTT, µs.
    #[serde(rename = "MinRTT")]
    pub min_rtt_us: i64,
    /// Pacing gain, fixed point with 8 fractional bits.
    #[serde(rename = "PacingGain")]
    pub pacing_gain: i64,
    /// Congestion-window gain, fixed point with 8 fractional bits.
    #[serde(rename = "CwndGain")]
    pub cwnd_gain: i64,
    /// Microseconds since the subtest began.
    #[serde(rename = "ElapsedTime")]
    pub elapsed_time_us: i64,
}

/// `TCP_INFO` of the sender's or receiver's socket, named like Linux's `struct tcp_info`
/// without the `tcpi_` prefix in the spec's CamelCase. Fields the kernel does not provide are
/// left out of the JSON (and any field a peer omits is `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TcpInfo {
    /// TCP state (1 = ESTABLISHED).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<i64>,
    /// Smoothed RTT, µs.
    #[serde(rename = "RTT", skip_serializing_if = "Option::is_none")]
    pub rtt_us: Option<i64>,
    /// RTT variation, µs.
    #[serde(rename = "RTTVar", skip_serializing_if = "Option::is_none")]
    pub rtt_var_us: Option<i64>,
    /// Sender MSS, bytes.
    #[serde(rename = "SndMSS", skip_serializing_if = "Option::is_none")]
    pub snd_mss: Option<i64>,
    /// Congestion window, segments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snd_cwnd: Option<i64>,
    /// Retransmitted segments over the connection's life.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_retrans: Option<i64>,
    /// Pacing rate, bytes per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pacing_rate: Option<i64>,
    /// Bytes the peer acknowledged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_acked: Option<i64>,
    /// Bytes received in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_received: Option<i64>,
    /// Lowest RTT seen on the connection, µs.
    #[serde(rename = "MinRTT", skip_serializing_if = "Option::is_none")]
    pub min_rtt_us: Option<i64>,
    /// Delivery rate estimate, bytes per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_rate: Option<i64>,
    /// Time with data in flight, µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busy_time: Option<i64>,
    /// Time limited by the receive window, µs.
    #[serde(rename = "RWndLimited", skip_serializing_if = "Option::is_none")]
    pub rwnd_limited: Option<i64>,
    /// Time limited by the send buffer, µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snd_buf_limited: Option<i64>,
    /// Bytes transmitted, retransmissions included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_sent: Option<i64>,
    /// Bytes retransmitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_retrans: Option<i64>,
    /// Microseconds since the subtest began.
    #[serde(rename = "ElapsedTime", skip_serializing_if = "Option::is_none")]
    pub elapsed_time_us: Option<i64>,
}

impl TcpInfo {
    /// The spec's view of the kernel reading `k`, taken `elapsed_us` into the subtest.
    pub fn from_kernel(k: &crate::tcp_info::TcpInfo, elapsed_us: i64) -> Self {
        let i = |v: u32| Some(v as i64);
        let o = |v: Option<u64>| v.map(|v| v.min(i64::MAX as u64) as i64);
        TcpInfo {
            state: Some(k.state as i64),
            rtt_us: i(k.rtt_us),
            rtt_var_us: i(k.rtt_var_us),
            snd_mss: i(k.snd_mss),
            snd_cwnd: i(k.snd_cwnd),
            total_retrans: i(k.total_retrans),
            pacing_rate: None,
            bytes_acked: o(k.bytes_acked),
            bytes_received: o(k.bytes_received),
            min_rtt_us: k.min_rtt_us.map(|v| v as i64),
            delivery_rate: o(k.delivery_rate),
            busy_time: o(k.busy_time_us),
            rwnd_limited: o(k.rwnd_limited_us),
            snd_buf_limited: o(k.sndbuf_limited_us),
            bytes_sent: o(k.bytes_sent),
            bytes_retrans: o(k.bytes_retrans),
            elapsed_time_us: Some(elapsed_us),
        }
    }
}

/// One measurement message (a WebSocket text message). Every part is optional on the wire;
/// a server sends `ConnectionInfo` at least in its first message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Measurement {
    /// Application-level progress.
    #[serde(rename = "AppInfo", skip_serializing_if = "Option::is_none")]
    pub app_info: Option<AppInfo>,
    /// Endpoints and measurement identifier.
    #[serde(rename = "ConnectionInfo", skip_serializing_if = "Option::is_none")]
    pub connection_info: Option<ConnectionInfo>,
    /// BBR's state, where the connection uses BBR.
    #[serde(rename = "BBRInfo", skip_serializing_if = "Option::is_none")]
    pub bbr_info: Option<BbrInfo>,
    /// Who measured.
    #[serde(rename = "Origin", skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// Which subtest.
    #[serde(rename = "Test", skip_serializing_if = "Option::is_none")]
    pub test: Option<Subtest>,
    /// The measuring side's `TCP_INFO`.
    #[serde(rename = "TCPInfo", skip_serializing_if = "Option::is_none")]
    pub tcp_info: Option<TcpInfo>,
}

/// The Locate API v2 answer to `GET /v2/nearest/ndt/ndt7`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LocateResponse {
    /// Nearest servers first; empty or missing when M-Lab is out of capacity.
    #[serde(default)]
    pub results: Vec<LocateResult>,
}

/// One server of a Locate answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LocateResult {
    /// Machine name.
    #[serde(default)]
    pub machine: String,
    /// Where it is.
    #[serde(default)]
    pub location: BTreeMap<String, String>,
    /// Ready-to-use URLs (with access tokens) keyed by scheme and path, e.g.
    /// `wss:///ndt/v7/download`.
    #[serde(default)]
    pub urls: BTreeMap<String, String>,
}

impl LocateResult {
    /// The URL of `test`, preferring `wss` (`ws` only when `allow_plain`). Used exactly as
    /// returned: the access token in the query string is the server's admission ticket.
    pub fn url(&self, test: Subtest, allow_plain: bool) -> Option<&str> {
        let key = |scheme: &str| format!("{scheme}://{}", test.path());
        self.urls
            .get(&key("wss"))
            .or_else(|| {
                if allow_plain {
                    self.urls.get(&key("ws"))
                } else {
                    None
                }
            })
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_sizes_grow_to_the_cap() {
        let mut size = INITIAL_MESSAGE_BYTES;
        let mut sent = 0u64;
        for _ in 0..10_000 {
            sent += size as u64;
            size = next_message_bytes(size, sent, 1 << 20);
            assert!(size as u64 <= sent.max(INITIAL_MESSAGE_BYTES as u64));
        }
        assert_eq!(size, 1 << 20);
        assert_eq!(next_message_bytes(8192, 8192 * 15, 1 << 20), 8192);
        assert_eq!(next_message_bytes(8192, 8192 * 16, 1 << 20), 16384);
    }

    #[test]
    fn measurement_field_names_are_the_specs() {
        let m = Measurement {
            app_info: Some(AppInfo {
                elapsed_time_us: 1_000_000,
                num_bytes: 42,
            }),
            connection_info: Some(ConnectionInfo {
                client: "127.0.0.1:1".into(),
                server: "127.0.0.1:2".into(),
                uuid: "u".into(),
            }),
            bbr_info: Some(BbrInfo::default()),
            origin: Some(Origin::Server),
            test: Some(Subtest::Download),
            tcp_info: Some(TcpInfo {
                min_rtt_us: Some(5),
                rtt_us: Some(6),
                rtt_var_us: Some(1),
                bytes_acked: Some(9),
                rwnd_limited: Some(0),
                elapsed_time_us: Some(7),
                ..TcpInfo::default()
            }),
        };
        let v: serde_json::Value = serde_json::to_value(&m).unwrap();
        assert_eq!(v["AppInfo"]["ElapsedTime"], 1_000_000);
        assert_eq!(v["AppInfo"]["NumBytes"], 42);
        assert_eq!(v["ConnectionInfo"]["UUID"], "u");
        for k in ["BW", "MinRTT", "PacingGain", "CwndGain", "ElapsedTime"] {
            assert!(v["BBRInfo"].get(k).is_some(), "{k}");
        }
        assert_eq!(v["Origin"], "server");
        assert_eq!(v["Test"], "download");
        for k in [
            "MinRTT",
            "RTT",
            "RTTVar",
            "BytesAcked",
            "RWndLimited",
            "ElapsedTime",
        ] {
            assert!(v["TCPInfo"].get(k).is_some(), "{k}: {v}");
        }
        assert!(v["TCPInfo"].get("BytesReceived").is_none());
        let back: Measurement = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn locate_urls_prefer_tls() {
        let r: LocateResponse = serde_json::from_str(
            r#"{"results":[{"machine":"m","location":{"city":"X","country":"UZ"},"urls":{
              "ws:///ndt/v7/download":"ws://a/ndt/v7/download?access_token=1",
              "wss:///ndt/v7/download":"wss://a/ndt/v7/download?access_token=2"}}]}"#,
        )
        .unwrap();
        let first = &r.results[0];
        assert_eq!(
            first.url(Subtest::Download, true),
            Some("wss://a/ndt/v7/download?access_token=2")
        );
        assert_eq!(first.url(Subtest::Upload, true), None);
        let empty: LocateResponse = serde_json::from_str("{}").unwrap();
        assert!(empty.results.is_empty());
    }
}
