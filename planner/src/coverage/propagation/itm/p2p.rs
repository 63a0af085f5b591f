//! ITM point-to-point mode: basic transmission loss over a known terrain profile.

use super::environment::{atmosphere, ground_impedance, Environment};
use super::inputs::{validate_common, ItmError, ItmParams, WarningSet};
use super::reference::{reference_attenuation, Usage};
use super::terrain::{profile_geometry, PathGeometry};
use super::variability::quantile_attenuation;
use super::{finish, ItmOutput};

/// A terrain profile: `elevations_m.len()` points (N + 1 for N intervals) from transmitter to
/// receiver, metres above sea level, `spacing_m` apart. This is ITM's `pfl` array without the
/// two header numbers, so callers can pass a slice of their own buffer without copying.
#[derive(Debug, Clone, Copy)]
pub struct Profile<'a> {
    pub elevations_m: &'a [f64],
    pub spacing_m: f64,
}

impl<'a> Profile<'a> {
    /// Profile of evenly spaced elevations covering `distance_m` end to end.
    pub fn over_distance(elevations_m: &'a [f64], distance_m: f64) -> Self {
        let intervals = elevations_m.len().saturating_sub(1).max(1);
        Self {
            elevations_m,
            spacing_m: distance_m / intervals as f64,
        }
    }

    /// Reads ITM's `pfl` layout `[N, dx_m, z_0 .. z_N]`.
    pub fn from_pfl(pfl: &'a [f64]) -> Result<Self, ItmError> {
        if pfl.len() < 4 {
            return Err(ItmError::ProfileTooShort {
                points: pfl.len().saturating_sub(2),
            });
        }
        let n = pfl[0];
        let elevations_m = &pfl[2..];
        if !n.is_finite() || n < 1.0 || n as usize + 1 != elevations_m.len() {
            return Err(ItmError::ProfileTooShort {
                points: elevations_m.len(),
            });
        }
        Ok(Self {
            elevations_m,
            spacing_m: pfl[1],
        })
    }

    /// Path length, metres.
    pub fn distance_m(&self) -> f64 {
        self.elevations_m.len().saturating_sub(1) as f64 * self.spacing_m
    }

    pub(crate) fn validate(&self) -> Result<(), ItmError> {
        if self.elevations_m.len() < 2 {
            return Err(ItmError::ProfileTooShort {
                points: self.elevations_m.len(),
            });
        }
        if !(self.spacing_m.is_finite() && self.spacing_m > 0.0) {
            return Err(ItmError::ProfileSpacing {
                value_m: self.spacing_m,
            });
        }
        if let Some((index, &value)) = self
            .elevations_m
            .iter()
            .enumerate()
            .find(|(_, z)| !z.is_finite())
        {
            return Err(ItmError::ProfileElevation { index, value });
        }
        Ok(())
    }
}

/// Mean terrain height of the path, leaving out the first and last tenth (the terminals'
/// surroundings), used to reduce N_0 to the path's altitude.
fn system_height_m(z: &[f64]) -> f64 {
    let np = z.len() - 1;
    let skip = (0.1 * np as f64) as usize;
    let middle = &z[skip..=np - skip];
    middle.iter().sum::<f64>() / middle.len() as f64
}

/// Basic transmission loss over `profile` (ITM `ITM_P2P_TLS`).
///
/// # Units
/// Heights in metres, frequency in MHz, percentages 0..100 exclusive; loss in dB.
///
/// # Allocation
/// None: the profile is borrowed and all intermediate arrays are fixed-size.
///
/// ```
/// use planner::coverage::propagation::itm::{point_to_point, ItmConfig, ItmMode, Profile};
/// // 30 m mast to a 1.5 m handset at 900 MHz, median time/location/situation.
/// let params = ItmConfig::default().params(30.0, 1.5, 900.0);
/// let ground_m = vec![120.0; 101]; // flat ground, 100 intervals over 10 km
/// let out = point_to_point(&params, Profile::over_distance(&ground_m, 10_000.0)).unwrap();
/// assert_eq!(out.mode, ItmMode::LineOfSight);
/// assert!(out.loss_db > out.free_space_db); // ground reflection and roughness add loss
/// assert!(out.warnings.is_empty());
/// ```
pub fn point_to_point(p: &ItmParams, profile: Profile<'_>) -> Result<ItmOutput, ItmError> {
    let mut warnings = WarningSet::default();
    validate_common(p, &mut warnings)?;
    profile.validate()?;
    let path = prepare(p, profile);
    evaluate_prepared(p, &path, warnings)
}

/// The frequency-independent part of a point-to-point evaluation: the atmosphere at the path's
/// height and the path geometry. Coverage computes it once per site and target and reuses it
/// for every band of the site ([`evaluate_prepared`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PreparedPath {
    pub geometry: PathGeometry,
    pub n_s: f64,
    pub gamma_e_per_m: f64,
}

/// Analyses a validated profile for the heights and N_0 of `p` (its frequency is not used).
pub(crate) fn prepare(p: &ItmParams, profile: Profile<'_>) -> PreparedPath {
    let z = profile.elevations_m;
    let (n_s, gamma_e_per_m) = atmosphere(system_height_m(z), p.n0_n_units);
    let h_m = [p.tx_height_m, p.rx_height_m];
    PreparedPath {
        geometry: profile_geometry(z, profile.spacing_m, gamma_e_per_m, h_m),
        n_s,
        gamma_e_per_m,
    }
}

/// Loss over a prepared path for the frequency and statistics of `p`, whose heights and N_0
/// must be those the path was prepared with. `warnings` carries the input-check warnings.
pub(crate) fn evaluate_prepared(
    p: &ItmParams,
    path: &PreparedPath,
    mut warnings: WarningSet,
) -> Result<ItmOutput, ItmError> {
    let env = Environment {
        n_s: path.n_s,
        gamma_e_per_m: path.gamma_e_per_m,
        z_g: ground_impedance(p.freq_mhz, p.polarization, p.epsilon, p.sigma_s_per_m),
    };
    let geometry = path.geometry;
    let h_m = [p.tx_height_m, p.rx_height_m];
    let (a_ref_db, mode) = reference_attenuation(
        &geometry,
        &env,
        p.freq_mhz,
        h_m,
        Usage::PointToPoint,
        &mut warnings,
    )
    .map_err(|e| super::with_ground(e, p))?;
    let a_var_db = quantile_attenuation(
        &p.quantiles,
        &geometry,
        p.freq_mhz,
        a_ref_db,
        p.climate,
        p.mdvar,
        &mut warnings,
    );
    finish(p, geometry, env.n_s, a_ref_db, a_var_db, mode, warnings)
}
