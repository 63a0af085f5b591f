//! Longley-Rice Irregular Terrain Model (ITM v1.4), written from NTIA's published algorithm:
//! point-to-point mode over terrain profiles, area mode, and the planner's [`Itm`] model.
//!
//! Sources: Hufford, "The ITS Irregular Terrain Model, version 1.2.2: The Algorithm";
//! NTIA Report 82-100 (area-mode guide); ITS Technical Note 101; NTIA's ITM v1.4 documentation.
//! Results match NTIA's published test cases (`tests/itm.rs`).
//!
//! # Reliability, confidence, location — in plain words
//! ITM answers "what loss will not be exceeded ...":
//! - **reliability** (time %): ... for this fraction of the time (hours of the year) at a given
//!   place. 90 % reliability means the link works at least 90 % of the time; the loss
//!   rises as reliability rises because rarer fades must be covered.
//! - **location** %: ... at this fraction of the places that have this path's description
//!   (ITM cannot know every building and tree, so nearby spots differ).
//! - **confidence** (situation %): how sure we are of the two answers above. The model's
//!   statistics are estimates from measurements; 90 % confidence means that in 90 % of
//!   comparable situations the real performance is at least as good as predicted.
//!
//! 50/50/50 gives the median loss. How the three combine depends on the mode of variability
//! ([`VariabilityMode`]): e.g. in `mobile` mode time and location form one reliability.
//!
//! # Short paths
//! ITM is not defined below 1 km (ITM raises `itm_distance_below_1_km`). [`Itm`] (the planner
//! model) instead uses free-space loss plus single knife-edge diffraction (ITU-R P.526, the
//! most obstructing profile point on a 4/3 earth) below [`SHORT_RANGE_LIMIT_M`] and says so
//! with the warning `itm_short_range_fallback`. The raw [`point_to_point`] function never
//! falls back: it evaluates ITM and raises ITM's warning.
//!
//! # Propagation mode
//! [`ItmOutput::mode`] is ITM v1.4's own mode, i.e. which region of its loss curve applied. The
//! planner reports [`planner_mode`] instead: line of sight only when the terrain profile leaves
//! the direct ray clear, so a ridge-blocked path is never labelled line of sight.
//!
//! # Allocation
//! [`point_to_point`] and [`area`] allocate nothing: profiles are borrowed slices and the
//! terrain analysis uses fixed-size stack arrays. [`Itm::path_loss`] allocates only the
//! warning messages, and only when there are warnings.

mod area;
mod environment;
mod inputs;
mod p2p;
mod reference;
mod terrain;
mod variability;

pub use area::{area, AreaPath};
pub use inputs::{
    Climate, ItmError, ItmMode, ItmParams, ItmWarning, Mdvar, Polarization, Quantiles,
    SitingCriteria, VariabilityMode, WarningSet,
};
pub use p2p::{point_to_point, Profile};
pub use terrain::PathGeometry;
pub use variability::inverse_ccdf;
use variability::min_quantile_attenuation_db;

use serde::{Deserialize, Serialize};

use super::{
    Link, Loss, ModelWarning, PathLoss, PropagationError, PropagationMode, PropagationModel,
    WarningCodes,
};

/// Result of one ITM evaluation, with the intermediate values worth reporting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItmOutput {
    /// Basic transmission loss, dB.
    pub loss_db: f64,
    /// ITM's propagation mode: the region of its reference-attenuation curve (see
    /// [`planner_mode`] for what the planner reports).
    pub mode: ItmMode,
    /// ITM's warning flags.
    pub warnings: WarningSet,
    /// Median attenuation relative to free space before variability, dB.
    pub reference_attenuation_db: f64,
    /// Free-space loss over the path, dB.
    pub free_space_db: f64,
    /// Surface refractivity at the path's height, N-units.
    pub surface_refractivity_n_units: f64,
    /// Horizons, effective heights and terrain irregularity used.
    pub geometry: PathGeometry,
}

/// Free-space basic transmission loss, dB (ITM's form, distance in metres).
pub fn free_space_db(d_m: f64, f_mhz: f64) -> f64 {
    32.45 + 20.0 * f_mhz.log10() + 20.0 * (d_m / 1000.0).log10()
}

fn finish(
    p: &ItmParams,
    geometry: PathGeometry,
    n_s: f64,
    a_ref_db: f64,
    a_var_db: f64,
    mode: ItmMode,
    warnings: WarningSet,
) -> Result<ItmOutput, ItmError> {
    let fs = free_space_db(geometry.d_m, p.freq_mhz);
    let loss_db = fs + a_var_db;
    if !loss_db.is_finite() {
        return Err(ItmError::NumericalBreakdown);
    }
    Ok(ItmOutput {
        loss_db,
        mode,
        warnings,
        reference_attenuation_db: a_ref_db,
        free_space_db: fs,
        surface_refractivity_n_units: n_s,
        geometry,
    })
}

/// The reference attenuation does not know the ground parameters; fill them into its error.
fn with_ground(e: ItmError, p: &ItmParams) -> ItmError {
    match e {
        ItmError::GroundImpedance { freq_mhz, .. } => ItmError::GroundImpedance {
            epsilon: p.epsilon,
            sigma_s_per_m: p.sigma_s_per_m,
            freq_mhz,
        },
        other => other,
    }
}

/// Distance below which [`Itm`] falls back to free space plus knife-edge diffraction, metres.
pub const SHORT_RANGE_LIMIT_M: f64 = 1000.0;

/// Planner configuration of the ITM model (`model = "itm"`). Every field has a default, so an
/// empty table gives median (50/50/50) predictions in a continental temperate climate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ItmConfig {
    /// Radio climate (`continental_temperate`, `desert`, `equatorial`, ...).
    pub climate: Climate,
    /// Surface refractivity at sea level N_0, N-units (250..=400; 301 is a typical average).
    /// ITM reduces it to the mean height of each path.
    pub surface_refractivity_n_units: f64,
    /// Relative permittivity of the ground (e.g. 15 average ground, 4 poor, 25 good, 81 sea).
    pub ground_permittivity: f64,
    /// Ground conductivity, S/m (e.g. 0.005 average, 0.001 poor, 0.02 good, 5 sea).
    pub ground_conductivity_s_per_m: f64,
    /// Antenna polarisation (`vertical` or `horizontal`).
    pub polarization: Polarization,
    /// How time, location and situation variability combine (ITM `mdvar` 0..=3):
    /// `single_message`, `accidental`, `mobile`, `broadcast`.
    pub variability_mode: VariabilityMode,
    /// Drop location variability (ITM `mdvar` +10), e.g. for fixed links whose ends are known.
    pub no_location_variability: bool,
    /// Drop direct situation variability (ITM `mdvar` +20), as interference studies do.
    pub no_situation_variability: bool,
    /// Reliability: the percentage of time (0 < % < 100) for which the predicted loss is not
    /// exceeded. Higher reliability → higher predicted loss.
    pub reliability_pct: f64,
    /// Confidence: the percentage of comparable situations (0 < % < 100) in which the
    /// prediction holds, i.e. how sure we are of the reliability figure.
    pub confidence_pct: f64,
    /// Percentage of locations (0 < % < 100) for which the loss is not exceeded.
    pub location_pct: f64,
}

impl Default for ItmConfig {
    fn default() -> Self {
        Self {
            climate: Climate::ContinentalTemperate,
            surface_refractivity_n_units: 301.0,
            ground_permittivity: 15.0,
            ground_conductivity_s_per_m: 0.005,
            polarization: Polarization::Vertical,
            variability_mode: VariabilityMode::Broadcast,
            no_location_variability: false,
            no_situation_variability: false,
            reliability_pct: 50.0,
            confidence_pct: 50.0,
            location_pct: 50.0,
        }
    }
}

impl ItmConfig {
    /// ITM's numeric mode of variability for this configuration.
    pub fn mdvar(&self) -> Mdvar {
        Mdvar {
            mode: self.variability_mode,
            no_location_variability: self.no_location_variability,
            no_situation_variability: self.no_situation_variability,
        }
    }

    /// ITM parameters for one link's heights and frequency.
    pub fn params(&self, tx_height_m: f64, rx_height_m: f64, freq_mhz: f64) -> ItmParams {
        ItmParams {
            tx_height_m,
            rx_height_m,
            climate: self.climate,
            n0_n_units: self.surface_refractivity_n_units,
            freq_mhz,
            polarization: self.polarization,
            epsilon: self.ground_permittivity,
            sigma_s_per_m: self.ground_conductivity_s_per_m,
            mdvar: self.mdvar(),
            quantiles: Quantiles {
                time_pct: self.reliability_pct,
                location_pct: self.location_pct,
                situation_pct: self.confidence_pct,
            },
        }
    }

    /// Checks every field and reports all problems at once, each naming its config key.
    pub fn validate(&self) -> Result<(), ItmConfigError> {
        let mut problems = Vec::new();
        let mut check = |key: &'static str, value: f64, ok: bool, expect: &'static str| {
            if !ok {
                problems.push(format!("itm.{key} = {value}: {expect}"));
            }
        };
        let n0 = self.surface_refractivity_n_units;
        check(
            "surface_refractivity_n_units",
            n0,
            (250.0..=400.0).contains(&n0),
            "must be 250..=400 N-units",
        );
        let eps = self.ground_permittivity;
        check(
            "ground_permittivity",
            eps,
            eps.is_finite() && eps >= 1.0,
            "must be at least 1",
        );
        let sigma = self.ground_conductivity_s_per_m;
        check(
            "ground_conductivity_s_per_m",
            sigma,
            sigma.is_finite() && sigma > 0.0,
            "must be positive (S/m)",
        );
        for (key, v) in [
            ("reliability_pct", self.reliability_pct),
            ("confidence_pct", self.confidence_pct),
            ("location_pct", self.location_pct),
        ] {
            check(key, v, v > 0.0 && v < 100.0, "must be strictly between 0 and 100 (use e.g. 50 for the median, 90 for high reliability)");
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ItmConfigError { problems })
        }
    }
}

/// Invalid [`ItmConfig`]: every problem found, one per line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid itm configuration:\n  {}", problems.join("\n  "))]
pub struct ItmConfigError {
    pub problems: Vec<String>,
}

/// ITM as a planner propagation model (`name() == "itm"`); needs a terrain profile per link.
#[derive(Debug, Clone, PartialEq)]
pub struct Itm {
    config: ItmConfig,
    /// Lower bound of the loss relative to free space for this configuration, dB (see
    /// [`PropagationModel::min_loss_db`]).
    min_excess_db: f64,
}

impl Itm {
    /// Validates `config` and builds the model.
    pub fn new(config: ItmConfig) -> Result<Self, ItmConfigError> {
        config.validate()?;
        let p = config.params(30.0, 1.5, 900.0);
        let min_excess_db = min_quantile_attenuation_db(&p.quantiles, p.climate, p.mdvar);
        Ok(Self {
            config,
            min_excess_db,
        })
    }

    pub fn config(&self) -> &ItmConfig {
        &self.config
    }

    /// Full ITM output for a link (no short-range fallback), for reports that want the
    /// intermediate values.
    pub fn evaluate(&self, link: &Link<'_>) -> Result<ItmOutput, PropagationError> {
        let profile = link
            .profile_m
            .ok_or(PropagationError::MissingProfile { model: NAME })?;
        let params = self
            .config
            .params(link.tx_height_m, link.rx_height_m, link.freq_mhz);
        check_link(link, profile)?;
        point_to_point(&params, Profile::over_distance(profile, link.distance_m))
            .map_err(to_propagation_error)
    }

    /// Short paths without messages: (loss, mode, knife-edge v, edge loss, input warnings).
    fn short_range_core(
        &self,
        link: &Link<'_>,
        profile: &[f64],
    ) -> Result<(f64, PropagationMode, f64, f64, WarningSet, ItmParams), PropagationError> {
        let params = self
            .config
            .params(link.tx_height_m, link.rx_height_m, link.freq_mhz);
        // Same input checks as ITM, so bad heights or frequencies fail at any distance and
        // out-of-range ones are still reported.
        let mut input_warnings = WarningSet::default();
        inputs::validate_common(&params, &mut input_warnings).map_err(to_propagation_error)?;
        let d = link.distance_m;
        let fs = free_space_db(d, link.freq_mhz);
        let (v, edge_db) = worst_knife_edge(
            profile,
            d,
            link.tx_height_m,
            link.rx_height_m,
            link.freq_mhz,
        );
        let mode = if v > -0.78 {
            PropagationMode::Diffraction
        } else {
            PropagationMode::LineOfSight
        };
        Ok((fs + edge_db, mode, v, edge_db, input_warnings, params))
    }

    /// Short paths: free space plus the worst single knife edge over the profile.
    fn short_range(&self, link: &Link<'_>, profile: &[f64]) -> Result<PathLoss, PropagationError> {
        let (loss_db, mode, v, edge_db, input_warnings, params) =
            self.short_range_core(link, profile)?;
        let d = link.distance_m;
        let fs = loss_db - edge_db;
        let mut warnings = vec![ModelWarning {
            code: "itm_short_range_fallback",
            message: format!(
                "path of {d:.0} m is shorter than ITM's 1 km minimum; loss is free space ({fs:.1} dB) plus single knife-edge diffraction ({edge_db:.1} dB, ITU-R P.526, v = {v:.2}) without ITM's variability"
            ),
        }];
        warnings.extend(input_warnings.iter().filter_map(|w| {
            input_warning_message(w, &params).map(|message| ModelWarning {
                code: w.code(),
                message,
            })
        }));
        Ok(PathLoss {
            loss_db,
            mode,
            warnings,
        })
    }

    /// Losses of one profile at several frequencies, handed to `sink` in order: the profile is
    /// analysed once (horizons, terrain irregularity, effective heights, atmosphere) and only
    /// the frequency-dependent part of ITM runs per band. Equal to calling
    /// [`PropagationModel::loss`] per band.
    pub fn losses_with(
        &self,
        link: &Link<'_>,
        freqs_mhz: &[f64],
        sink: &mut dyn FnMut(Result<Loss, PropagationError>),
    ) {
        let profile = match link.profile_m {
            Some(p) => p,
            None => {
                for _ in freqs_mhz {
                    sink(Err(PropagationError::MissingProfile { model: NAME }));
                }
                return;
            }
        };
        if let Err(e) = check_link(link, profile) {
            for _ in freqs_mhz {
                sink(Err(e.clone()));
            }
            return;
        }
        let mut prepared: Option<Result<p2p::PreparedPath, ItmError>> = None;
        for &freq_mhz in freqs_mhz {
            sink(self.band_loss(&Link { freq_mhz, ..*link }, profile, &mut prepared));
        }
    }

    /// One band of [`Itm::losses_with`]; `prepared` caches the profile analysis across bands.
    fn band_loss(
        &self,
        link: &Link<'_>,
        profile: &[f64],
        prepared: &mut Option<Result<p2p::PreparedPath, ItmError>>,
    ) -> Result<Loss, PropagationError> {
        if link.distance_m < SHORT_RANGE_LIMIT_M {
            let (loss_db, mode, _, _, input, _) = self.short_range_core(link, profile)?;
            let mut warnings = WarningCodes::default();
            warnings.push("itm_short_range_fallback");
            for w in input.iter() {
                warnings.push(w.code());
            }
            return Ok(Loss {
                loss_db,
                mode,
                warnings,
                model: NAME,
            });
        }
        let profile = Profile::over_distance(profile, link.distance_m);
        let params = self
            .config
            .params(link.tx_height_m, link.rx_height_m, link.freq_mhz);
        let mut warnings = WarningSet::default();
        inputs::validate_common(&params, &mut warnings).map_err(to_propagation_error)?;
        let path = prepared
            .get_or_insert_with(|| profile.validate().map(|()| p2p::prepare(&params, profile)))
            .clone()
            .map_err(to_propagation_error)?;
        let o = p2p::evaluate_prepared(&params, &path, warnings).map_err(to_propagation_error)?;
        let mut codes = WarningCodes::default();
        for w in o.warnings.iter() {
            codes.push(w.code());
        }
        Ok(Loss {
            loss_db: o.loss_db,
            mode: planner_mode(&o),
            warnings: codes,
            model: NAME,
        })
    }
}

const NAME: &str = "itm";

/// Fresnel parameter of the most obstructing interior profile point and its knife-edge loss
/// (ITU-R P.526 J(v)), on a 4/3 effective earth.
fn worst_knife_edge(profile: &[f64], d_m: f64, h_tx_m: f64, h_rx_m: f64, f_mhz: f64) -> (f64, f64) {
    let n = profile.len() - 1;
    let dx = d_m / n as f64;
    let wavelength_m = 299.792_458 / f_mhz;
    let z_tx = profile[0] + h_tx_m;
    let z_rx = profile[n] + h_rx_m;
    let a_e_m = 8_495e3;
    let mut v_max = f64::NEG_INFINITY;
    for (i, &z) in profile.iter().enumerate().take(n).skip(1) {
        let d1 = i as f64 * dx;
        let d2 = d_m - d1;
        let ray = z_tx + (z_rx - z_tx) * d1 / d_m;
        let clearance = z + d1 * d2 / (2.0 * a_e_m) - ray;
        let v = clearance * (2.0 * d_m / (wavelength_m * d1 * d2)).sqrt();
        v_max = v_max.max(v);
    }
    let loss = if v_max > -0.78 {
        6.9 + 20.0 * (((v_max - 0.1).powi(2) + 1.0).sqrt() + v_max - 0.1).log10()
    } else {
        0.0
    };
    (v_max, loss)
}

fn check_link(link: &Link<'_>, profile: &[f64]) -> Result<(), PropagationError> {
    if !(link.distance_m.is_finite() && link.distance_m > 0.0) {
        return Err(PropagationError::InvalidParameter {
            model: NAME,
            parameter: "distance_m",
            value: link.distance_m,
            reason: "must be a positive, finite distance in metres".into(),
        });
    }
    if profile.len() < 2 {
        return Err(PropagationError::InvalidParameter {
            model: NAME,
            parameter: "profile_m",
            value: profile.len() as f64,
            reason: "the terrain profile needs at least 2 points (transmitter and receiver ground)"
                .into(),
        });
    }
    if let Some((i, z)) = profile.iter().enumerate().find(|(_, z)| !z.is_finite()) {
        return Err(PropagationError::InvalidParameter {
            model: NAME,
            parameter: "profile_m",
            value: *z,
            reason: format!(
                "elevation at index {i} is not finite; fill DEM voids before running ITM"
            ),
        });
    }
    Ok(())
}

/// Names the offending parameter of an ITM error for the planner's error type.
fn to_propagation_error(e: ItmError) -> PropagationError {
    let (parameter, value) = match &e {
        ItmError::TxHeight { value_m } => ("tx_height_m", *value_m),
        ItmError::RxHeight { value_m } => ("rx_height_m", *value_m),
        ItmError::InvalidClimate { code } => ("climate", *code as f64),
        ItmError::InvalidTime { value_pct } => ("reliability_pct", *value_pct),
        ItmError::InvalidLocation { value_pct } => ("location_pct", *value_pct),
        ItmError::InvalidSituation { value_pct } => ("confidence_pct", *value_pct),
        ItmError::Refractivity { value } => ("surface_refractivity_n_units", *value),
        ItmError::Frequency { value_mhz } => ("freq_mhz", *value_mhz),
        ItmError::InvalidPolarization { code } => ("polarization", *code as f64),
        ItmError::Epsilon { value } => ("ground_permittivity", *value),
        ItmError::Sigma { value_s_per_m } => ("ground_conductivity_s_per_m", *value_s_per_m),
        ItmError::GroundImpedance { epsilon, .. } => ("ground_permittivity", *epsilon),
        ItmError::InvalidMdvar { code } => ("variability_mode", *code as f64),
        ItmError::EffectiveEarth { value_m } => ("effective_earth_radius_m", *value_m),
        ItmError::PathDistance { value_m } => ("distance_m", *value_m),
        ItmError::DeltaH { value_m } => ("delta_h_m", *value_m),
        ItmError::InvalidTxSiting { code } => ("tx_siting", *code as f64),
        ItmError::InvalidRxSiting { code } => ("rx_siting", *code as f64),
        ItmError::SurfaceRefractivitySmall { value }
        | ItmError::SurfaceRefractivityLarge { value } => ("surface_refractivity_n_units", *value),
        ItmError::NotFinite { parameter, value } => (*parameter, *value),
        ItmError::ProfileTooShort { points } => ("profile_m", *points as f64),
        ItmError::ProfileElevation { value, .. } => ("profile_m", *value),
        ItmError::ProfileSpacing { value_m } => ("profile_spacing_m", *value_m),
        ItmError::NumericalBreakdown => ("loss_db", f64::NAN),
    };
    PropagationError::InvalidParameter {
        model: NAME,
        parameter,
        value,
        reason: e.to_string(),
    }
}

/// Messages for the warnings raised by input validation alone (no geometry needed).
fn input_warning_message(w: ItmWarning, p: &ItmParams) -> Option<String> {
    Some(match w {
        ItmWarning::TxHeight => format!(
            "transmitter height {} m is outside ITM's 1..=1000 m validity range",
            p.tx_height_m
        ),
        ItmWarning::RxHeight => format!(
            "receiver height {} m is outside ITM's 1..=1000 m validity range",
            p.rx_height_m
        ),
        ItmWarning::Frequency => format!(
            "frequency {} MHz is outside ITM's 40..=10000 MHz validity range",
            p.freq_mhz
        ),
        _ => return None,
    })
}

/// The planner's propagation mode for an ITM result: line of sight only when the profile
/// leaves the direct ray clear, troposcatter when ITM says so, otherwise diffraction.
///
/// ITM v1.4's own mode ([`ItmOutput::mode`]) names the part of its loss curve used and calls
/// a path "line of sight" whenever it is shorter than the smooth-earth horizon distance of the
/// effective antenna heights, even when a hill blocks it; users reading "line of sight" expect
/// the terminals to see each other.
pub fn planner_mode(out: &ItmOutput) -> PropagationMode {
    match out.mode {
        ItmMode::Troposcatter => PropagationMode::Troposcatter,
        _ if out.geometry.terrain_line_of_sight => PropagationMode::LineOfSight,
        _ => PropagationMode::Diffraction,
    }
}

/// Human explanation of a warning with the values that triggered it.
pub fn describe_warning(w: ItmWarning, p: &ItmParams, out: &ItmOutput) -> String {
    let g = &out.geometry;
    match w {
        ItmWarning::TxHeight | ItmWarning::RxHeight | ItmWarning::Frequency => {
            input_warning_message(w, p).unwrap_or_default()
        }
        ItmWarning::DistanceNearUpperLimit => format!("path of {:.0} km is beyond 1000 km, near ITM's limit", g.d_m / 1e3),
        ItmWarning::DistanceTooLarge => format!("path of {:.0} km is beyond 2000 km; treat the result with care", g.d_m / 1e3),
        ItmWarning::DistanceShortForHeights => format!(
            "path of {:.0} m is short for effective heights {:.1} m and {:.1} m (steep elevation angle; ITM assumes small angles)",
            g.d_m, g.h_e_m[0], g.h_e_m[1]
        ),
        ItmWarning::DistanceBelow1Km => format!("path of {:.0} m is below ITM's 1 km minimum", g.d_m),
        ItmWarning::TxHorizonAngle => format!("transmitter horizon angle {:.3} rad exceeds 0.2 rad; small-angle approximations weaken", g.theta_hzn_rad[0]),
        ItmWarning::RxHorizonAngle => format!("receiver horizon angle {:.3} rad exceeds 0.2 rad; small-angle approximations weaken", g.theta_hzn_rad[1]),
        ItmWarning::TxHorizonTooClose => format!("transmitter horizon at {:.0} m is under a tenth of its smooth-earth horizon distance", g.d_hzn_m[0]),
        ItmWarning::RxHorizonTooClose => format!("receiver horizon at {:.0} m is under a tenth of its smooth-earth horizon distance", g.d_hzn_m[1]),
        ItmWarning::TxHorizonTooFar => format!("transmitter horizon at {:.0} m is over 3 times its smooth-earth horizon distance", g.d_hzn_m[0]),
        ItmWarning::RxHorizonTooFar => format!("receiver horizon at {:.0} m is over 3 times its smooth-earth horizon distance", g.d_hzn_m[1]),
        ItmWarning::ExtremeVariability => format!(
            "time/location/situation percentages ({}/{}/{}) lie far in the distribution tails (|z| > 3.1)",
            p.quantiles.time_pct, p.quantiles.location_pct, p.quantiles.situation_pct
        ),
        ItmWarning::LowSurfaceRefractivity => format!(
            "surface refractivity at path height {:.1} N-units is below 250; treat the result with care",
            out.surface_refractivity_n_units
        ),
    }
}

impl PropagationModel for Itm {
    fn name(&self) -> &'static str {
        NAME
    }

    fn needs_terrain(&self) -> bool {
        true
    }

    fn path_loss(&self, link: &Link<'_>) -> Result<PathLoss, PropagationError> {
        let profile = link
            .profile_m
            .ok_or(PropagationError::MissingProfile { model: NAME })?;
        check_link(link, profile)?;
        if link.distance_m < SHORT_RANGE_LIMIT_M {
            return self.short_range(link, profile);
        }
        let params = self
            .config
            .params(link.tx_height_m, link.rx_height_m, link.freq_mhz);
        let out = point_to_point(&params, Profile::over_distance(profile, link.distance_m))
            .map_err(to_propagation_error)?;
        let warnings = out
            .warnings
            .iter()
            .map(|w| ModelWarning {
                code: w.code(),
                message: describe_warning(w, &params, &out),
            })
            .collect();
        Ok(PathLoss {
            loss_db: out.loss_db,
            mode: planner_mode(&out),
            warnings,
        })
    }

    /// Free space minus the largest gain ITM's statistics can give (the reference attenuation
    /// is never negative, see [`variability`]); the short-range fallback only adds to free space.
    fn loss_floor_db(&self, _freq_mhz: f64) -> Option<f64> {
        // ITM's free-space constant (32.45 dB at 1 km) differs from Friis' by 0.002 dB.
        Some(self.min_excess_db.min(0.0) - 0.01)
    }

    fn loss(&self, link: &Link<'_>) -> Result<Loss, PropagationError> {
        let mut result = None;
        self.losses_with(link, &[link.freq_mhz], &mut |r| result = Some(r));
        result.expect("one result per frequency")
    }

    fn losses(
        &self,
        link: &Link<'_>,
        freqs_mhz: &[f64],
        out: &mut Vec<Result<Loss, PropagationError>>,
    ) {
        self.losses_with(link, freqs_mhz, &mut |r| out.push(r));
    }

    /// Range over smooth earth (ITM area mode, delta h = 0, random siting, the configured
    /// quantiles), below 1 km free space. A hill-top site sees farther than this, so callers
    /// wanting margin should raise `max_loss_db` or the cap.
    fn max_range_m(
        &self,
        freq_mhz: f64,
        tx_height_m: f64,
        rx_height_m: f64,
        max_loss_db: f64,
        cap_m: f64,
    ) -> f64 {
        let params = self.config.params(tx_height_m, rx_height_m, freq_mhz);
        let loss_at = |d_m: f64| {
            if d_m < SHORT_RANGE_LIMIT_M {
                return free_space_db(d_m, freq_mhz);
            }
            let path = AreaPath {
                distance_m: d_m,
                delta_h_m: 0.0,
                siting: [SitingCriteria::Random; 2],
            };
            area(&params, &path)
                .map(|o| o.loss_db)
                .unwrap_or(f64::INFINITY)
        };
        // NaN caps fail the comparison and give 0 too.
        if cap_m.is_nan() || cap_m <= 1.0 || loss_at(1.0) > max_loss_db {
            return 0.0;
        }
        if loss_at(cap_m) <= max_loss_db {
            return cap_m;
        }
        let (mut lo, mut hi) = (1.0_f64, cap_m);
        while hi - lo > 0.5 {
            let mid = 0.5 * (lo + hi);
            if loss_at(mid) <= max_loss_db {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }
}
