//! Minimal DNS stub client (RFC 1035 A/AAAA over UDP) so lookups can be timed against a chosen
//! server rather than whatever the system resolver caches.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;

/// DNS lookup failures.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The name is not a valid DNS name.
    #[error("\"{0}\" is not a valid DNS name")]
    BadName(String),
    /// No answer in time.
    #[error("no answer from DNS server {0} in time")]
    Timeout(SocketAddr),
    /// Socket error.
    #[error("DNS server {server}: {source}")]
    Io {
        /// Server queried.
        server: SocketAddr,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The server answered with an error code.
    #[error("DNS server {server} answered {rcode} for {name}")]
    Rcode {
        /// Server queried.
        server: SocketAddr,
        /// Queried name.
        name: String,
        /// Response code name.
        rcode: &'static str,
    },
    /// The answer could not be parsed.
    #[error("malformed DNS answer from {0}")]
    Malformed(SocketAddr),
}

/// Encode a query for `name` with record type `qtype` (1 = A, 28 = AAAA).
pub fn encode_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, DnsError> {
    let mut m = Vec::with_capacity(32 + name.len());
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&0x0100u16.to_be_bytes()); // standard query, recursion desired
    m.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    let trimmed = name.trim_end_matches('.');
    if trimmed.is_empty() || trimmed.len() > 253 {
        return Err(DnsError::BadName(name.into()));
    }
    for label in trimmed.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(DnsError::BadName(name.into()));
        }
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    Ok(m)
}

fn skip_name(msg: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let len = *msg.get(i)? as usize;
        if len & 0xC0 == 0xC0 {
            return Some(i + 2);
        }
        if len == 0 {
            return Some(i + 1);
        }
        i += 1 + len;
    }
}

/// Parsed answer: response code and the addresses in the answer section.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    /// Response id.
    pub id: u16,
    /// RCODE (0 = NOERROR, 3 = NXDOMAIN).
    pub rcode: u8,
    /// A/AAAA records.
    pub addrs: Vec<IpAddr>,
}

/// Decode a DNS response.
pub fn decode_answer(msg: &[u8]) -> Option<Answer> {
    if msg.len() < 12 {
        return None;
    }
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    if msg[2] & 0x80 == 0 {
        return None; // not a response
    }
    let rcode = msg[3] & 0x0F;
    let qd = u16::from_be_bytes([msg[4], msg[5]]) as usize;
    let an = u16::from_be_bytes([msg[6], msg[7]]) as usize;
    let mut i = 12;
    for _ in 0..qd {
        i = skip_name(msg, i)? + 4;
    }
    let mut addrs = Vec::new();
    for _ in 0..an {
        i = skip_name(msg, i)?;
        let h = msg.get(i..i + 10)?;
        let rtype = u16::from_be_bytes([h[0], h[1]]);
        let rdlen = u16::from_be_bytes([h[8], h[9]]) as usize;
        let data = msg.get(i + 10..i + 10 + rdlen)?;
        match (rtype, rdlen) {
            (1, 4) => addrs.push(IpAddr::V4(Ipv4Addr::new(
                data[0], data[1], data[2], data[3],
            ))),
            (28, 16) => {
                let mut b = [0u8; 16];
                b.copy_from_slice(data);
                addrs.push(IpAddr::V6(Ipv6Addr::from(b)));
            }
            _ => {}
        }
        i += 10 + rdlen;
    }
    Some(Answer { id, rcode, addrs })
}

fn rcode_name(r: u8) -> &'static str {
    match r {
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "an error code",
    }
}

async fn query(
    server: SocketAddr,
    name: &str,
    qtype: u16,
    timeout: Duration,
) -> Result<Vec<IpAddr>, DnsError> {
    let io = |source| DnsError::Io { server, source };
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let sock = UdpSocket::bind(bind).await.map_err(io)?;
    sock.connect(server).await.map_err(io)?;
    let id: u16 = rand::random();
    let q = encode_query(id, name, qtype)?;
    sock.send(&q).await.map_err(io)?;
    let mut buf = vec![0u8; 1500];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let n = match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
            Err(_) => return Err(DnsError::Timeout(server)),
            Ok(r) => r.map_err(io)?,
        };
        let Some(ans) = decode_answer(&buf[..n]) else {
            return Err(DnsError::Malformed(server));
        };
        if ans.id != id {
            continue; // stale or spoofed answer
        }
        if ans.rcode != 0 {
            return Err(DnsError::Rcode {
                server,
                name: name.into(),
                rcode: rcode_name(ans.rcode),
            });
        }
        return Ok(ans.addrs);
    }
}

/// Resolve `name` (A, then AAAA if there is no A record) at `server`.
pub async fn resolve(
    server: SocketAddr,
    name: &str,
    timeout: Duration,
) -> Result<Vec<IpAddr>, DnsError> {
    let v4 = query(server, name, 1, timeout).await?;
    if !v4.is_empty() {
        return Ok(v4);
    }
    query(server, name, 28, timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trips_through_answer_parser() {
        let mut q = encode_query(0x1234, "probe.example", 1).unwrap();
        // Turn the query into a response with one compressed A answer.
        q[2] |= 0x80;
        q[7] = 1;
        q.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
        let a = decode_answer(&q).unwrap();
        assert_eq!(a.id, 0x1234);
        assert_eq!(a.rcode, 0);
        assert_eq!(a.addrs, vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        assert!(encode_query(1, "a..b", 1).is_err());
    }
}
