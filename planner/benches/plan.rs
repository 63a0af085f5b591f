//! Planning time on the seeded synthetic country (100k settlements, 20k sites, 50k road-km,
//! synthetic DEM; see `planner::synth`): the whole `planner plan` pipeline (coverage before,
//! candidate generation, each candidate's coverage of the uncovered targets, costs, greedy
//! selection, coverage after), and the selection alone, lazy (CELF) against plain greedy, on the
//! instance that pipeline builds.
//!
//! One site in four of the generated 20k is kept, so there are gaps to close.
//! Settings: Okumura-Hata open-area model, road samples every 1000 m, site range capped at 15 km,
//! targets 100 % of settlements and 95 % of international road km, 2 worker threads.

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use planner::config::PlannerConfig;
use planner::plan::greedy::{self, Limits};
use planner::planning::{self, PlanOptions};
use planner::synth::{country, CountrySpec};

fn config() -> PlannerConfig {
    let mut cfg = PlannerConfig::parse(
        "[model]\nmodel = \"hata_open\"\n[analysis]\nroad_step_m = 1000.0\nmax_range_m = 15000.0\n",
        Path::new("bench.toml"),
    )
    .expect("bench config");
    cfg.analysis.threads = Some(2);
    cfg
}

fn bench(c: &mut Criterion) {
    // The generator places sites around nearly every settlement; keep one site in four so the
    // country has real gaps to plan for (~5k sites left).
    let mut ds = country(&CountrySpec::default());
    let mut k = 0;
    ds.sites.retain(|_| {
        k += 1;
        k % 4 == 0
    });
    let cfg = config();
    let opts = PlanOptions {
        threads: Some(2),
        progress: false,
    };
    let prepared = planning::prepare(&ds, &cfg, Path::new("."), &opts).expect("prepare");
    let sel = prepared.select(&prepared.config.targets.clone(), Limits::default(), &ds);
    eprintln!(
        "synthetic country: {} settlements, {} sites, {} targets ({} without mobile Internet), {} candidates, {} sites picked (targets met: {}), {} gain evaluations",
        ds.settlements.len(),
        ds.sites.len(),
        prepared.before.targets.items.len(),
        prepared.element_targets.len(),
        prepared.candidates.len(),
        sel.sites.len(),
        sel.targets_met,
        sel.gain_evaluations
    );

    let mut g = c.benchmark_group("plan");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));
    g.bench_function("pipeline_2_threads", |b| {
        b.iter(|| planning::plan(&ds, &cfg, Path::new("."), &opts).expect("plan"))
    });
    let inst = &prepared.instance;
    let start = vec![false; inst.weights.len()];
    let rank = prepared.config.rank;
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("select_lazy", |b| {
        b.iter(|| greedy::lazy(inst, &start, rank, Limits::default(), |_| false))
    });
    g.bench_function("select_plain", |b| {
        b.iter(|| greedy::plain(inst, &start, rank, Limits::default(), |_| false))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
