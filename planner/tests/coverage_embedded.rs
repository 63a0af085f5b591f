//! The coverage engine on the embedded Uzbekistan data with the default model (`auto`): the
//! bound-based pruning changes nothing, and no link is evaluated outside its model's validity.
//!
//! A fixed subset keeps the test fast in the test profile: every settlement and every 12th road
//! piece (about 3,500 targets, ~750,000 site–target links before pruning).

use planner::analyze::coverage_settings;
use planner::config::PlannerConfig;
use planner::coverage::propagation::build_model;
use planner::coverage::{CoverageResult, CoverageSettings, Engine};
use planner::targets::{Target, Targets};

fn subset(ds: &geodata::Dataset) -> Vec<Target> {
    let all = Targets::build(ds, 250.0, None);
    let (settlements, roads) = all.items.split_at(all.settlements);
    settlements
        .iter()
        .chain(roads.iter().step_by(12))
        .copied()
        .collect()
}

fn run(ds: &geodata::Dataset, settings: CoverageSettings, targets: &[Target]) -> CoverageResult {
    let cfg = PlannerConfig::default();
    let model = build_model(&cfg.model).unwrap();
    let engine = Engine::new(ds, model.as_ref(), settings).unwrap();
    engine
        .evaluate(targets, &indicatif::ProgressBar::hidden())
        .unwrap()
}

#[test]
fn default_model_is_auto_and_pruning_changes_nothing() {
    let ds = geodata::embedded::uzbekistan().unwrap();
    let cfg = PlannerConfig::default();
    assert_eq!(cfg.model.model, "auto");
    let targets = subset(&ds);
    let settings = coverage_settings(&cfg.budget, &cfg.analysis);
    assert!(settings.prune, "pruning is on by default");
    let pruned = run(&ds, settings.clone(), &targets);
    let exact = run(
        &ds,
        CoverageSettings {
            prune: false,
            ..settings
        },
        &targets,
    );
    assert_eq!(pruned.per_target.len(), targets.len());
    // Same best server, level and distance for every technology at every target.
    for (i, (p, e)) in pruned.per_target.iter().zip(&exact.per_target).enumerate() {
        assert_eq!(p, e, "target {i}: {:?}", targets[i]);
    }
    let (sp, se) = (&pruned.stats, &exact.stats);
    assert_eq!(se.links_pruned, 0);
    assert!(
        sp.links_pruned * 2 > se.links_evaluated,
        "pruning should skip most links: {} of {}",
        sp.links_pruned,
        se.links_evaluated
    );
    assert_eq!(sp.links_pruned + sp.links_evaluated, se.links_evaluated);

    // With the embedded DEM every link of 1 km or more is ITM's unless ITM flags the path, and
    // the shorter and flagged ones are the terrain model's: no link outside its model's
    // validity, so no validity warning at all.
    assert!(se.model_warnings.is_empty(), "{:?}", se.model_warnings);
    let models: Vec<&str> = se.links_by_model.keys().map(String::as_str).collect();
    assert_eq!(models, ["itm", "terrain"], "{:?}", se.links_by_model);
    assert!(se.links_by_model["itm"] > 10 * se.links_by_model["terrain"]);
    assert_eq!(se.links_model_error, 0);
}
