//! DNS stub client (A/AAAA) over UDP, falling back to TCP when the answer is truncated (TC
//! bit), so lookups can be timed against a chosen server rather than whatever the system
//! resolver caches. Messages are built and parsed by hickory-proto.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

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
    #[error("DNS server {server}")]
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
        rcode: String,
    },
    /// The answer could not be parsed.
    #[error("malformed DNS answer from {0}")]
    Malformed(SocketAddr),
    /// The answer was truncated even over TCP.
    #[error("DNS server {0} truncated its answer even over TCP")]
    Truncated(SocketAddr),
}

/// Encode a query for `name` with record type `qtype` (A or AAAA), recursion desired.
pub fn encode_query(id: u16, name: &str, qtype: RecordType) -> Result<Vec<u8>, DnsError> {
    let trimmed = name.trim_end_matches('.');
    let bad = || DnsError::BadName(name.into());
    if trimmed.is_empty() || trimmed.split('.').any(str::is_empty) {
        return Err(bad());
    }
    let fqdn = Name::from_ascii(format!("{trimmed}.")).map_err(|_| bad())?;
    let mut m = Message::new();
    m.set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(fqdn, qtype));
    m.to_vec().map_err(|_| bad())
}

/// Parsed answer: id, response code, truncation and the addresses in the answer section.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    /// Response id.
    pub id: u16,
    /// Response code.
    pub rcode: ResponseCode,
    /// TC bit: the answer did not fit the datagram; ask again over TCP.
    pub truncated: bool,
    /// A/AAAA records.
    pub addrs: Vec<IpAddr>,
}

/// Decode a DNS response; `None` if it is not a well-formed response.
pub fn decode_answer(msg: &[u8]) -> Option<Answer> {
    let m = Message::from_vec(msg).ok()?;
    if m.message_type() != MessageType::Response {
        return None;
    }
    let addrs = m
        .answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect();
    Some(Answer {
        id: m.id(),
        rcode: m.response_code(),
        truncated: m.truncated(),
        addrs,
    })
}

fn checked(server: SocketAddr, name: &str, ans: Answer) -> Result<Vec<IpAddr>, DnsError> {
    if ans.rcode != ResponseCode::NoError {
        return Err(DnsError::Rcode {
            server,
            name: name.into(),
            rcode: match ans.rcode {
                ResponseCode::FormErr => "FORMERR".to_string(),
                ResponseCode::ServFail => "SERVFAIL".to_string(),
                ResponseCode::NXDomain => "NXDOMAIN".to_string(),
                ResponseCode::NotImp => "NOTIMP".to_string(),
                ResponseCode::Refused => "REFUSED".to_string(),
                other => format!("rcode {}", u16::from(other)),
            },
        });
    }
    Ok(ans.addrs)
}

async fn query_udp(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    deadline: tokio::time::Instant,
) -> Result<Answer, DnsError> {
    let io = |source| DnsError::Io { server, source };
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let sock = UdpSocket::bind(bind).await.map_err(io)?;
    sock.connect(server).await.map_err(io)?;
    sock.send(query).await.map_err(io)?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
            Err(_) => return Err(DnsError::Timeout(server)),
            Ok(r) => r.map_err(io)?,
        };
        match decode_answer(&buf[..n]) {
            // Stale or spoofed answers (another id) are ignored.
            Some(ans) if ans.id == id => return Ok(ans),
            Some(_) => continue,
            None => return Err(DnsError::Malformed(server)),
        }
    }
}

async fn query_tcp(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    deadline: tokio::time::Instant,
) -> Result<Answer, DnsError> {
    let io = |source| DnsError::Io { server, source };
    let exchange = async {
        let mut s = TcpStream::connect(server).await.map_err(io)?;
        let len = u16::try_from(query.len()).map_err(|_| DnsError::Malformed(server))?;
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(query);
        s.write_all(&framed).await.map_err(io)?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await.map_err(io)?;
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut buf).await.map_err(io)?;
        match decode_answer(&buf) {
            Some(ans) if ans.id == id => Ok(ans),
            _ => Err(DnsError::Malformed(server)),
        }
    };
    tokio::time::timeout_at(deadline, exchange)
        .await
        .unwrap_or(Err(DnsError::Timeout(server)))
}

async fn query(
    server: SocketAddr,
    name: &str,
    qtype: RecordType,
    timeout: Duration,
) -> Result<Vec<IpAddr>, DnsError> {
    let id: u16 = rand::random();
    let q = encode_query(id, name, qtype)?;
    let deadline = tokio::time::Instant::now() + timeout;
    let ans = query_udp(server, &q, id, deadline).await?;
    if !ans.truncated {
        return checked(server, name, ans);
    }
    // RFC 7766: a truncated UDP answer is retried over TCP.
    let ans = query_tcp(server, &q, id, deadline).await?;
    if ans.truncated {
        return Err(DnsError::Truncated(server));
    }
    checked(server, name, ans)
}

/// Resolve `name` (A, then AAAA if there is no A record) at `server`.
pub async fn resolve(
    server: SocketAddr,
    name: &str,
    timeout: Duration,
) -> Result<Vec<IpAddr>, DnsError> {
    let v4 = query(server, name, RecordType::A, timeout).await?;
    if !v4.is_empty() {
        return Ok(v4);
    }
    query(server, name, RecordType::AAAA, timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn query_round_trips_through_answer_parser() {
        let mut q = encode_query(0x1234, "probe.example", RecordType::A).unwrap();
        // Turn the query into a response with one compressed A answer.
        q[2] |= 0x80;
        q[7] = 1;
        q.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
        let a = decode_answer(&q).unwrap();
        assert_eq!(a.id, 0x1234);
        assert_eq!(a.rcode, ResponseCode::NoError);
        assert!(!a.truncated);
        assert_eq!(a.addrs, vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        q[2] |= 0x02; // TC
        assert!(decode_answer(&q).unwrap().truncated);
        assert!(encode_query(1, "a..b", RecordType::A).is_err());
        assert!(decode_answer(&[0; 5]).is_none());
    }
}
