//! The `planner analyze` pipeline as a library call: load inputs, build the model and link
//! budget, evaluate coverage at every target, run the gap analysis and assemble the report.
//! The analysis JSON document and the human summary are rendered in `render::analysis`.

use anyhow::Context;
use geodata::Dataset;

use crate::config::{AnalysisConfig, PlannerConfig};
use crate::coverage::budget::BudgetConfig;
use crate::coverage::propagation::registry;
use crate::coverage::propagation::PropagationModel;
use crate::coverage::{self, CoverageResult, CoverageSettings, Engine};
use crate::gaps::{self, Gaps};
use crate::summary::{self, DatasetSummary};
use crate::targets::{GridSpec, Targets};

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
