//! The remote-write encoder (`probes::remote_write::encode_batch`) round-trips any batch:
//! snappy-decompressing and protobuf-decoding the body gives back exactly the label sets and
//! samples given (value bits and timestamps), one series per label set in order of first
//! appearance, each series' samples in queue order. Label names and values are any strings
//! (empty ones included), values any f64 (NaNs with payloads, the staleness marker, -0.0,
//! which is sent as +0.0 as proto3 cannot tell them apart), timestamps any i64.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use probes::remote_write::{encode_batch, WriteRequest, STALE_NAN_BITS};
use prost::Message;

type Labels = Vec<(String, String)>;

fn batch(u: &mut Unstructured<'_>) -> Result<(Vec<Labels>, Vec<(usize, f64, i64)>)> {
    // Label sets are interned in the queue (one allocation per distinct set), and the encoder
    // groups by that identity: give it distinct sets, as the queue does.
    let mut sets: Vec<Labels> = Vec::new();
    for _ in 0..u.int_in_range(1..=6)? {
        let mut labels = Labels::new();
        for _ in 0..u.int_in_range(0..=5)? {
            labels.push((u.arbitrary()?, u.arbitrary()?));
        }
        if !sets.contains(&labels) {
            sets.push(labels);
        }
    }
    let mut samples = Vec::new();
    while !u.is_empty() && samples.len() < 10_000 {
        let series = u.choose_index(sets.len())?;
        let value = match u.int_in_range(0u8..=7)? {
            0 => f64::from_bits(STALE_NAN_BITS),
            1 => -0.0,
            2 => 0.0,
            3 => f64::NAN,
            _ => f64::from_bits(u.arbitrary()?),
        };
        samples.push((series, value, u.arbitrary()?));
    }
    Ok((sets, samples))
}

fuzz_target!(|data: &[u8]| {
    let Ok((sets, samples)) = batch(&mut Unstructured::new(data)) else {
        return;
    };
    let body = encode_batch(samples.iter().map(|(s, v, t)| (&sets[*s][..], *v, *t)));
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&body)
        .expect("valid snappy");
    let req = WriteRequest::decode(&raw[..]).expect("valid protobuf");

    let mut order: Vec<usize> = Vec::new();
    for (s, _, _) in &samples {
        if !order.contains(s) {
            order.push(*s);
        }
    }
    assert_eq!(
        req.timeseries.len(),
        order.len(),
        "one series per label set"
    );
    for (ts, &k) in req.timeseries.iter().zip(&order) {
        let labels: Labels = ts
            .labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect();
        assert_eq!(labels, sets[k], "labels of series {k}");
        let want: Vec<(u64, i64)> = samples
            .iter()
            .filter(|(s, _, _)| *s == k)
            .map(|(_, v, t)| (if *v == 0.0 { 0 } else { v.to_bits() }, *t))
            .collect();
        let got: Vec<(u64, i64)> = ts
            .samples
            .iter()
            .map(|s| (s.value.to_bits(), s.timestamp))
            .collect();
        assert_eq!(got, want, "samples of series {k}");
    }
    // Encoding is deterministic: the same batch gives the same body.
    let again = encode_batch(samples.iter().map(|(s, v, t)| (&sets[*s][..], *v, *t)));
    assert_eq!(again, body);
});
