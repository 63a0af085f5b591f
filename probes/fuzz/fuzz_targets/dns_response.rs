//! Whatever a DNS server (or an attacker racing it) sends, decoding yields an answer or
//! nothing; never a panic, never an address from a non-response.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(a) = probes::dns::decode_answer(data) {
        assert!(data.len() >= 12);
        assert_eq!(a.id, u16::from_be_bytes([data[0], data[1]]));
        assert!(data[2] & 0x80 != 0, "decoded a query as a response");
    }
});
