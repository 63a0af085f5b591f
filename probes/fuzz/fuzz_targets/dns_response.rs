//! Whatever a DNS server (or an attacker racing it) sends, `probes::dns::decode_answer` yields
//! an answer or nothing; never a panic, never an answer from a non-response, and what it
//! reports is what the header says (id, TC bit, RCODE, at most ANCOUNT addresses).
//!
//! The first input byte also picks a second check: the rest, read as a host name, either is
//! refused by `encode_query` or gives a query that the decoder does not take for an answer and
//! that, with the QR bit set, reads back as an empty NOERROR answer with the same id.
#![no_main]

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use libfuzzer_sys::fuzz_target;
use probes::dns::{decode_answer, encode_query};

fuzz_target!(|data: &[u8]| {
    if let Some(a) = decode_answer(data) {
        assert!(data.len() >= 12);
        assert_eq!(a.id, u16::from_be_bytes([data[0], data[1]]));
        assert!(data[2] & 0x80 != 0, "decoded a query as a response");
        assert_eq!(a.truncated, data[2] & 0x02 != 0, "TC bit");
        assert_eq!(
            u16::from(a.rcode) & 0x0F,
            u16::from(data[3] & 0x0F),
            "RCODE"
        );
        let ancount = u16::from_be_bytes([data[6], data[7]]) as usize;
        assert!(
            a.addrs.len() <= ancount,
            "{} addresses, ANCOUNT {ancount}",
            a.addrs.len()
        );
    }

    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Ok(name) = std::str::from_utf8(rest) else {
        return;
    };
    let id = u16::from(sel) * 257;
    let qtype = if sel & 1 == 0 {
        RecordType::A
    } else {
        RecordType::AAAA
    };
    if let Ok(mut q) = encode_query(id, name, qtype) {
        assert!(q.len() >= 12 + 5 && q.len() <= 512, "{} bytes", q.len());
        assert_eq!(u16::from_be_bytes([q[0], q[1]]), id);
        assert!(decode_answer(&q).is_none(), "a query read as an answer");
        q[2] |= 0x80;
        let a = decode_answer(&q).expect("our query, as a response");
        assert_eq!(a.id, id);
        assert_eq!(a.rcode, ResponseCode::NoError);
        assert!(!a.truncated && a.addrs.is_empty());
    }
});
