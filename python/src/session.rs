//! A planner session: the typed config and its dataset (the embedded default, the config's
//! inputs, a synthetic country, or layers handed over from GeoDataFrames), and what the planner
//! computes from them: coverage for caller-given targets, the gap analysis, link reports.

use std::path::PathBuf;
use std::sync::Arc;

use geodata::error::Location;
use geodata::mapping::{
    FixedNodeMapping, RegionMapping, RoadMapping, SettlementMapping, SiteMapping,
};
use geodata::routes::RouteTable;
use geodata::validate::Report;
use geodata::Dataset;
use planner::analyze::{self, Analysis, RunOptions};
use planner::config::PlannerConfig;
use planner::coverage::propagation::registry::ModelConfig;
use planner::targets::TargetKind;
use pyo3::prelude::*;
use pyo3::types::PyList;
use serde::de::DeserializeOwned;

use crate::columns::{self, Col, Columns};
use crate::coverage::{self, geodata_err, Coverage, SiteSet};
use crate::errors;

/// A config and its loaded dataset.
#[pyclass(module = "coverage_planner._native", frozen)]
pub struct Session {
    cfg: PlannerConfig,
    ds: Arc<Dataset>,
    /// `model=` override by name (the CLI's `--model`), kept apart so the analysis reports a
    /// bad name exactly as the CLI does.
    model: Option<String>,
}

/// One layer handed over from Python: kind, name in messages, attribute columns, WKB
/// geometries, field mapping as JSON.
type LayerArgs<'py> = (
    String,
    String,
    Vec<(String, Bound<'py, PyList>)>,
    Bound<'py, PyList>,
    Option<String>,
);

fn mapping<M: DeserializeOwned + Default>(kind: &str, json: Option<&str>) -> PyResult<M> {
    match json {
        None => Ok(M::default()),
        Some(j) => serde_json::from_str(j)
            .map_err(|e| errors::usage(format!("invalid {kind} mapping: {e}"))),
    }
}

impl Session {
    fn new(cfg: PlannerConfig, ds: Arc<Dataset>, model: Option<String>) -> PyResult<Session> {
        if let Some(name) = &model {
            // Fail at construction rather than at the first evaluation.
            analyze::build_model(&cfg, Some(name)).map_err(errors::to_py)?;
        }
        Ok(Session { cfg, ds, model })
    }

    fn model_config(&self) -> ModelConfig {
        match &self.model {
            Some(name) => planner::config::model_named(&self.cfg.model, name),
            None => self.cfg.model.clone(),
        }
    }
}

#[pymethods]
impl Session {
    /// Loads `config` (a TOML file; `None`: the embedded dataset with every default), like
    /// `planner analyze --config FILE [--model NAME]`.
    #[staticmethod]
    #[pyo3(signature = (config=None, model=None))]
    fn load(py: Python<'_>, config: Option<PathBuf>, model: Option<String>) -> PyResult<Session> {
        let (cfg, ds) = py
            .detach(|| {
                let cfg = match &config {
                    Some(p) => PlannerConfig::load(p)?,
                    None => PlannerConfig::default(),
                };
                let ds = analyze::load_dataset(&cfg)?;
                anyhow::Ok((cfg, ds))
            })
            .map_err(errors::to_py)?;
        Session::new(cfg, Arc::new(ds), model)
    }

    /// Every default setting and an empty dataset (for layers handed over from Python).
    #[staticmethod]
    fn defaults() -> Session {
        Session {
            cfg: PlannerConfig::default(),
            ds: Arc::new(Dataset {
                name: "user dataset".into(),
                ..Dataset::default()
            }),
            model: None,
        }
    }

    /// Parses config text; `path` names it in messages and anchors relative input paths.
    #[staticmethod]
    #[pyo3(signature = (text, path, model=None))]
    fn parse(
        py: Python<'_>,
        text: &str,
        path: PathBuf,
        model: Option<String>,
    ) -> PyResult<Session> {
        let (cfg, ds) = py
            .detach(|| {
                let cfg = PlannerConfig::parse(text, &path)?;
                let ds = analyze::load_dataset(&cfg)?;
                anyhow::Ok((cfg, ds))
            })
            .map_err(errors::to_py)?;
        Session::new(cfg, Arc::new(ds), model)
    }

    /// A seeded synthetic country (`planner::synth`): clustered settlements, sites around
    /// them, random-walk roads and, with `dem`, a smooth synthetic DEM; the same seed gives the
    /// same dataset everywhere. `bbox` is `[west, south, east, north]` in degrees.
    #[staticmethod]
    #[pyo3(signature = (seed, settlements, sites, road_km, dem, bbox=None, config=None))]
    #[allow(clippy::too_many_arguments)]
    fn synthetic(
        py: Python<'_>,
        seed: u64,
        settlements: usize,
        sites: usize,
        road_km: f64,
        dem: bool,
        bbox: Option<[f64; 4]>,
        config: Option<&Session>,
    ) -> PyResult<Session> {
        if settlements == 0 {
            return Err(errors::usage("settlements must be at least 1"));
        }
        if !(road_km.is_finite() && road_km >= 0.0) {
            return Err(errors::usage(format!(
                "road_km = {road_km}: give a length ≥ 0 km"
            )));
        }
        let mut spec = planner::synth::CountrySpec {
            seed,
            settlements,
            sites,
            road_km,
            dem,
            ..planner::synth::CountrySpec::default()
        };
        if let Some(b) = bbox {
            let [w, s, e, n] = b;
            if !(b.iter().all(|v| v.is_finite()) && w < e && s < n && s >= -90.0 && n <= 90.0) {
                return Err(errors::usage(format!(
                    "bbox {b:?} must be [west, south, east, north] in degrees with west < east and south < north"
                )));
            }
            spec.bbox = b;
        }
        let ds = py.detach(|| planner::synth::country(&spec));
        let (cfg, model) = match config {
            Some(c) => (c.cfg.clone(), c.model.clone()),
            None => (PlannerConfig::default(), None),
        };
        Session::new(cfg, Arc::new(ds), model)
    }

    /// A copy whose dataset layers are replaced by the given ones (see [`LayerArgs`]), each
    /// built and checked like the file the CLI would read; `dem` is a raster path. With
    /// `keep=False` the layers not given are empty instead of kept.
    #[pyo3(signature = (layers, dem=None, routes=None, name=None, keep=true))]
    fn with_layers(
        &self,
        py: Python<'_>,
        layers: Vec<LayerArgs<'_>>,
        dem: Option<PathBuf>,
        routes: Option<PathBuf>,
        name: Option<String>,
        keep: bool,
    ) -> PyResult<Session> {
        let mut ds = if keep {
            (*self.ds).clone()
        } else {
            Dataset {
                name: "user dataset".into(),
                ..Dataset::default()
            }
        };
        if let Some(n) = name {
            ds.name = n;
        }
        let mut r = Report::default();
        let routes = match routes {
            None => None,
            Some(p) => match RouteTable::from_path(&p) {
                Ok(t) => Some(t),
                Err(e) => return Err(geodata_err(e)),
            },
        };
        for (kind, file, cols, wkb, map) in &layers {
            let raw = columns::raw_layer(file, cols, wkb)?;
            let map = map.as_deref();
            ds.sources.insert(kind.clone(), file.clone());
            // Items now come from a frame, not from the file the origins pointed into.
            ds.origins.remove(kind);
            let n = match kind.as_str() {
                "settlements" => {
                    let (v, _, rep) = geodata::layers::settlements(&raw, &mapping::<SettlementMapping>(kind, map)?);
                    r.merge(rep);
                    ds.settlements = v;
                    ds.settlements.len()
                }
                "roads" => {
                    let (v, _, rep) = geodata::layers::roads(&raw, &mapping::<RoadMapping>(kind, map)?, routes.as_ref());
                    r.merge(rep);
                    ds.roads = v;
                    ds.roads.len()
                }
                "regions" => {
                    let (v, _, rep) = geodata::layers::regions(&raw, &mapping::<RegionMapping>(kind, map)?);
                    r.merge(rep);
                    ds.regions = v;
                    ds.regions.len()
                }
                "sites" => {
                    let (v, _, rep) = geodata::layers::sites(&raw, &mapping::<SiteMapping>(kind, map)?);
                    r.merge(rep);
                    ds.sites = v;
                    ds.sites.len()
                }
                "fixed_nodes" => {
                    let (v, _, rep) = geodata::layers::fixed_nodes(&raw, &mapping::<FixedNodeMapping>(kind, map)?);
                    r.merge(rep);
                    ds.fixed_nodes = v;
                    ds.fixed_nodes.len()
                }
                other => {
                    return Err(errors::usage(format!(
                        "unknown layer {other:?}: give settlements, roads, regions, sites or fixed_nodes"
                    )))
                }
            };
            if n == 0 {
                r.warn(
                    file,
                    &Location::None,
                    None,
                    format!("no {kind} were read from this frame"),
                    "check the field mapping and any class/place filters",
                );
            }
        }
        if let Some(p) = dem {
            ds.sources.insert("dem".into(), p.display().to_string());
            match py.detach(|| geodata::sources::load_dem(&p)) {
                Ok(d) => ds.dem = Some(d),
                Err(e) => return Err(geodata_err(e)),
            }
        }
        r.errors.into_result().map_err(geodata_err)?;
        ds.warnings = r.warnings;
        Session::new(self.cfg.clone(), Arc::new(ds), self.model.clone())
    }

    /// The same dataset with another model: a name (as `--model`) or a `[model]` table as
    /// JSON.
    fn with_model(&self, model: &str) -> PyResult<Session> {
        if model.trim_start().starts_with('{') {
            let m: ModelConfig = serde_json::from_str(model)
                .map_err(|e| errors::usage(format!("invalid [model] table: {e}")))?;
            let problems: Vec<String> = m
                .problems()
                .into_iter()
                .map(|(field, message)| format!("model.{field}: {message}"))
                .collect();
            if !problems.is_empty() {
                return Err(errors::usage(problems.join("; ")));
            }
            let mut cfg = self.cfg.clone();
            cfg.model = m;
            analyze::build_model(&cfg, None).map_err(errors::to_py)?;
            return Ok(Session {
                cfg,
                ds: self.ds.clone(),
                model: None,
            });
        }
        Session::new(self.cfg.clone(), self.ds.clone(), Some(model.to_string()))
    }

    /// Warnings raised while loading the dataset, as the CLI prints them.
    fn warnings(&self) -> Vec<String> {
        self.ds.warnings.iter().map(ToString::to_string).collect()
    }

    /// The dataset summary as JSON (the `dataset` object of `planner analyze --json`).
    fn dataset_summary_json(&self) -> String {
        serde_json::to_string(&planner::summary::summarize(&self.ds))
            .expect("plain struct serializes")
    }

    /// The model name this session evaluates with.
    fn model_name(&self) -> PyResult<String> {
        analyze::build_model(&self.cfg, self.model.as_deref())
            .map(|m| m.name().to_string())
            .map_err(errors::to_py)
    }

    /// The physics of this session (model, budget, analysis limits, DEM) for
    /// [`Coverage::evaluate`].
    fn coverage(&self) -> PyResult<Coverage> {
        Coverage::new(
            &self.cfg,
            self.model_config(),
            self.ds.dem.clone().map(Arc::new),
        )
    }

    /// The dataset's sites.
    fn sites(&self) -> SiteSet {
        SiteSet::new(self.ds.sites.clone())
    }

    /// Settlements as columns (`x`/`y` are the point, degrees).
    fn settlements_columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let s = &self.ds.settlements;
        let mut c = Columns::default();
        c.push(
            "id",
            Col::Str(s.iter().map(|v| Some(v.id.clone())).collect()),
        );
        c.push(
            "name",
            Col::Str(s.iter().map(|v| Some(v.name.clone())).collect()),
        );
        c.push(
            "population",
            Col::I64(s.iter().map(|v| v.population as i64).collect()),
        );
        c.push(
            "households",
            Col::F64(
                s.iter()
                    .map(|v| v.households.map_or(f64::NAN, |h| h as f64))
                    .collect(),
            ),
        );
        c.push(
            "region",
            Col::Str(s.iter().map(|v| v.region.clone()).collect()),
        );
        c.push("x", Col::F64(s.iter().map(|v| v.lon).collect()));
        c.push("y", Col::F64(s.iter().map(|v| v.lat).collect()));
        c.into_py(py)
    }

    /// Roads as columns with WKB line geometries.
    fn roads_columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let r = &self.ds.roads;
        let mut c = Columns::default();
        c.push(
            "id",
            Col::Str(r.iter().map(|v| Some(v.id.clone())).collect()),
        );
        c.push(
            "class",
            Col::Str(
                r.iter()
                    .map(|v| {
                        serde_json::to_value(v.class)
                            .ok()
                            .and_then(|j| j.as_str().map(String::from))
                    })
                    .collect(),
            ),
        );
        c.push(
            "refs",
            Col::Str(r.iter().map(|v| Some(v.refs.join(";"))).collect()),
        );
        c.push(
            "international",
            Col::Bool(r.iter().map(|v| v.international).collect()),
        );
        c.push("name", Col::Str(r.iter().map(|v| v.name.clone()).collect()));
        let wkb = r
            .iter()
            .map(|v| columns::encode_wkb(&geo_types::Geometry::LineString(v.geometry.clone())))
            .collect::<PyResult<Vec<_>>>()?;
        c.push("geometry", Col::Wkb(wkb));
        c.into_py(py)
    }

    /// Regions as columns with WKB multipolygon geometries.
    fn regions_columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let r = &self.ds.regions;
        let mut c = Columns::default();
        c.push(
            "code",
            Col::Str(r.iter().map(|v| Some(v.code.clone())).collect()),
        );
        c.push(
            "name_en",
            Col::Str(r.iter().map(|v| Some(v.name_en.clone())).collect()),
        );
        c.push(
            "name_local",
            Col::Str(r.iter().map(|v| v.name_local.clone()).collect()),
        );
        c.push(
            "name_ru",
            Col::Str(r.iter().map(|v| v.name_ru.clone()).collect()),
        );
        let wkb = r
            .iter()
            .map(|v| columns::encode_wkb(&geo_types::Geometry::MultiPolygon(v.geometry.clone())))
            .collect::<PyResult<Vec<_>>>()?;
        c.push("geometry", Col::Wkb(wkb));
        c.into_py(py)
    }

    /// Fixed-broadband nodes as columns (`x`/`y` are the point, degrees).
    fn fixed_nodes_columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let f = &self.ds.fixed_nodes;
        let mut c = Columns::default();
        c.push(
            "id",
            Col::Str(f.iter().map(|v| Some(v.id.clone())).collect()),
        );
        c.push(
            "kind",
            Col::Str(f.iter().map(|v| Some(v.kind.clone())).collect()),
        );
        c.push(
            "technology",
            Col::Str(
                f.iter()
                    .map(|v| Some(v.technology.as_str().to_string()))
                    .collect(),
            ),
        );
        c.push(
            "ports_total",
            Col::I64(f.iter().map(|v| v.ports_total as i64).collect()),
        );
        c.push(
            "ports_used",
            Col::I64(f.iter().map(|v| v.ports_used as i64).collect()),
        );
        c.push("x", Col::F64(f.iter().map(|v| v.lon).collect()));
        c.push("y", Col::F64(f.iter().map(|v| v.lat).collect()));
        c.into_py(py)
    }

    /// Coverage and gap analysis, as `planner analyze` (same targets, model and budget); the
    /// GIL is released while it runs.
    #[pyo3(signature = (threads=None, grid_m=None))]
    fn analyze(
        &self,
        py: Python<'_>,
        threads: Option<usize>,
        grid_m: Option<f64>,
    ) -> PyResult<AnalysisResult> {
        if threads == Some(0) {
            return Err(errors::usage("--threads must be at least 1"));
        }
        if let Some(m) = grid_m {
            if !(m.is_finite() && m >= 1.0) {
                return Err(errors::usage(format!(
                    "--grid-m {m}: give the grid cell size in metres (≥ 1)"
                )));
            }
        }
        let opts = RunOptions {
            model: self.model.clone(),
            threads,
            grid_m,
            progress: false,
        };
        let ds = self.ds.clone();
        let a = py
            .detach(|| {
                use anyhow::Context;
                analyze::run(&ds, &self.cfg, &opts).context("coverage analysis failed")
            })
            .map_err(errors::to_py)?;
        let summary = planner::summary::summarize(&self.ds);
        let report = planner::render::analysis::report_json(&summary, Some(&a));
        Ok(AnalysisResult {
            ds: self.ds.clone(),
            cfg: self.cfg.clone(),
            a,
            report,
        })
    }

    /// Point-to-point link report (`planner link --json`) over this session's DEM or a
    /// profile CSV.
    #[pyo3(signature = (freq_mhz, from_lat_lon=None, to_lat_lon=None, profile=None, tx_height_m=30.0, rx_height_m=1.5, eirp_dbm=58.0, models=Vec::new(), k_factor=None, diffraction="deygout", step_m=30.0))]
    #[allow(clippy::too_many_arguments)]
    fn link(
        &self,
        py: Python<'_>,
        freq_mhz: f64,
        from_lat_lon: Option<(f64, f64)>,
        to_lat_lon: Option<(f64, f64)>,
        profile: Option<PathBuf>,
        tx_height_m: f64,
        rx_height_m: f64,
        eirp_dbm: f64,
        models: Vec<String>,
        k_factor: Option<f64>,
        diffraction: &str,
        step_m: f64,
    ) -> PyResult<String> {
        crate::link::run(
            py,
            self.ds.dem.as_ref(),
            crate::link::LinkRequest {
                freq_mhz,
                from_lat_lon,
                to_lat_lon,
                profile,
                tx_height_m,
                rx_height_m,
                eirp_dbm,
                models,
                k_factor,
                diffraction: diffraction.to_string(),
                step_m,
            },
        )
    }
}

/// The result of [`Session::analyze`].
#[pyclass(module = "coverage_planner._native", frozen)]
pub struct AnalysisResult {
    ds: Arc<Dataset>,
    cfg: PlannerConfig,
    a: Analysis,
    report: serde_json::Value,
}

#[pymethods]
impl AnalysisResult {
    /// The document `planner analyze --json` prints (pretty, without the final newline).
    fn report_json(&self) -> String {
        serde_json::to_string_pretty(&self.report).expect("JSON values always serialize")
    }

    /// The summary `planner analyze` prints.
    fn text(&self) -> String {
        let summary = planner::summary::summarize(&self.ds);
        planner::render::analysis::render_text(&summary, Some(&self.a))
    }

    /// Writes the files of `planner analyze --out DIR` (the config's `[outputs]` choices);
    /// returns their paths.
    fn write(&self, py: Python<'_>, dir: PathBuf) -> PyResult<Vec<String>> {
        let o = &self.cfg.outputs;
        let tiff = o.coverage_tiff || self.a.targets.grid.is_some();
        // Staged and renamed into place as a whole, as the CLI does: a failure leaves the
        // previous outputs untouched.
        let written = py
            .detach(|| {
                let mut staging = planner::output::Staging::open(&dir)?;
                planner::render::analysis::write_all(
                    &mut staging,
                    &self.ds,
                    &self.a,
                    &self.report,
                    o.csv,
                    o.geojson,
                    tiff,
                )?;
                staging.commit()
            })
            .map_err(|e| errors::to_py(e.into()))?;
        Ok(written.iter().map(|p| p.display().to_string()).collect())
    }

    /// Every target of the analysis (settlements, road pieces, grid cells) with its result.
    fn targets_columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items = &self.a.targets.items;
        let mut c = Columns::default();
        let kind = |k: &TargetKind| match k {
            TargetKind::Settlement { .. } => "settlement",
            TargetKind::Road { .. } => "road",
            TargetKind::Grid { .. } => "grid",
            TargetKind::Point { .. } => "point",
        };
        let id = |k: &TargetKind| match *k {
            TargetKind::Settlement { index } => {
                Some(self.ds.settlements[index as usize].id.clone())
            }
            TargetKind::Road { road, .. } => Some(self.ds.roads[road as usize].id.clone()),
            _ => None,
        };
        let road = |k: &TargetKind| match *k {
            TargetKind::Road {
                piece,
                start_m,
                length_m,
                ..
            } => (piece as i64, start_m, length_m),
            _ => (-1, f64::NAN, f64::NAN),
        };
        c.push(
            "kind",
            Col::Str(
                items
                    .iter()
                    .map(|t| Some(kind(&t.kind).to_string()))
                    .collect(),
            ),
        );
        c.push("id", Col::Str(items.iter().map(|t| id(&t.kind)).collect()));
        c.push(
            "piece",
            Col::I64(items.iter().map(|t| road(&t.kind).0).collect()),
        );
        c.push(
            "start_m",
            Col::F64(items.iter().map(|t| road(&t.kind).1).collect()),
        );
        c.push(
            "length_m",
            Col::F64(items.iter().map(|t| road(&t.kind).2).collect()),
        );
        c.push("x", Col::F64(items.iter().map(|t| t.lon).collect()));
        c.push("y", Col::F64(items.iter().map(|t| t.lat).collect()));
        c.0.extend(coverage::result_columns(&self.a.coverage).0);
        c.into_py(py)
    }

    /// `by_region.csv` rows as JSON records.
    fn by_region_json(&self) -> String {
        serde_json::to_string(&self.a.gaps.by_region).expect("plain struct serializes")
    }

    /// `by_route.csv` rows as JSON records.
    fn by_route_json(&self) -> String {
        serde_json::to_string(&self.a.gaps.by_route).expect("plain struct serializes")
    }

    /// Covered and uncovered road stretches per service, with WKB line geometries.
    fn stretches_columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let s = &self.a.gaps.stretches;
        let mut c = Columns::default();
        c.push(
            "service",
            Col::Str(s.iter().map(|v| Some(v.service.to_string())).collect()),
        );
        c.push("covered", Col::Bool(s.iter().map(|v| v.covered).collect()));
        c.push(
            "road_id",
            Col::Str(s.iter().map(|v| Some(v.road_id.clone())).collect()),
        );
        c.push(
            "refs",
            Col::Str(s.iter().map(|v| Some(v.refs.join(";"))).collect()),
        );
        c.push(
            "international",
            Col::Bool(s.iter().map(|v| v.international).collect()),
        );
        c.push(
            "region",
            Col::Str(s.iter().map(|v| Some(v.region.clone())).collect()),
        );
        c.push("start_m", Col::F64(s.iter().map(|v| v.start_m).collect()));
        c.push("length_m", Col::F64(s.iter().map(|v| v.length_m).collect()));
        let wkb = s
            .iter()
            .map(|v| {
                let line = geo_types::LineString::from(v.coords.clone());
                columns::encode_wkb(&geo_types::Geometry::LineString(line))
            })
            .collect::<PyResult<Vec<_>>>()?;
        c.push("geometry", Col::Wkb(wkb));
        c.into_py(py)
    }

    /// Region code of each settlement (empty outside every region), in dataset order.
    fn settlement_regions(&self) -> Vec<String> {
        self.a.gaps.settlement_region.clone()
    }

    /// Site ids, so result site indices can be named.
    fn site_ids(&self) -> Vec<String> {
        self.ds.sites.iter().map(|s| s.id.clone()).collect()
    }
}
