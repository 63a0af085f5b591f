//! Coverage evaluation: best server and received power per technology at every target
//! (settlements, points along roads, optional grid cells), over an R-tree of sites.
//!
//! For each target only sites within the model's maximum useful range are considered: the
//! largest distance at which the strongest cell of the site could still reach the technology's
//! threshold over flat ground (from [`PropagationModel::max_range_m`]). Received power is
//! `EIRP + antenna pattern gain (≤ 0 dB off boresight) + technology offset − path loss`; with a
//! terrain model the path loss uses the DEM profile between site and target.
//!
//! Targets are split into fixed-size chunks evaluated in parallel with rayon; each target's
//! result depends only on the target (candidate sites in ascending index order, strict `>`
//! comparison so the lowest site/cell index wins ties), and chunk statistics are merged in chunk
//! order, so results are identical whatever the thread count.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;

use geodata::{Dataset, Dem, Site, Technology};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use crate::antenna::AntennaPattern;
use crate::geo::{
    geodesic_distance_m, interpolate, spherical_bearing_deg, PointIndex, EARTH_RADIUS_M,
};
use crate::propagation::{Link, PropagationModel};

/// Index of a technology in per-technology arrays (`2g` = 0 … `5g` = 3).
pub fn tech_index(t: Technology) -> usize {
    match t {
        Technology::G2 => 0,
        Technology::G3 => 1,
        Technology::G4 => 2,
        Technology::G5 => 3,
    }
}

/// What to do with a target outside the DEM when the model needs terrain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OutsideDem {
    /// Stop with an error naming the first targets outside the DEM.
    #[default]
    Error,
    /// Leave such targets unevaluated (never covered), count them and report the count.
    Skip,
}

/// Link-budget settings of one coverage run.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageSettings {
    /// Receiver (handset) antenna height above ground, metres.
    pub rx_height_m: f64,
    /// Minimum received power per technology (`2g` … `5g`) for service, dBm.
    pub threshold_dbm: [f64; 4],
    /// Added to `EIRP − path loss` per technology, dB: e.g. `−10 log10(12 · N_RB)` to turn an
    /// LTE carrier's total power into RSRP. Zero compares total received power.
    pub offset_db: [f64; 4],
    /// Upper bound on any site's useful range, metres (caps the range search).
    pub max_range_cap_m: f64,
    /// Spacing of terrain-profile samples, metres; `None` uses the DEM's cell size.
    pub profile_step_m: Option<f64>,
    /// Effective Earth-radius factor for the elevation angle seen by the antenna pattern.
    pub k_factor: f64,
    /// Policy for targets outside the DEM (terrain models only).
    pub outside_dem: OutsideDem,
    /// Vertical half-power beamwidth used for tilted antennas, degrees.
    pub vertical_beamwidth_deg: f64,
}

impl Default for CoverageSettings {
    fn default() -> Self {
        CoverageSettings {
            rx_height_m: 1.5,
            // Outdoor thresholds from REFERENCES.md: GSM RxLev −104, UMTS RSCP −105, LTE/NR RSRP −110.
            threshold_dbm: [-104.0, -105.0, -110.0, -110.0],
            offset_db: [0.0; 4],
            max_range_cap_m: 60_000.0,
            profile_step_m: None,
            k_factor: 4.0 / 3.0,
            outside_dem: OutsideDem::Error,
            vertical_beamwidth_deg: 10.0,
        }
    }
}

/// What a target stands for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetKind {
    /// A settlement, by index into `Dataset::settlements`.
    Settlement { index: u32 },
    /// The midpoint of piece `piece` of road `road` (index into `Dataset::roads`); the piece is
    /// `length_m` long and starts `start_m` metres along the road.
    Road {
        road: u32,
        piece: u32,
        start_m: f64,
        length_m: f64,
    },
    /// Centre of grid cell (`col`, `row`).
    Grid { col: u32, row: u32 },
}

/// A point where service is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Target {
    pub lon: f64,
    pub lat: f64,
    pub kind: TargetKind,
}

/// A regular lon/lat grid over a bounding box.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GridSpec {
    pub west_deg: f64,
    pub north_deg: f64,
    /// Cell width, degrees of longitude.
    pub dlon_deg: f64,
    /// Cell height, degrees of latitude.
    pub dlat_deg: f64,
    pub cols: u32,
    pub rows: u32,
}

impl GridSpec {
    /// Largest grid accepted (cells), so a typo in the resolution cannot exhaust memory.
    pub const MAX_CELLS: u64 = 50_000_000;

    /// Grid over `[west, south, east, north]` (degrees) with cells about `resolution_m` metres on
    /// a side (the longitude step is sized at the box's central latitude).
    pub fn new(bbox: [f64; 4], resolution_m: f64) -> Result<GridSpec, String> {
        let [west, south, east, north] = bbox;
        if !(bbox.iter().all(|v| v.is_finite())
            && west < east
            && south < north
            && south >= -90.0
            && north <= 90.0)
        {
            return Err(format!("grid bbox {bbox:?} must be [west, south, east, north] in degrees with west < east and south < north"));
        }
        if !(resolution_m.is_finite() && resolution_m > 0.0) {
            return Err(format!(
                "grid resolution_m = {resolution_m} must be a positive number of metres"
            ));
        }
        let m_per_deg_lat = EARTH_RADIUS_M.to_radians();
        let dlat = resolution_m / m_per_deg_lat;
        let mid = 0.5 * (south + north);
        let dlon = resolution_m / (m_per_deg_lat * mid.to_radians().cos().max(1e-6));
        let cols = ((east - west) / dlon).ceil().max(1.0);
        let rows = ((north - south) / dlat).ceil().max(1.0);
        if cols * rows > Self::MAX_CELLS as f64 {
            return Err(format!(
                "grid of {cols} × {rows} cells at {resolution_m} m exceeds {} cells: use a coarser resolution_m or a smaller bbox",
                Self::MAX_CELLS
            ));
        }
        Ok(GridSpec {
            west_deg: west,
            north_deg: north,
            dlon_deg: dlon,
            dlat_deg: dlat,
            cols: cols as u32,
            rows: rows as u32,
        })
    }

    fn centre(&self, col: u32, row: u32) -> (f64, f64) {
        (
            self.west_deg + (col as f64 + 0.5) * self.dlon_deg,
            self.north_deg - (row as f64 + 0.5) * self.dlat_deg,
        )
    }
}

/// All targets of a run, in a fixed order: settlements, then road pieces road by road, then grid
/// cells row by row.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub items: Vec<Target>,
    /// Number of settlement targets (they come first).
    pub settlements: usize,
    /// Range of `items` holding each road's pieces, by road index.
    pub road_ranges: Vec<std::ops::Range<usize>>,
    /// Grid, when one was requested; its cells are the last `cols × rows` items.
    pub grid: Option<GridSpec>,
}

/// One road piece: midpoint (lon, lat), start along the road (m), length (m).
pub type RoadPiece = ((f64, f64), f64, f64);

/// Splits a road into `n` equal pieces of at most `step_m` along its geodesic length; returns
/// `(midpoint, start_m, piece_length_m)` per piece.
pub fn road_pieces(coords: &[geo_types::Coord<f64>], step_m: f64) -> Vec<RoadPiece> {
    let cum = cumulative_lengths_m(coords);
    let total = *cum.last().unwrap_or(&0.0);
    if coords.len() < 2 || total <= 0.0 {
        return Vec::new();
    }
    let n = (total / step_m).ceil().max(1.0) as usize;
    let piece = total / n as f64;
    (0..n)
        .map(|i| {
            (
                point_along(coords, &cum, (i as f64 + 0.5) * piece),
                i as f64 * piece,
                piece,
            )
        })
        .collect()
}

/// Cumulative geodesic length at each vertex, metres (first = 0).
pub fn cumulative_lengths_m(coords: &[geo_types::Coord<f64>]) -> Vec<f64> {
    let mut cum = Vec::with_capacity(coords.len());
    let mut acc = 0.0;
    for (i, c) in coords.iter().enumerate() {
        if i > 0 {
            acc += geodesic_distance_m((coords[i - 1].x, coords[i - 1].y), (c.x, c.y));
        }
        cum.push(acc);
    }
    cum
}

/// Point `at_m` metres along a polyline with cumulative lengths `cum`.
pub fn point_along(coords: &[geo_types::Coord<f64>], cum: &[f64], at_m: f64) -> (f64, f64) {
    let i = cum
        .partition_point(|&c| c <= at_m)
        .clamp(1, coords.len() - 1);
    let (a, b) = (coords[i - 1], coords[i]);
    let seg = cum[i] - cum[i - 1];
    let t = if seg > 0.0 {
        ((at_m - cum[i - 1]) / seg).clamp(0.0, 1.0)
    } else {
        0.0
    };
    interpolate((a.x, a.y), (b.x, b.y), t)
}

impl Targets {
    /// Settlements and road pieces of at most `road_step_m`, plus an optional grid.
    pub fn build(ds: &Dataset, road_step_m: f64, grid: Option<GridSpec>) -> Targets {
        let mut items: Vec<Target> = ds
            .settlements
            .iter()
            .enumerate()
            .map(|(i, s)| Target {
                lon: s.lon,
                lat: s.lat,
                kind: TargetKind::Settlement { index: i as u32 },
            })
            .collect();
        let settlements = items.len();
        let pieces: Vec<Vec<RoadPiece>> = ds
            .roads
            .par_iter()
            .map(|r| road_pieces(&r.geometry.0, road_step_m))
            .collect();
        let mut road_ranges = Vec::with_capacity(ds.roads.len());
        for (ri, p) in pieces.into_iter().enumerate() {
            let start = items.len();
            for (pi, ((lon, lat), start_m, length_m)) in p.into_iter().enumerate() {
                items.push(Target {
                    lon,
                    lat,
                    kind: TargetKind::Road {
                        road: ri as u32,
                        piece: pi as u32,
                        start_m,
                        length_m,
                    },
                });
            }
            road_ranges.push(start..items.len());
        }
        if let Some(g) = grid {
            for row in 0..g.rows {
                for col in 0..g.cols {
                    let (lon, lat) = g.centre(col, row);
                    items.push(Target {
                        lon,
                        lat,
                        kind: TargetKind::Grid { col, row },
                    });
                }
            }
        }
        Targets {
            items,
            settlements,
            road_ranges,
            grid,
        }
    }
}

/// The strongest cell of one technology at a target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Server {
    /// Index into `Dataset::sites`.
    pub site: u32,
    /// Index into that site's `cells`.
    pub cell: u16,
    /// Received power (after the technology offset), dBm.
    pub rx_dbm: f64,
    /// Geodesic distance from the site, metres.
    pub distance_m: f64,
}

/// Result at one target.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct TargetCoverage {
    /// Best server per technology (`2g` … `5g`), `None` when no site in range has that technology.
    pub best: [Option<Server>; 4],
    /// True when the target lies outside the DEM and was not evaluated (terrain models, policy
    /// [`OutsideDem::Skip`]).
    pub outside_dem: bool,
}

impl TargetCoverage {
    /// Received power of the best server of `tech`, dBm.
    pub fn rx_dbm(&self, tech: Technology) -> Option<f64> {
        self.best[tech_index(tech)].map(|s| s.rx_dbm)
    }
}

/// Counters of one run; all of them are also reported in outputs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CoverageStats {
    pub targets: u64,
    /// Site–target pairs for which a path loss was computed.
    pub links_evaluated: u64,
    /// Targets outside the DEM (terrain models), left unevaluated.
    pub targets_outside_dem: u64,
    /// Links skipped because the terrain profile left the DEM (e.g. the site is outside it).
    pub links_outside_dem: u64,
    /// Links the model refused (parameter outside what it can compute), skipped.
    pub links_model_error: u64,
    /// Model warning code → number of links that raised it.
    pub model_warnings: BTreeMap<String, u64>,
    /// First model error message, to show the user what went wrong.
    pub first_model_error: Option<String>,
}

impl CoverageStats {
    fn merge(&mut self, o: CoverageStats) {
        self.targets += o.targets;
        self.links_evaluated += o.links_evaluated;
        self.targets_outside_dem += o.targets_outside_dem;
        self.links_outside_dem += o.links_outside_dem;
        self.links_model_error += o.links_model_error;
        for (k, v) in o.model_warnings {
            *self.model_warnings.entry(k).or_default() += v;
        }
        if self.first_model_error.is_none() {
            self.first_model_error = o.first_model_error;
        }
    }
}

/// Coverage at every target, in the order of [`Targets::items`].
#[derive(Debug, Clone, Default)]
pub struct CoverageResult {
    pub model: String,
    pub settings_threshold_dbm: [f64; 4],
    pub per_target: Vec<TargetCoverage>,
    pub stats: CoverageStats,
}

impl CoverageResult {
    /// Whether `tech` reaches its threshold at target `i`.
    pub fn covered(&self, i: usize, tech: Technology) -> bool {
        let t = tech_index(tech);
        self.per_target[i].best[t].is_some_and(|s| s.rx_dbm >= self.settings_threshold_dbm[t])
    }

    /// Whether "mobile Internet" (3G or better) reaches its threshold at target `i`.
    pub fn mobile_internet(&self, i: usize) -> bool {
        [Technology::G3, Technology::G4, Technology::G5]
            .into_iter()
            .any(|t| self.covered(i, t))
    }
}

/// Errors of a coverage run.
#[derive(Debug, thiserror::Error)]
pub enum CoverageError {
    #[error("model {model} needs terrain but no DEM is loaded: add a DEM to the inputs or choose a model without terrain (e.g. free_space, hata)")]
    NoDem { model: String },
    #[error(
        "{count} targets lie outside the DEM {dem} (first: {first}); extend the DEM, or set analysis.outside_dem = \"skip\" to count them as unevaluated"
    )]
    TargetsOutsideDem {
        count: u64,
        dem: String,
        first: String,
    },
    #[error("grid: {0}")]
    Grid(String),
    #[error("site {site}, cell {cell}: invalid antenna: {message} (fix the cell's azimuth_deg / beamwidth_deg / tilt_deg)")]
    Antenna {
        site: String,
        cell: usize,
        message: String,
    },
}

/// Coverage evaluator for one dataset, model and settings.
#[derive(Debug)]
pub struct Engine<'a> {
    sites: &'a [Site],
    index: PointIndex,
    /// Useful range per site (the largest over its cells), metres.
    site_range_m: Vec<f64>,
    max_range_m: f64,
    model: &'a dyn PropagationModel,
    dem: Option<&'a Dem>,
    settings: CoverageSettings,
    profile_step_m: f64,
    /// Antenna pattern of every cell, `patterns[site][cell]`, built once from the cell data.
    patterns: Vec<Vec<AntennaPattern>>,
}

/// Targets per parallel work unit; fixed so the merge order never depends on the thread count.
const CHUNK: usize = 256;

/// Whether a progress bar should be drawn: not quiet and stderr is a terminal.
pub fn progress_wanted(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A progress bar on stderr, or a hidden one.
pub fn progress_bar(len: u64, message: &str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(message.to_string());
    pb
}

impl<'a> Engine<'a> {
    /// Builds the site index and each site's useful range.
    pub fn new(
        ds: &'a Dataset,
        model: &'a dyn PropagationModel,
        settings: CoverageSettings,
    ) -> Result<Engine<'a>, CoverageError> {
        let dem = ds.dem.as_ref();
        if model.needs_terrain() && dem.is_none() {
            return Err(CoverageError::NoDem {
                model: model.name().to_string(),
            });
        }
        let sites = &ds.sites[..];
        let patterns = sites
            .iter()
            .map(|s| {
                s.cells
                    .iter()
                    .enumerate()
                    .map(|(ci, c)| {
                        let mut p =
                            AntennaPattern::from_cell(c).map_err(|e| CoverageError::Antenna {
                                site: s.id.clone(),
                                cell: ci,
                                message: e.to_string(),
                            })?;
                        p.vertical_beamwidth_deg = settings.vertical_beamwidth_deg;
                        Ok(p)
                    })
                    .collect::<Result<Vec<_>, CoverageError>>()
            })
            .collect::<Result<Vec<_>, CoverageError>>()?;
        let index = PointIndex::new(&sites.iter().map(|s| (s.lon, s.lat)).collect::<Vec<_>>());
        // Many cells share (band, height, power): cache the bisection per combination.
        let mut cache: HashMap<(u64, u64, u64), f64> = HashMap::new();
        let site_range_m: Vec<f64> = sites
            .iter()
            .map(|s| {
                s.cells
                    .iter()
                    .map(|c| {
                        let t = tech_index(c.technology);
                        let max_loss =
                            c.eirp_dbm + settings.offset_db[t] - settings.threshold_dbm[t];
                        let key = (
                            c.band_mhz.to_bits(),
                            s.height_m.to_bits(),
                            max_loss.to_bits(),
                        );
                        *cache.entry(key).or_insert_with(|| {
                            model.max_range_m(
                                c.band_mhz,
                                s.height_m,
                                settings.rx_height_m,
                                max_loss,
                                settings.max_range_cap_m,
                            )
                        })
                    })
                    .fold(0.0, f64::max)
            })
            .collect();
        let max_range_m = site_range_m.iter().copied().fold(0.0, f64::max);
        let profile_step_m = settings.profile_step_m.unwrap_or_else(|| match dem {
            // One DEM cell (its shorter side, at the raster's centre) per profile sample.
            Some(d) => {
                let lat_c = d.north_deg - 0.5 * d.rows as f64 * d.dlat_deg;
                let m = EARTH_RADIUS_M.to_radians();
                (d.dlat_deg * m)
                    .min(d.dlon_deg * m * lat_c.to_radians().cos())
                    .max(1.0)
            }
            None => 100.0,
        });
        Ok(Engine {
            sites,
            index,
            site_range_m,
            max_range_m,
            model,
            dem,
            settings,
            profile_step_m,
            patterns,
        })
    }

    /// Largest useful range of any site, metres.
    pub fn max_range_m(&self) -> f64 {
        self.max_range_m
    }

    /// Useful range of each site, metres.
    pub fn site_ranges_m(&self) -> &[f64] {
        &self.site_range_m
    }

    /// Evaluates every target (in the current rayon pool). `progress` is advanced per chunk.
    pub fn evaluate(
        &self,
        targets: &[Target],
        progress: &ProgressBar,
    ) -> Result<CoverageResult, CoverageError> {
        let chunks: Vec<(Vec<TargetCoverage>, CoverageStats, Option<usize>)> = targets
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(ci, chunk)| {
                let mut stats = CoverageStats::default();
                let mut cand = Vec::new();
                let mut profile = Vec::new();
                let mut first_outside = None;
                let out: Vec<TargetCoverage> = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let r = self.evaluate_one(t, &mut cand, &mut profile, &mut stats);
                        if r.outside_dem && first_outside.is_none() {
                            first_outside = Some(ci * CHUNK + i);
                        }
                        r
                    })
                    .collect();
                progress.inc(chunk.len() as u64);
                (out, stats, first_outside)
            })
            .collect();
        progress.finish_and_clear();
        let mut per_target = Vec::with_capacity(targets.len());
        let mut stats = CoverageStats::default();
        let mut first_outside = None;
        for (out, s, f) in chunks {
            per_target.extend(out);
            stats.merge(s);
            first_outside = first_outside.or(f);
        }
        if let (Some(i), OutsideDem::Error) = (first_outside, self.settings.outside_dem) {
            let t = &targets[i];
            return Err(CoverageError::TargetsOutsideDem {
                count: stats.targets_outside_dem,
                dem: self.dem.map(|d| d.source.clone()).unwrap_or_default(),
                first: format!(
                    "{} at lon {:.5}, lat {:.5}",
                    describe_kind(&t.kind),
                    t.lon,
                    t.lat
                ),
            });
        }
        Ok(CoverageResult {
            model: self.model.name().to_string(),
            settings_threshold_dbm: self.settings.threshold_dbm,
            per_target,
            stats,
        })
    }

    fn evaluate_one(
        &self,
        t: &Target,
        cand: &mut Vec<(u32, f64)>,
        profile: &mut Vec<f64>,
        stats: &mut CoverageStats,
    ) -> TargetCoverage {
        stats.targets += 1;
        let mut res = TargetCoverage::default();
        let terrain = self.model.needs_terrain();
        // Ground heights only steer the antenna's vertical pattern (and the terrain profile);
        // where either end is off the DEM, both are taken as equal rather than as sea level.
        let target_ground = self.dem.and_then(|dem| dem.elevation_m(t.lon, t.lat));
        if terrain && target_ground.is_none() {
            stats.targets_outside_dem += 1;
            res.outside_dem = true;
            return res;
        }
        cand.clear();
        self.index.within_m((t.lon, t.lat), self.max_range_m, cand);
        for &(si, d) in cand.iter() {
            if d > self.site_range_m[si as usize] {
                continue;
            }
            let site = &self.sites[si as usize];
            let distance_m = d.max(1.0);
            let mut prof: Option<&[f64]> = None;
            let (mut site_ground_m, mut target_ground_m) = (0.0, 0.0);
            if terrain {
                let dem = self.dem.expect("checked in Engine::new");
                let n = ((distance_m / self.profile_step_m).ceil() as usize + 1).max(3);
                match dem.profile_into((site.lon, site.lat), (t.lon, t.lat), n, profile) {
                    Ok(_) => {
                        site_ground_m = profile[0];
                        target_ground_m = profile[profile.len() - 1];
                        prof = Some(&profile[..]);
                    }
                    Err(_) => {
                        stats.links_outside_dem += 1;
                        continue;
                    }
                }
            } else if let (Some(dem), Some(zt)) = (self.dem, target_ground) {
                if let Some(zs) = dem.elevation_m(site.lon, site.lat) {
                    (site_ground_m, target_ground_m) = (zs, zt);
                }
            }
            let bearing = spherical_bearing_deg((site.lon, site.lat), (t.lon, t.lat));
            // Depression angle below the horizon at the site, with Earth curvature (k-factor).
            let drop_m = (site_ground_m + site.height_m)
                - (target_ground_m + self.settings.rx_height_m)
                + distance_m * distance_m / (2.0 * self.settings.k_factor * EARTH_RADIUS_M);
            let depression_deg = drop_m.atan2(distance_m).to_degrees();
            // Cells of one site often share a band: compute each band's loss once.
            let mut losses: [(u64, f64); 8] = [(u64::MAX, 0.0); 8];
            let mut n_losses = 0;
            for (ci, cell) in site.cells.iter().enumerate() {
                let ti = tech_index(cell.technology);
                let key = cell.band_mhz.to_bits();
                let cached = losses[..n_losses]
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|x| x.1);
                let loss_db = match cached {
                    Some(l) => l,
                    None => {
                        let link = Link {
                            freq_mhz: cell.band_mhz,
                            distance_m,
                            tx_height_m: site.height_m,
                            rx_height_m: self.settings.rx_height_m,
                            profile_m: prof,
                        };
                        stats.links_evaluated += 1;
                        match self.model.path_loss(&link) {
                            Ok(pl) => {
                                for w in &pl.warnings {
                                    *stats.model_warnings.entry(w.code.to_string()).or_default() +=
                                        1;
                                }
                                if n_losses < losses.len() {
                                    losses[n_losses] = (key, pl.loss_db);
                                    n_losses += 1;
                                }
                                pl.loss_db
                            }
                            Err(e) => {
                                stats.links_model_error += 1;
                                if stats.first_model_error.is_none() {
                                    stats.first_model_error = Some(e.to_string());
                                }
                                continue;
                            }
                        }
                    }
                };
                // The pattern takes an elevation angle (negative below the horizon).
                let gain_db = self.patterns[si as usize][ci].gain_db(bearing, -depression_deg);
                let rx_dbm = cell.eirp_dbm + gain_db + self.settings.offset_db[ti] - loss_db;
                let better = match res.best[ti] {
                    None => true,
                    Some(b) => rx_dbm > b.rx_dbm,
                };
                if better {
                    res.best[ti] = Some(Server {
                        site: si,
                        cell: ci as u16,
                        rx_dbm,
                        distance_m: d,
                    });
                }
            }
        }
        res
    }
}

/// Human description of a target for messages.
pub fn describe_kind(k: &TargetKind) -> String {
    match k {
        TargetKind::Settlement { index } => format!("settlement #{index}"),
        TargetKind::Road {
            road,
            piece,
            start_m,
            ..
        } => format!("road #{road} piece {piece} ({start_m:.0} m along)"),
        TargetKind::Grid { col, row } => format!("grid cell col {col}, row {row}"),
    }
}

/// Builds a rayon pool with `threads` workers (all cores when `None`) and runs `f` in it.
pub fn with_threads<R: Send>(
    threads: Option<usize>,
    f: impl FnOnce() -> R + Send,
) -> Result<R, rayon::ThreadPoolBuildError> {
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        b = b.num_threads(n);
    }
    Ok(b.build()?.install(f))
}

/// Writes the best received power per technology over the grid as a 4-band Float32 GeoTIFF in
/// EPSG:4326 (band n = technology `2g` … `5g`; no-data −9999 where no site of that technology is
/// in range). Written to `path` directly; callers write to a temporary name and rename.
pub fn write_coverage_tiff(
    path: &std::path::Path,
    grid: &GridSpec,
    cells: &[TargetCoverage],
) -> Result<(), gdal::errors::GdalError> {
    use gdal::raster::{Buffer, RasterCreationOptions};
    use gdal::Metadata;
    const NODATA: f64 = -9999.0;
    let (w, h) = (grid.cols as usize, grid.rows as usize);
    let driver = gdal::DriverManager::get_driver_by_name("GTiff")?;
    let opts = RasterCreationOptions::from_iter(["COMPRESS=DEFLATE", "TILED=YES"]);
    let mut ds = driver.create_with_band_type_with_options::<f32, _>(path, w, h, 4, &opts)?;
    ds.set_geo_transform(&[
        grid.west_deg,
        grid.dlon_deg,
        0.0,
        grid.north_deg,
        0.0,
        -grid.dlat_deg,
    ])?;
    ds.set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(4326)?)?;
    for (bi, tech) in Technology::ALL.iter().enumerate() {
        let data: Vec<f32> = cells
            .iter()
            .map(|c| c.best[bi].map(|s| s.rx_dbm as f32).unwrap_or(NODATA as f32))
            .collect();
        let mut band = ds.rasterband(bi + 1)?;
        band.set_no_data_value(Some(NODATA))?;
        band.set_description(&format!("best received power {} dBm", tech.as_str()))?;
        band.write((0, 0), (w, h), &mut Buffer::new((w, h), data))?;
    }
    Ok(())
}
