//! ITM evaluation speed: point-to-point over 30 km profiles at 1 km and 90 m steps (and NTIA's
//! real 28 km reference profile), through the raw function and the planner model; the same
//! including profile extraction from the embedded Uzbekistan DEM; and area mode.
//! Single-threaded, so the reported elements/s are evaluations per second per core.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use planner::coverage::propagation::itm::{
    area, point_to_point, AreaPath, Itm, ItmConfig, Profile, SitingCriteria,
};
use planner::coverage::propagation::{Link, PropagationModel};

const PATH_M: f64 = 30_000.0;

/// Deterministic hilly terrain (a few ridges plus seeded pseudo-random roughness), so runs are
/// comparable.
fn synthetic_profile(step_m: f64) -> Vec<f64> {
    let n = (PATH_M / step_m).round() as usize;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..=n)
        .map(|i| {
            let x = i as f64 * PATH_M / n as f64;
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let noise = ((seed >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 20.0;
            400.0 + 120.0 * (x / 4_100.0).sin() + 60.0 * (x / 1_300.0 + 1.0).sin() + noise
        })
        .collect()
}

/// NTIA reference profile 3 (280 intervals of ~100 m), from the test data.
fn ntia_profile() -> (Vec<f64>, f64) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/itm/pfls.csv");
    let text = std::fs::read_to_string(path).expect("tests/data/itm/pfls.csv");
    let row: Vec<f64> = text
        .lines()
        .nth(2)
        .expect("row 3")
        .split(',')
        .map(|v| v.trim().parse().expect("number"))
        .collect();
    (row[2..].to_vec(), row[0] * row[1])
}

fn bench_itm(c: &mut Criterion) {
    let config = ItmConfig::default();
    let params = config.params(30.0, 1.5, 900.0);
    let model = Itm::new(config).expect("default config is valid");

    let mut group = c.benchmark_group("itm_p2p");
    group.throughput(Throughput::Elements(1));
    let (real, real_d) = ntia_profile();
    let cases = [
        ("30km_1000m_step", synthetic_profile(1000.0), PATH_M),
        ("30km_90m_step", synthetic_profile(90.0), PATH_M),
        ("ntia_28km_100m_step", real, real_d),
    ];
    for (name, profile, d) in &cases {
        group.bench_with_input(
            BenchmarkId::new("function", format!("{name}_{}pts", profile.len())),
            profile,
            |b, p| {
                b.iter(|| {
                    point_to_point(black_box(&params), Profile::over_distance(black_box(p), *d))
                        .expect("valid")
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("model", format!("{name}_{}pts", profile.len())),
            profile,
            |b, p| {
                let link = Link {
                    freq_mhz: 900.0,
                    distance_m: *d,
                    tx_height_m: 30.0,
                    rx_height_m: 1.5,
                    profile_m: Some(p),
                };
                b.iter(|| model.path_loss(black_box(&link)).expect("valid"))
            },
        );
    }
    group.finish();

    // Profile extraction + ITM, as coverage does it: one reused buffer, bilinear DEM samples
    // along the great circle (30 km east-west in the hills east of Tashkent).
    let dem_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../geodata/data/uz/dem.tif");
    let dem = geodata::Dem::from_gdal(dem_path).expect("embedded DEM geodata/data/uz/dem.tif");
    let (from, to) = ((69.6, 41.6), (69.96, 41.6));
    let mut group = c.benchmark_group("itm_p2p_with_dem_profile");
    group.throughput(Throughput::Elements(1));
    for points in [31usize, 334] {
        let mut buf = Vec::with_capacity(points);
        group.bench_function(format!("30km_{points}pts"), |b| {
            b.iter(|| {
                let d = dem
                    .profile_into(from, to, points, &mut buf)
                    .expect("path inside the DEM");
                let link = Link {
                    freq_mhz: 900.0,
                    distance_m: d,
                    tx_height_m: 30.0,
                    rx_height_m: 1.5,
                    profile_m: Some(&buf),
                };
                model.path_loss(black_box(&link)).expect("valid")
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("itm_area");
    group.throughput(Throughput::Elements(1));
    let path = AreaPath {
        distance_m: 30_000.0,
        delta_h_m: 90.0,
        siting: [SitingCriteria::Careful, SitingCriteria::Random],
    };
    group.bench_function("30km_delta_h_90m", |b| {
        b.iter(|| area(black_box(&params), black_box(&path)).expect("valid"))
    });
    group.finish();
}

criterion_group!(benches, bench_itm);
criterion_main!(benches);
