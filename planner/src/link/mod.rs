//! Point-to-point link analysis (`planner link`), the planner's counterpart of SPLAT!'s
//! point-to-point mode: path loss per model, line of sight, Fresnel clearance, obstructions,
//! and the received level, margin and class per technology between two points or over a
//! profile CSV.
//!
//! Data flow: a [`LinkRequest`] (positions or a [`profile_csv`] file, radio parameters, the
//! `[model]` settings in force and the `[budget]`) → [`run`] → a [`LinkReport`], which
//! `render::link` prints as text or JSON and `render::profile_svg` draws. The command line
//! (`main.rs`) builds the request from flags and `--config`.
//!
//! Received levels assume the receiver is in the transmitter's main beam (pattern gain 0 dB)
//! and use the same EIRP and frequency for every technology; what differs is the reference
//! signal (RxLev, RSCP, RSRP) and the threshold, see [`crate::coverage::budget`].

pub mod profile_csv;

use std::path::PathBuf;

use ::geo::Distance as _;
use anyhow::{anyhow, bail, Context};
use geodata::Technology;
use serde::Serialize;

use crate::coverage::antenna::{elevation_angle_deg, initial_bearing_deg};
use crate::coverage::budget::{BudgetConfig, SignalClass};
use crate::coverage::propagation::auto::AutoConfig;
use crate::coverage::propagation::diffraction::{
    first_fresnel_radius_m, wavelength_m, DiffractionEdge,
};
use crate::coverage::propagation::itm::ItmConfig;
use crate::coverage::propagation::terrain::{earth_bulge_m, Obstruction, TerrainModel};
use crate::coverage::propagation::{
    build_model, AutoModel, DiffractionConfig, FreeSpace, Link, ModelConfig, ModelWarning,
    PropagationMode, PropagationModel,
};
pub use profile_csv::{parse_profile_csv, read_profile_csv, ProfileCsv, ProfileCsvError};

/// A position given on the command line as `LAT,LON` (degrees).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

/// Parses `LAT,LON` in decimal degrees (latitude first, as maps print it).
pub fn parse_lat_lon(s: &str) -> Result<LatLon, String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    if parts.len() != 2 {
        return Err(format!(
            "`{s}` is not LAT,LON (two decimal degrees separated by a comma, e.g. 41.31,69.28)"
        ));
    }
    let lat: f64 = parts[0]
        .parse()
        .map_err(|_| format!("latitude `{}` is not a number", parts[0]))?;
    let lon: f64 = parts[1]
        .parse()
        .map_err(|_| format!("longitude `{}` is not a number", parts[1]))?;
    if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
        return Err(format!(
            "latitude {lat} is outside -90..90 (is the order LAT,LON?)"
        ));
    }
    if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
        return Err(format!("longitude {lon} is outside -180..180"));
    }
    Ok(LatLon { lat, lon })
}

/// What to analyse: the path, the radio parameters and every setting in force.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkRequest {
    /// Transmitter and receiver positions (terrain from the DEM when one is given).
    pub from: Option<LatLon>,
    pub to: Option<LatLon>,
    /// Terrain profile CSV instead of positions.
    pub profile: Option<PathBuf>,
    /// Transmitter antenna height above ground, metres.
    pub tx_height_m: f64,
    /// Receiver antenna height above ground, metres.
    pub rx_height_m: f64,
    /// Carrier frequency, MHz.
    pub freq_mhz: f64,
    /// Transmitter EIRP in the main beam (total carrier power), dBm.
    pub eirp_dbm: f64,
    /// Models to report; empty = [`default_models`].
    pub models: Vec<String>,
    /// Model settings in force (`[model]`, `[model.itm]`, `[model.auto]` with the flags
    /// applied): k-factor, diffraction method, ITM parameters… `model` names the configured
    /// model, which is reported with the defaults.
    pub model: ModelConfig,
    /// Link budget in force (`[budget]`).
    pub budget: BudgetConfig,
    /// Spacing of DEM profile samples, metres (with positions).
    pub step_m: f64,
}

impl LinkRequest {
    /// A request with default settings for a frequency, for library use and tests.
    pub fn new(freq_mhz: f64) -> Self {
        LinkRequest {
            from: None,
            to: None,
            profile: None,
            tx_height_m: 30.0,
            rx_height_m: 1.5,
            freq_mhz,
            eirp_dbm: 58.0,
            models: Vec::new(),
            model: ModelConfig::from_name("auto"),
            budget: BudgetConfig::default(),
            step_m: 30.0,
        }
    }
}

/// One technology's received level for a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TechnologyLevel {
    pub technology: Technology,
    /// `RxLev`, `RSCP` or `RSRP`.
    pub quantity: &'static str,
    pub received_dbm: f64,
    pub threshold_dbm: f64,
    /// Received level minus the threshold (≥ 0: covered), dB.
    pub margin_db: f64,
    /// Received level minus the `strong` threshold (threshold + strong margin), dB.
    pub strong_margin_db: f64,
    pub class: SignalClass,
}

/// Result of one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelResult {
    pub model: String,
    /// For `auto`: the member model that served this link (`itm`, `terrain`, `hata_open`, …).
    pub served_by: Option<String>,
    /// Basic transmission loss, dB; absent when the model failed (see `error`).
    pub loss_db: Option<f64>,
    pub mode: Option<PropagationMode>,
    pub warnings: Vec<ModelWarning>,
    pub error: Option<String>,
    pub levels: Vec<TechnologyLevel>,
}

/// Terrain findings along the path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TerrainReport {
    pub line_of_sight: bool,
    /// Smallest (ray − terrain) / first-Fresnel radius; ≥ 0.6 is the usual clearance rule.
    pub min_fresnel_clearance_ratio: Option<f64>,
    /// Where that minimum is, metres from the transmitter (rounded to 1 m).
    pub min_clearance_distance_m: Option<f64>,
    /// Clearance of the ray over the terrain (with Earth bulge) there, metres (negative:
    /// blocked).
    pub min_clearance_m: Option<f64>,
    /// First Fresnel-zone radius there, metres.
    pub fresnel_radius_m: Option<f64>,
    pub fresnel_60_clear: bool,
    pub obstructions: Vec<Obstruction>,
    pub diffraction_method: &'static str,
    pub diffraction_loss_db: f64,
    pub diffraction_edges: Vec<DiffractionEdge>,
    /// Elevation angle from the transmitter antenna to the receiver antenna, degrees.
    pub elevation_angle_deg: f64,
    pub highest_terrain_m: f64,
}

/// The terrain profile as analysed, for drawing (not serialised: the JSON has the findings).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProfileSamples {
    /// Spacing of the samples, metres.
    pub step_m: f64,
    /// Terrain elevation at each sample, metres above sea level.
    pub elevations_m: Vec<f64>,
}

/// Every setting the computation used, printed so that a report can be reproduced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParametersInForce {
    /// Effective Earth radius factor of the terrain analysis and the terrain model.
    pub k_factor: f64,
    /// Multiple knife-edge method and most edges combined (terrain model).
    pub diffraction_method: &'static str,
    pub diffraction_max_edges: usize,
    /// ITM parameters (`itm`, and `auto` where ITM serves).
    pub itm: ItmConfig,
    /// `auto` settings.
    pub auto: AutoConfig,
    /// Link budget: thresholds, strong margin, receiver height/gain/losses, N_RB, CPICH share.
    pub budget: BudgetConfig,
    /// Added to EIRP − loss per technology: reference-signal share + receiver gain − losses, dB.
    pub reference_offset_db: Vec<(Technology, f64)>,
    /// Spacing of the profile samples, metres (from the DEM or the CSV).
    pub profile_step_m: Option<f64>,
}

/// The full point-to-point report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkReport {
    pub from: Option<LatLon>,
    pub to: Option<LatLon>,
    /// Path length, metres (geodesic, or the profile's last distance), rounded to 1 m.
    pub distance_m: f64,
    /// The same in kilometres, rounded to 0.01 km.
    pub distance_km: f64,
    /// Initial geodesic bearing from transmitter to receiver, degrees from north (0.1°).
    pub bearing_deg: Option<f64>,
    pub freq_mhz: f64,
    pub eirp_dbm: f64,
    pub tx_height_m: f64,
    pub rx_height_m: f64,
    pub parameters: ParametersInForce,
    /// Where the terrain came from (`dem:<source>`, `profile:<file>`), or `None`.
    pub terrain_source: Option<String>,
    pub profile_samples: usize,
    pub profile_resampled: bool,
    pub tx_ground_m: Option<f64>,
    pub rx_ground_m: Option<f64>,
    pub terrain: Option<TerrainReport>,
    pub models: Vec<ModelResult>,
    #[serde(skip)]
    pub profile: Option<ProfileSamples>,
}

/// Rounds to `step` (e.g. 1 m, 0.01 km) for people: no 36.161807326347365 km.
pub fn round_to(v: f64, step: f64) -> f64 {
    let r = (v / step).round() * step;
    // Print 36.16, not 36.160000000000004.
    let decimals = (-step.log10()).ceil().max(0.0) as i32;
    let scale = 10f64.powi(decimals);
    (r * scale).round() / scale
}

/// Models reported when none are named: `auto` (the default model) and the configured one,
/// every empirical model applicable to the frequency, and the terrain-aware ones with terrain.
pub fn default_models(freq_mhz: f64, has_terrain: bool, configured: &str) -> Vec<String> {
    let mut m = vec!["auto".to_string(), "free_space".to_string()];
    if freq_mhz <= 1500.0 {
        m.extend(
            [
                "hata_urban_large",
                "hata_urban_small",
                "hata_suburban",
                "hata_open",
            ]
            .map(String::from),
        );
    } else {
        m.extend(["cost231_medium_city", "cost231_metropolitan"].map(String::from));
    }
    if has_terrain {
        m.push("terrain".into());
        m.push("itm".into());
    }
    let configured = configured.trim();
    if !configured.is_empty() && !m.iter().any(|n| n == configured) {
        m.insert(1, configured.to_string());
    }
    m
}

fn quantity(tech: Technology) -> &'static str {
    match tech {
        Technology::G2 => "RxLev",
        Technology::G3 => "RSCP",
        Technology::G4 | Technology::G5 => "RSRP",
    }
}

fn check_request(req: &LinkRequest) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    if !(req.freq_mhz.is_finite() && req.freq_mhz > 0.0) {
        problems.push(format!(
            "--freq-mhz {}: must be a frequency > 0 MHz",
            req.freq_mhz
        ));
    }
    for (name, v) in [
        ("--tx-height-m", req.tx_height_m),
        ("--rx-height-m", req.rx_height_m),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            problems.push(format!("{name} {v}: must be a height ≥ 0 m above ground"));
        }
    }
    if !req.eirp_dbm.is_finite() {
        problems.push(format!(
            "--eirp-dbm {}: must be a finite power in dBm",
            req.eirp_dbm
        ));
    }
    if !(req.model.k_factor.is_finite() && req.model.k_factor > 0.0) {
        problems.push(format!(
            "--k-factor {}: must be > 0 (4/3 for a standard atmosphere)",
            req.model.k_factor
        ));
    }
    if !(req.step_m.is_finite() && req.step_m > 0.0) {
        problems.push(format!("--step-m {}: must be > 0 m", req.step_m));
    }
    if let Some(itm) = &req.model.itm {
        if let Err(e) = itm.validate() {
            problems.extend(e.problems);
        }
    }
    if let Some(auto) = &req.model.auto {
        problems.extend(
            auto.problems()
                .into_iter()
                .map(|(f, m)| format!("{f}: {m}")),
        );
    }
    if let Err(e) = req.budget.validate() {
        problems.extend(e.problems);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        bail!("invalid link arguments:\n  {}", problems.join("\n  "))
    }
}

/// The path: its length, bearing, terrain source and elevations.
struct PathTerrain {
    distance_m: f64,
    bearing_deg: Option<f64>,
    source: Option<String>,
    elevations: Option<Vec<f64>>,
    resampled: bool,
}

fn path_terrain(req: &LinkRequest, dem: Option<&geodata::Dem>) -> anyhow::Result<PathTerrain> {
    match (&req.profile, req.from, req.to) {
        (Some(path), _, _) => {
            let p = read_profile_csv(path)?;
            Ok(PathTerrain {
                distance_m: p.distance_m,
                bearing_deg: None,
                source: Some(format!("profile:{}", path.display())),
                elevations: Some(p.elevations_m),
                resampled: p.resampled,
            })
        }
        (None, Some(a), Some(b)) => {
            let (fa, fb) = ((a.lon, a.lat), (b.lon, b.lat));
            let d = ::geo::Geodesic
                .distance(::geo::Point::new(fa.0, fa.1), ::geo::Point::new(fb.0, fb.1));
            if d.is_nan() || d <= 0.0 {
                bail!("--from and --to are the same point; a link needs two distinct positions");
            }
            let bearing_deg = Some(initial_bearing_deg(fa, fb));
            match dem {
                Some(dem) => {
                    let prof = dem
                        .profile(fa, fb, req.step_m)
                        .with_context(|| format!("terrain profile from the DEM {}", dem.source))?;
                    Ok(PathTerrain {
                        distance_m: prof.distance_m,
                        bearing_deg,
                        source: Some(format!("dem:{}", dem.source)),
                        elevations: Some(prof.elevations_m),
                        resampled: false,
                    })
                }
                None => Ok(PathTerrain {
                    distance_m: d,
                    bearing_deg,
                    source: None,
                    elevations: None,
                    resampled: false,
                }),
            }
        }
        _ => bail!(
            "give --from LAT,LON and --to LAT,LON (terrain from the DEM), or --profile FILE.csv"
        ),
    }
}

/// Line of sight, Fresnel clearance and obstructions over the profile (free space + knife
/// edges with the configured method), independent of the models reported.
fn terrain_report(
    req: &LinkRequest,
    link: &Link<'_>,
    profile: &[f64],
    diffraction: DiffractionConfig,
) -> anyhow::Result<TerrainReport> {
    let tm = TerrainModel::new(Box::new(FreeSpace), req.model.k_factor, diffraction)?;
    let a = tm
        .analyze(link)
        .map_err(|e| anyhow!("terrain analysis: {e}"))?;
    let d = link.distance_m;
    let step = d / (profile.len() - 1) as f64;
    // Clearance and Fresnel radius at the tightest point, for the report.
    let (clearance, radius) = match a.min_clearance_distance_m {
        Some(x) => {
            let i = ((x / step).round() as usize).min(profile.len() - 1);
            let ray = a.tx_top_m + (a.rx_top_m - a.tx_top_m) * x / d;
            let ground = profile[i] + earth_bulge_m(x, d - x, req.model.k_factor);
            (
                Some(ray - ground),
                Some(first_fresnel_radius_m(x, d - x, wavelength_m(req.freq_mhz))),
            )
        }
        None => (None, None),
    };
    let mut obstructions = a.obstructions;
    for o in &mut obstructions {
        o.start_m = round_to(o.start_m, 1.0);
        o.end_m = round_to(o.end_m, 1.0);
        o.peak_distance_m = round_to(o.peak_distance_m, 1.0);
    }
    let mut edges = a.diffraction.edges;
    for e in &mut edges {
        e.distance_m = round_to(e.distance_m, 1.0);
    }
    Ok(TerrainReport {
        line_of_sight: a.line_of_sight,
        min_fresnel_clearance_ratio: a.min_fresnel_clearance_ratio,
        min_clearance_distance_m: a.min_clearance_distance_m.map(|x| round_to(x, 1.0)),
        min_clearance_m: clearance,
        fresnel_radius_m: radius,
        fresnel_60_clear: a.fresnel_60_clear,
        obstructions,
        diffraction_method: diffraction.method.as_str(),
        diffraction_loss_db: a.diffraction.loss_db,
        diffraction_edges: edges,
        elevation_angle_deg: elevation_angle_deg(a.tx_top_m, a.rx_top_m, d, req.model.k_factor),
        highest_terrain_m: profile.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

/// Computes the report: terrain, every requested model, levels and margins per technology.
pub fn run(req: &LinkRequest, dem: Option<&geodata::Dem>) -> anyhow::Result<LinkReport> {
    check_request(req)?;
    let path = path_terrain(req, dem)?;
    let has_terrain = path.elevations.is_some();
    let names = if req.models.is_empty() {
        default_models(req.freq_mhz, has_terrain, &req.model.model)
    } else {
        req.models.clone()
    };
    let diffraction = DiffractionConfig {
        method: req.model.diffraction,
        max_edges: req.model.max_edges,
    };

    let mut models: Vec<Box<dyn PropagationModel>> = Vec::new();
    let mut autos: Vec<Option<AutoModel>> = Vec::new();
    let mut bad = Vec::new();
    for name in &names {
        let cfg = crate::config::model_named(&req.model, name);
        let auto = (name.trim() == "auto")
            .then(|| {
                AutoModel::new(
                    cfg.auto.clone().unwrap_or_default(),
                    cfg.itm.clone().unwrap_or_default(),
                    cfg.k_factor,
                    diffraction,
                )
                .ok()
            })
            .flatten();
        match build_model(&cfg) {
            Ok(m) if m.needs_terrain() && !has_terrain => bad.push(format!(
                "--model {name} needs terrain: pass --profile FILE.csv, or --from/--to with a DEM loaded"
            )),
            Ok(m) => {
                models.push(m);
                autos.push(auto);
            }
            Err(e) => bad.push(format!("--model {name}: {e}")),
        }
    }
    if !bad.is_empty() {
        bail!("{}", bad.join("\n"));
    }

    let link = Link {
        freq_mhz: req.freq_mhz,
        distance_m: path.distance_m,
        tx_height_m: req.tx_height_m,
        rx_height_m: req.rx_height_m,
        profile_m: path.elevations.as_deref(),
    };
    let terrain = match &path.elevations {
        Some(prof) => Some(terrain_report(req, &link, prof, diffraction)?),
        None => None,
    };
    let budget = &req.budget;
    let results = models
        .iter()
        .zip(&autos)
        .map(|(m, auto)| match m.path_loss(&link) {
            Ok(pl) => ModelResult {
                model: m.name().to_string(),
                served_by: auto
                    .as_ref()
                    .and_then(|a| a.served_by(&link).ok())
                    .map(str::to_string),
                loss_db: Some(pl.loss_db),
                mode: Some(pl.mode),
                warnings: pl.warnings,
                error: None,
                levels: Technology::ALL
                    .iter()
                    .map(|&tech| {
                        let rx = budget.received_dbm(tech, req.eirp_dbm, 0.0, pl.loss_db);
                        let threshold = budget.threshold_dbm(tech);
                        TechnologyLevel {
                            technology: tech,
                            quantity: quantity(tech),
                            received_dbm: rx,
                            threshold_dbm: threshold,
                            margin_db: rx - threshold,
                            strong_margin_db: rx - threshold - budget.strong_margin_db,
                            class: budget.classify(tech, rx),
                        }
                    })
                    .collect(),
            },
            Err(e) => ModelResult {
                model: m.name().to_string(),
                served_by: None,
                loss_db: None,
                mode: None,
                warnings: Vec::new(),
                error: Some(e.to_string()),
                levels: Vec::new(),
            },
        })
        .collect();

    let samples = path.elevations.as_ref().map_or(0, Vec::len);
    let profile_step_m = path
        .elevations
        .as_ref()
        .map(|e| path.distance_m / (e.len().max(2) - 1) as f64);
    Ok(LinkReport {
        from: req.from,
        to: req.to,
        distance_m: round_to(path.distance_m, 1.0),
        distance_km: round_to(path.distance_m / 1000.0, 0.01),
        bearing_deg: path.bearing_deg.map(|b| round_to(b, 0.1)),
        freq_mhz: req.freq_mhz,
        eirp_dbm: req.eirp_dbm,
        tx_height_m: req.tx_height_m,
        rx_height_m: req.rx_height_m,
        parameters: ParametersInForce {
            k_factor: req.model.k_factor,
            diffraction_method: diffraction.method.as_str(),
            diffraction_max_edges: diffraction.max_edges,
            itm: req.model.itm.clone().unwrap_or_default(),
            auto: req.model.auto.clone().unwrap_or_default(),
            budget: budget.clone(),
            reference_offset_db: Technology::ALL
                .iter()
                .map(|&t| {
                    (
                        t,
                        budget.reference_signal_offset_db(t) + budget.rx_antenna_gain_dbi
                            - budget.rx_losses_db,
                    )
                })
                .collect(),
            profile_step_m: profile_step_m.map(|s| round_to(s, 0.1)),
        },
        terrain_source: path.source,
        profile_samples: samples,
        profile_resampled: path.resampled,
        tx_ground_m: path.elevations.as_ref().map(|e| e[0]),
        rx_ground_m: path.elevations.as_ref().map(|e| e[e.len() - 1]),
        terrain,
        models: results,
        profile: path.elevations.map(|elevations_m| ProfileSamples {
            step_m: profile_step_m.unwrap_or(0.0),
            elevations_m,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coverage::propagation::diffraction::{fresnel_nu, knife_edge_loss_db};
    use crate::coverage::propagation::free_space::fspl_db;
    use crate::coverage::propagation::terrain::DEFAULT_K_FACTOR;
    use crate::render::link::render;
    use std::fmt::Write as _;
    use std::io::Write;

    fn write_csv(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::File::create(&p)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        p
    }

    fn ridge_csv() -> String {
        let mut s = String::from("distance_m,elevation_m\n");
        for i in 0..=100 {
            let z = if i == 40 { 380.0 } else { 300.0 };
            let _ = writeln!(s, "{},{}", i * 100, z);
        }
        s
    }

    #[test]
    fn profile_report_over_a_ridge() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_csv(&dir, "ridge.csv", &ridge_csv());
        // A 10 m receiver keeps the ground near it out of the Fresnel zone, so the ridge is the
        // only edge and the closed form applies.
        let req = LinkRequest {
            profile: Some(path.clone()),
            rx_height_m: 10.0,
            ..LinkRequest::new(900.0)
        };
        let r = run(&req, None).unwrap();
        assert_eq!(r.distance_m, 10_000.0);
        assert_eq!(r.distance_km, 10.0);
        assert_eq!(r.profile_samples, 101);
        assert!(!r.profile_resampled);
        let names: Vec<&str> = r.models.iter().map(|m| m.model.as_str()).collect();
        assert_eq!(
            names,
            [
                "auto",
                "free_space",
                "hata_urban_large",
                "hata_urban_small",
                "hata_suburban",
                "hata_open",
                "terrain",
                "itm"
            ]
        );
        assert_eq!(r.models[0].served_by.as_deref(), Some("itm"));
        let t = r.terrain.as_ref().unwrap();
        assert!(!t.line_of_sight);
        assert_eq!(t.obstructions.len(), 1);
        assert_eq!(t.obstructions[0].peak_distance_m, 4000.0);
        assert_eq!(t.min_clearance_distance_m, Some(4000.0));
        assert!(t.min_clearance_m.unwrap() < 0.0);
        let r1 = first_fresnel_radius_m(4000.0, 6000.0, wavelength_m(900.0));
        assert!((t.fresnel_radius_m.unwrap() - r1).abs() < 1e-9);
        // Terrain loss = FSPL + J(ν) of the ridge against the 330 m → 310 m ray.
        let h = 380.0 + earth_bulge_m(4000.0, 6000.0, DEFAULT_K_FACTOR)
            - (330.0 + (310.0 - 330.0) * 0.4);
        let expected = fspl_db(900.0, 10_000.0)
            + knife_edge_loss_db(fresnel_nu(h, 4000.0, 6000.0, wavelength_m(900.0)));
        let terr = r.models.iter().find(|m| m.model == "terrain").unwrap();
        assert!(
            (terr.loss_db.unwrap() - expected).abs() < 1e-6,
            "{:?} vs {expected}",
            terr.loss_db
        );
        assert_eq!(terr.mode, Some(PropagationMode::Diffraction));
        // Received levels follow the budget: 4G RSRP = 58 − 27.78 − loss; margins against
        // −110 dBm and the strong level 10 dB above.
        let g4 = terr
            .levels
            .iter()
            .find(|l| l.technology == Technology::G4)
            .unwrap();
        let rsrp = 58.0 - 10.0 * 600f64.log10() - expected;
        assert!((g4.received_dbm - rsrp).abs() < 1e-6);
        assert!((g4.margin_db - (rsrp + 110.0)).abs() < 1e-6);
        assert!((g4.strong_margin_db - (rsrp + 100.0)).abs() < 1e-6);
        assert_eq!(g4.quantity, "RSRP");
        let text = render(&r, false);
        for needle in [
            "line of sight       no",
            "obstructions        1",
            "distance     10.00 km",
            "peak 380 m at 4.00 km",
            "Parameters in force",
            "climate continental_temperate, N0 301 N-units, ground ε 15 / σ 0.005 S/m, polarisation vertical",
            "variability broadcast; reliability 50 %, confidence 50 %, location 50 %",
            "strong = threshold + 10 dB",
            "4G RSRP -110 dBm (offset -27.78 dB)",
            "auto (itm)",
        ] {
            assert!(text.contains(needle), "`{needle}` missing in\n{text}");
        }
        assert!(
            text.contains(&format!("profile:{}", path.display())),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&render(&r, true)).unwrap();
        assert_eq!(json["terrain"]["line_of_sight"], false);
        assert_eq!(json["models"][1]["model"], "free_space");
        assert_eq!(json["models"][1]["levels"][0]["technology"], "2g");
        assert!(json["models"][1]["levels"][0]["margin_db"].is_number());
        assert_eq!(
            json["parameters"]["itm"]["climate"],
            "continental_temperate"
        );
        assert_eq!(json["parameters"]["budget"]["strong_margin_db"], 10.0);
        assert_eq!(json["distance_km"], 10.0);
    }

    #[test]
    fn distances_are_rounded_for_people() {
        assert_eq!(round_to(36_161.807_326_347, 1.0), 36_162.0);
        assert_eq!(round_to(36.161_807_326_347, 0.01), 36.16);
        assert_eq!(round_to(0.1 + 0.2, 0.01), 0.3);
        assert_eq!(crate::render::link::distance(850.4), "850 m");
        assert_eq!(crate::render::link::distance(36_161.8), "36.16 km");
    }

    #[test]
    fn coordinates_without_dem_use_geodesic_distance_and_skip_terrain() {
        let mut req = LinkRequest::new(2100.0);
        req.from = Some(parse_lat_lon("41.0, 69.0").unwrap());
        req.to = Some(parse_lat_lon("41.1,69.0").unwrap());
        let r = run(&req, None).unwrap();
        assert!((r.distance_m - 11_104.0).abs() < 20.0, "{}", r.distance_m);
        assert_eq!(r.distance_m.fract(), 0.0);
        assert!(r.bearing_deg.unwrap().abs() < 1e-6);
        assert!(r.terrain.is_none());
        let names: Vec<&str> = r.models.iter().map(|m| m.model.as_str()).collect();
        assert_eq!(
            names,
            [
                "auto",
                "free_space",
                "cost231_medium_city",
                "cost231_metropolitan"
            ]
        );
        // 2100 MHz is outside COST-231's range: without terrain auto takes ITM area mode.
        assert_eq!(r.models[0].served_by.as_deref(), Some("itm_area"));
        assert!(render(&r, false).contains("terrain-aware models skipped"));
        req.models = vec!["terrain".into()];
        let e = run(&req, None).unwrap_err().to_string();
        assert!(e.contains("--model terrain needs terrain"), "{e}");
        req.models = vec!["okumura".into()];
        let e = run(&req, None).unwrap_err().to_string();
        assert!(
            e.contains("--model okumura: propagation model config: model: unknown model `okumura`"),
            "{e}"
        );
    }

    #[test]
    fn model_errors_are_reported_per_model() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_csv(&dir, "p.csv", &ridge_csv());
        // rx height 0 is fine for free space and terrain but nonsense for Hata.
        let req = LinkRequest {
            profile: Some(path),
            rx_height_m: 0.0,
            models: vec!["free_space".into(), "hata".into()],
            ..LinkRequest::new(900.0)
        };
        let r = run(&req, None).unwrap();
        assert!(r.models[0].loss_db.is_some());
        assert!(
            r.models[1]
                .error
                .as_deref()
                .unwrap()
                .contains("rx_height_m = 0"),
            "{:?}",
            r.models[1]
        );
        assert!(render(&r, false).contains("hata_urban_small         error:"));
    }

    #[test]
    fn rejects_bad_arguments_all_at_once() {
        let mut req = LinkRequest {
            step_m: -1.0,
            ..LinkRequest::new(-5.0)
        };
        req.model.k_factor = 0.0;
        req.model.itm = Some(ItmConfig {
            reliability_pct: 100.0,
            ..ItmConfig::default()
        });
        let e = run(&req, None).unwrap_err().to_string();
        for needle in [
            "--freq-mhz -5",
            "--k-factor 0",
            "--step-m -1",
            "itm.reliability_pct = 100",
        ] {
            assert!(e.contains(needle), "{needle} missing in {e}");
        }
        let e = run(&LinkRequest::new(900.0), None).unwrap_err().to_string();
        assert!(e.contains("give --from LAT,LON and --to LAT,LON"), "{e}");
    }

    /// A 0.2° × 0.1° DEM at 500 m with a 700 m north-south ridge at 69.1° E.
    fn ridge_dem() -> geodata::Dem {
        let (cols, rows) = (200, 100);
        let data = (0..rows * cols)
            .map(|k| {
                if (99..=101).contains(&(k % cols)) {
                    700.0
                } else {
                    500.0
                }
            })
            .collect();
        geodata::Dem::new("test:ridge", 69.0, 41.1, 0.001, 0.001, cols, rows, data).unwrap()
    }

    #[test]
    fn coordinates_over_a_dem() {
        let dem = ridge_dem();
        let mut req = LinkRequest::new(900.0);
        req.from = Some(LatLon {
            lat: 41.05,
            lon: 69.02,
        });
        req.to = Some(LatLon {
            lat: 41.05,
            lon: 69.18,
        });
        let r = run(&req, Some(&dem)).unwrap();
        assert_eq!(r.terrain_source.as_deref(), Some("dem:test:ridge"));
        assert!((r.bearing_deg.unwrap() - 90.0).abs() < 0.1);
        assert!((r.distance_m - 13_430.0).abs() < 50.0, "{}", r.distance_m);
        assert_eq!(r.tx_ground_m, Some(500.0));
        let t = r.terrain.as_ref().unwrap();
        assert!(!t.line_of_sight);
        assert_eq!(t.obstructions.len(), 1);
        let ridge_km = t.obstructions[0].peak_distance_m / 1000.0;
        assert!((ridge_km - 6.7).abs() < 0.3, "{ridge_km}");
        assert!(t.diffraction_loss_db > 20.0, "{}", t.diffraction_loss_db);
        assert!(r
            .models
            .iter()
            .any(|m| m.model == "terrain" && m.mode == Some(PropagationMode::Diffraction)));
        // The drawing shows the terrain, the ray, the Fresnel zone and the ridge.
        let svg = crate::render::profile_svg::profile_svg(&r).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        for needle in [
            "terrain with Earth curvature",
            "line of sight",
            "first Fresnel zone",
            "obstruction peak 700 m",
        ] {
            assert!(svg.contains(needle), "`{needle}` missing");
        }
        // West of the ridge only: line of sight.
        req.to = Some(LatLon {
            lat: 41.05,
            lon: 69.08,
        });
        let r = run(&req, Some(&dem)).unwrap();
        assert!(r.terrain.as_ref().unwrap().line_of_sight);
        // Off the DEM: the error names the DEM, never a silent sea level.
        req.to = Some(LatLon {
            lat: 41.05,
            lon: 69.5,
        });
        let e = format!("{:#}", run(&req, Some(&dem)).unwrap_err());
        assert!(e.contains("terrain profile from the DEM test:ridge"), "{e}");
        // Without terrain there is nothing to draw.
        req.to = Some(LatLon {
            lat: 41.06,
            lon: 69.02,
        });
        let r = run(&req, None).unwrap();
        assert!(crate::render::profile_svg::profile_svg(&r).is_err());
    }

    #[test]
    fn lat_lon_parsing() {
        assert_eq!(
            parse_lat_lon("41.3,69.2").unwrap(),
            LatLon {
                lat: 41.3,
                lon: 69.2
            }
        );
        assert!(parse_lat_lon("41.3").unwrap_err().contains("not LAT,LON"));
        assert!(parse_lat_lon("69.2,141.3").is_ok());
        assert!(parse_lat_lon("141.3,69.2")
            .unwrap_err()
            .contains("latitude 141.3 is outside"));
        assert!(parse_lat_lon("a,1")
            .unwrap_err()
            .contains("latitude `a` is not a number"));
    }
}
