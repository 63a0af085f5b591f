//! Packet loss over the server's UDP echo: numbered datagrams at a fixed pace, loss = 1 −
//! distinct echoes / datagrams sent.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::UdpSocket;

use super::{ProbeContext, ProbeFuture, ProbeOutput, Prober, TestKind};
use crate::protocol::UDP_MAGIC;
use crate::reason::{FailureReason, ProbeError};

const DATAGRAM_BYTES: usize = 64;

/// The loss prober.
#[derive(Debug)]
pub struct LossProber;

impl Prober for LossProber {
    fn test(&self) -> TestKind {
        TestKind::Loss
    }

    fn probe<'a>(&'a self, ctx: &'a ProbeContext) -> ProbeFuture<'a> {
        Box::pin(run(ctx))
    }
}

async fn run(ctx: &ProbeContext) -> Result<ProbeOutput, ProbeError> {
    let s = &ctx.settings;
    let host = ctx.endpoints.host();
    let port = s.udp_port.unwrap_or_else(|| ctx.endpoints.port());
    let (addrs, _) = ctx.resolver.resolve(&host, port, s.connect_timeout).await?;
    let target: SocketAddr = addrs[0];
    let bind: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let sock = UdpSocket::bind(bind)
        .await
        .map_err(|e| ProbeError::from_io("binding UDP socket", &e))?;
    sock.connect(target)
        .await
        .map_err(|e| ProbeError::from_io(&format!("UDP to {target}"), &e))?;
    // A per-run nonce keeps echoes of an earlier run from being counted.
    let nonce: u32 = rand::random();
    let sent = s.packets;
    let mut seen: HashSet<u32> = HashSet::with_capacity(sent);
    let mut buf = [0u8; 1500];
    let mut pace = tokio::time::interval(s.packet_interval);
    let mut next = 0usize;
    let mut refused = false;
    let mut deadline: Option<tokio::time::Instant> = None;
    let start = Instant::now();
    loop {
        tokio::select! {
            _ = pace.tick(), if next < sent => {
                let mut d = [0u8; DATAGRAM_BYTES];
                d[..4].copy_from_slice(UDP_MAGIC);
                d[4..8].copy_from_slice(&nonce.to_be_bytes());
                d[8..12].copy_from_slice(&(next as u32).to_be_bytes());
                match sock.send(&d).await {
                    Ok(n) => ctx.add_bytes(n as u64),
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => refused = true,
                    Err(e) => return Err(ProbeError::from_io(&format!("UDP send to {target}"), &e)),
                }
                next += 1;
                if next == sent {
                    deadline = Some(tokio::time::Instant::now() + s.loss_wait);
                }
            }
            r = sock.recv(&mut buf) => match r {
                Ok(n) if n >= 12 && &buf[..4] == UDP_MAGIC && buf[4..8] == nonce.to_be_bytes() => {
                    ctx.add_bytes(n as u64);
                    let seq = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
                    if (seq as usize) < sent {
                        seen.insert(seq);
                    }
                    if seen.len() == sent {
                        break;
                    }
                }
                Ok(_) => {}
                // ICMP port unreachable from an earlier datagram.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => refused = true,
                Err(e) => return Err(ProbeError::from_io(&format!("UDP receive from {target}"), &e)),
            },
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => break,
        }
    }
    if seen.is_empty() {
        let reason = if refused {
            FailureReason::ConnectionRefused
        } else {
            FailureReason::Timeout
        };
        return Err(ProbeError::new(
            reason,
            format!(
                "no UDP echo from {target} for {sent} datagrams in {:.1} s (is `probe serve` running there with its UDP echo?)",
                start.elapsed().as_secs_f64()
            ),
        ));
    }
    Ok(ProbeOutput {
        packet_loss_ratio: Some(1.0 - seen.len() as f64 / sent as f64),
        ..Default::default()
    })
}
