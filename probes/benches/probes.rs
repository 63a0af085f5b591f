//! Scrape cost and result post-processing: encoding `/metrics` for a large agent (50 targets ×
//! 6 tests, with failures) in both formats, and merging upload receipts into a receiver-side
//! rate.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use probes::metrics::Metrics;
use probes::probers::upload::receiver_rate;
use probes::probers::{Phase, ProbeOutput, TestKind};
use probes::reason::ProbeError;
use probes::runner::RunResult;
use probes::serve::UploadReport;
use probes::FailureReason;

fn filled_metrics() -> Metrics {
    let m = Metrics::new();
    for t in 0..50 {
        for (i, test) in TestKind::ALL.into_iter().enumerate() {
            let outcome = if (t + i) % 7 == 0 {
                Err(ProbeError::new(FailureReason::ALL[(t + i) % 12], "x"))
            } else {
                Ok(ProbeOutput {
                    download_bytes_per_second: Some(1.2e7 + t as f64),
                    upload_bytes_per_second: Some(3.1e6),
                    latency_min_seconds: Some(0.011),
                    latency_median_seconds: Some(0.013),
                    jitter_seconds: Some(0.0007),
                    tcp_connect_seconds: Some(0.012),
                    loaded_latency_seconds: Some(0.085),
                    responsiveness_rpm: Some(705.0),
                    packet_loss_ratio: Some(0.002),
                    dns_lookup_seconds: Some(0.004),
                    http_phases: vec![
                        (Phase::Dns, 0.004),
                        (Phase::Connect, 0.012),
                        (Phase::Ttfb, 0.02),
                    ],
                    ..Default::default()
                })
            };
            m.record(&RunResult {
                target: format!("target-{t}"),
                test,
                started_unix_seconds: 1.7e9,
                duration_seconds: 10.2,
                bytes_used: 123_456_789,
                outcome,
            });
        }
    }
    m
}

fn bench(c: &mut Criterion) {
    let m = filled_metrics();
    c.bench_function("encode_openmetrics_50_targets", |b| {
        b.iter(|| black_box(m.encode_openmetrics()))
    });
    c.bench_function("encode_text_50_targets", |b| {
        b.iter(|| black_box(m.encode_text()))
    });
    // Four streams of 15 s receipts sampled every 50 ms.
    let reports: Vec<UploadReport> = (0..4)
        .map(|s| UploadReport {
            bytes: 300 * 62_500,
            first_byte_s: 10.0 + s as f64 * 0.01,
            last_byte_s: 25.0,
            samples: (0..=300)
                .map(|i| (10.0 + i as f64 * 0.05, i as u64 * 62_500))
                .collect(),
        })
        .collect();
    c.bench_function("receiver_rate_4_streams_15s", |b| {
        b.iter(|| black_box(receiver_rate(black_box(&reports), 1.5)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
