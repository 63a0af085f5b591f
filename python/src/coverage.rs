//! Coverage for caller-given sites and targets: [`SiteSet`] (validated sites, built from a
//! cells table like the CLI's sites file) and [`Coverage`] (a propagation model, link budget and
//! DEM), whose `evaluate` runs the planner's coverage engine with the GIL released.

use std::sync::Arc;

use geodata::error::{Location, Problem, Problems};
use geodata::mapping::SiteMapping;
use geodata::{Dem, GeodataError, Site, Technology};
use planner::config::{AnalysisConfig, PlannerConfig};
use planner::coverage::budget::BudgetConfig;
use planner::coverage::propagation::registry::{self, ModelConfig};
use planner::coverage::propagation::PropagationModel;
use planner::coverage::{self, CoverageResult, CoverageSettings, Engine};
use planner::targets::{Target, TargetKind};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use crate::columns::{self, Col, Columns};
use crate::errors;
use crate::state;

/// Technology labels in engine order (`2g` … `5g`).
pub const TECHS: [Technology; 4] = Technology::ALL;

/// Validated cell sites, in a fixed order (a result's site index points into it).
#[pyclass(module = "coverage_planner._native", frozen)]
pub struct SiteSet {
    pub sites: Arc<Vec<Site>>,
    warnings: Vec<String>,
}

impl SiteSet {
    pub fn new(sites: Vec<Site>) -> SiteSet {
        SiteSet {
            sites: Arc::new(sites),
            warnings: Vec::new(),
        }
    }
}

/// A geodata error as the CLI words it.
pub fn geodata_err(e: GeodataError) -> PyErr {
    errors::to_py(e.into())
}

#[pymethods]
impl SiteSet {
    /// Sites from a cells table (one row per cell, grouped by `site_id`, or OpenCelliD rows),
    /// checked by the same builder and with the same messages as a sites file; row `i` is
    /// reported as `feature i` of `file`.
    #[staticmethod]
    #[pyo3(signature = (file, columns, wkb, mapping_json=None))]
    fn from_columns(
        file: &str,
        columns: Vec<(String, Bound<'_, PyList>)>,
        wkb: Bound<'_, PyList>,
        mapping_json: Option<&str>,
    ) -> PyResult<SiteSet> {
        let mapping: SiteMapping = match mapping_json {
            None => SiteMapping::default(),
            Some(j) => serde_json::from_str(j)
                .map_err(|e| errors::usage(format!("invalid sites mapping: {e}")))?,
        };
        let raw = columns::raw_layer(file, &columns, &wkb)?;
        let (sites, _, report) = geodata::layers::sites(&raw, &mapping);
        report.errors.into_result().map_err(geodata_err)?;
        Ok(SiteSet {
            sites: Arc::new(sites),
            warnings: report.warnings.iter().map(ToString::to_string).collect(),
        })
    }

    fn __len__(&self) -> usize {
        self.sites.len()
    }

    /// Warnings raised while reading the table (defaults applied, …).
    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    /// Site ids in order.
    fn ids(&self) -> Vec<String> {
        self.sites.iter().map(|s| s.id.clone()).collect()
    }

    /// `(lon, lat)` of every site as float64 buffers, degrees.
    fn lonlat<'py>(&self, py: Python<'py>) -> (Bound<'py, PyBytes>, Bound<'py, PyBytes>) {
        let lon: Vec<u8> = self
            .sites
            .iter()
            .flat_map(|s| s.lon.to_le_bytes())
            .collect();
        let lat: Vec<u8> = self
            .sites
            .iter()
            .flat_map(|s| s.lat.to_le_bytes())
            .collect();
        (PyBytes::new(py, &lon), PyBytes::new(py, &lat))
    }

    /// The sites at `indices` (uint32 buffer), in that order.
    fn subset(&self, indices: &[u8]) -> PyResult<SiteSet> {
        let idx = columns::u32s("indices", indices)?;
        let n = self.sites.len();
        let mut out = Vec::with_capacity(idx.len());
        for i in idx {
            let s = self.sites.get(i as usize).ok_or_else(|| {
                PyValueError::new_err(format!("site index {i} out of range for {n} sites"))
            })?;
            out.push(s.clone());
        }
        Ok(SiteSet::new(out))
    }

    /// One row per cell: the columns of the CLI's sites CSV plus `site_index` and `cell`.
    fn cells_columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let mut c = Columns::default();
        let rows = || {
            self.sites.iter().enumerate().flat_map(|(i, s)| {
                s.cells
                    .iter()
                    .enumerate()
                    .map(move |(j, cell)| (i, s, j, cell))
            })
        };
        c.push("site_index", Col::I64(rows().map(|r| r.0 as i64).collect()));
        c.push(
            "site_id",
            Col::Str(rows().map(|r| Some(r.1.id.clone())).collect()),
        );
        c.push("cell", Col::I64(rows().map(|r| r.2 as i64).collect()));
        c.push(
            "operator",
            Col::Str(rows().map(|r| r.1.operator.clone()).collect()),
        );
        c.push("height_m", Col::F64(rows().map(|r| r.1.height_m).collect()));
        c.push(
            "technology",
            Col::Str(
                rows()
                    .map(|r| Some(r.3.technology.as_str().to_string()))
                    .collect(),
            ),
        );
        c.push("band_mhz", Col::F64(rows().map(|r| r.3.band_mhz).collect()));
        c.push("eirp_dbm", Col::F64(rows().map(|r| r.3.eirp_dbm).collect()));
        let opt = |v: Option<f64>| v.unwrap_or(f64::NAN);
        c.push(
            "azimuth_deg",
            Col::F64(rows().map(|r| opt(r.3.azimuth_deg)).collect()),
        );
        c.push(
            "beamwidth_deg",
            Col::F64(rows().map(|r| opt(r.3.beamwidth_deg)).collect()),
        );
        c.push(
            "tilt_deg",
            Col::F64(rows().map(|r| opt(r.3.tilt_deg)).collect()),
        );
        c.push("lon", Col::F64(rows().map(|r| r.1.lon).collect()));
        c.push("lat", Col::F64(rows().map(|r| r.1.lat).collect()));
        c.into_py(py)
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let ctor = py.get_type::<SiteSet>().getattr("_from_state")?;
        let state = PyBytes::new(py, &state::encode_sites(&self.sites));
        PyTuple::new(py, [ctor, PyTuple::new(py, [state])?.into_any()])
    }

    #[staticmethod]
    fn _from_state(state: &[u8]) -> PyResult<SiteSet> {
        state::decode_sites(state)
            .map(SiteSet::new)
            .map_err(PyValueError::new_err)
    }
}

/// The physics of one run: propagation model, link budget, analysis limits and DEM.
#[pyclass(module = "coverage_planner._native", frozen)]
pub struct Coverage {
    model_cfg: ModelConfig,
    budget: BudgetConfig,
    analysis: AnalysisConfig,
    model: Box<dyn PropagationModel>,
    settings: CoverageSettings,
    dem: Option<Arc<Dem>>,
}

impl Coverage {
    /// The coverage of `cfg` with the model `model_cfg` over `dem`.
    pub fn new(
        cfg: &PlannerConfig,
        model_cfg: ModelConfig,
        dem: Option<Arc<Dem>>,
    ) -> PyResult<Coverage> {
        Self::from_parts(model_cfg, cfg.budget.clone(), cfg.analysis.clone(), dem)
    }

    fn from_parts(
        model_cfg: ModelConfig,
        budget: BudgetConfig,
        analysis: AnalysisConfig,
        dem: Option<Arc<Dem>>,
    ) -> PyResult<Coverage> {
        let model =
            registry::build_model(&model_cfg).map_err(|e| errors::usage(format!("model: {e}")))?;
        let settings = planner::analyze::coverage_settings(&budget, &analysis);
        Ok(Coverage {
            model_cfg,
            budget,
            analysis,
            model,
            settings,
            dem,
        })
    }

    fn engine<'a>(&'a self, sites: &'a [Site]) -> PyResult<Engine<'a>> {
        Engine::for_sites(
            sites,
            self.dem.as_deref(),
            self.model.as_ref(),
            self.settings.clone(),
        )
        .map_err(|e| errors::to_py(e.into()))
    }

    /// Runs the engine over `targets` with the GIL released.
    pub fn run(
        &self,
        py: Python<'_>,
        sites: &[Site],
        targets: &[Target],
        threads: Option<usize>,
    ) -> PyResult<CoverageResult> {
        py.detach(|| {
            let engine = Engine::for_sites(
                sites,
                self.dem.as_deref(),
                self.model.as_ref(),
                self.settings.clone(),
            )?;
            let hidden = indicatif::ProgressBar::hidden();
            match threads {
                None => Ok(engine.evaluate(targets, &hidden)?),
                Some(n) => coverage::with_threads(Some(n), || engine.evaluate(targets, &hidden))
                    .map_err(|e| anyhow::anyhow!("cannot start worker threads: {e}"))?
                    .map_err(anyhow::Error::from),
            }
        })
        .map_err(|e: anyhow::Error| errors::to_py(e))
    }
}

/// Targets from lon/lat buffers, each checked like a point in an input file.
fn targets_of(lon: &[u8], lat: &[u8]) -> PyResult<Vec<Target>> {
    let lon = columns::f64s("lon", lon)?;
    let lat = columns::f64s("lat", lat)?;
    if lon.len() != lat.len() {
        return Err(PyValueError::new_err(format!(
            "{} longitudes for {} latitudes",
            lon.len(),
            lat.len()
        )));
    }
    let mut problems = Problems::new();
    for (i, (&x, &y)) in lon.iter().zip(&lat).enumerate() {
        if let Some(msg) = geodata::validate::check_lonlat(x, y) {
            problems.push(Problem::new(
                "targets",
                Location::Feature(i),
                Some("geometry"),
                msg,
                "give WGS84 longitude/latitude in degrees (reproject with to_crs(4326))",
            ));
        }
    }
    problems.into_result().map_err(geodata_err)?;
    Ok(lon
        .into_iter()
        .zip(lat)
        .enumerate()
        .map(|(i, (lon, lat))| Target {
            lon,
            lat,
            kind: TargetKind::Point { index: i as u32 },
        })
        .collect())
}

/// Per-target result columns: for each technology the best server's site index (−1: none),
/// cell index, received power (dBm) and distance (m), and whether it reaches the threshold.
pub fn result_columns(r: &CoverageResult) -> Columns {
    let mut c = Columns::default();
    for (ti, t) in TECHS.iter().enumerate() {
        let best = || r.per_target.iter().map(move |p| p.best[ti]);
        c.push(
            format!("site_{t}"),
            Col::I64(best().map(|b| b.map_or(-1, |s| s.site as i64)).collect()),
        );
        c.push(
            format!("cell_{t}"),
            Col::I64(best().map(|b| b.map_or(-1, |s| s.cell as i64)).collect()),
        );
        c.push(
            format!("rx_dbm_{t}"),
            Col::F64(best().map(|b| b.map_or(f64::NAN, |s| s.rx_dbm)).collect()),
        );
        c.push(
            format!("distance_m_{t}"),
            Col::F64(
                best()
                    .map(|b| b.map_or(f64::NAN, |s| s.distance_m))
                    .collect(),
            ),
        );
        c.push(
            format!("covered_{t}"),
            Col::Bool((0..r.per_target.len()).map(|i| r.covered(i, *t)).collect()),
        );
    }
    c.push(
        "mobile_internet",
        Col::Bool(
            (0..r.per_target.len())
                .map(|i| r.mobile_internet(i))
                .collect(),
        ),
    );
    c.push(
        "outside_dem",
        Col::Bool(r.per_target.iter().map(|p| p.outside_dem).collect()),
    );
    c
}

#[pymethods]
impl Coverage {
    /// The propagation model's name (e.g. `hata_open`, `itm`).
    fn model_name(&self) -> &'static str {
        self.model.name()
    }

    /// Whether the model needs a DEM.
    fn needs_terrain(&self) -> bool {
        self.model.needs_terrain()
    }

    /// Whether a DEM is loaded.
    fn has_dem(&self) -> bool {
        self.dem.is_some()
    }

    /// Coverage threshold per technology (`2g` … `5g`), dBm.
    fn thresholds_dbm(&self) -> [f64; 4] {
        self.settings.threshold_dbm
    }

    /// The model, budget and analysis settings as JSON (`model`, `budget`, `analysis`).
    fn settings_json(&self) -> String {
        serde_json::json!({
            "model": self.model_cfg, "budget": self.budget, "analysis": self.analysis,
        })
        .to_string()
    }

    /// Largest useful range of any of `sites`, metres: beyond it no site can reach any
    /// technology's threshold (the halo of a spatial tile).
    fn max_range_m(&self, py: Python<'_>, sites: &SiteSet) -> PyResult<f64> {
        let s = sites.sites.clone();
        py.detach(|| self.engine(&s).map(|e| e.max_range_m()))
    }

    /// Useful range of each site, metres (float64 buffer).
    fn site_ranges_m<'py>(
        &self,
        py: Python<'py>,
        sites: &SiteSet,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let s = sites.sites.clone();
        let r: Vec<u8> = py.detach(|| {
            self.engine(&s).map(|e| {
                e.site_ranges_m()
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect()
            })
        })?;
        Ok(PyBytes::new(py, &r))
    }

    /// Evaluates every target (lon/lat float64 buffers, degrees) against `sites`; returns the
    /// result columns and the run's counters as JSON. The GIL is released while it runs.
    #[pyo3(signature = (lon, lat, sites, threads=None))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        lon: &[u8],
        lat: &[u8],
        sites: &SiteSet,
        threads: Option<usize>,
    ) -> PyResult<(Bound<'py, PyList>, String)> {
        if threads == Some(0) {
            return Err(errors::usage("threads must be at least 1"));
        }
        let targets = targets_of(lon, lat)?;
        let s = sites.sites.clone();
        let r = self.run(py, &s, &targets, threads)?;
        let stats = serde_json::to_string(&r.stats).expect("plain struct serializes");
        Ok((result_columns(&r).into_py(py)?, stats))
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let ctor = py.get_type::<Coverage>().getattr("_from_state")?;
        let dem = match &self.dem {
            Some(d) => PyBytes::new(py, &state::encode_dem(d)).into_any(),
            None => py.None().into_bound(py),
        };
        let args = PyTuple::new(
            py,
            [self.settings_json().into_pyobject(py)?.into_any(), dem],
        )?;
        PyTuple::new(py, [ctor, args.into_any()])
    }

    #[staticmethod]
    #[pyo3(signature = (settings_json, dem=None))]
    fn _from_state(settings_json: &str, dem: Option<&[u8]>) -> PyResult<Coverage> {
        #[derive(serde::Deserialize)]
        struct Parts {
            model: ModelConfig,
            budget: BudgetConfig,
            analysis: AnalysisConfig,
        }
        let p: Parts = serde_json::from_str(settings_json)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let dem = dem
            .map(|b| state::decode_dem(b).map(Arc::new))
            .transpose()
            .map_err(PyValueError::new_err)?;
        Coverage::from_parts(p.model, p.budget, p.analysis, dem)
    }
}
