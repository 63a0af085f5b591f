//! Path-loss evaluations per second for each propagation model, on seeded synthetic paths.
//!
//! Empirical models are timed over 1000 distances (1–30 km); the terrain model over 64 seeded
//! rolling-terrain profiles of 10 km at 30 m spacing (334 samples) and 30 km at 30 m (1001),
//! with Deygout and Epstein-Peterson. Throughput is reported as elements (= evaluations) per
//! second. Profile extraction from the DEM is not included (see the coverage benchmark).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use planner::coverage::antenna::{elevation_angle_deg, AntennaPattern};
use planner::coverage::budget::BudgetConfig;
use planner::coverage::propagation::{build_model, DiffractionMethod, Link, ModelConfig};

/// Deterministic pseudo-random numbers in [0, 1) (SplitMix64), so runs are comparable.
struct SplitMix(u64);

impl SplitMix {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Rolling terrain: a few sinusoidal ridges plus noise, 200–600 m.
fn profile(rng: &mut SplitMix, n: usize) -> Vec<f64> {
    let waves: Vec<(f64, f64, f64)> = (0..4)
        .map(|_| {
            (
                20.0 + 80.0 * rng.next_f64(),
                1.0 + 6.0 * rng.next_f64(),
                std::f64::consts::TAU * rng.next_f64(),
            )
        })
        .collect();
    (0..n)
        .map(|i| {
            let t = i as f64 / n as f64;
            400.0
                + waves
                    .iter()
                    .map(|(a, f, p)| a * (std::f64::consts::TAU * f * t + p).sin())
                    .sum::<f64>()
                + 5.0 * rng.next_f64()
        })
        .collect()
}

fn empirical(c: &mut Criterion) {
    let mut g = c.benchmark_group("propagation/empirical");
    let distances: Vec<f64> = (0..1000).map(|i| 1000.0 + 29.0 * i as f64).collect();
    g.throughput(Throughput::Elements(distances.len() as u64));
    for (name, freq) in [
        ("free_space", 900.0),
        ("hata_urban_small", 900.0),
        ("hata_open", 900.0),
        ("cost231_metropolitan", 1800.0),
    ] {
        let model = build_model(&ModelConfig::from_name(name)).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut acc = 0.0;
                for &d in &distances {
                    let l = Link {
                        freq_mhz: freq,
                        distance_m: d,
                        tx_height_m: 30.0,
                        rx_height_m: 1.5,
                        profile_m: None,
                    };
                    acc += model.path_loss(black_box(&l)).unwrap().loss_db;
                }
                acc
            })
        });
    }
    g.finish();
}

fn terrain(c: &mut Criterion) {
    let mut g = c.benchmark_group("propagation/terrain");
    let mut rng = SplitMix(42);
    for (distance_m, n) in [(10_000.0, 334usize), (30_000.0, 1001)] {
        let profiles: Vec<Vec<f64>> = (0..64).map(|_| profile(&mut rng, n)).collect();
        g.throughput(Throughput::Elements(profiles.len() as u64));
        for method in [
            DiffractionMethod::Deygout,
            DiffractionMethod::EpsteinPeterson,
        ] {
            let cfg = ModelConfig {
                diffraction: method,
                ..ModelConfig::from_name("terrain")
            };
            let model = build_model(&cfg).unwrap();
            g.bench_with_input(
                BenchmarkId::new(method.as_str(), n),
                &profiles,
                |b, profiles| {
                    b.iter(|| {
                        let mut acc = 0.0;
                        for p in profiles {
                            let l = Link {
                                freq_mhz: 900.0,
                                distance_m,
                                tx_height_m: 30.0,
                                rx_height_m: 1.5,
                                profile_m: Some(p),
                            };
                            acc += model.path_loss(black_box(&l)).unwrap().loss_db;
                        }
                        acc
                    })
                },
            );
        }
    }
    g.finish();
}

fn budget(c: &mut Criterion) {
    let mut g = c.benchmark_group("propagation/budget");
    let pattern = AntennaPattern::sector(120.0, 65.0, 4.0).unwrap();
    let budget = BudgetConfig::default();
    let bearings: Vec<f64> = (0..1000).map(|i| i as f64 * 0.36).collect();
    g.throughput(Throughput::Elements(bearings.len() as u64));
    g.bench_function("pattern_and_received_4g", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for &brg in &bearings {
                let elev = elevation_angle_deg(430.0, 401.5, 5000.0, 4.0 / 3.0);
                let gain = pattern.gain_db(black_box(brg), elev);
                acc += budget.received_dbm(geodata::Technology::G4, 60.0, gain, 130.0);
            }
            acc
        })
    });
    g.finish();
}

criterion_group!(benches, empirical, terrain, budget);
criterion_main!(benches);
