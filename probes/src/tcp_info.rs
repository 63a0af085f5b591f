//! The kernel's view of one TCP connection (Linux `TCP_INFO` and, for BBR, `TCP_CC_INFO`).
//!
//! Used where a figure should come from the kernel rather than the application: the ndt7
//! server's measurement messages (RTT, min RTT, bytes acknowledged/received, busy and limited
//! times) and the transfer probers' byte counters ([`Meter`]: `tcpi_bytes_received`, payload
//! bytes that arrived, and `tcpi_bytes_acked`, payload bytes the peer acknowledged, the
//! counters ndt7 reports). Transfer figures come from them where the kernel has them (Linux ≥
//! 4.1): they count what crossed the link when it crossed it, however late a busy machine
//! schedules the reading application.
//!
//! `struct tcp_info` is a stable, append-only kernel ABI: a field's offset never changes and
//! newer kernels only add fields at the end. The reader therefore decodes the raw bytes by
//! offset and reports a field as `None` when the running kernel's struct is too short to hold
//! it, instead of mirroring the C struct (whose size differs between kernel versions).
//!
//! Only Linux has these options; elsewhere every read returns `Unsupported`.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

/// `TCP_INFO` figures of one socket. Times in microseconds, bytes as counted by TCP (payload
/// of TCP segments: application data plus TLS and WebSocket framing, no IP/TCP headers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// `tcpi_state` (1 = ESTABLISHED).
    pub state: u8,
    /// `tcpi_snd_mss`, bytes.
    pub snd_mss: u32,
    /// `tcpi_rtt`: smoothed RTT, µs.
    pub rtt_us: u32,
    /// `tcpi_rttvar`: RTT variation, µs.
    pub rtt_var_us: u32,
    /// `tcpi_snd_cwnd`, segments.
    pub snd_cwnd: u32,
    /// `tcpi_total_retrans`, segments.
    pub total_retrans: u32,
    /// `tcpi_bytes_acked` (Linux ≥ 4.1): bytes the peer acknowledged (the SYN, and a FIN,
    /// count as one byte each).
    pub bytes_acked: Option<u64>,
    /// `tcpi_bytes_received` (Linux ≥ 4.1): bytes received in order.
    pub bytes_received: Option<u64>,
    /// `tcpi_min_rtt` (Linux ≥ 4.6): lowest RTT seen on the connection, µs.
    pub min_rtt_us: Option<u32>,
    /// `tcpi_delivery_rate` (Linux ≥ 4.9), bytes/s.
    pub delivery_rate: Option<u64>,
    /// `tcpi_busy_time` (Linux ≥ 4.10): time with data in flight, µs.
    pub busy_time_us: Option<u64>,
    /// `tcpi_rwnd_limited` (Linux ≥ 4.10): time limited by the receive window, µs.
    pub rwnd_limited_us: Option<u64>,
    /// `tcpi_sndbuf_limited` (Linux ≥ 4.10): time limited by the send buffer, µs.
    pub sndbuf_limited_us: Option<u64>,
    /// `tcpi_bytes_sent` (Linux ≥ 4.19): bytes transmitted, retransmissions included.
    pub bytes_sent: Option<u64>,
    /// `tcpi_bytes_retrans` (Linux ≥ 4.19): bytes retransmitted.
    pub bytes_retrans: Option<u64>,
}

/// `TCP_CC_INFO` of a BBR connection (`struct tcp_bbr_info`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BbrInfo {
    /// Max-filtered bandwidth estimate, bytes/s.
    pub bw_bytes_per_second: u64,
    /// Min-filtered RTT, µs.
    pub min_rtt_us: u32,
    /// Pacing gain, fixed point with 8 fractional bits (256 = 1.0).
    pub pacing_gain: u32,
    /// Congestion-window gain, fixed point with 8 fractional bits.
    pub cwnd_gain: u32,
}

fn u8_at(b: &[u8], at: usize) -> Option<u8> {
    b.get(at).copied()
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_ne_bytes(s.try_into().expect("4 bytes")))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 8)
        .map(|s| u64::from_ne_bytes(s.try_into().expect("8 bytes")))
}

/// Decode the bytes the kernel returned for `TCP_INFO` (offsets of `struct tcp_info` in
/// `include/uapi/linux/tcp.h`). Needs at least the 104 bytes every kernel since 2.6 returns.
pub fn decode_tcp_info(b: &[u8]) -> Option<TcpInfo> {
    if b.len() < 104 {
        return None;
    }
    Some(TcpInfo {
        state: u8_at(b, 0)?,
        snd_mss: u32_at(b, 16)?,
        rtt_us: u32_at(b, 68)?,
        rtt_var_us: u32_at(b, 72)?,
        snd_cwnd: u32_at(b, 80)?,
        total_retrans: u32_at(b, 100)?,
        bytes_acked: u64_at(b, 120),
        bytes_received: u64_at(b, 128),
        min_rtt_us: u32_at(b, 148),
        delivery_rate: u64_at(b, 160),
        busy_time_us: u64_at(b, 168),
        rwnd_limited_us: u64_at(b, 176),
        sndbuf_limited_us: u64_at(b, 184),
        bytes_sent: u64_at(b, 200),
        bytes_retrans: u64_at(b, 208),
    })
}

/// Decode `struct tcp_bbr_info` (20 bytes: bandwidth low and high words, min RTT, gains).
pub fn decode_bbr_info(b: &[u8]) -> Option<BbrInfo> {
    let lo = u32_at(b, 0)? as u64;
    let hi = u32_at(b, 4)? as u64;
    Some(BbrInfo {
        bw_bytes_per_second: (hi << 32) | lo,
        min_rtt_us: u32_at(b, 8)?,
        pacing_gain: u32_at(b, 12)?,
        cwnd_gain: u32_at(b, 16)?,
    })
}

/// Read `TCP_INFO` of a connected TCP socket.
pub fn read(sock: &impl AsFd) -> io::Result<TcpInfo> {
    let mut buf = [0u8; 256];
    let n = sys::getsockopt(sock, libc::IPPROTO_TCP, libc::TCP_INFO, &mut buf)?;
    decode_tcp_info(&buf[..n]).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("TCP_INFO returned {n} bytes"),
        )
    })
}

/// Payload byte counters of one socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// Bytes the peer acknowledged (sent and delivered).
    pub bytes_acked: u64,
    /// Bytes received.
    pub bytes_received: u64,
}

/// A handle to read a socket's byte counters: a duplicate of its descriptor, so it stays
/// valid (and cannot be reused for another socket) for as long as the handle lives.
#[derive(Debug)]
pub struct Meter {
    fd: OwnedFd,
}

impl Meter {
    /// A meter of `sock`; `None` if the descriptor cannot be duplicated or the kernel has no
    /// byte counters in `TCP_INFO`.
    pub fn new(sock: &impl AsFd) -> Option<Meter> {
        let fd = sock.as_fd().try_clone_to_owned().ok()?;
        let m = Meter { fd };
        m.read()?;
        Some(m)
    }

    /// The counters now.
    pub fn read(&self) -> Option<Counters> {
        let i = read(&self.fd).ok()?;
        Some(Counters {
            bytes_acked: i.bytes_acked?,
            bytes_received: i.bytes_received?,
        })
    }
}

/// Read BBR's state of a connection; `Ok(None)` when the connection does not use BBR.
pub fn read_bbr(sock: &impl AsFd) -> io::Result<Option<BbrInfo>> {
    let mut cc = [0u8; 16];
    let n = sys::getsockopt(sock, libc::IPPROTO_TCP, libc::TCP_CONGESTION, &mut cc)?;
    let name = cc[..n].split(|b| *b == 0).next().unwrap_or(&[]);
    if name != b"bbr" {
        return Ok(None);
    }
    let mut buf = [0u8; 64];
    let n = sys::getsockopt(sock, libc::IPPROTO_TCP, libc::TCP_CC_INFO, &mut buf)?;
    Ok(decode_bbr_info(&buf[..n]))
}

/// Ask for BBR on this socket (M-Lab's servers do, where the kernel has it); fails harmlessly
/// with the kernel's error when BBR is not available.
pub fn enable_bbr(sock: &impl AsFd) -> io::Result<()> {
    sys::setsockopt(sock, libc::IPPROTO_TCP, libc::TCP_CONGESTION, b"bbr")
}

#[cfg(target_os = "linux")]
mod sys {
    //! The two system calls, the only unsafe code of the module.
    #![allow(unsafe_code)]

    use std::io;
    use std::os::fd::{AsFd, AsRawFd};

    pub fn getsockopt(
        sock: &impl AsFd,
        level: libc::c_int,
        name: libc::c_int,
        buf: &mut [u8],
    ) -> io::Result<usize> {
        let mut len = buf.len() as libc::socklen_t;
        // SAFETY: the fd is borrowed from a live socket for the duration of the call; the
        // kernel writes at most `len` bytes into `buf`, which is valid for that many, and
        // stores the written length in `len`.
        let r = unsafe {
            libc::getsockopt(
                sock.as_fd().as_raw_fd(),
                level,
                name,
                buf.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((len as usize).min(buf.len()))
    }

    pub fn setsockopt(
        sock: &impl AsFd,
        level: libc::c_int,
        name: libc::c_int,
        value: &[u8],
    ) -> io::Result<()> {
        // SAFETY: the fd is borrowed from a live socket; the kernel reads `value.len()` bytes
        // from a valid slice.
        let r = unsafe {
            libc::setsockopt(
                sock.as_fd().as_raw_fd(),
                level,
                name,
                value.as_ptr().cast(),
                value.len() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    use std::io;
    use std::os::fd::AsFd;

    pub fn getsockopt(_: &impl AsFd, _: i32, _: i32, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }

    pub fn setsockopt(_: &impl AsFd, _: i32, _: i32, _: &[u8]) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn short_buffers_leave_newer_fields_out() {
        assert_eq!(decode_tcp_info(&[0u8; 100]), None);
        let mut b = vec![0u8; 136];
        b[0] = 1;
        b[68..72].copy_from_slice(&1234u32.to_ne_bytes());
        b[120..128].copy_from_slice(&99u64.to_ne_bytes());
        let i = decode_tcp_info(&b).unwrap();
        assert_eq!((i.state, i.rtt_us, i.bytes_acked), (1, 1234, Some(99)));
        assert_eq!(i.bytes_received, Some(0));
        assert_eq!(i.min_rtt_us, None);
        assert_eq!(i.bytes_retrans, None);
        let mut bbr = vec![0u8; 20];
        bbr[0..4].copy_from_slice(&5u32.to_ne_bytes());
        bbr[4..8].copy_from_slice(&1u32.to_ne_bytes());
        bbr[12..16].copy_from_slice(&256u32.to_ne_bytes());
        let i = decode_bbr_info(&bbr).unwrap();
        assert_eq!(i.bw_bytes_per_second, (1 << 32) + 5);
        assert_eq!(i.pacing_gain, 256);
    }

    /// The offsets agree with the running kernel: after 1 MB over loopback the sender's
    /// `bytes_acked` and the receiver's `bytes_received` both count it (plus the SYN on the sender's side).
    #[cfg(target_os = "linux")]
    #[test]
    fn byte_counters_match_a_real_transfer() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut tx = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut rx, _) = l.accept().unwrap();
        let data = vec![7u8; 1_000_000];
        let reader = std::thread::spawn(move || {
            let mut got = vec![0u8; 1_000_000];
            rx.read_exact(&mut got).unwrap();
            let info = read(&rx).unwrap();
            (info, rx)
        });
        tx.write_all(&data).unwrap();
        let (rx_info, _rx) = reader.join().unwrap();
        // Acknowledgements may trail the reader by a moment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let tx_info = loop {
            let i = read(&tx).unwrap();
            if i.bytes_acked >= Some(1_000_001) || std::time::Instant::now() > deadline {
                break i;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        assert_eq!(rx_info.state, 1, "ESTABLISHED");
        assert_eq!(rx_info.bytes_received, Some(1_000_000));
        // The SYN is acknowledged too.
        assert_eq!(tx_info.bytes_acked, Some(1_000_001));
        if let Some(sent) = tx_info.bytes_sent {
            assert!(sent >= 1_000_000, "{sent}");
        }
        assert!(tx_info.min_rtt_us.is_some_and(|r| r > 0 && r < 1_000_000));
        assert!(tx_info.snd_mss > 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn meter_counts_payload_both_ways() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut tx = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut rx, _) = l.accept().unwrap();
        let (mt, mr) = (Meter::new(&tx).unwrap(), Meter::new(&rx).unwrap());
        assert_eq!(mr.read().unwrap().bytes_received, 0);
        let data = vec![7u8; 300_000];
        let writer = std::thread::spawn(move || tx.write_all(&data).map(|_| tx));
        let mut got = vec![0u8; 300_000];
        rx.read_exact(&mut got).unwrap();
        let _tx = writer.join().unwrap().unwrap();
        assert_eq!(mr.read().unwrap().bytes_received, 300_000);
        // ACKs may trail the reads by a moment.
        let t0 = std::time::Instant::now();
        while mt.read().unwrap().bytes_acked < 300_000 {
            assert!(t0.elapsed() < std::time::Duration::from_secs(5));
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // The SYN counts as one acknowledged byte on some kernels; rates take differences.
        assert!((300_000..=300_001).contains(&mt.read().unwrap().bytes_acked));
    }
}
