//! The coverage heatmap of the report: best received power per technology over a regular
//! lon/lat grid covering the dataset (or the configured `[analysis.grid]`), evaluated with the
//! same engine, model and link budget as the analysis, once over the existing sites ("today")
//! and once with the proposed sites built ("after the plan"). Rendering (colour ramp, PNG, KMZ,
//! GeoPackage raster) lives in the renderers (`render`).

use geo::BoundingRect;
use geodata::{Dataset, Technology};

use crate::analyze;
use crate::config::PlannerConfig;
use crate::coverage::{self, Engine};
use crate::targets::{GridSpec, Target, TargetKind};

/// Cells along the longer side of the default heatmap grid: fine enough to show site
/// footprints at country scale (≈ 5 km cells for Uzbekistan), coarse enough to cost less
/// than the analysis itself.
pub const DEFAULT_LONG_SIDE_CELLS: f64 = 300.0;

/// Best received power per technology on one grid.
#[derive(Debug, Clone)]
pub struct Heatmap {
    /// `today` or `after` (with the proposed sites).
    pub key: &'static str,
    pub grid: GridSpec,
    /// Grid extent `[west, south, east, north]`, degrees, exactly the requested box.
    pub bbox: [f64; 4],
    /// Row-major (north row first), one value per technology (`2g` … `5g`), dBm; NaN where no
    /// site of that technology reaches the cell.
    pub rx_dbm: Vec<[f32; 4]>,
    /// Receiver threshold per technology, dBm (the "covered" limit).
    pub threshold_dbm: [f64; 4],
}

impl Heatmap {
    /// Technologies with at least one cell in reach.
    pub fn technologies(&self) -> Vec<Technology> {
        Technology::ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| self.rx_dbm.iter().any(|c| c[*i].is_finite()))
            .map(|(_, t)| *t)
            .collect()
    }
}

/// Extent of the dataset's regions, or of its settlements and roads when it has none.
pub fn dataset_bbox(ds: &Dataset) -> [f64; 4] {
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    let mut add = |x: f64, y: f64| {
        b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
    };
    for r in &ds.regions {
        if let Some(rect) = r.geometry.bounding_rect() {
            add(rect.min().x, rect.min().y);
            add(rect.max().x, rect.max().y);
        }
    }
    if ds.regions.is_empty() {
        for s in &ds.settlements {
            add(s.lon, s.lat);
        }
        for r in &ds.roads {
            for c in &r.geometry.0 {
                add(c.x, c.y);
            }
        }
    }
    if !b[0].is_finite() {
        return [0.0, 0.0, 1.0, 1.0];
    }
    b
}

/// The heatmap grid: `[analysis.grid]` when configured (its bbox or the dataset's, its
/// resolution), else the dataset's extent with [`DEFAULT_LONG_SIDE_CELLS`] along the longer
/// side. The grid covers exactly the box: its cells are stretched to fit it.
pub fn grid_for(ds: &Dataset, cfg: &PlannerConfig) -> anyhow::Result<([f64; 4], GridSpec)> {
    let (bbox, res_m) = match &cfg.analysis.grid {
        Some(g) => (g.bbox.unwrap_or_else(|| dataset_bbox(ds)), g.resolution_m),
        None => {
            let b = dataset_bbox(ds);
            let mid = (0.5 * (b[1] + b[3])).to_radians().cos().max(1e-6);
            let m_per_deg = 111_195.0;
            let long_m = ((b[2] - b[0]) * mid).max(b[3] - b[1]) * m_per_deg;
            (b, (long_m / DEFAULT_LONG_SIDE_CELLS).max(1.0))
        }
    };
    let g = GridSpec::new(bbox, res_m).map_err(|e| anyhow::anyhow!("heatmap grid: {e}"))?;
    Ok((bbox, g))
}

/// Evaluates the grid over `ds`'s sites.
pub fn compute(
    key: &'static str,
    ds: &Dataset,
    cfg: &PlannerConfig,
    bbox: [f64; 4],
    grid: &GridSpec,
    threads: Option<usize>,
    progress: bool,
) -> anyhow::Result<Heatmap> {
    let model = analyze::build_model(cfg, None)?;
    let settings = analyze::coverage_settings(&cfg.budget, &cfg.analysis);
    let threshold_dbm = settings.threshold_dbm;
    let targets: Vec<Target> = (0..grid.rows)
        .flat_map(|row| {
            (0..grid.cols).map(move |col| Target {
                lon: grid.west_deg + (col as f64 + 0.5) * grid.dlon_deg,
                lat: grid.north_deg - (row as f64 + 0.5) * grid.dlat_deg,
                kind: TargetKind::Grid { col, row },
            })
        })
        .collect();
    let result = coverage::with_threads(threads, || -> anyhow::Result<_> {
        let engine = Engine::new(ds, model.as_ref(), settings)?;
        let pb = coverage::progress_bar(targets.len() as u64, "heatmap", progress);
        Ok(engine.evaluate(&targets, &pb)?)
    })??;
    let rx_dbm = result
        .per_target
        .iter()
        .map(|c| {
            let mut v = [f32::NAN; 4];
            for (i, s) in c.best.iter().enumerate() {
                if let Some(s) = s {
                    v[i] = s.rx_dbm as f32;
                }
            }
            v
        })
        .collect();
    Ok(Heatmap {
        key,
        grid: *grid,
        bbox,
        rx_dbm,
        threshold_dbm,
    })
}
