//! Okumura-Hata empirical path loss for macro cells (urban large / small-medium city, suburban,
//! open), with its validity range turned into warnings.
//!
//! # Formula (Hata 1980; d in km, f in MHz, heights in m)
//! L_urban = 69.55 + 26.16 log10 f − 13.82 log10 h_b − a(h_m) + (44.9 − 6.55 log10 h_b) log10 d
//!
//! - small/medium city: a(h_m) = (1.1 log10 f − 0.7) h_m − (1.56 log10 f − 0.8)
//! - large city: a(h_m) = 8.29 (log10 1.54 h_m)² − 1.1 for f ≤ 200 MHz,
//!   3.2 (log10 11.75 h_m)² − 4.97 for f ≥ 400 MHz. Hata leaves 200–400 MHz open; we switch
//!   branches at 300 MHz (the branches differ by < 1 dB there for h_m ≤ 3 m).
//! - suburban: L_urban(small city) − 2 (log10 (f / 28))² − 5.4
//! - open/rural: L_urban(small city) − 4.78 (log10 f)² + 18.33 log10 f − 40.94
//!
//! # Validity and what happens outside it
//! Fitted for f 150–1500 MHz, base height h_b 30–200 m, mobile height h_m 1–10 m and
//! d 1–20 km. Outside those ranges the formula is still evaluated and a [`ModelWarning`] is
//! returned for each parameter out of range (common practice: Hata is routinely used to 30+ km
//! and down to 20 m masts). Above 1500 MHz use COST-231 Hata instead. Values that make the
//! formula meaningless (d ≤ 0, heights ≤ 0, NaN) are errors. Because an extrapolated fit can
//! fall below the physical minimum at short range, the result is never lower than free-space
//! loss; when that floor applies a `below_free_space` warning says so.

use super::checks::{require_positive, warn_outside};
use super::free_space::fspl_db;
use super::{
    Link, Loss, ModelWarning, PathLoss, PropagationError, PropagationMode, PropagationModel,
    WarningCodes,
};

/// Environment class of the Okumura-Hata model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HataEnvironment {
    /// Urban, large city (large-city mobile-height correction).
    UrbanLarge,
    /// Urban, small or medium city.
    UrbanSmall,
    /// Suburban (small-city urban loss minus the suburban correction).
    Suburban,
    /// Open / rural area.
    Open,
}

impl HataEnvironment {
    pub const ALL: [HataEnvironment; 4] = [
        HataEnvironment::UrbanLarge,
        HataEnvironment::UrbanSmall,
        HataEnvironment::Suburban,
        HataEnvironment::Open,
    ];

    /// Config spelling: `urban_large`, `urban_small`, `suburban`, `open`.
    pub fn as_str(self) -> &'static str {
        match self {
            HataEnvironment::UrbanLarge => "urban_large",
            HataEnvironment::UrbanSmall => "urban_small",
            HataEnvironment::Suburban => "suburban",
            HataEnvironment::Open => "open",
        }
    }

    /// Parses the config spelling and the common synonyms (`large_city`, `metropolitan`,
    /// `medium_city`, `small_city`, `rural`).
    pub fn parse(s: &str) -> Option<HataEnvironment> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "urban_large" | "large_city" | "metropolitan" => Some(HataEnvironment::UrbanLarge),
            "urban_small" | "urban_medium" | "small_city" | "medium_city" | "urban" => {
                Some(HataEnvironment::UrbanSmall)
            }
            "suburban" => Some(HataEnvironment::Suburban),
            "open" | "rural" => Some(HataEnvironment::Open),
            _ => None,
        }
    }
}

/// Mobile antenna height correction a(h_m) for small and medium cities, dB.
#[inline]
pub fn a_hm_small_city_db(freq_mhz: f64, hm_m: f64) -> f64 {
    let lf = freq_mhz.log10();
    (1.1 * lf - 0.7) * hm_m - (1.56 * lf - 0.8)
}

/// Mobile antenna height correction a(h_m) for large cities, dB (branch switch at 300 MHz).
#[inline]
pub fn a_hm_large_city_db(freq_mhz: f64, hm_m: f64) -> f64 {
    if freq_mhz < 300.0 {
        8.29 * (1.54 * hm_m).log10().powi(2) - 1.1
    } else {
        3.2 * (11.75 * hm_m).log10().powi(2) - 4.97
    }
}

/// Input checks shared by Hata and COST-231 Hata: errors for nonsense, warnings outside the
/// fitted ranges (frequency range differs per model).
pub(crate) fn check_inputs(
    model: &'static str,
    link: &Link<'_>,
    f_lo_mhz: f64,
    f_hi_mhz: f64,
) -> Result<Vec<ModelWarning>, PropagationError> {
    require_positive(model, "freq_mhz", link.freq_mhz, "MHz")?;
    require_positive(model, "distance_m", link.distance_m, "m")?;
    require_positive(model, "tx_height_m", link.tx_height_m, "m")?;
    require_positive(model, "rx_height_m", link.rx_height_m, "m")?;
    let mut w = Vec::new();
    warn_outside(
        &mut w,
        model,
        "frequency_below_range",
        "frequency_above_range",
        "frequency",
        link.freq_mhz,
        f_lo_mhz,
        f_hi_mhz,
        "MHz",
    );
    warn_outside(
        &mut w,
        model,
        "distance_below_range",
        "distance_above_range",
        "distance",
        link.distance_m / 1000.0,
        DISTANCE_RANGE_KM.0,
        DISTANCE_RANGE_KM.1,
        "km",
    );
    warn_outside(
        &mut w,
        model,
        "tx_height_below_range",
        "tx_height_above_range",
        "base antenna height",
        link.tx_height_m,
        BASE_HEIGHT_RANGE_M.0,
        BASE_HEIGHT_RANGE_M.1,
        "m",
    );
    warn_outside(
        &mut w,
        model,
        "rx_height_below_range",
        "rx_height_above_range",
        "mobile antenna height",
        link.rx_height_m,
        MOBILE_HEIGHT_RANGE_M.0,
        MOBILE_HEIGHT_RANGE_M.1,
        "m",
    );
    Ok(w)
}

/// Validity range of the Hata family apart from frequency: distance (km), base and mobile
/// antenna heights (m).
pub const DISTANCE_RANGE_KM: (f64, f64) = (1.0, 20.0);
pub const BASE_HEIGHT_RANGE_M: (f64, f64) = (30.0, 200.0);
pub const MOBILE_HEIGHT_RANGE_M: (f64, f64) = (1.0, 10.0);

/// [`check_inputs`] without messages: the same errors and the same warning codes, no allocation.
pub(crate) fn check_input_codes(
    model: &'static str,
    link: &Link<'_>,
    f_lo_mhz: f64,
    f_hi_mhz: f64,
) -> Result<WarningCodes, PropagationError> {
    require_positive(model, "freq_mhz", link.freq_mhz, "MHz")?;
    require_positive(model, "distance_m", link.distance_m, "m")?;
    require_positive(model, "tx_height_m", link.tx_height_m, "m")?;
    require_positive(model, "rx_height_m", link.rx_height_m, "m")?;
    let mut w = WarningCodes::default();
    let mut outside = |below: &'static str, above: &'static str, v: f64, (lo, hi): (f64, f64)| {
        if v < lo {
            w.push(below);
        } else if v > hi {
            w.push(above);
        }
    };
    outside(
        "frequency_below_range",
        "frequency_above_range",
        link.freq_mhz,
        (f_lo_mhz, f_hi_mhz),
    );
    outside(
        "distance_below_range",
        "distance_above_range",
        link.distance_m / 1000.0,
        DISTANCE_RANGE_KM,
    );
    outside(
        "tx_height_below_range",
        "tx_height_above_range",
        link.tx_height_m,
        BASE_HEIGHT_RANGE_M,
    );
    outside(
        "rx_height_below_range",
        "rx_height_above_range",
        link.rx_height_m,
        MOBILE_HEIGHT_RANGE_M,
    );
    Ok(w)
}

/// Whether a link lies inside the Hata family's fitted ranges (frequency `f_lo..=f_hi` MHz,
/// distance, base and mobile heights): the test the `auto` model uses to pick it.
pub fn within_validity(link: &Link<'_>, f_lo_mhz: f64, f_hi_mhz: f64) -> bool {
    let inside = |v: f64, (lo, hi): (f64, f64)| v >= lo && v <= hi;
    inside(link.freq_mhz, (f_lo_mhz, f_hi_mhz))
        && inside(link.distance_m / 1000.0, DISTANCE_RANGE_KM)
        && inside(link.tx_height_m, BASE_HEIGHT_RANGE_M)
        && inside(link.rx_height_m, MOBILE_HEIGHT_RANGE_M)
}

/// The free-space floor without a message: (loss, whether the floor applied).
#[inline]
pub(crate) fn floor_code(loss_db: f64, link: &Link<'_>) -> (f64, bool) {
    let fs = fspl_db(link.freq_mhz, link.distance_m);
    if loss_db < fs {
        (fs, true)
    } else {
        (loss_db, false)
    }
}

/// Applies the free-space floor shared by the Hata family.
pub(crate) fn floor_at_free_space(
    model: &str,
    loss_db: f64,
    link: &Link<'_>,
    warnings: &mut Vec<ModelWarning>,
) -> f64 {
    let fs = fspl_db(link.freq_mhz, link.distance_m);
    if loss_db < fs {
        warnings.push(ModelWarning {
            code: "below_free_space",
            message: format!("{model}: empirical loss {loss_db:.2} dB is below free-space loss {fs:.2} dB at {} m; free-space loss used", link.distance_m),
        });
        fs
    } else {
        loss_db
    }
}

/// Okumura-Hata for one environment class.
#[derive(Debug, Clone, Copy)]
pub struct Hata {
    pub environment: HataEnvironment,
}

impl Hata {
    pub fn new(environment: HataEnvironment) -> Self {
        Hata { environment }
    }

    /// The raw formula, no checks and no floor; d in metres, heights in metres.
    #[inline]
    pub fn formula_db(
        environment: HataEnvironment,
        freq_mhz: f64,
        distance_m: f64,
        hb_m: f64,
        hm_m: f64,
    ) -> f64 {
        let lf = freq_mhz.log10();
        let lhb = hb_m.log10();
        let a = match environment {
            HataEnvironment::UrbanLarge => a_hm_large_city_db(freq_mhz, hm_m),
            _ => a_hm_small_city_db(freq_mhz, hm_m),
        };
        let urban = 69.55 + 26.16 * lf - 13.82 * lhb - a
            + (44.9 - 6.55 * lhb) * (distance_m / 1000.0).log10();
        match environment {
            HataEnvironment::UrbanLarge | HataEnvironment::UrbanSmall => urban,
            HataEnvironment::Suburban => urban - 2.0 * (freq_mhz / 28.0).log10().powi(2) - 5.4,
            HataEnvironment::Open => urban - 4.78 * lf * lf + 18.33 * lf - 40.94,
        }
    }
}

impl PropagationModel for Hata {
    fn name(&self) -> &'static str {
        match self.environment {
            HataEnvironment::UrbanLarge => "hata_urban_large",
            HataEnvironment::UrbanSmall => "hata_urban_small",
            HataEnvironment::Suburban => "hata_suburban",
            HataEnvironment::Open => "hata_open",
        }
    }

    fn path_loss(&self, link: &Link<'_>) -> Result<PathLoss, PropagationError> {
        let mut warnings = check_inputs(self.name(), link, 150.0, 1500.0)?;
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
        let mut warnings = check_input_codes(self.name(), link, 150.0, 1500.0)?;
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

    fn loss(env: HataEnvironment, f: f64, d_m: f64) -> PathLoss {
        Hata::new(env)
            .path_loss(&Link {
                freq_mhz: f,
                distance_m: d_m,
                tx_height_m: 30.0,
                rx_height_m: 1.0,
                profile_m: None,
            })
            .unwrap()
    }

    /// REFERENCES.md values at d = 2 km, hb = 30 m, hm = 1 m, tolerance 0.1 dB.
    #[test]
    fn reproduces_reference_values() {
        let cases = [
            (HataEnvironment::UrbanLarge, 137.93),
            (HataEnvironment::UrbanSmall, 137.88),
            (HataEnvironment::Suburban, 128.03),
            (HataEnvironment::Open, 109.52),
        ];
        for (env, expected) in cases {
            let l = loss(env, 869.0, 2000.0);
            assert!(
                (l.loss_db - expected).abs() < 0.1,
                "{env:?}: {} vs {expected}",
                l.loss_db
            );
            assert!(l.warnings.is_empty(), "{:?}", l.warnings);
            assert_eq!(l.mode, PropagationMode::Unspecified);
        }
    }

    #[test]
    fn large_city_low_frequency_branch() {
        // f ≤ 200 MHz: a(1 m) = 8.29 (log10 1.54)² − 1.1 = 8.29 · 0.035259 − 1.1 = −0.80770
        let a = a_hm_large_city_db(150.0, 1.0);
        assert!((a - (8.29 * 1.54f64.log10().powi(2) - 1.1)).abs() < 1e-12);
        assert!((a + 0.8077).abs() < 1e-3, "{a}");
    }

    #[test]
    fn warns_outside_validity() {
        let l = loss(HataEnvironment::UrbanSmall, 1800.0, 30_000.0);
        let codes: Vec<_> = l.warnings.iter().map(|w| w.code).collect();
        assert_eq!(codes, ["frequency_above_range", "distance_above_range"]);
        assert!(
            l.warnings[1].message.contains("30 km"),
            "{}",
            l.warnings[1].message
        );
        let l = Hata::new(HataEnvironment::Open)
            .path_loss(&Link {
                freq_mhz: 900.0,
                distance_m: 5000.0,
                tx_height_m: 15.0,
                rx_height_m: 12.0,
                profile_m: None,
            })
            .unwrap();
        let codes: Vec<_> = l.warnings.iter().map(|w| w.code).collect();
        // A 12 m "mobile" makes a(hm) so large that the fit drops below free space.
        assert_eq!(
            codes,
            [
                "tx_height_below_range",
                "rx_height_above_range",
                "below_free_space"
            ]
        );
    }

    #[test]
    fn short_range_is_floored_at_free_space() {
        let l = loss(HataEnvironment::Open, 900.0, 20.0);
        assert!((l.loss_db - fspl_db(900.0, 20.0)).abs() < 1e-9);
        assert!(l.warnings.iter().any(|w| w.code == "below_free_space"));
        assert!(l.warnings.iter().any(|w| w.code == "distance_below_range"));
    }

    #[test]
    fn rejects_nonsense() {
        let h = Hata::new(HataEnvironment::UrbanLarge);
        let base = Link {
            freq_mhz: 900.0,
            distance_m: 2000.0,
            tx_height_m: 30.0,
            rx_height_m: 1.5,
            profile_m: None,
        };
        for (l, field) in [
            (
                Link {
                    distance_m: -5.0,
                    ..base
                },
                "distance_m",
            ),
            (
                Link {
                    freq_mhz: f64::NAN,
                    ..base
                },
                "freq_mhz",
            ),
            (
                Link {
                    tx_height_m: 0.0,
                    ..base
                },
                "tx_height_m",
            ),
            (
                Link {
                    rx_height_m: -1.0,
                    ..base
                },
                "rx_height_m",
            ),
        ] {
            let e = h.path_loss(&l).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with(&format!("hata_urban_large: parameter {field} =")),
                "{e}"
            );
        }
    }

    #[test]
    fn monotone_in_distance_and_range_bisection() {
        let h = Hata::new(HataEnvironment::UrbanSmall);
        let d = h.max_range_m(900.0, 30.0, 1.5, 140.0, 100_000.0);
        let l = Hata::formula_db(HataEnvironment::UrbanSmall, 900.0, d, 30.0, 1.5);
        assert!((l - 140.0).abs() < 0.01, "{d} m -> {l} dB");
    }

    #[test]
    fn environment_spellings() {
        assert_eq!(
            HataEnvironment::parse("Metropolitan"),
            Some(HataEnvironment::UrbanLarge)
        );
        assert_eq!(
            HataEnvironment::parse("medium-city"),
            Some(HataEnvironment::UrbanSmall)
        );
        assert_eq!(HataEnvironment::parse("rural"), Some(HataEnvironment::Open));
        assert_eq!(HataEnvironment::parse("jungle"), None);
        for e in HataEnvironment::ALL {
            assert_eq!(HataEnvironment::parse(e.as_str()), Some(e));
        }
    }
}
