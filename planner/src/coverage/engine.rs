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

use crate::coverage::antenna::AntennaPattern;
use crate::coverage::propagation::free_space::fspl_db;
use crate::coverage::propagation::{Link, Loss, PropagationError, PropagationModel};
use crate::geo::{spherical_bearing_deg, PointIndex, EARTH_RADIUS_M};
use crate::targets::{describe_kind, Target};

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
    /// Skip sites whose best possible level (EIRP minus the model's lower bound on the loss,
    /// [`PropagationModel::min_loss_db`]) cannot beat the best server already found, before
    /// reading their terrain. Exact: the results are the same with and without it.
    pub prune: bool,
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
            prune: true,
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
    /// Site–target links not computed because the site could not beat the best server already
    /// found at that target, whatever the terrain ([`CoverageSettings::prune`]).
    pub links_pruned: u64,
    /// Model warning code → number of links that raised it.
    pub model_warnings: BTreeMap<String, u64>,
    /// Model that computed the loss → number of links it served (one entry unless the model
    /// is a composite such as `auto`).
    pub links_by_model: BTreeMap<String, u64>,
    /// First model error message, to show the user what went wrong.
    pub first_model_error: Option<String>,
}

/// Counters of one chunk of targets. Codes and model names are the models' `&'static str`s,
/// counted in small vectors (a handful of distinct codes per run), so counting allocates
/// nothing per link; [`CoverageStats`] is built once per chunk.
#[derive(Debug, Default)]
struct ChunkStats {
    targets: u64,
    links_evaluated: u64,
    targets_outside_dem: u64,
    links_outside_dem: u64,
    links_model_error: u64,
    links_pruned: u64,
    model_warnings: Vec<(&'static str, u64)>,
    links_by_model: Vec<(&'static str, u64)>,
    first_model_error: Option<String>,
}

#[inline]
fn count(tally: &mut Vec<(&'static str, u64)>, key: &'static str) {
    match tally.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += 1,
        None => tally.push((key, 1)),
    }
}

impl ChunkStats {
    fn into_stats(self) -> CoverageStats {
        let to_map = |v: Vec<(&'static str, u64)>| {
            let mut m = BTreeMap::new();
            for (k, n) in v {
                *m.entry(k.to_string()).or_default() += n;
            }
            m
        };
        CoverageStats {
            targets: self.targets,
            links_evaluated: self.links_evaluated,
            targets_outside_dem: self.targets_outside_dem,
            links_outside_dem: self.links_outside_dem,
            links_model_error: self.links_model_error,
            links_pruned: self.links_pruned,
            model_warnings: to_map(self.model_warnings),
            links_by_model: to_map(self.links_by_model),
            first_model_error: self.first_model_error,
        }
    }
}

impl CoverageStats {
    fn merge(&mut self, o: CoverageStats) {
        self.targets += o.targets;
        self.links_evaluated += o.links_evaluated;
        self.targets_outside_dem += o.targets_outside_dem;
        self.links_outside_dem += o.links_outside_dem;
        self.links_model_error += o.links_model_error;
        self.links_pruned += o.links_pruned;
        for (k, v) in o.model_warnings {
            *self.model_warnings.entry(k).or_default() += v;
        }
        for (k, v) in o.links_by_model {
            *self.links_by_model.entry(k).or_default() += v;
        }
        if self.first_model_error.is_none() {
            self.first_model_error = o.first_model_error;
        }
    }
}

/// Coverage at every target, in the order of [`crate::targets::Targets::items`].
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
    /// Distinct carrier frequencies of each site (in the order its cells first use them), and
    /// for each cell the index of its frequency there: the loss is computed once per band.
    site_bands: Vec<SiteBands>,
}

/// Most distinct bands per site evaluated together; a site with more is evaluated without
/// pruning in groups (none in practice: a macro site carries a handful).
const MAX_BANDS: usize = 16;

/// The bands of one site.
#[derive(Debug, Clone, Default)]
struct SiteBands {
    freqs_mhz: Vec<f64>,
    cell_band: Vec<u8>,
    /// Per cell, the highest level it could deliver at 1 m, dBm: EIRP plus the technology
    /// offset (antenna pattern gains are never positive) minus the frequency part of free-space
    /// loss and the model's loss floor; at distance d the bound is this − 20 log10(d / 1 m).
    /// `+∞` when the model has no floor (nothing is pruned).
    peak_at_1m_dbm: Vec<f64>,
    /// Whether any cell has a direction-dependent pattern (else the bearing is not needed).
    directional: bool,
}

/// Per-worker buffers reused from target to target.
#[derive(Debug, Default)]
struct Scratch {
    cand: Vec<(u32, f64)>,
    profile: Vec<f64>,
    losses: Vec<Result<Loss, PropagationError>>,
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
    /// Builds the site index and each site's useful range over the dataset's sites and DEM.
    pub fn new(
        ds: &'a Dataset,
        model: &'a dyn PropagationModel,
        settings: CoverageSettings,
    ) -> Result<Engine<'a>, CoverageError> {
        Engine::for_sites(&ds.sites, ds.dem.as_ref(), model, settings)
    }

    /// Like [`Engine::new`] over caller-given sites and DEM (no dataset needed), e.g. one
    /// spatial tile's sites: [`Server::site`] indexes `sites`.
    pub fn for_sites(
        sites: &'a [Site],
        dem: Option<&'a Dem>,
        model: &'a dyn PropagationModel,
        settings: CoverageSettings,
    ) -> Result<Engine<'a>, CoverageError> {
        if model.needs_terrain() && dem.is_none() {
            return Err(CoverageError::NoDem {
                model: model.name().to_string(),
            });
        }
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
        let site_bands = sites
            .iter()
            .zip(&patterns)
            .map(|(s, pats)| {
                let mut b = SiteBands::default();
                for c in &s.cells {
                    let i = match b
                        .freqs_mhz
                        .iter()
                        .position(|f| f.to_bits() == c.band_mhz.to_bits())
                    {
                        Some(i) => i,
                        None => {
                            b.freqs_mhz.push(c.band_mhz);
                            b.freqs_mhz.len() - 1
                        }
                    };
                    b.cell_band.push(u8::try_from(i).unwrap_or(u8::MAX));
                    let peak = c.eirp_dbm + settings.offset_db[tech_index(c.technology)];
                    b.peak_at_1m_dbm
                        .push(match model.loss_floor_db(c.band_mhz) {
                            Some(floor) => peak - fspl_db(c.band_mhz, 1.0) - floor,
                            None => f64::INFINITY,
                        });
                }
                b.directional = pats.iter().any(|p| p.azimuth_deg.is_some());
                b
            })
            .collect();
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
            site_bands,
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
                let mut stats = ChunkStats::default();
                let mut scratch = Scratch::default();
                let mut first_outside = None;
                let out: Vec<TargetCoverage> = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let r = self.evaluate_one(t, &mut scratch, &mut stats);
                        if r.outside_dem && first_outside.is_none() {
                            first_outside = Some(ci * CHUNK + i);
                        }
                        r
                    })
                    .collect();
                progress.inc(chunk.len() as u64);
                (out, stats.into_stats(), first_outside)
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
        scratch: &mut Scratch,
        stats: &mut ChunkStats,
    ) -> TargetCoverage {
        stats.targets += 1;
        let mut res = TargetCoverage::default();
        // A model that needs terrain skips what the DEM does not cover; one that only uses it
        // (auto) evaluates such links without a profile.
        let required = self.model.needs_terrain();
        // Ground heights only steer the antenna's vertical pattern (and the terrain profile);
        // where either end is off the DEM, both are taken as equal rather than as sea level.
        let target_ground = self.dem.and_then(|dem| dem.elevation_m(t.lon, t.lat));
        let terrain = self.model.uses_terrain() && target_ground.is_some();
        if required && target_ground.is_none() {
            stats.targets_outside_dem += 1;
            res.outside_dem = true;
            return res;
        }
        let Scratch {
            cand,
            profile,
            losses,
        } = scratch;
        cand.clear();
        self.index.within_m((t.lon, t.lat), self.max_range_m, cand);
        // Nearest sites first, so the best server is usually found early and farther sites
        // that cannot beat it are skipped before their terrain is read. Ties in level go to the
        // lowest site and cell index, as in index order.
        if self.settings.prune {
            cand.sort_unstable_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        }
        for &(si, d) in cand.iter() {
            if d > self.site_range_m[si as usize] {
                continue;
            }
            let site = &self.sites[si as usize];
            let bands = &self.site_bands[si as usize];
            let distance_m = d.max(1.0);
            // Which bands could still give some technology a better server.
            let n_bands = bands.freqs_mhz.len();
            let mut needed = [true; MAX_BANDS];
            if self.settings.prune && n_bands <= MAX_BANDS {
                needed = [false; MAX_BANDS];
                let spreading_db = 20.0 * distance_m.log10();
                for (ci, cell) in site.cells.iter().enumerate() {
                    let b = bands.cell_band[ci] as usize;
                    if needed[b] {
                        continue;
                    }
                    let best_possible = bands.peak_at_1m_dbm[ci] - spreading_db;
                    needed[b] = match res.best[tech_index(cell.technology)] {
                        None => true,
                        Some(best) => best_possible >= best.rx_dbm,
                    };
                }
            }
            let mut freqs = [0.0_f64; MAX_BANDS];
            let mut slot = [u8::MAX; MAX_BANDS];
            let mut n_needed = 0;
            for (b, &f) in bands.freqs_mhz.iter().enumerate().take(MAX_BANDS) {
                if needed[b] {
                    freqs[n_needed] = f;
                    slot[b] = n_needed as u8;
                    n_needed += 1;
                }
            }
            if n_bands <= MAX_BANDS && n_needed < n_bands {
                stats.links_pruned += (n_bands - n_needed) as u64;
            }
            if n_needed == 0 {
                continue;
            }
            let mut prof: Option<&[f64]> = None;
            let (mut site_ground_m, mut target_ground_m) = (0.0, 0.0);
            if terrain {
                let dem = self.dem.expect("checked in Engine::new");
                let n = ((distance_m / self.profile_step_m).ceil() as usize + 1).max(3);
                match dem.profile_samples((site.lon, site.lat), (t.lon, t.lat), n, profile) {
                    Ok(()) => {
                        site_ground_m = profile[0];
                        target_ground_m = profile[profile.len() - 1];
                        prof = Some(&profile[..]);
                    }
                    Err(_) if required => {
                        stats.links_outside_dem += 1;
                        continue;
                    }
                    Err(_) => {}
                }
            } else if let (Some(dem), Some(zt)) = (self.dem, target_ground) {
                if let Some(zs) = dem.elevation_m(site.lon, site.lat) {
                    (site_ground_m, target_ground_m) = (zs, zt);
                }
            }
            let bearing = if bands.directional {
                spherical_bearing_deg((site.lon, site.lat), (t.lon, t.lat))
            } else {
                0.0
            };
            // Depression angle below the horizon at the site, with Earth curvature (k-factor).
            let drop_m = (site_ground_m + site.height_m)
                - (target_ground_m + self.settings.rx_height_m)
                + distance_m * distance_m / (2.0 * self.settings.k_factor * EARTH_RADIUS_M);
            let depression_deg = drop_m.atan2(distance_m).to_degrees();
            // One loss per needed band of the site (terrain models analyse the profile once).
            losses.clear();
            let link = Link {
                freq_mhz: freqs[0],
                distance_m,
                tx_height_m: site.height_m,
                rx_height_m: self.settings.rx_height_m,
                profile_m: prof,
            };
            if n_bands <= MAX_BANDS {
                self.model.losses(&link, &freqs[..n_needed], losses);
            } else {
                self.model.losses(&link, &bands.freqs_mhz, losses);
            }
            for r in losses.iter() {
                stats.links_evaluated += 1;
                match r {
                    Ok(l) => {
                        count(&mut stats.links_by_model, l.model);
                        for code in l.warnings.iter() {
                            count(&mut stats.model_warnings, code);
                        }
                    }
                    Err(e) => {
                        stats.links_model_error += 1;
                        if stats.first_model_error.is_none() {
                            stats.first_model_error = Some(e.to_string());
                        }
                    }
                }
            }
            for (ci, cell) in site.cells.iter().enumerate() {
                let b = bands.cell_band[ci] as usize;
                let at = if n_bands <= MAX_BANDS {
                    slot[b] as usize
                } else {
                    b
                };
                let Some(Ok(l)) = losses.get(at) else {
                    continue;
                };
                let ti = tech_index(cell.technology);
                // The pattern takes an elevation angle (negative below the horizon).
                let gain_db = self.patterns[si as usize][ci].gain_db(bearing, -depression_deg);
                let rx_dbm = cell.eirp_dbm + gain_db + self.settings.offset_db[ti] - l.loss_db;
                let better = match res.best[ti] {
                    None => true,
                    Some(b) => {
                        rx_dbm > b.rx_dbm
                            || (rx_dbm == b.rx_dbm && (si, ci as u16) < (b.site, b.cell))
                    }
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
