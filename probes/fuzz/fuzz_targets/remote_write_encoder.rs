//! The remote-write encoder round-trips any batch: decompressing and decoding the body gives
//! back every sample of every series, grouped per series in queue order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use probes::remote_write::{encode_batch, WriteRequest};

fuzz_target!(|data: &[u8]| {
    // Bytes → up to 4 label sets and a sequence of (series, value, timestamp) samples.
    let mut sets: Vec<Vec<(String, String)>> = Vec::new();
    let mut it = data.chunks(8);
    let head = it.next().unwrap_or(&[]);
    let n_sets = (head.first().copied().unwrap_or(0) % 4) as usize + 1;
    for k in 0..n_sets {
        let name = String::from_utf8_lossy(head.get(1..).unwrap_or(&[])).to_string();
        sets.push(vec![
            ("__name__".into(), format!("m{k}")),
            ("l".into(), format!("{name}{k}")),
        ]);
    }
    let mut samples = Vec::new();
    for c in it {
        let mut b = [0u8; 8];
        b[..c.len()].copy_from_slice(c);
        let v = f64::from_le_bytes(b);
        let series = (b[0] as usize) % sets.len();
        let ts = i64::from_le_bytes(b).wrapping_shr(8);
        samples.push((series, v, ts));
    }
    let body = encode_batch(samples.iter().map(|(s, v, t)| (&sets[*s][..], *v, *t)));
    let raw = snap::raw::Decoder::new().decompress_vec(&body).expect("valid snappy");
    let req = WriteRequest::decode(&raw[..]).expect("valid protobuf");
    let total: usize = req.timeseries.iter().map(|t| t.samples.len()).sum();
    assert_eq!(total, samples.len());
    for ts in &req.timeseries {
        let labels: Vec<(String, String)> =
            ts.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
        let k = sets.iter().position(|s| *s == labels).expect("known label set");
        let mine: Vec<(u64, i64)> = samples
            .iter()
            .filter(|(s, _, _)| sets[*s] == sets[k])
            // -0.0 is sent as +0.0 (proto3 elides zero; same number to Prometheus).
            .map(|(_, v, t)| (if *v == 0.0 { 0 } else { v.to_bits() }, *t))
            .collect();
        let got: Vec<(u64, i64)> = ts.samples.iter().map(|s| (s.value.to_bits(), s.timestamp)).collect();
        assert_eq!(got, mine);
    }
});
