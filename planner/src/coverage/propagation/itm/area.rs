//! ITM area mode: median-terrain predictions from a terrain irregularity value instead of a
//! profile, for planning before terrain data exist or for statistics over a region.

use super::environment::Environment;
use super::inputs::{validate_common, ItmError, ItmParams, SitingCriteria, WarningSet};
use super::reference::{reference_attenuation, Usage};
use super::terrain::area_geometry;
use super::variability::quantile_attenuation;
use super::{finish, ItmOutput};

/// Area-mode path description.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AreaPath {
    /// Path length, metres.
    pub distance_m: f64,
    /// Terrain irregularity delta h, metres (0 = smooth earth; 90 = hills; 200+ = mountains).
    pub delta_h_m: f64,
    /// Siting of (tx, rx).
    pub siting: [SitingCriteria; 2],
}

/// Basic transmission loss in area mode (ITM `ITM_AREA_TLS`).
///
/// # Units
/// Heights and distance in metres, frequency in MHz, percentages 0..100 exclusive; loss in dB.
///
/// ```
/// use planner::coverage::propagation::itm::{area, AreaPath, ItmConfig, SitingCriteria};
/// let params = ItmConfig::default().params(30.0, 1.5, 900.0);
/// let hills = AreaPath { distance_m: 20_000.0, delta_h_m: 90.0, siting: [SitingCriteria::Careful, SitingCriteria::Random] };
/// let plains = AreaPath { delta_h_m: 10.0, ..hills };
/// // Rougher terrain costs more on this beyond-the-horizon path.
/// assert!(area(&params, &hills).unwrap().loss_db > area(&params, &plains).unwrap().loss_db);
/// ```
pub fn area(p: &ItmParams, path: &AreaPath) -> Result<ItmOutput, ItmError> {
    let mut warnings = WarningSet::default();
    validate_common(p, &mut warnings)?;
    for (parameter, value) in [
        ("distance_m", path.distance_m),
        ("delta_h_m", path.delta_h_m),
    ] {
        if !value.is_finite() {
            return Err(ItmError::NotFinite { parameter, value });
        }
    }
    if path.distance_m <= 0.0 {
        return Err(ItmError::PathDistance {
            value_m: path.distance_m,
        });
    }
    if path.delta_h_m < 0.0 {
        return Err(ItmError::DeltaH {
            value_m: path.delta_h_m,
        });
    }
    // Area mode has no profile, so N_0 is used at sea level.
    let env = Environment::new(
        p.freq_mhz,
        0.0,
        p.n0_n_units,
        p.polarization,
        p.epsilon,
        p.sigma_s_per_m,
    );
    let h_m = [p.tx_height_m, p.rx_height_m];
    let geometry = area_geometry(
        path.distance_m,
        env.gamma_e_per_m,
        path.delta_h_m,
        h_m,
        path.siting,
    );
    let (a_ref_db, mode) =
        reference_attenuation(&geometry, &env, p.freq_mhz, h_m, Usage::Area, &mut warnings)
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
