//! Terrain-profile extraction speed on the embedded GLOBE DEM (points per second).

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use geodata::Dem;

fn profiles(c: &mut Criterion) {
    let dem = Dem::from_gdal(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/uz/dem.tif"))
        .expect("embedded dem.tif");
    // A 30 km site-to-target link east of Samarkand, typical of a coverage run.
    let from = (66.9597, 39.6542);
    let to = (67.30, 39.60);
    let len_m = dem.profile(from, to, 1000.0).unwrap().distance_m;
    let mut group = c.benchmark_group("dem_profile");
    for step_m in [1000.0, 90.0] {
        let n = (len_m / step_m).ceil() as usize + 1;
        group.throughput(Throughput::Elements(n as u64));
        let mut out = Vec::with_capacity(n);
        group.bench_function(format!("profile_into_30km_step_{step_m}m"), |b| {
            b.iter(|| {
                dem.profile_into(black_box(from), black_box(to), n, &mut out)
                    .unwrap()
            })
        });
        group.bench_function(format!("profile_30km_step_{step_m}m"), |b| {
            b.iter(|| dem.profile(black_box(from), black_box(to), step_m).unwrap())
        });
    }
    group.finish();
    c.bench_function("dem_elevation_m", |b| {
        b.iter(|| dem.elevation_m(black_box(69.2163), black_box(41.2646)))
    });
}

criterion_group!(benches, profiles);
criterion_main!(benches);
