//! Terrain-aware path loss: line of sight over a DEM profile with Earth curvature, first
//! Fresnel-zone clearance, obstructions, and knife-edge diffraction added to a base model.
//!
//! # Model
//! loss = base model loss (free space by default, or an empirical model such as Hata) +
//! diffraction loss over the profile ([`super::diffraction`], Deygout by default).
//!
//! Heights are compared against the straight ray between the antenna tops after adding the
//! Earth bulge x·(d − x)/(2·k·R) to each terrain sample, with R = 6 371 km and the effective
//! Earth radius factor k (4/3 by default: standard atmosphere refraction). The path is line of
//! sight when no terrain sample reaches above the ray; the first Fresnel-zone clearance is the
//! smallest (ray − terrain) / r1 over the interior samples (≥ 0.6 is the usual "clear" rule).
//!
//! Adding diffraction to an empirical base (Hata already includes average terrain and clutter
//! losses) counts obstacles twice in rolling terrain; it is offered because planners use it for
//! distinct ridges, but free space is the physically consistent base.
//!
//! # Search range
//! [`PropagationModel::max_range_m`] cannot see the terrain, so it returns the smaller of:
//! the base model's range for the loss budget (an exact upper bound, since diffraction only adds
//! loss), and the sum of both antennas' radio horizons √(2 k R h) with each antenna assumed up to
//! [`TerrainModel::max_terrain_relief_m`] (default 500 m) above the terrain between them. Beyond
//! that the path is diffracted over the Earth's bulge and the loss grows by tens of dB within a
//! few kilometres, so skipping it loses nothing that a typical budget would accept. Raise the
//! relief for mountain-top sites over deep valleys.

use super::checks::{require_non_negative, require_positive};
use super::diffraction::{
    diffraction_loss_db, first_fresnel_radius_m, wavelength_m, DiffractionConfig,
    DiffractionResult, PathGeometry,
};
use super::free_space::FreeSpace;
use super::{
    Link, Loss, ModelWarning, PathLoss, PropagationError, PropagationMode, PropagationModel,
};
use serde::Serialize;

/// Mean Earth radius, metres (IUGG).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Standard-atmosphere effective Earth radius factor.
pub const DEFAULT_K_FACTOR: f64 = 4.0 / 3.0;

/// Default assumed terrain relief for the search range, metres.
pub const DEFAULT_MAX_TERRAIN_RELIEF_M: f64 = 500.0;

/// Distance to the radio horizon of an antenna `height_m` above a smooth Earth, metres.
#[inline]
pub fn radio_horizon_m(height_m: f64, k_factor: f64) -> f64 {
    (2.0 * k_factor * EARTH_RADIUS_M * height_m.max(0.0)).sqrt()
}

/// Earth bulge in metres at `d1_m` / `d2_m` from the ends of a path, for factor `k_factor`.
#[inline]
pub fn earth_bulge_m(d1_m: f64, d2_m: f64, k_factor: f64) -> f64 {
    d1_m * d2_m / (2.0 * k_factor * EARTH_RADIUS_M)
}

/// A stretch of terrain above the direct ray (one entry per contiguous run of samples).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Obstruction {
    /// First and last blocked sample, metres from the transmitter.
    pub start_m: f64,
    pub end_m: f64,
    /// The highest point above the ray in this run, metres from the transmitter.
    pub peak_distance_m: f64,
    /// Terrain elevation there, metres above sea level (without the Earth bulge).
    pub peak_elevation_m: f64,
    /// How far the (bulge-corrected) terrain reaches above the ray, metres.
    pub height_above_los_m: f64,
    /// Fresnel parameter ν of the peak against the full path.
    pub nu: f64,
}

/// Everything the terrain model found on one path (the point-to-point report shows it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TerrainAnalysis {
    /// No terrain sample reaches the direct ray.
    pub line_of_sight: bool,
    /// Smallest (ray − terrain) / first-Fresnel radius over interior samples; negative when
    /// blocked; `None` when the profile has no interior samples.
    pub min_fresnel_clearance_ratio: Option<f64>,
    /// Where that minimum is, metres from the transmitter.
    pub min_clearance_distance_m: Option<f64>,
    /// At least 60 % of the first Fresnel zone is clear everywhere.
    pub fresnel_60_clear: bool,
    pub obstructions: Vec<Obstruction>,
    pub diffraction: DiffractionResult,
    pub base_model: &'static str,
    pub base_loss_db: f64,
    pub k_factor: f64,
    /// Transmitter and receiver antenna tops, metres above sea level.
    pub tx_top_m: f64,
    pub rx_top_m: f64,
    /// Total result (base + diffraction), as [`PropagationModel::path_loss`] returns it.
    pub loss: PathLoss,
}

/// Base model plus knife-edge diffraction over the profile.
#[derive(Debug)]
pub struct TerrainModel {
    base: Box<dyn PropagationModel>,
    k_factor: f64,
    diffraction: DiffractionConfig,
    /// Relief assumed in [`PropagationModel::max_range_m`], metres (see the module docs).
    pub max_terrain_relief_m: f64,
}

impl Default for TerrainModel {
    fn default() -> Self {
        TerrainModel {
            base: Box::new(FreeSpace),
            k_factor: DEFAULT_K_FACTOR,
            diffraction: DiffractionConfig::default(),
            max_terrain_relief_m: DEFAULT_MAX_TERRAIN_RELIEF_M,
        }
    }
}

impl TerrainModel {
    /// Builds the model; `k_factor` must be finite and > 0, `max_edges` ≥ 1, and the base model
    /// must not itself need terrain.
    pub fn new(
        base: Box<dyn PropagationModel>,
        k_factor: f64,
        diffraction: DiffractionConfig,
    ) -> Result<Self, PropagationError> {
        require_positive(
            "terrain",
            "k_factor",
            k_factor,
            "(typical 4/3; 1 for no refraction)",
        )?;
        if diffraction.max_edges == 0 {
            return Err(PropagationError::Config {
                field: "max_edges".into(),
                message: "must be at least 1 (3 is the usual Deygout choice)".into(),
            });
        }
        if base.needs_terrain() {
            return Err(PropagationError::Config {
                field: "base_model".into(),
                message: format!(
                    "`{}` is itself terrain-aware; choose free_space, hata or cost231 as the base",
                    base.name()
                ),
            });
        }
        Ok(TerrainModel {
            base,
            k_factor,
            diffraction,
            max_terrain_relief_m: DEFAULT_MAX_TERRAIN_RELIEF_M,
        })
    }

    pub fn base(&self) -> &dyn PropagationModel {
        self.base.as_ref()
    }

    pub fn k_factor(&self) -> f64 {
        self.k_factor
    }

    pub fn diffraction(&self) -> &DiffractionConfig {
        &self.diffraction
    }

    fn check<'p>(&self, link: &Link<'p>) -> Result<&'p [f64], PropagationError> {
        let name = self.name();
        require_positive(name, "freq_mhz", link.freq_mhz, "MHz")?;
        require_positive(name, "distance_m", link.distance_m, "m")?;
        require_non_negative(name, "tx_height_m", link.tx_height_m, "m")?;
        require_non_negative(name, "rx_height_m", link.rx_height_m, "m")?;
        let profile = link
            .profile_m
            .ok_or(PropagationError::MissingProfile { model: name })?;
        if profile.len() < 2 {
            return Err(PropagationError::InvalidParameter {
                model: name,
                parameter: "profile_m",
                value: profile.len() as f64,
                reason: "a profile needs at least 2 samples (transmitter and receiver ground)"
                    .into(),
            });
        }
        if let Some((i, &z)) = profile.iter().enumerate().find(|(_, z)| !z.is_finite()) {
            return Err(PropagationError::InvalidParameter {
                model: name,
                parameter: "profile_m",
                value: z,
                reason: format!(
                    "sample {i} of {} is not a finite elevation (DEM no-data?)",
                    profile.len()
                ),
            });
        }
        Ok(profile)
    }

    /// Full analysis of one path: line of sight, Fresnel clearance, obstructions, diffraction
    /// edges and the total loss.
    pub fn analyze(&self, link: &Link<'_>) -> Result<TerrainAnalysis, PropagationError> {
        let profile = self.check(link)?;
        let n = profile.len();
        let d = link.distance_m;
        let step = d / (n - 1) as f64;
        let lambda = wavelength_m(link.freq_mhz);
        let geom = self.geometry(profile, step, link);

        let mut min_ratio: Option<(f64, f64)> = None;
        let mut obstructions: Vec<Obstruction> = Vec::new();
        let mut in_run = false;
        for (i, &z) in profile.iter().enumerate().take(n - 1).skip(1) {
            let x = i as f64 * step;
            let ray = geom.tx_top_m + (geom.rx_top_m - geom.tx_top_m) * x / d;
            let h = geom.height_m(i) - ray;
            let r1 = first_fresnel_radius_m(x, d - x, lambda);
            let ratio = -h / r1;
            if min_ratio.map_or(true, |(r, _)| ratio < r) {
                min_ratio = Some((ratio, x));
            }
            if h > 0.0 {
                let nu = std::f64::consts::SQRT_2 * h / r1;
                if !in_run {
                    obstructions.push(Obstruction {
                        start_m: x,
                        end_m: x,
                        peak_distance_m: x,
                        peak_elevation_m: z,
                        height_above_los_m: h,
                        nu,
                    });
                    in_run = true;
                }
                let o = obstructions.last_mut().expect("run started above");
                o.end_m = x;
                if h > o.height_above_los_m {
                    o.peak_distance_m = x;
                    o.peak_elevation_m = z;
                    o.height_above_los_m = h;
                    o.nu = nu;
                }
            } else {
                in_run = false;
            }
        }
        let mut edges = Vec::new();
        let diff_db = diffraction_loss_db(&geom, lambda, &self.diffraction, Some(&mut edges));
        let base = self.base.path_loss(link)?;
        let line_of_sight = obstructions.is_empty();
        let mut warnings = base.warnings.clone();
        if n < 3 {
            warnings.push(short_profile_warning(n));
        }
        let loss = PathLoss {
            loss_db: base.loss_db + diff_db,
            mode: if line_of_sight {
                PropagationMode::LineOfSight
            } else {
                PropagationMode::Diffraction
            },
            warnings,
        };
        Ok(TerrainAnalysis {
            line_of_sight,
            min_fresnel_clearance_ratio: min_ratio.map(|m| m.0),
            min_clearance_distance_m: min_ratio.map(|m| m.1),
            fresnel_60_clear: min_ratio.map_or(true, |m| m.0 >= 0.6),
            obstructions,
            diffraction: DiffractionResult {
                loss_db: diff_db,
                edges,
            },
            base_model: self.base.name(),
            base_loss_db: base.loss_db,
            k_factor: self.k_factor,
            tx_top_m: geom.tx_top_m,
            rx_top_m: geom.rx_top_m,
            loss,
        })
    }

    fn geometry<'p>(&self, profile: &'p [f64], step: f64, link: &Link<'_>) -> PathGeometry<'p> {
        PathGeometry {
            terrain_m: profile,
            step_m: step,
            tx_top_m: profile[0] + link.tx_height_m,
            rx_top_m: profile[profile.len() - 1] + link.rx_height_m,
            bulge_per_m2: 1.0 / (2.0 * self.k_factor * EARTH_RADIUS_M),
        }
    }
}

fn short_profile_warning(n: usize) -> ModelWarning {
    ModelWarning {
        code: "profile_without_interior",
        message: format!("terrain: the profile has only {n} samples (no terrain between the antennas); no obstruction can be detected"),
    }
}

impl PropagationModel for TerrainModel {
    fn name(&self) -> &'static str {
        "terrain"
    }

    fn needs_terrain(&self) -> bool {
        true
    }

    /// Lean version of [`TerrainModel::analyze`] for coverage loops: no obstruction list.
    fn path_loss(&self, link: &Link<'_>) -> Result<PathLoss, PropagationError> {
        let profile = self.check(link)?;
        let n = profile.len();
        let d = link.distance_m;
        let step = d / (n - 1) as f64;
        let geom = self.geometry(profile, step, link);
        let slope = (geom.rx_top_m - geom.tx_top_m) / d;
        let line_of_sight =
            (1..n - 1).all(|i| geom.height_m(i) <= geom.tx_top_m + slope * (i as f64 * step));
        let diff_db =
            diffraction_loss_db(&geom, wavelength_m(link.freq_mhz), &self.diffraction, None);
        let mut base = self.base.path_loss(link)?;
        if n < 3 {
            base.warnings.push(short_profile_warning(n));
        }
        Ok(PathLoss {
            loss_db: base.loss_db + diff_db,
            mode: if line_of_sight {
                PropagationMode::LineOfSight
            } else {
                PropagationMode::Diffraction
            },
            warnings: base.warnings,
        })
    }

    /// Diffraction only adds loss (J(ν) ≥ 0 wherever it is applied).
    fn loss_floor_db(&self, freq_mhz: f64) -> Option<f64> {
        self.base.loss_floor_db(freq_mhz)
    }

    fn loss(&self, link: &Link<'_>) -> Result<Loss, PropagationError> {
        let profile = self.check(link)?;
        let n = profile.len();
        let d = link.distance_m;
        let step = d / (n - 1) as f64;
        let geom = self.geometry(profile, step, link);
        let slope = (geom.rx_top_m - geom.tx_top_m) / d;
        let line_of_sight =
            (1..n - 1).all(|i| geom.height_m(i) <= geom.tx_top_m + slope * (i as f64 * step));
        let diff_db =
            diffraction_loss_db(&geom, wavelength_m(link.freq_mhz), &self.diffraction, None);
        let mut base = self.base.loss(link)?;
        if n < 3 {
            base.warnings.push("profile_without_interior");
        }
        Ok(Loss {
            loss_db: base.loss_db + diff_db,
            mode: if line_of_sight {
                PropagationMode::LineOfSight
            } else {
                PropagationMode::Diffraction
            },
            warnings: base.warnings,
            model: self.name(),
        })
    }

    fn max_range_m(
        &self,
        freq_mhz: f64,
        tx_height_m: f64,
        rx_height_m: f64,
        max_loss_db: f64,
        cap_m: f64,
    ) -> f64 {
        let base = self
            .base
            .max_range_m(freq_mhz, tx_height_m, rx_height_m, max_loss_db, cap_m);
        let horizon = radio_horizon_m(tx_height_m + self.max_terrain_relief_m, self.k_factor)
            + radio_horizon_m(rx_height_m + self.max_terrain_relief_m, self.k_factor);
        base.min(horizon).min(cap_m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coverage::propagation::diffraction::{
        fresnel_nu, knife_edge_loss_db, DiffractionMethod,
    };
    use crate::coverage::propagation::free_space::fspl_db;
    use crate::coverage::propagation::hata::{Hata, HataEnvironment};

    fn link(profile: &[f64], d: f64, f: f64, htx: f64, hrx: f64) -> Link<'_> {
        Link {
            freq_mhz: f,
            distance_m: d,
            tx_height_m: htx,
            rx_height_m: hrx,
            profile_m: Some(profile),
        }
    }

    #[test]
    fn clear_short_path_is_free_space_line_of_sight() {
        let p = vec![200.0; 51];
        let m = TerrainModel::default();
        // Both antennas at 30 m: the first Fresnel zone (≤ 28.9 m at mid-path) stays clear.
        let a = m.analyze(&link(&p, 5000.0, 900.0, 30.0, 30.0)).unwrap();
        assert!(a.line_of_sight);
        assert!(a.obstructions.is_empty());
        assert_eq!(a.diffraction.loss_db, 0.0);
        assert!((a.loss.loss_db - fspl_db(900.0, 5000.0)).abs() < 1e-9);
        assert_eq!(a.loss.mode, PropagationMode::LineOfSight);
        assert!(a.fresnel_60_clear, "{:?}", a.min_fresnel_clearance_ratio);
        let l = m.path_loss(&link(&p, 5000.0, 900.0, 30.0, 30.0)).unwrap();
        assert_eq!(l, a.loss);
        // A handset at 1.5 m over the same ground is still line of sight but its Fresnel zone is
        // partly obstructed by the ground near it: some diffraction loss, mode still LOS.
        let low = m.analyze(&link(&p, 5000.0, 900.0, 30.0, 1.5)).unwrap();
        assert!(low.line_of_sight && !low.fresnel_60_clear);
        assert!(low.diffraction.loss_db > 0.0);
        assert_eq!(low.loss.mode, PropagationMode::LineOfSight);
    }

    #[test]
    fn single_ridge_matches_closed_form() {
        // 20 km, 201 samples at 100 m, ground 300 m, a ridge of 420 m at 8 km. Antenna tops at
        // 330 m and 310 m; Earth bulge at 8 km: 8000·12000/(2·k·R).
        let mut p = vec![300.0; 201];
        p[80] = 420.0;
        let (f, d) = (900.0, 20_000.0);
        let m = TerrainModel::default();
        let a = m.analyze(&link(&p, d, f, 30.0, 10.0)).unwrap();
        let bulge = earth_bulge_m(8000.0, 12_000.0, DEFAULT_K_FACTOR);
        let ray = 330.0 + (310.0 - 330.0) * 0.4;
        let h = 420.0 + bulge - ray;
        let nu = fresnel_nu(h, 8000.0, 12_000.0, wavelength_m(f));
        let expected = fspl_db(f, d) + knife_edge_loss_db(nu);
        assert!(
            (a.loss.loss_db - expected).abs() < 1e-9,
            "{} vs {expected}",
            a.loss.loss_db
        );
        assert!(!a.line_of_sight);
        assert_eq!(a.loss.mode, PropagationMode::Diffraction);
        assert_eq!(a.obstructions.len(), 1);
        let o = &a.obstructions[0];
        assert_eq!(
            (o.start_m, o.end_m, o.peak_distance_m, o.peak_elevation_m),
            (8000.0, 8000.0, 8000.0, 420.0)
        );
        assert!((o.height_above_los_m - h).abs() < 1e-9);
        assert!((o.nu - nu).abs() < 1e-9);
        assert_eq!(a.diffraction.edges.len(), 1);
        assert!(a.min_fresnel_clearance_ratio.unwrap() < 0.0);
        assert!(!a.fresnel_60_clear);
        // The lean path gives the same loss.
        assert!(
            (m.path_loss(&link(&p, d, f, 30.0, 10.0)).unwrap().loss_db - expected).abs() < 1e-9
        );
    }

    #[test]
    fn curvature_blocks_flat_earth_beyond_horizon() {
        // Sea-level flat terrain, 30 m and 1.5 m antennas: horizon √(2kR·30) + √(2kR·1.5)
        // ≈ 22.6 + 5.0 = 27.6 km for k = 4/3.
        let horizon =
            radio_horizon_m(30.0, DEFAULT_K_FACTOR) + radio_horizon_m(1.5, DEFAULT_K_FACTOR);
        assert!((horizon - 27_621.0).abs() < 50.0, "{horizon}");
        let p = vec![0.0; 401];
        let m = TerrainModel::default();
        let inside = m
            .analyze(&link(&p, 0.8 * horizon, 900.0, 30.0, 1.5))
            .unwrap();
        assert!(inside.line_of_sight);
        let beyond = m
            .analyze(&link(&p, 1.3 * horizon, 900.0, 30.0, 1.5))
            .unwrap();
        assert!(!beyond.line_of_sight);
        assert_eq!(beyond.loss.mode, PropagationMode::Diffraction);
        assert!(
            beyond.diffraction.loss_db > 6.0,
            "{}",
            beyond.diffraction.loss_db
        );
        // With an infinite-ish k (no curvature) the same path is line of sight.
        let flat =
            TerrainModel::new(Box::new(FreeSpace), 1e9, DiffractionConfig::default()).unwrap();
        assert!(
            flat.analyze(&link(&p, 1.3 * horizon, 900.0, 30.0, 1.5))
                .unwrap()
                .line_of_sight
        );
        // A smaller k (sub-refraction) shortens the horizon.
        let k1 = TerrainModel::new(Box::new(FreeSpace), 1.0, DiffractionConfig::default()).unwrap();
        assert!(
            !k1.analyze(&link(&p, 0.95 * horizon, 900.0, 30.0, 1.5))
                .unwrap()
                .line_of_sight
        );
    }

    #[test]
    fn hata_base_and_epstein_peterson() {
        let mut p = vec![100.0; 101];
        p[50] = 180.0;
        let cfg = DiffractionConfig {
            method: DiffractionMethod::EpsteinPeterson,
            max_edges: 3,
        };
        let m = TerrainModel::new(
            Box::new(Hata::new(HataEnvironment::Open)),
            DEFAULT_K_FACTOR,
            cfg,
        )
        .unwrap();
        let a = m.analyze(&link(&p, 10_000.0, 900.0, 30.0, 1.5)).unwrap();
        let hata = Hata::formula_db(HataEnvironment::Open, 900.0, 10_000.0, 30.0, 1.5);
        assert_eq!(a.base_model, "hata_open");
        assert!((a.base_loss_db - hata).abs() < 1e-9);
        assert!((a.loss.loss_db - hata - a.diffraction.loss_db).abs() < 1e-9);
        assert!(a.diffraction.loss_db > 10.0);
    }

    #[test]
    fn rejects_missing_or_bad_profiles() {
        let m = TerrainModel::default();
        let e = m
            .path_loss(&Link {
                freq_mhz: 900.0,
                distance_m: 1000.0,
                tx_height_m: 30.0,
                rx_height_m: 1.5,
                profile_m: None,
            })
            .unwrap_err();
        assert_eq!(e, PropagationError::MissingProfile { model: "terrain" });
        let p = [100.0, f64::NAN, 100.0];
        let e = m
            .path_loss(&link(&p, 1000.0, 900.0, 30.0, 1.5))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("sample 1 of 3 is not a finite elevation"),
            "{e}"
        );
        let p = [100.0];
        let e = m
            .path_loss(&link(&p, 1000.0, 900.0, 30.0, 1.5))
            .unwrap_err();
        assert!(e.to_string().contains("at least 2 samples"), "{e}");
        let p = [100.0, 100.0];
        let l = m.path_loss(&link(&p, 1000.0, 900.0, 30.0, 1.5)).unwrap();
        assert_eq!(l.warnings[0].code, "profile_without_interior");
        let e =
            TerrainModel::new(Box::new(FreeSpace), 0.0, DiffractionConfig::default()).unwrap_err();
        assert!(e.to_string().contains("k_factor = 0"), "{e}");
        let e = TerrainModel::new(
            Box::new(TerrainModel::default()),
            1.33,
            DiffractionConfig::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("base_model"), "{e}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        /// Random profiles and parameters: never a panic or NaN, loss ≥ free space, the lean
        /// and the full evaluation agree.
        #[test]
        fn random_profiles_are_finite(
            profile in proptest::collection::vec(-100.0f64..4000.0, 2..120),
            d in 10.0f64..100_000.0,
            f in 30.0f64..6000.0,
            htx in 0.0f64..300.0,
            hrx in 0.0f64..30.0,
            ep in proptest::bool::ANY,
        ) {
            let method = if ep { DiffractionMethod::EpsteinPeterson } else { DiffractionMethod::Deygout };
            let m = TerrainModel::new(Box::new(FreeSpace), DEFAULT_K_FACTOR, DiffractionConfig { method, max_edges: 3 }).unwrap();
            let l = link(&profile, d, f, htx, hrx);
            let a = m.analyze(&l).unwrap();
            let lean = m.path_loss(&l).unwrap();
            proptest::prop_assert!(a.loss.loss_db.is_finite());
            proptest::prop_assert!(a.loss.loss_db >= fspl_db(f, d).max(0.0) - 1e-9);
            proptest::prop_assert!((a.loss.loss_db - lean.loss_db).abs() < 1e-9);
            proptest::prop_assert_eq!(a.loss.mode, lean.mode);
            proptest::prop_assert!(a.diffraction.edges.len() <= 3);
        }
    }

    #[test]
    fn max_range_is_capped_by_horizon_and_base() {
        let m = TerrainModel::default();
        let horizon =
            radio_horizon_m(530.0, DEFAULT_K_FACTOR) + radio_horizon_m(501.5, DEFAULT_K_FACTOR);
        assert!((m.max_range_m(900.0, 30.0, 1.5, 200.0, 1e7) - horizon).abs() < 1e-6);
        let fs = FreeSpace.max_range_m(900.0, 30.0, 1.5, 110.0, 1e7);
        assert!((m.max_range_m(900.0, 30.0, 1.5, 110.0, 1e7) - fs).abs() < 1e-6);
        assert_eq!(m.max_range_m(900.0, 30.0, 1.5, 200.0, 10_000.0), 10_000.0);
    }
}
