//! COST-231 Hata: the Hata extension to 1500–2000 MHz (and, with a warning, beyond).
//!
//! # Formula (d in km, f in MHz, heights in m)
//! L = 46.3 + 33.9 log10 f − 13.82 log10 h_b − a(h_m) + (44.9 − 6.55 log10 h_b) log10 d + C_m
//!
//! - medium city and suburban: C_m = 0 dB with the small/medium-city a(h_m);
//! - metropolitan centre: C_m = 3 dB with the large-city a(h_m) (f ≥ 400 MHz branch).
//!
//! # Validity and what happens outside it
//! Fitted for 1500–2000 MHz, h_b 30–200 m, h_m 1–10 m, d 1–20 km. As commonly done (LTE
//! 2100/2600 MHz planning), it is evaluated beyond 2000 MHz with a `frequency_above_range`
//! warning; below 1500 MHz it is also evaluated with a warning, but Okumura-Hata is the model to
//! use there. The result is never below free-space loss (see [`super::hata`]).

use super::hata::{
    a_hm_large_city_db, a_hm_small_city_db, check_input_codes, check_inputs, floor_at_free_space,
    floor_code,
};
use super::{Link, Loss, PathLoss, PropagationError, PropagationMode, PropagationModel};

/// COST-231 Hata environment class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cost231Environment {
    /// Medium-sized city or suburban centre: C_m = 0 dB.
    MediumCity,
    /// Metropolitan centre: C_m = 3 dB, large-city mobile-height correction.
    Metropolitan,
}

impl Cost231Environment {
    /// Correction C_m in dB.
    pub fn cm_db(self) -> f64 {
        match self {
            Cost231Environment::MediumCity => 0.0,
            Cost231Environment::Metropolitan => 3.0,
        }
    }
}

/// The COST-231 Hata model for one environment class.
#[derive(Debug, Clone, Copy)]
pub struct Cost231 {
    pub environment: Cost231Environment,
}

impl Cost231 {
    pub fn new(environment: Cost231Environment) -> Self {
        Cost231 { environment }
    }

    /// The raw formula, no checks and no floor; d in metres, heights in metres.
    #[inline]
    pub fn formula_db(
        environment: Cost231Environment,
        freq_mhz: f64,
        distance_m: f64,
        hb_m: f64,
        hm_m: f64,
    ) -> f64 {
        let lhb = hb_m.log10();
        let a = match environment {
            Cost231Environment::MediumCity => a_hm_small_city_db(freq_mhz, hm_m),
            Cost231Environment::Metropolitan => a_hm_large_city_db(freq_mhz, hm_m),
        };
        46.3 + 33.9 * freq_mhz.log10() - 13.82 * lhb - a
            + (44.9 - 6.55 * lhb) * (distance_m / 1000.0).log10()
            + environment.cm_db()
    }
}

impl PropagationModel for Cost231 {
    fn name(&self) -> &'static str {
        match self.environment {
            Cost231Environment::MediumCity => "cost231_medium_city",
            Cost231Environment::Metropolitan => "cost231_metropolitan",
        }
    }

    fn path_loss(&self, link: &Link<'_>) -> Result<PathLoss, PropagationError> {
        let mut warnings = check_inputs(self.name(), link, 1500.0, 2000.0)?;
        let raw = Self::formula_db(
            self.environment,
            link.freq_mhz,
            link.distance_m,
            link.tx_height_m,
            link.rx_height_m,
        );
        let loss_db = floor_at_free_space(self.name(), raw, link, &mut warnings);
        Ok(PathLoss {
            loss_db,
            mode: PropagationMode::Unspecified,
            warnings,
        })
    }

    /// The result is floored at free-space loss.
    fn loss_floor_db(&self, _freq_mhz: f64) -> Option<f64> {
        Some(0.0)
    }

    fn loss(&self, link: &Link<'_>) -> Result<Loss, PropagationError> {
        let mut warnings = check_input_codes(self.name(), link, 1500.0, 2000.0)?;
        let raw = Self::formula_db(
            self.environment,
            link.freq_mhz,
            link.distance_m,
            link.tx_height_m,
            link.rx_height_m,
        );
        let (loss_db, floored) = floor_code(raw, link);
        if floored {
            warnings.push("below_free_space");
        }
        Ok(Loss {
            loss_db,
            mode: PropagationMode::Unspecified,
            warnings,
            model: self.name(),
        })
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
            rx_height_m: 1.0,
            profile_m: None,
        }
    }

    /// REFERENCES.md: 2114 MHz, d = 2 km, hb = 30 m, hm = 1 m; 153.52 includes the −4.97 term
    /// of the large-city a(hm) that one simulator's suite drops (its 148.55 is wrong).
    #[test]
    fn reproduces_reference_values() {
        let m = Cost231::new(Cost231Environment::MediumCity)
            .path_loss(&link(2114.0, 2000.0))
            .unwrap();
        assert!((m.loss_db - 150.64).abs() < 0.1, "{}", m.loss_db);
        let x = Cost231::new(Cost231Environment::Metropolitan)
            .path_loss(&link(2114.0, 2000.0))
            .unwrap();
        assert!((x.loss_db - 153.52).abs() < 0.1, "{}", x.loss_db);
        assert!((x.loss_db - 148.55).abs() > 4.0);
        // Above 2000 MHz: evaluated, flagged.
        assert_eq!(
            m.warnings.iter().map(|w| w.code).collect::<Vec<_>>(),
            ["frequency_above_range"]
        );
    }

    #[test]
    fn in_range_has_no_warning_and_below_range_warns() {
        let m = Cost231::new(Cost231Environment::MediumCity)
            .path_loss(&link(1800.0, 5000.0))
            .unwrap();
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        let m = Cost231::new(Cost231Environment::MediumCity)
            .path_loss(&link(900.0, 5000.0))
            .unwrap();
        assert_eq!(m.warnings[0].code, "frequency_below_range");
    }

    #[test]
    fn rejects_nonsense() {
        let e = Cost231::new(Cost231Environment::Metropolitan)
            .path_loss(&link(1800.0, 0.0))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("cost231_metropolitan: parameter distance_m = 0"),
            "{e}"
        );
    }
}
