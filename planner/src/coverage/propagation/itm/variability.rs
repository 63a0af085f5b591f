//! ITM's statistics: turns the median reference attenuation into the loss not exceeded for the
//! requested fractions of time, locations and situations, per radio climate and mode of
//! variability.

use super::inputs::{Climate, ItmWarning, Mdvar, Quantiles, VariabilityMode, WarningSet};
use super::reference::WAVENUMBER_MHZ;
use super::terrain::{roughness_over_m, PathGeometry};

/// Standard normal deviate z with P(Z > z) = q, for 0 < q < 1 (Abramowitz & Stegun 26.2.23,
/// absolute error below 4.5e-4, which is far inside ITM's accuracy).
pub fn inverse_ccdf(q: f64) -> f64 {
    let tail = if q > 0.5 { 1.0 - q } else { q };
    let t = (-2.0 * tail.ln()).sqrt();
    let num = (0.010328 * t + 0.802853) * t + 2.515516;
    let den = ((0.001308 * t + 0.189269) * t + 1.432788) * t + 1.0;
    let z = t - num / den;
    if q > 0.5 {
        -z
    } else {
        z
    }
}

/// A climate curve `(c1 + c2 / (1 + ((d - x2) / x3)^2)) * (d / x1)^2 / (1 + (d / x1)^2)` of the
/// effective distance; `[c1, c2, x1, x2, x3]`, distances in metres.
type Curve = [f64; 5];

fn eval_curve(c: &Curve, d_e_m: f64) -> f64 {
    let [c1, c2, x1, x2, x3] = *c;
    let r = (d_e_m / x1).powi(2);
    (c1 + c2 / (1.0 + ((d_e_m - x2) / x3).powi(2))) * r / (1.0 + r)
}

/// Long-term fading description of one climate (ITS Technical Note 101 curves as fitted in
/// Hufford's algorithm).
struct ClimateStats {
    /// Adjustment of the all-year median, dB.
    median: Curve,
    /// Spread of hourly medians below the median (z < 0), dB.
    sigma_minus: Curve,
    /// Spread above the median (z > 0), dB.
    sigma_plus: Curve,
    /// Frequency factor for sigma_minus: `[a, b, c]` in a + b / ((c ln(0.133 k))^2 + 1).
    g_minus: [f64; 3],
    /// Frequency factor for sigma_plus.
    g_plus: [f64; 3],
    /// Ratio of the ducting-tail spread to sigma_plus.
    c_d: f64,
    /// Deviate beyond which the ducting tail applies.
    z_d: f64,
}

const PLAIN: [f64; 3] = [1.0, 0.0, 0.0];

/// Indexed by `Climate::index()` (ITM climate code - 1).
const CLIMATES: [ClimateStats; 7] = [
    ClimateStats {
        median: [-9.67, 12.7, 144.9e3, 190.3e3, 133.8e3],
        sigma_minus: [2.13, 159.5, 762.2e3, 123.6e3, 94.5e3],
        sigma_plus: [2.11, 102.3, 636.9e3, 134.8e3, 95.6e3],
        g_minus: PLAIN,
        g_plus: PLAIN,
        c_d: 1.224,
        z_d: 1.282,
    },
    ClimateStats {
        median: [-0.62, 9.19, 228.9e3, 205.2e3, 143.6e3],
        sigma_minus: [2.66, 7.67, 100.4e3, 172.5e3, 136.4e3],
        sigma_plus: [6.87, 15.53, 138.7e3, 143.7e3, 98.6e3],
        g_minus: PLAIN,
        g_plus: [0.93, 0.31, 2.00],
        c_d: 0.801,
        z_d: 2.161,
    },
    ClimateStats {
        median: [1.26, 15.5, 262.6e3, 185.2e3, 99.8e3],
        sigma_minus: [6.11, 6.65, 138.2e3, 242.2e3, 178.6e3],
        sigma_plus: [10.08, 9.60, 165.3e3, 225.7e3, 129.7e3],
        g_minus: PLAIN,
        g_plus: PLAIN,
        c_d: 1.380,
        z_d: 1.282,
    },
    ClimateStats {
        median: [-9.21, 9.05, 84.1e3, 101.1e3, 98.6e3],
        sigma_minus: [1.98, 13.11, 139.1e3, 132.7e3, 193.5e3],
        sigma_plus: [3.68, 159.3, 464.4e3, 93.1e3, 94.2e3],
        g_minus: PLAIN,
        g_plus: [0.93, 0.19, 1.79],
        c_d: 1.000,
        z_d: 20.0,
    },
    ClimateStats {
        median: [-0.62, 9.19, 228.9e3, 205.2e3, 143.6e3],
        sigma_minus: [2.68, 7.16, 93.7e3, 186.8e3, 133.5e3],
        sigma_plus: [4.75, 8.12, 93.2e3, 135.9e3, 113.4e3],
        g_minus: [0.92, 0.25, 1.77],
        g_plus: [0.93, 0.31, 2.00],
        c_d: 1.224,
        z_d: 1.282,
    },
    ClimateStats {
        median: [-0.39, 2.86, 141.7e3, 315.9e3, 167.4e3],
        sigma_minus: [6.86, 10.38, 187.8e3, 169.6e3, 108.9e3],
        sigma_plus: [8.58, 13.97, 216.0e3, 152.0e3, 122.7e3],
        g_minus: PLAIN,
        g_plus: PLAIN,
        c_d: 1.518,
        z_d: 1.282,
    },
    ClimateStats {
        median: [3.15, 857.9, 2222e3, 164.8e3, 116.3e3],
        sigma_minus: [8.51, 169.8, 609.8e3, 119.9e3, 106.6e3],
        sigma_plus: [8.43, 8.19, 136.2e3, 188.5e3, 122.9e3],
        g_minus: PLAIN,
        g_plus: PLAIN,
        c_d: 1.518,
        z_d: 1.282,
    },
];

/// Earth radius used for the effective distance (9000 km, a fixed reference), metres.
const EFFECTIVE_DISTANCE_EARTH_M: f64 = 9000e3;

/// Loss (dB, relative to free space) not exceeded for the requested quantiles.
pub(crate) fn quantile_attenuation(
    q: &Quantiles,
    g: &PathGeometry,
    f_mhz: f64,
    a_ref_db: f64,
    climate: Climate,
    mdvar: Mdvar,
    warnings: &mut WarningSet,
) -> f64 {
    let stats = &CLIMATES[climate.index()];
    let mut z_t = inverse_ccdf(q.time_pct / 100.0);
    let mut z_l = inverse_ccdf(q.location_pct / 100.0);
    let z_s = inverse_ccdf(q.situation_pct / 100.0);
    let wn = f_mhz / WAVENUMBER_MHZ;

    // Effective distance: the statistics were fitted against distance beyond the horizon, so
    // paths are compared by how far past their own smooth-earth horizons they reach.
    let d_ex = (2.0 * EFFECTIVE_DISTANCE_EARTH_M * g.h_e_m[0]).sqrt()
        + (2.0 * EFFECTIVE_DISTANCE_EARTH_M * g.h_e_m[1]).sqrt()
        + (575.7e12 / wn).powf(1.0 / 3.0);
    let d = g.d_m;
    let d_e = if d < d_ex {
        130e3 * d / d_ex
    } else {
        130e3 + d - d_ex
    };

    let sigma_s = if mdvar.no_situation_variability {
        0.0
    } else {
        5.0 + 3.0 * (-d_e / 100e3).exp()
    };
    let v_med = eval_curve(&stats.median, d_e);

    // The mode decides which deviates are folded into which: e.g. a mobile user's location
    // and time variability are one and the same reliability.
    match mdvar.mode {
        VariabilityMode::SingleMessage => {
            z_t = z_s;
            z_l = z_s;
        }
        VariabilityMode::Accidental => z_l = z_s,
        VariabilityMode::Mobile => z_l = z_t,
        VariabilityMode::Broadcast => {}
    }
    if z_t.abs() > 3.10 || z_l.abs() > 3.10 || z_s.abs() > 3.10 {
        warnings.raise(ItmWarning::ExtremeVariability);
    }

    let sigma_l = if mdvar.no_location_variability {
        0.0
    } else {
        let dh_d = roughness_over_m(d, g.delta_h_m);
        10.0 * wn * dh_d / (wn * dh_d + 13.0)
    };
    let y_l = sigma_l * z_l;

    let lnk = (0.133 * wn).ln();
    let freq_factor = |c: [f64; 3]| c[0] + c[1] / ((c[2] * lnk).powi(2) + 1.0);
    let sigma_t_minus = eval_curve(&stats.sigma_minus, d_e) * freq_factor(stats.g_minus);
    let sigma_t_plus = eval_curve(&stats.sigma_plus, d_e) * freq_factor(stats.g_plus);
    let sigma_td = stats.c_d * sigma_t_plus;
    let tail = (sigma_t_plus - sigma_td) * stats.z_d;
    let sigma_t = if z_t < 0.0 {
        sigma_t_minus
    } else if z_t <= stats.z_d {
        sigma_t_plus
    } else {
        // Beyond z_d the distribution bends towards the ducting tail.
        sigma_td + tail / z_t
    };
    let y_t = sigma_t * z_t;

    // Situation spread includes part of the time and location spreads (they are estimated, too).
    let s_sq = sigma_s * sigma_s + y_t * y_t / (7.8 + z_s * z_s) + y_l * y_l / (24.0 + z_s * z_s);
    let (y_r, y_s) = match mdvar.mode {
        VariabilityMode::SingleMessage => (
            0.0,
            (sigma_t * sigma_t + sigma_l * sigma_l + s_sq).sqrt() * z_s,
        ),
        VariabilityMode::Accidental => (y_t, (sigma_l * sigma_l + s_sq).sqrt() * z_s),
        VariabilityMode::Mobile => (
            (sigma_t * sigma_t + sigma_l * sigma_l).sqrt() * z_t,
            s_sq.sqrt() * z_s,
        ),
        VariabilityMode::Broadcast => (y_t + y_l, s_sq.sqrt() * z_s),
    };
    let a = a_ref_db - v_med - y_r - y_s;
    if a < 0.0 {
        // Gains over free space are compressed smoothly so they stay physically plausible.
        a * (29.0 - a) / (29.0 - 10.0 * a)
    } else {
        a
    }
}

/// A lower bound (dB) of [`quantile_attenuation`] over every path geometry when the reference
/// attenuation is at its minimum of 0 dB: the largest gain over free space ITM's statistics can
/// give for these quantiles, climate and mode (negative below 50 %, compressed as ITM does).
///
/// The median adjustment and the time spread are curves of the effective distance, scanned
/// here from 0 to 20,000 km in 1 km steps; the location spread ranges over 0..10 dB and the
/// frequency factors over their whole range, and the bound keeps the least favourable corner,
/// minus 0.05 dB for the scan's resolution.
pub(crate) fn min_quantile_attenuation_db(q: &Quantiles, climate: Climate, mdvar: Mdvar) -> f64 {
    let stats = &CLIMATES[climate.index()];
    let mut z_t = inverse_ccdf(q.time_pct / 100.0);
    let mut z_l = inverse_ccdf(q.location_pct / 100.0);
    let z_s = inverse_ccdf(q.situation_pct / 100.0);
    match mdvar.mode {
        VariabilityMode::SingleMessage => {
            z_t = z_s;
            z_l = z_s;
        }
        VariabilityMode::Accidental => z_l = z_s,
        VariabilityMode::Mobile => z_l = z_t,
        VariabilityMode::Broadcast => {}
    }
    // Range of a frequency factor a + b / ((c ln(0.133 k))^2 + 1): between a and a + b.
    let factor_range = |c: [f64; 3]| [c[0], c[0] + c[1]];
    let sigma_l_values: &[f64] = if mdvar.no_location_variability {
        &[0.0]
    } else {
        &[0.0, 2.5, 5.0, 7.5, 10.0]
    };
    let mut worst = f64::INFINITY;
    for step in 0..=20_000 {
        let d_e = step as f64 * 1e3;
        let v_med = eval_curve(&stats.median, d_e);
        let sigma_s = if mdvar.no_situation_variability {
            0.0
        } else {
            5.0 + 3.0 * (-d_e / 100e3).exp()
        };
        for g_minus in factor_range(stats.g_minus) {
            for g_plus in factor_range(stats.g_plus) {
                let sigma_t_minus = eval_curve(&stats.sigma_minus, d_e) * g_minus;
                let sigma_t_plus = eval_curve(&stats.sigma_plus, d_e) * g_plus;
                let sigma_td = stats.c_d * sigma_t_plus;
                let tail = (sigma_t_plus - sigma_td) * stats.z_d;
                let sigma_t = if z_t < 0.0 {
                    sigma_t_minus
                } else if z_t <= stats.z_d {
                    sigma_t_plus
                } else {
                    sigma_td + tail / z_t
                };
                let y_t = sigma_t * z_t;
                for &sigma_l in sigma_l_values {
                    let y_l = sigma_l * z_l;
                    let s_sq = sigma_s * sigma_s
                        + y_t * y_t / (7.8 + z_s * z_s)
                        + y_l * y_l / (24.0 + z_s * z_s);
                    let (y_r, y_s) = match mdvar.mode {
                        VariabilityMode::SingleMessage => (
                            0.0,
                            (sigma_t * sigma_t + sigma_l * sigma_l + s_sq).sqrt() * z_s,
                        ),
                        VariabilityMode::Accidental => {
                            (y_t, (sigma_l * sigma_l + s_sq).sqrt() * z_s)
                        }
                        VariabilityMode::Mobile => (
                            (sigma_t * sigma_t + sigma_l * sigma_l).sqrt() * z_t,
                            s_sq.sqrt() * z_s,
                        ),
                        VariabilityMode::Broadcast => (y_t + y_l, s_sq.sqrt() * z_s),
                    };
                    worst = worst.min(-v_med - y_r - y_s);
                }
            }
        }
    }
    let a = worst - 0.05;
    if a < 0.0 {
        a * (29.0 - a) / (29.0 - 10.0 * a)
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_quantile_is_zero_and_symmetric() {
        assert!(inverse_ccdf(0.5).abs() < 1e-3);
        assert!((inverse_ccdf(0.1) + inverse_ccdf(0.9)).abs() < 1e-12);
        // P(Z > 1.2816) = 0.1
        assert!((inverse_ccdf(0.1) - 1.2816).abs() < 5e-4);
    }
}
