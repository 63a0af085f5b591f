//! Coverage evaluation throughput (targets per second) per propagation model, with 1 and 2
//! threads, on a seeded synthetic country: 100k settlements, 20k sites (5 cells each), ≥ 50k
//! road-km sampled every 250 m, a 30″ synthetic DEM, search range capped at 15 km.
//!
//! Each iteration evaluates a fixed, evenly spread subset of the targets against the full site
//! index (the per-target cost does not depend on how many targets there are). With
//! `BENCH_EXPORT_DIR` set, the subset and the sites are written there as CSV so scripts/bench.sh
//! can time the same distance join in GeoPandas.

use std::io::Write;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use planner::coverage::{CoverageSettings, Engine};
use planner::synth::{country, CountrySpec};
use planner::targets::{Target, Targets};

/// Targets evaluated per iteration.
const SUBSET: usize = 20_000;
/// Search range cap, metres (also the GeoPandas join distance).
const RANGE_M: f64 = 15_000.0;

fn export(dir: &str, targets: &[Target], ds: &geodata::Dataset) {
    std::fs::create_dir_all(dir).expect("create BENCH_EXPORT_DIR");
    let mut f =
        std::io::BufWriter::new(std::fs::File::create(format!("{dir}/targets.csv")).unwrap());
    writeln!(f, "lon,lat").unwrap();
    for t in targets {
        writeln!(f, "{},{}", t.lon, t.lat).unwrap();
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(format!("{dir}/sites.csv")).unwrap());
    writeln!(f, "lon,lat").unwrap();
    for s in &ds.sites {
        writeln!(f, "{},{}", s.lon, s.lat).unwrap();
    }
    let mut f = std::fs::File::create(format!("{dir}/meta.json")).unwrap();
    let road_km: f64 = ds
        .roads
        .iter()
        .map(|r| geodata::line_length_m(&r.geometry))
        .sum::<f64>()
        / 1000.0;
    writeln!(
        f,
        "{{\"settlements\": {}, \"sites\": {}, \"road_km\": {:.1}, \"subset\": {}, \"range_m\": {}}}",
        ds.settlements.len(),
        ds.sites.len(),
        road_km,
        targets.len(),
        RANGE_M
    )
    .unwrap();
}

fn bench(c: &mut Criterion) {
    let ds = country(&CountrySpec::default());
    let all = Targets::build(&ds, 250.0, None);
    let stride = (all.items.len() / SUBSET).max(1);
    let subset: Vec<Target> = all
        .items
        .iter()
        .step_by(stride)
        .take(SUBSET)
        .copied()
        .collect();
    if let Ok(dir) = std::env::var("BENCH_EXPORT_DIR") {
        export(&dir, &subset, &ds);
    }
    let settings = CoverageSettings {
        max_range_cap_m: RANGE_M,
        ..CoverageSettings::default()
    };
    let pools: Vec<(usize, rayon::ThreadPool)> = [1, 2]
        .into_iter()
        .map(|n| {
            (
                n,
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .unwrap(),
            )
        })
        .collect();
    let mut g = c.benchmark_group("coverage");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    g.throughput(Throughput::Elements(subset.len() as u64));
    for name in ["free_space", "hata_open", "cost231", "terrain", "itm"] {
        let model = planner::coverage::propagation::build_model(
            &planner::coverage::propagation::ModelConfig::from_name(name),
        )
        .unwrap();
        let engine = Engine::new(&ds, model.as_ref(), settings.clone()).unwrap();
        for (n, pool) in &pools {
            g.bench_with_input(BenchmarkId::new(name, n), &subset, |b, targets| {
                let pb = indicatif::ProgressBar::hidden();
                b.iter(|| pool.install(|| engine.evaluate(targets, &pb).unwrap()));
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
