//! The `planner analyze` pipeline as a library call: load inputs, build the model and link
//! budget, evaluate coverage at every target, run the gap analysis and assemble the report.

use anyhow::Context;
use geodata::Dataset;
use serde_json::{json, Value};

use crate::config::{AnalysisConfig, PlannerConfig};
use crate::coverage::budget::BudgetConfig;
use crate::coverage::propagation::registry;
use crate::coverage::propagation::PropagationModel;
use crate::coverage::{self, CoverageResult, CoverageSettings, Engine};
use crate::gaps::{self, Gaps};
use crate::numbers;
use crate::summary::{self, DatasetSummary};
use crate::targets::{GridSpec, Targets};

/// Version of the analysis JSON schema (docs/analyze-json.md); bumped on breaking changes.
pub const SCHEMA_VERSION: u32 = 1;

/// Builds the configured propagation model, or `name_override` (`--model`) with the
/// configured settings that still apply.
pub fn build_model(
    cfg: &PlannerConfig,
    name_override: Option<&str>,
) -> anyhow::Result<Box<dyn PropagationModel>> {
    let m = match name_override {
        Some(name) => crate::config::model_named(&cfg.model, name),
        None => cfg.model.clone(),
    };
    registry::build_model(&m).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Maps a link budget and analysis settings onto the coverage engine's settings.
pub fn coverage_settings(b: &BudgetConfig, a: &AnalysisConfig) -> CoverageSettings {
    let mut s = CoverageSettings {
        rx_height_m: b.rx_height_m,
        max_range_cap_m: a.max_range_m,
        profile_step_m: a.profile_step_m,
        outside_dem: a.outside_dem,
        ..CoverageSettings::default()
    };
    for t in geodata::Technology::ALL {
        let i = coverage::tech_index(t);
        s.threshold_dbm[i] = b.threshold_dbm(t);
        s.offset_db[i] = b.reference_signal_offset_db(t) + b.rx_antenna_gain_dbi - b.rx_losses_db;
    }
    s
}

/// Loads the dataset named by the config's inputs and refuses it when any input check fails
/// (the checks of `planner validate`, see [`crate::inputs`]); the DEM is required when the
/// configured model needs terrain.
pub fn load_dataset(cfg: &PlannerConfig) -> anyhow::Result<Dataset> {
    let dem_required = build_model(cfg, None)?.needs_terrain();
    let (ds, _warnings) = crate::inputs::load_checked(&input_options(cfg, dem_required))?;
    Ok(ds)
}

/// The input stage's view of a config.
pub fn input_options(cfg: &PlannerConfig, dem_required: bool) -> crate::inputs::InputOptions<'_> {
    crate::inputs::InputOptions {
        inputs: &cfg.inputs,
        base_dir: &cfg.base_dir,
        outside_dem: cfg.analysis.outside_dem,
        dem_required,
    }
}

/// Options of one analysis run beyond the config file.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--model`: overrides `[model]`.
    pub model: Option<String>,
    /// `--threads`: overrides `analysis.threads`.
    pub threads: Option<usize>,
    /// `--grid-m`: grid resolution over the regions' extent (overrides `analysis.grid`).
    pub grid_m: Option<f64>,
    /// Draw progress bars (only on a terminal).
    pub progress: bool,
}

/// Everything one analysis produced.
#[derive(Debug)]
pub struct Analysis {
    pub dataset: DatasetSummary,
    pub model: String,
    pub settings: CoverageSettings,
    pub road_step_m: f64,
    pub targets: Targets,
    pub coverage: CoverageResult,
    pub gaps: Gaps,
    pub elapsed_s: f64,
}

/// Extent of the dataset's regions (or settlements and sites when it has no regions).
fn dataset_bbox(ds: &Dataset) -> Option<[f64; 4]> {
    use geo::BoundingRect;
    let mut b: Option<[f64; 4]> = None;
    let mut add = |x0: f64, y0: f64, x1: f64, y1: f64| {
        b = Some(match b {
            None => [x0, y0, x1, y1],
            Some(o) => [o[0].min(x0), o[1].min(y0), o[2].max(x1), o[3].max(y1)],
        });
    };
    for r in &ds.regions {
        if let Some(rect) = r.geometry.bounding_rect() {
            add(rect.min().x, rect.min().y, rect.max().x, rect.max().y);
        }
    }
    if ds.regions.is_empty() {
        for (x, y) in ds
            .settlements
            .iter()
            .map(|s| (s.lon, s.lat))
            .chain(ds.sites.iter().map(|s| (s.lon, s.lat)))
        {
            add(x, y, x, y);
        }
    }
    b
}

/// Runs coverage and gap analysis on a loaded dataset, all of it in a pool of
/// `opts.threads` / `analysis.threads` workers (all cores by default).
pub fn run(ds: &Dataset, cfg: &PlannerConfig, opts: &RunOptions) -> anyhow::Result<Analysis> {
    let threads = opts.threads.or(cfg.analysis.threads);
    coverage::with_threads(threads, || run_in_pool(ds, cfg, opts))
        .context("cannot start worker threads")?
}

fn run_in_pool(ds: &Dataset, cfg: &PlannerConfig, opts: &RunOptions) -> anyhow::Result<Analysis> {
    let started = std::time::Instant::now();
    let model = build_model(cfg, opts.model.as_deref())?;
    let settings = coverage_settings(&cfg.budget, &cfg.analysis);
    let grid = match (opts.grid_m, &cfg.analysis.grid) {
        (Some(m), _) => Some((None, m)),
        (None, Some(g)) => Some((g.bbox, g.resolution_m)),
        (None, None) => None,
    };
    let grid = match grid {
        None => None,
        Some((bbox, res)) => {
            let bbox = bbox.or_else(|| dataset_bbox(ds)).context(
                "a coverage grid needs a bbox: the dataset has no regions, settlements or sites",
            )?;
            Some(GridSpec::new(bbox, res).map_err(coverage::CoverageError::Grid)?)
        }
    };
    let targets = Targets::build(ds, cfg.analysis.road_step_m, grid);
    let model_ref: &dyn PropagationModel = model.as_ref();
    let engine = Engine::new(ds, model_ref, settings.clone())?;
    let pb = coverage::progress_bar(targets.items.len() as u64, "coverage", opts.progress);
    let result = engine.evaluate(&targets.items, &pb)?;
    let gaps = gaps::analyze(ds, &targets, &result);
    Ok(Analysis {
        dataset: summary::summarize(ds),
        model: model.name().to_string(),
        settings,
        road_step_m: cfg.analysis.road_step_m,
        targets,
        coverage: result,
        gaps,
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}

/// The analysis JSON document (schema in docs/analyze-json.md). Without timing fields, so the
/// same inputs give byte-identical output.
pub fn report_json(dataset: &DatasetSummary, analysis: Option<&Analysis>) -> Value {
    let mut doc = json!({ "schema_version": SCHEMA_VERSION, "dataset": dataset });
    if let Some(a) = analysis {
        let techs = ["2g", "3g", "4g", "5g"];
        let thr: serde_json::Map<String, Value> = techs
            .iter()
            .zip(a.settings.threshold_dbm)
            .map(|(t, v)| (t.to_string(), json!(v)))
            .collect();
        let n_road = a
            .targets
            .road_ranges
            .last()
            .map(|r| r.end)
            .unwrap_or(a.targets.settlements)
            - a.targets.settlements;
        let n_grid = a
            .targets
            .grid
            .map(|g| g.cols as u64 * g.rows as u64)
            .unwrap_or(0);
        doc["analysis"] = json!({
            "model": a.model,
            "road_step_m": a.road_step_m,
            "rx_height_m": a.settings.rx_height_m,
            "max_range_m": a.settings.max_range_cap_m,
            "threshold_dbm": thr,
            "targets": { "settlements": a.targets.settlements, "road_pieces": n_road, "grid_cells": n_grid },
            "stats": a.coverage.stats,
        });
        let mut cov = serde_json::Map::new();
        for (svc, s) in &a.gaps.services {
            cov.insert(svc.key().to_string(), json!(s));
        }
        cov.insert("by_region".into(), json!(a.gaps.by_region));
        cov.insert("by_route".into(), json!(a.gaps.by_route));
        cov.insert("headline".into(), json!(a.gaps.headline));
        let mut longest: Vec<&gaps::Stretch> = a
            .gaps
            .stretches
            .iter()
            .filter(|s| s.service == "mobile_internet" && !s.covered && s.international)
            .collect();
        longest.sort_by(|x, y| {
            y.length_m
                .total_cmp(&x.length_m)
                .then(x.road.cmp(&y.road))
                .then(x.start_m.total_cmp(&y.start_m))
        });
        let longest: Vec<Value> = longest
            .iter()
            .take(20)
            .map(|s| {
                json!({
                    "road_id": s.road_id, "refs": s.refs, "region": s.region,
                    "length_km": numbers::round(s.length_m / 1000.0, 3),
                    "from": [numbers::round(s.coords[0].0, 5), numbers::round(s.coords[0].1, 5)],
                    "to": [numbers::round(s.coords[s.coords.len() - 1].0, 5), numbers::round(s.coords[s.coords.len() - 1].1, 5)],
                })
            })
            .collect();
        cov.insert(
            "longest_uncovered_international_stretches".into(),
            Value::Array(longest),
        );
        doc["coverage"] = Value::Object(cov);
    }
    doc
}

/// Human summary of an analysis (dataset, then coverage gaps).
pub fn render_text(dataset: &DatasetSummary, analysis: Option<&Analysis>) -> String {
    use std::fmt::Write;
    let mut o = summary::render_text(dataset);
    let Some(a) = analysis else { return o };
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "Coverage ({} model, thresholds 2g {} / 3g {} / 4g {} / 5g {} dBm, handset {} m, road samples every ≤ {} m)",
        a.model,
        a.settings.threshold_dbm[0],
        a.settings.threshold_dbm[1],
        a.settings.threshold_dbm[2],
        a.settings.threshold_dbm[3],
        a.settings.rx_height_m,
        a.road_step_m
    );
    let _ = writeln!(
        o,
        "  {:<16} {:>22} {:>26} {:>26}",
        "service", "settlements covered", "population covered", "intl. road km covered"
    );
    for (svc, s) in &a.gaps.services {
        let _ = writeln!(
            o,
            "  {:<16} {:>14}/{:<7} {:>18} ({:>5.1} %) {:>11.1}/{:<8.1} ({:>5.1} %)",
            svc.key(),
            s.settlements_covered,
            s.settlements_total,
            summary::group(s.population_covered),
            s.population_covered_pct,
            s.international_road_km_covered,
            s.international_road_km,
            s.international_road_km_covered_pct
        );
    }
    let routes: Vec<&gaps::RouteRow> = a
        .gaps
        .by_route
        .iter()
        .filter(|r| r.service == "mobile_internet")
        .collect();
    if !routes.is_empty() {
        let _ = writeln!(o, "  mobile Internet per route:");
        for r in routes {
            let _ = writeln!(
                o,
                "    {:<8} {:>8.1} of {:>8.1} km uncovered ({:>5.1} % covered)",
                r.route, r.road_km_uncovered, r.road_km, r.road_km_covered_pct
            );
        }
    }
    let regions: Vec<&gaps::RegionRow> = a
        .gaps
        .by_region
        .iter()
        .filter(|r| r.service == "mobile_internet")
        .collect();
    if !regions.is_empty() {
        let _ = writeln!(
            o,
            "  mobile Internet per region (uncovered settlements / population / road km):"
        );
        for r in regions {
            let _ = writeln!(
                o,
                "    {:<8} {:<28} {:>4} / {:>10} / {:>8.1} km",
                if r.region.is_empty() { "-" } else { &r.region },
                r.name,
                r.settlements_uncovered,
                summary::group(r.population_uncovered),
                r.road_km_uncovered
            );
        }
    }
    let st = &a.coverage.stats;
    // Which model served which links (one line for a single model, the members for `auto`).
    let served: Vec<String> = st
        .links_by_model
        .iter()
        .map(|(m, n)| format!("{m} {}", summary::group(*n)))
        .collect();
    let _ = writeln!(
        o,
        "  links: {} evaluated ({}), {} skipped as unable to beat the best server",
        summary::group(st.links_evaluated),
        if served.is_empty() {
            "none".to_string()
        } else {
            served.join(", ")
        },
        summary::group(st.links_pruned)
    );
    if st.targets_outside_dem + st.links_outside_dem + st.links_model_error > 0
        || !st.model_warnings.is_empty()
    {
        let _ = writeln!(
            o,
            "  warnings: {} targets outside the DEM (unevaluated), {} links leaving the DEM, {} links the model refused{}",
            st.targets_outside_dem,
            st.links_outside_dem,
            st.links_model_error,
            st.first_model_error.as_ref().map(|e| format!(" (first: {e})")).unwrap_or_default()
        );
        for (code, n) in &st.model_warnings {
            let _ = writeln!(o, "    model warning {code}: {n} links");
        }
    }
    let _ = writeln!(o, "  {}", a.gaps.headline.text);
    o
}
