//! Path geometry for ITM: horizons, terrain irregularity (delta h) and effective antenna heights,
//! either read from a terrain profile (point-to-point) or estimated from delta h (area mode).
//!
//! # Allocation
//! Profile analysis works on the caller's elevation slice and fixed-size stack arrays (the
//! delta-h resampling never needs more than [`MAX_RESAMPLED`] points), so evaluating a link
//! allocates nothing however long the profile is.

use super::inputs::SitingCriteria;

/// Effective-earth geometry of one path, as ITM's reference attenuation needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathGeometry {
    /// Path length, metres.
    pub d_m: f64,
    /// Horizon elevation angles at each terminal (tx, rx), radians.
    pub theta_hzn_rad: [f64; 2],
    /// Distance from each terminal to its horizon, metres.
    pub d_hzn_m: [f64; 2],
    /// Effective antenna heights above the terrain's fitted surface, metres.
    pub h_e_m: [f64; 2],
    /// Terrain irregularity parameter delta h (interdecile range of terrain), metres.
    pub delta_h_m: f64,
    /// Whether the terminals see each other: no profile point rises above the direct ray on
    /// ITM's effective earth (area mode: the path is shorter than the two horizon distances).
    /// ITM's own mode only says which part of its loss curve applies, which can be the
    /// line-of-sight part on a path that terrain blocks.
    pub terrain_line_of_sight: bool,
}

/// Largest resampled profile used for delta h: ITM caps the 10 % index at 25 points, so
/// 10 * 25 - 5 samples.
pub(crate) const MAX_RESAMPLED: usize = 245;

/// Terrain roughness seen over a distance: delta h grows towards its asymptote with path length
/// (ITM's empirical `1 - 0.8 exp(-d / 50 km)` law).
pub(crate) fn roughness_over_m(d_m: f64, delta_h_m: f64) -> f64 {
    delta_h_m * (1.0 - 0.8 * (-d_m / 50e3).exp())
}

/// ITM's truncating integer conversion of a non-negative difference (C's `int(fdim(a, b))`).
fn trunc_dim(a: f64, b: f64) -> i64 {
    (a - b).max(0.0) as i64
}

/// Least-squares straight line through the profile samples lying between `start_m` and `end_m`,
/// evaluated at both ends of the whole profile (x = 0 and x = N intervals).
///
/// The end samples of the window carry half weight (trapezoid rule), which makes the fit
/// insensitive to where the window boundaries fall between samples.
pub(crate) fn fit_line_ends(z: &[f64], dx_m: f64, start_m: f64, end_m: f64) -> (f64, f64) {
    let np = (z.len() - 1) as i64;
    let mut first = trunc_dim(start_m / dx_m, 0.0);
    let mut last = np - trunc_dim(np as f64, end_m / dx_m);
    if last <= first {
        // Degenerate window: widen it by one sample each way, staying inside the profile.
        first = trunc_dim(first as f64, 1.0);
        last = np - trunc_dim(np as f64, last as f64 + 1.0);
    }
    let len = (last - first) as f64;
    let mid = first as f64 + 0.5 * len;
    let (zf, zl) = (z[first as usize], z[last as usize]);
    let mut weighted_sum = 0.5 * (zf + zl);
    let mut moment = 0.5 * (zl - zf) * (0.5 * len);
    for (k, &zk) in z
        .iter()
        .enumerate()
        .take(last as usize)
        .skip(first as usize + 1)
    {
        weighted_sum += zk;
        moment += zk * (k as f64 - mid);
    }
    let mean = weighted_sum / len;
    let slope = moment * 12.0 / ((len * len + 2.0) * len);
    (mean - slope * mid, mean + slope * (np as f64 - mid))
}

/// Terrain irregularity delta h between `start_m` and `end_m`: the interdecile range of the
/// terrain's deviations from a fitted straight line, scaled up to its long-path asymptote.
pub(crate) fn delta_h_m(z: &[f64], dx_m: f64, start_m: f64, end_m: f64) -> f64 {
    let np = z.len() - 1;
    let mut x = start_m / dx_m;
    let x_end = end_m / dx_m;
    if x_end - x < 2.0 {
        return 0.0;
    }
    // Resample to n evenly spaced points so the deciles are taken on a fixed-size set:
    // p10 samples form 10 %, and n = 10 * p10 - 5.
    let p10 = ((0.1 * (x_end - x + 8.0)) as i64).clamp(4, 25) as usize;
    let n = 10 * p10 - 5;
    let p90 = n - p10;
    let step = (x_end - x) / (n - 1) as f64;
    let mut i = (x as usize).min(np - 1);
    x -= (i + 1) as f64;
    let mut samples = [0.0_f64; MAX_RESAMPLED];
    for s in samples.iter_mut().take(n) {
        while x > 0.0 && i + 1 < np {
            x -= 1.0;
            i += 1;
        }
        // x is the (non-positive) offset from sample i + 1: linear interpolation.
        *s = z[i + 1] + (z[i + 1] - z[i]) * x;
        x += step;
    }
    let samples = &mut samples[..n];
    let (y0, yn) = fit_line_ends(samples, 1.0, 0.0, (n - 1) as f64);
    let slope = (yn - y0) / (n - 1) as f64;
    let mut fitted = y0;
    for s in samples.iter_mut() {
        *s -= fitted;
        fitted += slope;
    }
    // Deciles of the residuals, counted from the top.
    let desc = |a: &f64, b: &f64| b.total_cmp(a);
    let upper_decile = *samples.select_nth_unstable_by(p10 - 1, desc).1;
    let lower_decile = *samples.select_nth_unstable_by(p90, desc).1;
    roughness_inverse(upper_decile - lower_decile, end_m - start_m)
}

/// Inverse of [`roughness_over_m`]: delta h from the interdecile range seen over `d_m`.
fn roughness_inverse(delta_h_d_m: f64, d_m: f64) -> f64 {
    delta_h_d_m / (1.0 - 0.8 * (-d_m / 50e3).exp())
}

/// Horizon angle and distance for each terminal over the profile, on an earth of radius `a_e_m`.
/// With no obstruction, the horizon is the other terminal.
fn find_horizons(z: &[f64], dx_m: f64, a_e_m: f64, h_m: [f64; 2]) -> ([f64; 2], [f64; 2]) {
    let np = z.len() - 1;
    let d_m = np as f64 * dx_m;
    let z_tx = z[0] + h_m[0];
    let z_rx = z[np] + h_m[1];
    let two_a = 2.0 * a_e_m;
    let mut theta = [
        (z_rx - z_tx) / d_m - d_m / two_a,
        (z_tx - z_rx) / d_m - d_m / two_a,
    ];
    let mut dist = [d_m, d_m];
    for (i, &zi) in z.iter().enumerate().take(np).skip(1) {
        let from_tx = i as f64 * dx_m;
        let from_rx = d_m - from_tx;
        let t_tx = (zi - z_tx) / from_tx - from_tx / two_a;
        let t_rx = (zi - z_rx) / from_rx - from_rx / two_a;
        if t_tx > theta[0] {
            theta[0] = t_tx;
            dist[0] = from_tx;
        }
        if t_rx > theta[1] {
            theta[1] = t_rx;
            dist[1] = from_rx;
        }
    }
    (theta, dist)
}

/// Smooth-earth horizon distance of an antenna at effective height `h_e_m`, shortened by rough
/// terrain (ITM's empirical `exp(-0.07 sqrt(dh / h_e))`, h_e floored at 5 m).
fn rough_horizon_m(h_e_m: f64, a_e_m: f64, delta_h_m: f64) -> f64 {
    (2.0 * h_e_m * a_e_m).sqrt() * (-0.07 * (delta_h_m / h_e_m.max(5.0)).sqrt()).exp()
}

/// Horizon angle implied by an effective height and a horizon distance over rough terrain.
fn rough_horizon_angle(h_e_m: f64, d_hzn_m: f64, a_e_m: f64, delta_h_m: f64) -> f64 {
    let d_smooth = (2.0 * h_e_m * a_e_m).sqrt();
    (0.65 * delta_h_m * (d_smooth / d_hzn_m - 1.0) - 2.0 * h_e_m) / d_smooth
}

/// Point-to-point geometry from a profile of `z.len()` elevations (metres above sea level)
/// spaced `dx_m` apart, for antennas `h_m` (tx, rx) above ground.
pub(crate) fn profile_geometry(z: &[f64], dx_m: f64, gamma_e: f64, h_m: [f64; 2]) -> PathGeometry {
    let np = z.len() - 1;
    let d_m = np as f64 * dx_m;
    let a_e_m = 1.0 / gamma_e;
    let (mut theta, mut d_hzn) = find_horizons(z, dx_m, a_e_m, h_m);
    // Each horizon is the far terminal exactly when nothing obstructs the ray.
    let terrain_line_of_sight = d_hzn[0] == d_m && d_hzn[1] == d_m;
    // Terrain within about 15 antenna heights of a terminal (or a tenth of the way to its
    // horizon) is its own foreground and is left out of the roughness and the fits.
    let start_m = (15.0 * h_m[0]).min(0.1 * d_hzn[0]);
    let end_m = d_m - (15.0 * h_m[1]).min(0.1 * d_hzn[1]);
    let delta_h = delta_h_m(z, dx_m, start_m, end_m);
    let mut h_e = [0.0; 2];
    if d_hzn[0] + d_hzn[1] > 1.5 * d_m {
        // Comfortably line of sight: the profile horizons are just the far terminal, so derive
        // effective heights from one fit over the whole path and horizons from the
        // rough-earth formulas, as in area mode.
        let (fit_tx, fit_rx) = fit_line_ends(z, dx_m, start_m, end_m);
        h_e[0] = h_m[0] + (z[0] - fit_tx).max(0.0);
        h_e[1] = h_m[1] + (z[np] - fit_rx).max(0.0);
        for k in 0..2 {
            d_hzn[k] = rough_horizon_m(h_e[k], a_e_m, delta_h);
        }
        let combined = d_hzn[0] + d_hzn[1];
        if combined <= d_m {
            // The estimated horizons must not fall short of the path we know is clear: raise
            // the effective heights until they reach.
            let q = (d_m / combined).powi(2);
            for k in 0..2 {
                h_e[k] *= q;
                d_hzn[k] = rough_horizon_m(h_e[k], a_e_m, delta_h);
            }
        }
        for k in 0..2 {
            theta[k] = rough_horizon_angle(h_e[k], d_hzn[k], a_e_m, delta_h);
        }
    } else {
        // Each terminal's effective height comes from the terrain between it and its horizon.
        let (fit_tx, _) = fit_line_ends(z, dx_m, start_m, 0.9 * d_hzn[0]);
        h_e[0] = h_m[0] + (z[0] - fit_tx).max(0.0);
        let (_, fit_rx) = fit_line_ends(z, dx_m, d_m - 0.9 * d_hzn[1], end_m);
        h_e[1] = h_m[1] + (z[np] - fit_rx).max(0.0);
    }
    PathGeometry {
        d_m,
        theta_hzn_rad: theta,
        d_hzn_m: d_hzn,
        h_e_m: h_e,
        delta_h_m: delta_h,
        terrain_line_of_sight,
    }
}

/// Area-mode geometry: effective heights, horizons and angles estimated from delta h and how
/// carefully each terminal was sited (careful siting finds local high ground).
pub(crate) fn area_geometry(
    d_m: f64,
    gamma_e: f64,
    delta_h_m: f64,
    h_m: [f64; 2],
    siting: [SitingCriteria; 2],
) -> PathGeometry {
    let a_e_m = 1.0 / gamma_e;
    let mut h_e = [0.0; 2];
    let mut d_hzn = [0.0; 2];
    let mut theta = [0.0; 2];
    for k in 0..2 {
        h_e[k] = match siting[k] {
            SitingCriteria::Random => h_m[k],
            s => {
                let mut b = if s == SitingCriteria::Careful {
                    4.0
                } else {
                    9.0
                };
                if h_m[k] < 5.0 {
                    // Short masts gain less from careful siting.
                    b *= (0.1 * std::f64::consts::PI * h_m[k]).sin();
                }
                h_m[k] + (1.0 + b) * (-(2.0 * h_m[k] / delta_h_m.max(1e-3)).min(20.0)).exp()
            }
        };
        d_hzn[k] = rough_horizon_m(h_e[k], a_e_m, delta_h_m);
        theta[k] = rough_horizon_angle(h_e[k], d_hzn[k], a_e_m, delta_h_m);
    }
    PathGeometry {
        d_m,
        theta_hzn_rad: theta,
        d_hzn_m: d_hzn,
        h_e_m: h_e,
        delta_h_m,
        terrain_line_of_sight: d_m < d_hzn[0] + d_hzn[1],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn straight_slope_fits_exactly() {
        let z: Vec<f64> = (0..=20).map(|i| 100.0 + 2.5 * i as f64).collect();
        let (a, b) = fit_line_ends(&z, 30.0, 60.0, 500.0);
        assert!((a - 100.0).abs() < 1e-9, "{a}");
        assert!((b - 150.0).abs() < 1e-9, "{b}");
    }

    #[test]
    fn flat_terrain_has_no_irregularity() {
        let z = vec![42.0; 101];
        assert_eq!(delta_h_m(&z, 100.0, 100.0, 9_900.0), 0.0);
    }

    #[test]
    fn ridge_sets_the_horizon() {
        let mut z = vec![0.0; 11];
        z[5] = 200.0;
        let (theta, dist) = find_horizons(&z, 1000.0, 8.5e6, [10.0, 10.0]);
        assert_eq!(dist, [5000.0, 5000.0]);
        assert!(theta[0] > 0.0 && theta[1] > 0.0);
    }
}
