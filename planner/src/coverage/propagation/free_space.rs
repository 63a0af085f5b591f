//! Free-space path loss (Friis): the physical lower bound every other model is compared with.
//!
//! FSPL = 20 log10(f_MHz) + 20 log10(d_m) − 27.5522 dB, where 27.5522 = 20 log10(c / 4π) with
//! c in m·MHz. The distance is the one given in [`Link::distance_m`] (ground distance); the slant
//! correction from antenna heights is below 0.01 dB for paths longer than ~20 × the height
//! difference and is ignored, as in the usual definition.

use super::checks::require_positive;
use super::{
    Link, Loss, ModelWarning, PathLoss, PropagationError, PropagationMode, PropagationModel,
    WarningCodes,
};

/// 20 log10(4π / c) with c = 299.792458 m·MHz, so that distances are in metres and frequencies
/// in MHz.
pub const FSPL_CONSTANT_DB: f64 = 27.552_245_8;

/// Free-space loss in dB for `freq_mhz` (MHz) over `distance_m` (metres); no input checks.
///
/// ```
/// let l = planner::coverage::propagation::free_space::fspl_db(1000.0, 1000.0);
/// assert!((l - 92.4478).abs() < 1e-4);
/// ```
#[inline]
pub fn fspl_db(freq_mhz: f64, distance_m: f64) -> f64 {
    20.0 * freq_mhz.log10() + 20.0 * distance_m.log10() - FSPL_CONSTANT_DB
}

/// The free-space model. Valid at any frequency in the antenna far field; below one wavelength
/// the formula would give a loss under 0 dB, so the loss is clamped at 0 dB with a warning.
#[derive(Debug, Clone, Copy, Default)]
pub struct FreeSpace;

impl PropagationModel for FreeSpace {
    fn name(&self) -> &'static str {
        "free_space"
    }

    fn path_loss(&self, link: &Link<'_>) -> Result<PathLoss, PropagationError> {
        require_positive(self.name(), "freq_mhz", link.freq_mhz, "MHz")?;
        require_positive(self.name(), "distance_m", link.distance_m, "m")?;
        let mut warnings = Vec::new();
        let wavelength_m = super::diffraction::wavelength_m(link.freq_mhz);
        if link.distance_m < wavelength_m {
            warnings.push(ModelWarning {
                code: "distance_below_far_field",
                message: format!(
                    "free_space: distance {} m is shorter than one wavelength ({wavelength_m:.3} m); the far-field formula does not apply, loss clamped at 0 dB",
                    link.distance_m
                ),
            });
        }
        let loss_db = fspl_db(link.freq_mhz, link.distance_m).max(0.0);
        Ok(PathLoss {
            loss_db,
            mode: PropagationMode::Unspecified,
            warnings,
        })
    }

    fn loss(&self, link: &Link<'_>) -> Result<Loss, PropagationError> {
        require_positive(self.name(), "freq_mhz", link.freq_mhz, "MHz")?;
        require_positive(self.name(), "distance_m", link.distance_m, "m")?;
        let mut warnings = WarningCodes::default();
        if link.distance_m < super::diffraction::wavelength_m(link.freq_mhz) {
            warnings.push("distance_below_far_field");
        }
        Ok(Loss {
            loss_db: fspl_db(link.freq_mhz, link.distance_m).max(0.0),
            mode: PropagationMode::Unspecified,
            warnings,
            model: self.name(),
        })
    }

    fn loss_floor_db(&self, _freq_mhz: f64) -> Option<f64> {
        Some(0.0)
    }

    /// Closed form instead of bisection: d = 10^((L − 20 log10 f + 27.5522) / 20).
    fn max_range_m(
        &self,
        freq_mhz: f64,
        _tx_height_m: f64,
        _rx_height_m: f64,
        max_loss_db: f64,
        cap_m: f64,
    ) -> f64 {
        if freq_mhz.is_nan() || freq_mhz <= 0.0 || max_loss_db.is_nan() {
            return 0.0;
        }
        let d = 10f64.powf((max_loss_db - 20.0 * freq_mhz.log10() + FSPL_CONSTANT_DB) / 20.0);
        d.min(cap_m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(freq_mhz: f64, distance_m: f64) -> Link<'static> {
        Link {
            freq_mhz,
            distance_m,
            tx_height_m: 30.0,
            rx_height_m: 1.5,
            profile_m: None,
        }
    }

    #[test]
    fn matches_closed_form_values() {
        let l = FreeSpace.path_loss(&link(1000.0, 1000.0)).unwrap();
        assert!((l.loss_db - 92.4478).abs() < 1e-4, "{}", l.loss_db);
        assert!(l.warnings.is_empty());
        // 20 log10(2400) + 20 log10(10 000) − 27.5522 = 67.6042 + 80 − 27.5522
        let l = FreeSpace.path_loss(&link(2400.0, 10_000.0)).unwrap();
        assert!((l.loss_db - 120.0520).abs() < 1e-3, "{}", l.loss_db);
        // Doubling distance adds 6.0206 dB exactly.
        let a = FreeSpace.path_loss(&link(900.0, 5000.0)).unwrap().loss_db;
        let b = FreeSpace.path_loss(&link(900.0, 10_000.0)).unwrap().loss_db;
        assert!((b - a - 20.0 * 2f64.log10()).abs() < 1e-9);
    }

    #[test]
    fn rejects_nonsense_and_warns_in_near_field() {
        let e = FreeSpace.path_loss(&link(900.0, 0.0)).unwrap_err();
        assert!(e.to_string().contains("distance_m = 0"), "{e}");
        let e = FreeSpace.path_loss(&link(f64::NAN, 10.0)).unwrap_err();
        assert!(e.to_string().contains("freq_mhz = NaN"), "{e}");
        // 100 MHz: λ = 3 m; at 5 cm the formula gives −13.6 dB.
        let l = FreeSpace.path_loss(&link(100.0, 0.05)).unwrap();
        assert_eq!(l.loss_db, 0.0);
        assert_eq!(l.warnings[0].code, "distance_below_far_field");
    }

    #[test]
    fn max_range_inverts_loss() {
        let d = FreeSpace.max_range_m(900.0, 30.0, 1.5, 120.0, 1e9);
        let l = fspl_db(900.0, d);
        assert!((l - 120.0).abs() < 1e-9);
        assert_eq!(
            FreeSpace.max_range_m(900.0, 30.0, 1.5, 200.0, 50_000.0),
            50_000.0
        );
    }
}
