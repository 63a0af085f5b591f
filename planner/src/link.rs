//! Point-to-point link report (`planner link`): loss per model, line of sight, Fresnel clearance,
//! obstructions and received level per technology between two points or over a profile CSV —
//! the planner's counterpart of SPLAT!'s point-to-point mode.
//!
//! Inputs are either `--from LAT,LON --to LAT,LON` (terrain from the DEM when one is loaded) or
//! `--profile FILE.csv` with a `distance_m,elevation_m` header, the first row at distance 0 (the
//! transmitter) and distances strictly increasing. A profile with uneven spacing is resampled
//! linearly at its smallest spacing (models need uniform samples).
//!
//! Received levels assume the receiver is in the transmitter's main beam (pattern gain 0 dB) and
//! use the same EIRP and frequency for every technology; what differs is the reference signal
//! (RxLev, RSCP, RSRP) and the threshold, see [`crate::budget`].

use crate::antenna::{elevation_angle_deg, initial_bearing_deg};
use crate::budget::{BudgetConfig, SignalClass};
use crate::propagation::diffraction::{DiffractionEdge, DiffractionMethod};
use crate::propagation::terrain::{Obstruction, TerrainModel, DEFAULT_K_FACTOR};
use crate::propagation::{
    build_model, DiffractionConfig, FreeSpace, Link, ModelConfig, ModelWarning, PropagationMode,
    PropagationModel,
};
use ::geo::Distance as _;
use anyhow::{anyhow, bail, Context};
use geodata::Technology;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Largest number of samples a resampled profile may have.
const MAX_PROFILE_SAMPLES: usize = 200_000;

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

/// Command-line arguments of `planner link`.
#[derive(Debug, Clone, clap::Args)]
pub struct LinkArgs {
    /// Transmitter position as LAT,LON (decimal degrees).
    #[arg(long, value_name = "LAT,LON", value_parser = parse_lat_lon, requires = "to", conflicts_with = "profile")]
    pub from: Option<LatLon>,
    /// Receiver position as LAT,LON (decimal degrees).
    #[arg(long, value_name = "LAT,LON", value_parser = parse_lat_lon, requires = "from", conflicts_with = "profile")]
    pub to: Option<LatLon>,
    /// Terrain profile CSV with header `distance_m,elevation_m`, transmitter first.
    #[arg(long, value_name = "FILE.csv")]
    pub profile: Option<PathBuf>,
    /// Transmitter antenna height above ground, metres.
    #[arg(long, default_value_t = 30.0)]
    pub tx_height_m: f64,
    /// Receiver antenna height above ground, metres.
    #[arg(long, default_value_t = 1.5)]
    pub rx_height_m: f64,
    /// Carrier frequency, MHz.
    #[arg(long)]
    pub freq_mhz: f64,
    /// Transmitter EIRP in the main beam (total carrier power), dBm.
    #[arg(long, default_value_t = 58.0)]
    pub eirp_dbm: f64,
    /// Propagation model (repeatable): free_space, hata[_urban_large|_urban_small|_suburban|_open],
    /// cost231[_medium_city|_metropolitan], terrain, … Default: every model applicable to the
    /// frequency, plus the terrain-aware ones when terrain is available.
    #[arg(long = "model", value_name = "NAME")]
    pub models: Vec<String>,
    /// Effective Earth radius factor k.
    #[arg(long, default_value_t = DEFAULT_K_FACTOR)]
    pub k_factor: f64,
    /// Multiple knife-edge method: deygout, epstein_peterson or single_edge.
    #[arg(long, default_value = "deygout")]
    pub diffraction: String,
    /// Spacing of DEM profile samples, metres (with --from/--to).
    #[arg(long, default_value_t = 30.0)]
    pub step_m: f64,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

impl LinkArgs {
    /// Arguments with defaults for a frequency, for library use and tests.
    pub fn new(freq_mhz: f64) -> Self {
        LinkArgs {
            from: None,
            to: None,
            profile: None,
            tx_height_m: 30.0,
            rx_height_m: 1.5,
            freq_mhz,
            eirp_dbm: 58.0,
            models: Vec::new(),
            k_factor: DEFAULT_K_FACTOR,
            diffraction: "deygout".into(),
            step_m: 30.0,
            json: false,
        }
    }
}

/// A terrain profile read from CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileCsv {
    /// Path length (last distance), metres.
    pub distance_m: f64,
    /// Uniformly spaced elevations, metres above sea level.
    pub elevations_m: Vec<f64>,
    /// True when the input spacing was uneven and the profile was resampled.
    pub resampled: bool,
}

/// Why a profile CSV was rejected; lists every problem found.
#[derive(Debug, Error)]
pub enum ProfileCsvError {
    #[error("cannot read terrain profile {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("terrain profile {path} is invalid:\n  {}", problems.join("\n  "))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

/// Reads a `distance_m,elevation_m` profile CSV (`#` comments allowed).
pub fn read_profile_csv(path: &Path) -> Result<ProfileCsv, ProfileCsvError> {
    let text = std::fs::read_to_string(path).map_err(|source| ProfileCsvError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_profile_csv(&text, path)
}

/// Parses profile CSV text; `path` is only used in messages.
pub fn parse_profile_csv(text: &str, path: &Path) -> Result<ProfileCsv, ProfileCsvError> {
    let invalid = |problems: Vec<String>| ProfileCsvError::Invalid {
        path: path.to_path_buf(),
        problems,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| invalid(vec![format!("header: {e}")]))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let mut problems = Vec::new();
    for h in headers.iter() {
        if h != "distance_m" && h != "elevation_m" {
            problems.push(format!(
                "line 1: unknown column `{h}`; the header must be distance_m,elevation_m"
            ));
        }
    }
    let (Some(di), Some(ei)) = (col("distance_m"), col("elevation_m")) else {
        problems.push(format!(
            "line 1: header is `{}`; it must name the columns distance_m and elevation_m",
            headers.iter().collect::<Vec<_>>().join(",")
        ));
        return Err(invalid(problems));
    };
    let mut dist = Vec::new();
    let mut elev = Vec::new();
    // Last parsed distance, even from a row rejected for its elevation, so ordering errors are
    // reported against the row the user sees above.
    let mut last_d: Option<f64> = None;
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{e}"));
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        if rec.len() != headers.len() {
            problems.push(format!(
                "line {line}: {} fields, expected {} (distance_m,elevation_m)",
                rec.len(),
                headers.len()
            ));
            continue;
        }
        let num = |idx: usize, field: &str, problems: &mut Vec<String>| -> Option<f64> {
            let raw = &rec[idx];
            match raw.parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v),
                _ => {
                    problems.push(format!(
                        "line {line}, field {field}: `{raw}` is not a finite number"
                    ));
                    None
                }
            }
        };
        let d = num(di, "distance_m", &mut problems);
        let z = num(ei, "elevation_m", &mut problems);
        if let Some(z) = z {
            if !(-500.0..=9000.0).contains(&z) {
                problems.push(format!("line {line}, field elevation_m: {z} m is outside -500..9000 m (wrong units or a no-data value?)"));
            }
        }
        if let Some(d) = d {
            if last_d.is_none() && d != 0.0 {
                problems.push(format!("line {line}, field distance_m: the first row must be at distance 0 (the transmitter), found {d}"));
            }
            if let Some(prev) = last_d {
                if d <= prev {
                    problems.push(format!("line {line}, field distance_m: {d} does not increase (previous row {prev}); rows must be in order from transmitter to receiver"));
                }
            }
        }
        if d.is_some() {
            last_d = d;
        }
        if let (Some(d), Some(z)) = (d, z) {
            dist.push(d);
            elev.push(z);
        }
        if problems.len() >= 50 {
            problems.push("… stopping after 50 problems".into());
            return Err(invalid(problems));
        }
    }
    if problems.is_empty() && dist.len() < 2 {
        problems.push(format!(
            "{} data row(s); a profile needs at least 2 (transmitter and receiver)",
            dist.len()
        ));
    }
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let total = *dist.last().expect("≥ 2 rows");
    let n = dist.len();
    let uniform_step = total / (n - 1) as f64;
    let uniform = dist
        .iter()
        .enumerate()
        .all(|(i, &d)| (d - i as f64 * uniform_step).abs() <= 1e-6 * total.max(1.0));
    if uniform {
        return Ok(ProfileCsv {
            distance_m: total,
            elevations_m: elev,
            resampled: false,
        });
    }
    let min_step = dist
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::INFINITY, f64::min);
    let intervals = ((total / min_step).ceil() as usize).clamp(1, MAX_PROFILE_SAMPLES - 1);
    let step = total / intervals as f64;
    let mut out = Vec::with_capacity(intervals + 1);
    let mut j = 0;
    for i in 0..=intervals {
        let x = (i as f64 * step).min(total);
        while j + 2 < n && dist[j + 1] < x {
            j += 1;
        }
        let t = ((x - dist[j]) / (dist[j + 1] - dist[j])).clamp(0.0, 1.0);
        out.push(elev[j] + t * (elev[j + 1] - elev[j]));
    }
    Ok(ProfileCsv {
        distance_m: total,
        elevations_m: out,
        resampled: true,
    })
}

/// One technology's received level for a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TechnologyLevel {
    pub technology: Technology,
    /// `RxLev`, `RSCP` or `RSRP`.
    pub quantity: &'static str,
    pub received_dbm: f64,
    pub threshold_dbm: f64,
    pub class: SignalClass,
}

/// Result of one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelResult {
    pub model: String,
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
    pub min_clearance_distance_m: Option<f64>,
    pub fresnel_60_clear: bool,
    pub obstructions: Vec<Obstruction>,
    pub diffraction_method: &'static str,
    pub diffraction_loss_db: f64,
    pub diffraction_edges: Vec<DiffractionEdge>,
    /// Elevation angle from the transmitter antenna to the receiver antenna, degrees.
    pub elevation_angle_deg: f64,
    pub highest_terrain_m: f64,
}

/// The full point-to-point report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkReport {
    pub from: Option<LatLon>,
    pub to: Option<LatLon>,
    /// Path length, metres (geodesic, or the profile's last distance).
    pub distance_m: f64,
    /// Initial geodesic bearing from transmitter to receiver, degrees from north.
    pub bearing_deg: Option<f64>,
    pub freq_mhz: f64,
    pub eirp_dbm: f64,
    pub tx_height_m: f64,
    pub rx_height_m: f64,
    pub k_factor: f64,
    /// Where the terrain came from (`dem:<source>`, `profile:<file>`), or `None`.
    pub terrain_source: Option<String>,
    pub profile_samples: usize,
    pub profile_resampled: bool,
    pub tx_ground_m: Option<f64>,
    pub rx_ground_m: Option<f64>,
    pub terrain: Option<TerrainReport>,
    pub models: Vec<ModelResult>,
}

/// Models reported when none are named: every one applicable to the frequency, the
/// terrain-aware ones (`terrain`, and `itm` once registered) only with terrain.
pub fn default_models(freq_mhz: f64, has_terrain: bool) -> Vec<String> {
    let mut m = vec!["free_space".to_string()];
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
        if build_model(&ModelConfig::from_name("itm")).is_ok() {
            m.push("itm".into());
        }
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

/// Computes the report with the default link budget.
pub fn run(args: &LinkArgs, dem: Option<&geodata::Dem>) -> anyhow::Result<LinkReport> {
    run_with_budget(args, dem, &BudgetConfig::default())
}

/// Computes the report with a given link budget (thresholds, margins, N_RB …).
pub fn run_with_budget(
    args: &LinkArgs,
    dem: Option<&geodata::Dem>,
    budget: &BudgetConfig,
) -> anyhow::Result<LinkReport> {
    budget.validate()?;
    let mut problems = Vec::new();
    if !(args.freq_mhz.is_finite() && args.freq_mhz > 0.0) {
        problems.push(format!(
            "--freq-mhz {}: must be a frequency > 0 MHz",
            args.freq_mhz
        ));
    }
    for (name, v) in [
        ("--tx-height-m", args.tx_height_m),
        ("--rx-height-m", args.rx_height_m),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            problems.push(format!("{name} {v}: must be a height ≥ 0 m above ground"));
        }
    }
    if !args.eirp_dbm.is_finite() {
        problems.push(format!(
            "--eirp-dbm {}: must be a finite power in dBm",
            args.eirp_dbm
        ));
    }
    if !(args.k_factor.is_finite() && args.k_factor > 0.0) {
        problems.push(format!(
            "--k-factor {}: must be > 0 (4/3 for a standard atmosphere)",
            args.k_factor
        ));
    }
    if !(args.step_m.is_finite() && args.step_m > 0.0) {
        problems.push(format!("--step-m {}: must be > 0 m", args.step_m));
    }
    let method = DiffractionMethod::parse(&args.diffraction);
    if method.is_none() {
        problems.push(format!(
            "--diffraction `{}`: use deygout, epstein_peterson or single_edge",
            args.diffraction
        ));
    }
    if !problems.is_empty() {
        bail!("invalid link arguments:\n  {}", problems.join("\n  "));
    }
    let method = method.expect("checked above");

    // Path geometry and terrain.
    let (distance_m, bearing_deg, terrain_source, elevations, resampled) =
        match (&args.profile, args.from, args.to) {
            (Some(path), _, _) => {
                let p = read_profile_csv(path)?;
                (
                    p.distance_m,
                    None,
                    Some(format!("profile:{}", path.display())),
                    Some(p.elevations_m),
                    p.resampled,
                )
            }
            (None, Some(a), Some(b)) => {
                let (fa, fb) = ((a.lon, a.lat), (b.lon, b.lat));
                let d = ::geo::Geodesic
                    .distance(::geo::Point::new(fa.0, fa.1), ::geo::Point::new(fb.0, fb.1));
                if d.is_nan() || d <= 0.0 {
                    bail!(
                        "--from and --to are the same point; a link needs two distinct positions"
                    );
                }
                let bearing = Some(initial_bearing_deg(fa, fb));
                match dem {
                    Some(dem) => {
                        let prof = dem.profile(fa, fb, args.step_m).with_context(|| {
                            format!("terrain profile from the DEM {}", dem.source)
                        })?;
                        (
                            prof.distance_m,
                            bearing,
                            Some(format!("dem:{}", dem.source)),
                            Some(prof.elevations_m),
                            false,
                        )
                    }
                    None => (d, bearing, None, None, false),
                }
            }
            _ => bail!(
            "give --from LAT,LON and --to LAT,LON (terrain from the DEM), or --profile FILE.csv"
        ),
        };
    let has_terrain = elevations.is_some();
    let names = if args.models.is_empty() {
        default_models(args.freq_mhz, has_terrain)
    } else {
        args.models.clone()
    };

    let mut models: Vec<Box<dyn PropagationModel>> = Vec::new();
    let mut bad = Vec::new();
    for name in &names {
        let cfg = ModelConfig {
            k_factor: args.k_factor,
            diffraction: method,
            ..ModelConfig::from_name(name)
        };
        match build_model(&cfg) {
            Ok(m) if m.needs_terrain() && !has_terrain => bad.push(format!(
                "--model {name} needs terrain: pass --profile FILE.csv, or --from/--to with a DEM loaded"
            )),
            Ok(m) => models.push(m),
            Err(e) => bad.push(format!("--model {name}: {e}")),
        }
    }
    if !bad.is_empty() {
        bail!("{}", bad.join("\n"));
    }

    let link = Link {
        freq_mhz: args.freq_mhz,
        distance_m,
        tx_height_m: args.tx_height_m,
        rx_height_m: args.rx_height_m,
        profile_m: elevations.as_deref(),
    };

    let terrain = match &elevations {
        Some(prof) => {
            let tm = TerrainModel::new(
                Box::new(FreeSpace),
                args.k_factor,
                DiffractionConfig {
                    method,
                    max_edges: 3,
                },
            )?;
            let a = tm
                .analyze(&link)
                .map_err(|e| anyhow!("terrain analysis: {e}"))?;
            Some(TerrainReport {
                line_of_sight: a.line_of_sight,
                min_fresnel_clearance_ratio: a.min_fresnel_clearance_ratio,
                min_clearance_distance_m: a.min_clearance_distance_m,
                fresnel_60_clear: a.fresnel_60_clear,
                obstructions: a.obstructions,
                diffraction_method: method.as_str(),
                diffraction_loss_db: a.diffraction.loss_db,
                diffraction_edges: a.diffraction.edges,
                elevation_angle_deg: elevation_angle_deg(
                    a.tx_top_m,
                    a.rx_top_m,
                    distance_m,
                    args.k_factor,
                ),
                highest_terrain_m: prof.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            })
        }
        None => None,
    };

    let results = models
        .iter()
        .map(|m| match m.path_loss(&link) {
            Ok(pl) => ModelResult {
                model: m.name().to_string(),
                loss_db: Some(pl.loss_db),
                mode: Some(pl.mode),
                warnings: pl.warnings,
                error: None,
                levels: Technology::ALL
                    .iter()
                    .map(|&tech| {
                        let rx = budget.received_dbm(tech, args.eirp_dbm, 0.0, pl.loss_db);
                        TechnologyLevel {
                            technology: tech,
                            quantity: quantity(tech),
                            received_dbm: rx,
                            threshold_dbm: budget.threshold_dbm(tech),
                            class: budget.classify(tech, rx),
                        }
                    })
                    .collect(),
            },
            Err(e) => ModelResult {
                model: m.name().to_string(),
                loss_db: None,
                mode: None,
                warnings: Vec::new(),
                error: Some(e.to_string()),
                levels: Vec::new(),
            },
        })
        .collect();

    Ok(LinkReport {
        from: args.from,
        to: args.to,
        distance_m,
        bearing_deg,
        freq_mhz: args.freq_mhz,
        eirp_dbm: args.eirp_dbm,
        tx_height_m: args.tx_height_m,
        rx_height_m: args.rx_height_m,
        k_factor: args.k_factor,
        terrain_source,
        profile_samples: elevations.as_ref().map_or(0, Vec::len),
        profile_resampled: resampled,
        tx_ground_m: elevations.as_ref().map(|e| e[0]),
        rx_ground_m: elevations.as_ref().map(|e| e[e.len() - 1]),
        terrain,
        models: results,
    })
}

/// The report as text (`json = false`) or pretty JSON.
pub fn render(report: &LinkReport, json: bool) -> String {
    if json {
        let mut s = serde_json::to_string_pretty(report).expect("report serialises");
        s.push('\n');
        s
    } else {
        format_human(report)
    }
}

fn mode_str(m: PropagationMode) -> &'static str {
    match m {
        PropagationMode::Unspecified => "-",
        PropagationMode::LineOfSight => "line of sight",
        PropagationMode::Diffraction => "diffraction",
        PropagationMode::Troposcatter => "troposcatter",
    }
}

/// Human-readable report.
pub fn format_human(r: &LinkReport) -> String {
    let mut s = String::new();
    let ground = |g: Option<f64>| g.map_or(String::new(), |g| format!(", ground {g:.1} m"));
    let _ = writeln!(s, "Point-to-point link");
    if let (Some(a), Some(b)) = (r.from, r.to) {
        let _ = writeln!(
            s,
            "  transmitter  {:.6}, {:.6}  antenna {:.1} m{}",
            a.lat,
            a.lon,
            r.tx_height_m,
            ground(r.tx_ground_m)
        );
        let _ = writeln!(
            s,
            "  receiver     {:.6}, {:.6}  antenna {:.1} m{}",
            b.lat,
            b.lon,
            r.rx_height_m,
            ground(r.rx_ground_m)
        );
    } else {
        let _ = writeln!(
            s,
            "  transmitter  antenna {:.1} m{}",
            r.tx_height_m,
            ground(r.tx_ground_m)
        );
        let _ = writeln!(
            s,
            "  receiver     antenna {:.1} m{}",
            r.rx_height_m,
            ground(r.rx_ground_m)
        );
    }
    let _ = write!(s, "  distance     {:.3} km", r.distance_m / 1000.0);
    if let Some(b) = r.bearing_deg {
        let _ = write!(s, ", bearing {b:.1}°");
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "  frequency    {} MHz, EIRP {:.1} dBm, k = {:.3}",
        r.freq_mhz, r.eirp_dbm, r.k_factor
    );
    match &r.terrain_source {
        Some(src) => {
            let _ = writeln!(
                s,
                "  terrain      {src} ({} samples{})",
                r.profile_samples,
                if r.profile_resampled {
                    ", resampled to uniform spacing"
                } else {
                    ""
                }
            );
        }
        None => {
            let _ = writeln!(
                s,
                "  terrain      none (no DEM or profile): terrain-aware models skipped"
            );
        }
    }
    if let Some(t) = &r.terrain {
        let _ = writeln!(s, "\nTerrain");
        let _ = writeln!(
            s,
            "  line of sight       {}",
            if t.line_of_sight { "yes" } else { "no" }
        );
        if let (Some(c), Some(at)) = (t.min_fresnel_clearance_ratio, t.min_clearance_distance_m) {
            let _ = writeln!(
                s,
                "  Fresnel zone        minimum clearance {:.2} × r1 at {:.3} km ({} 60 % rule)",
                c,
                at / 1000.0,
                if t.fresnel_60_clear { "meets" } else { "fails" }
            );
        }
        let _ = writeln!(
            s,
            "  elevation angle     {:.3}° (transmitter to receiver antenna)",
            t.elevation_angle_deg
        );
        let _ = writeln!(s, "  highest terrain     {:.1} m", t.highest_terrain_m);
        if t.obstructions.is_empty() {
            let _ = writeln!(s, "  obstructions        none");
        } else {
            let _ = writeln!(s, "  obstructions        {}", t.obstructions.len());
            for o in &t.obstructions {
                let _ = writeln!(
                    s,
                    "    {:>8.3}–{:<8.3} km  peak {:.1} m at {:.3} km, {:.1} m above the ray, ν = {:.2}",
                    o.start_m / 1000.0,
                    o.end_m / 1000.0,
                    o.peak_elevation_m,
                    o.peak_distance_m / 1000.0,
                    o.height_above_los_m,
                    o.nu
                );
            }
        }
        let _ = writeln!(
            s,
            "  diffraction         {:.2} dB ({}, {} edge(s))",
            t.diffraction_loss_db,
            t.diffraction_method,
            t.diffraction_edges.len()
        );
        for e in &t.diffraction_edges {
            let _ = writeln!(
                s,
                "    edge at {:.3} km  ν = {:.2}  J = {:.2} dB",
                e.distance_m / 1000.0,
                e.nu,
                e.loss_db
            );
        }
    }
    let _ = writeln!(
        s,
        "\nPath loss and received level (receiver in the main beam)"
    );
    let _ = write!(s, "  {:<22} {:>8}  {:<13}", "model", "loss dB", "mode");
    for tech in Technology::ALL {
        let _ = write!(s, " {:>17}", format!("{} {}", tech, quantity(tech)));
    }
    let _ = writeln!(s);
    for m in &r.models {
        match (m.loss_db, &m.error) {
            (Some(l), _) => {
                let _ = write!(
                    s,
                    "  {:<22} {:>8.2}  {:<13}",
                    m.model,
                    l,
                    m.mode.map_or("-", mode_str)
                );
                for lv in &m.levels {
                    let _ = write!(
                        s,
                        " {:>17}",
                        format!("{:.1} {}", lv.received_dbm, lv.class.as_str())
                    );
                }
                let _ = writeln!(s);
            }
            (None, Some(e)) => {
                let _ = writeln!(s, "  {:<22} error: {e}", m.model);
            }
            (None, None) => {}
        }
        for w in &m.warnings {
            let _ = writeln!(s, "      warning [{}]: {}", w.code, w.message);
        }
    }
    let _ = write!(s, "  thresholds:");
    if let Some(m) = r.models.iter().find(|m| !m.levels.is_empty()) {
        for lv in &m.levels {
            let _ = write!(
                s,
                " {} {} {:.0} dBm;",
                lv.technology, lv.quantity, lv.threshold_dbm
            );
        }
    }
    let _ = writeln!(s, " strong = threshold + margin");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::diffraction::{fresnel_nu, knife_edge_loss_db, wavelength_m};
    use crate::propagation::free_space::fspl_db;
    use crate::propagation::terrain::earth_bulge_m;
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
        let args = LinkArgs {
            profile: Some(path.clone()),
            rx_height_m: 10.0,
            ..LinkArgs::new(900.0)
        };
        let r = run(&args, None).unwrap();
        assert_eq!(r.distance_m, 10_000.0);
        assert_eq!(r.profile_samples, 101);
        assert!(!r.profile_resampled);
        let names: Vec<&str> = r.models.iter().map(|m| m.model.as_str()).collect();
        assert!(
            names.starts_with(&[
                "free_space",
                "hata_urban_large",
                "hata_urban_small",
                "hata_suburban",
                "hata_open",
                "terrain"
            ]),
            "{names:?}"
        );
        let t = r.terrain.as_ref().unwrap();
        assert!(!t.line_of_sight);
        assert_eq!(t.obstructions.len(), 1);
        assert_eq!(t.obstructions[0].peak_distance_m, 4000.0);
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
        // Received levels follow the budget: 4G RSRP = 58 − 27.78 − loss.
        let g4 = terr
            .levels
            .iter()
            .find(|l| l.technology == Technology::G4)
            .unwrap();
        assert!((g4.received_dbm - (58.0 - 10.0 * 600f64.log10() - expected)).abs() < 1e-6);
        assert_eq!(g4.quantity, "RSRP");
        let text = render(&r, false);
        assert!(text.contains("line of sight       no"), "{text}");
        assert!(text.contains("obstructions        1"), "{text}");
        assert!(
            text.contains(&format!("profile:{}", path.display())),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&render(&r, true)).unwrap();
        assert_eq!(json["terrain"]["line_of_sight"], false);
        assert_eq!(json["models"][0]["model"], "free_space");
        assert_eq!(json["models"][0]["levels"][0]["technology"], "2g");
    }

    #[test]
    fn coordinates_without_dem_use_geodesic_distance_and_skip_terrain() {
        let mut args = LinkArgs::new(2100.0);
        args.from = Some(parse_lat_lon("41.0, 69.0").unwrap());
        args.to = Some(parse_lat_lon("41.1,69.0").unwrap());
        let r = run(&args, None).unwrap();
        assert!((r.distance_m - 11_104.0).abs() < 20.0, "{}", r.distance_m);
        assert!(r.bearing_deg.unwrap().abs() < 1e-6);
        assert!(r.terrain.is_none());
        let names: Vec<&str> = r.models.iter().map(|m| m.model.as_str()).collect();
        assert_eq!(
            names,
            ["free_space", "cost231_medium_city", "cost231_metropolitan"]
        );
        assert!(render(&r, false).contains("terrain-aware models skipped"));
        args.models = vec!["terrain".into()];
        let e = run(&args, None).unwrap_err().to_string();
        assert!(e.contains("--model terrain needs terrain"), "{e}");
        args.models = vec!["okumura".into()];
        let e = run(&args, None).unwrap_err().to_string();
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
        let args = LinkArgs {
            profile: Some(path),
            rx_height_m: 0.0,
            models: vec!["free_space".into(), "hata".into()],
            ..LinkArgs::new(900.0)
        };
        let r = run(&args, None).unwrap();
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
        assert!(render(&r, false).contains("hata_urban_small       error:"));
    }

    #[test]
    fn rejects_bad_arguments_all_at_once() {
        let args = LinkArgs {
            k_factor: 0.0,
            step_m: -1.0,
            diffraction: "magic".into(),
            ..LinkArgs::new(-5.0)
        };
        let e = run(&args, None).unwrap_err().to_string();
        for needle in [
            "--freq-mhz -5",
            "--k-factor 0",
            "--step-m -1",
            "--diffraction `magic`",
        ] {
            assert!(e.contains(needle), "{needle} missing in {e}");
        }
        let e = run(&LinkArgs::new(900.0), None).unwrap_err().to_string();
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
        let mut args = LinkArgs::new(900.0);
        args.from = Some(LatLon {
            lat: 41.05,
            lon: 69.02,
        });
        args.to = Some(LatLon {
            lat: 41.05,
            lon: 69.18,
        });
        let r = run(&args, Some(&dem)).unwrap();
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
        // West of the ridge only: line of sight.
        args.to = Some(LatLon {
            lat: 41.05,
            lon: 69.08,
        });
        let r = run(&args, Some(&dem)).unwrap();
        assert!(r.terrain.as_ref().unwrap().line_of_sight);
        // Off the DEM: the error names the DEM, never a silent sea level.
        args.to = Some(LatLon {
            lat: 41.05,
            lon: 69.5,
        });
        let e = format!("{:#}", run(&args, Some(&dem)).unwrap_err());
        assert!(e.contains("terrain profile from the DEM test:ridge"), "{e}");
    }

    #[test]
    fn clap_arguments_parse() {
        use clap::Parser;
        #[derive(Parser, Debug)]
        struct Cli {
            #[command(flatten)]
            link: LinkArgs,
        }
        let c = Cli::try_parse_from([
            "link",
            "--from",
            "41.3,69.2",
            "--to",
            "41.4,69.3",
            "--freq-mhz",
            "900",
            "--model",
            "hata",
            "--model",
            "free_space",
            "--json",
        ])
        .unwrap();
        assert_eq!(
            c.link.from,
            Some(LatLon {
                lat: 41.3,
                lon: 69.2
            })
        );
        assert_eq!(c.link.models, ["hata", "free_space"]);
        assert!(c.link.json);
        assert_eq!(c.link.rx_height_m, 1.5);
        let e = Cli::try_parse_from(["link", "--from", "41.3,69.2", "--freq-mhz", "900"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--to"), "{e}");
        let e = Cli::try_parse_from([
            "link",
            "--from",
            "41.3,69.2",
            "--to",
            "41,69",
            "--profile",
            "p.csv",
            "--freq-mhz",
            "900",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("cannot be used with"), "{e}");
        let e = Cli::try_parse_from([
            "link",
            "--from",
            "141.3,69.2",
            "--to",
            "41,69",
            "--freq-mhz",
            "900",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("latitude 141.3 is outside"), "{e}");
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

    #[test]
    fn profile_csv_rejections_name_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let cases: &[(&str, &[&str])] = &[
            (
                "distance,elev\n0,1\n",
                &[
                    "line 1: unknown column `distance`",
                    "must name the columns distance_m and elevation_m",
                ],
            ),
            (
                "distance_m,elevation_m\n5,100\n10,100\n",
                &["line 2, field distance_m: the first row must be at distance 0"],
            ),
            (
                "distance_m,elevation_m\n0,100\n100,abc\n50,100\n",
                &[
                    "line 3, field elevation_m: `abc` is not a finite number",
                    "line 4, field distance_m: 50 does not increase",
                ],
            ),
            (
                "distance_m,elevation_m\n0,100\n100,-32768\n",
                &["line 3, field elevation_m: -32768 m is outside -500..9000 m"],
            ),
            (
                "distance_m,elevation_m\n0,100\n",
                &["1 data row(s); a profile needs at least 2"],
            ),
            (
                "distance_m,elevation_m\n0,100\n100\n",
                &["line 3: 1 fields, expected 2"],
            ),
            (
                "distance_m,elevation_m,clutter\n0,1,2\n",
                &["line 1: unknown column `clutter`"],
            ),
        ];
        for (i, (text, needles)) in cases.iter().enumerate() {
            let path = write_csv(&dir, &format!("bad{i}.csv"), text);
            let e = read_profile_csv(&path).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("terrain profile {} is invalid:", path.display())),
                "{e}"
            );
            for n in *needles {
                assert!(e.contains(n), "case {i}: `{n}` missing in {e}");
            }
        }
        let e = read_profile_csv(&dir.path().join("missing.csv"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cannot read terrain profile") && e.contains("missing.csv"),
            "{e}"
        );
    }

    #[test]
    fn uneven_profile_is_resampled() {
        let p = parse_profile_csv(
            "# comment\ndistance_m,elevation_m\n0,100\n50,150\n200,0\n",
            Path::new("x.csv"),
        )
        .unwrap();
        assert!(p.resampled);
        assert_eq!(p.distance_m, 200.0);
        assert_eq!(p.elevations_m, vec![100.0, 150.0, 100.0, 50.0, 0.0]);
        let p = parse_profile_csv(
            "distance_m,elevation_m\n0,1\n10,2\n20,3\n",
            Path::new("x.csv"),
        )
        .unwrap();
        assert!(!p.resampled);
        assert_eq!(p.elevations_m, vec![1.0, 2.0, 3.0]);
    }
}
