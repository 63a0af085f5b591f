//! `model = "auto"`: every link is served by a model that is valid for it, chosen by band,
//! distance, antenna heights and whether a DEM covers the path. The default model of the
//! planner.
//!
//! # Selection table
//! | terrain | distance | band / heights | model (name in the summary) |
//! |---|---|---|---|
//! | DEM profile | < 1 km | any | free space + Deygout knife edges over the profile (`terrain`) |
//! | DEM profile | ≥ 1 km | any | ITM point-to-point over the profile (`itm`) |
//! | DEM profile | ≥ 1 km | ITM flags the path outside its validity (horizon geometry, refractivity, heights) | `terrain` |
//! | no DEM | < 1 km | any | free space (`free_space`) |
//! | no DEM | 1–20 km | 150–1500 MHz, base 30–200 m, mobile 1–10 m | Okumura-Hata (`hata_open` by default) |
//! | no DEM | 1–20 km | 1500–2000 MHz, base 30–200 m, mobile 1–10 m | COST-231 Hata (`cost231_medium_city`) |
//! | no DEM | otherwise | any | ITM area mode with Δh = 90 m (`itm_area`) |
//!
//! With `empirical_with_terrain = true` Hata and COST-231 also serve the links inside their
//! ranges when a DEM covers them (they then ignore the profile), and ITM the rest.
//!
//! Why: Hata and COST-231 are regressions fitted over 1–20 km, 150–2000 MHz and masts of at
//! least 30 m; outside those ranges they are extrapolations. ITM (Longley-Rice) covers
//! 20 MHz–20 GHz and 1–2000 km, but flags paths whose horizon geometry lies outside the
//! conditions of its empirical fits (ITM's "parameter combination out of range"); those, and
//! paths shorter than ITM's 1 km minimum, get the deterministic free-space + knife-edge
//! diffraction model over the same profile, which has no such limits. The summary counts the
//! links each model served (`links_by_model`).

use serde::{Deserialize, Serialize};

use super::cost231::{Cost231, Cost231Environment};
use super::diffraction::DiffractionConfig;
use super::free_space::FreeSpace;
use super::hata::{self, Hata, HataEnvironment};
use super::itm::{self, AreaPath, Itm, ItmConfig, ItmWarning, SitingCriteria};
use super::terrain::TerrainModel;
use super::{Link, Loss, PathLoss, PropagationError, PropagationModel, WarningCodes};

/// Name of the model in configs and outputs.
pub const NAME: &str = "auto";

/// Name the ITM area-mode member reports.
pub const ITM_AREA_NAME: &str = "itm_area";

/// Options of `model = "auto"` (`[model.auto]`); every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutoConfig {
    /// Okumura-Hata environment class where Hata serves: `open` (default), `suburban`,
    /// `urban_small`, `urban_large`. COST-231 uses `metropolitan` for `urban_large`, else
    /// `medium_city`.
    pub environment: String,
    /// Also use Hata / COST-231 inside their ranges when a DEM covers the path (default false:
    /// ITM over the DEM serves every link of 1 km or more).
    pub empirical_with_terrain: bool,
    /// Terrain irregularity Δh of ITM area mode where no DEM covers the link, metres (90 m is
    /// ITM's "average terrain": rolling plains to hills).
    pub area_delta_h_m: f64,
}

impl Default for AutoConfig {
    fn default() -> Self {
        AutoConfig {
            environment: "open".into(),
            empirical_with_terrain: false,
            area_delta_h_m: 90.0,
        }
    }
}

impl AutoConfig {
    /// Every problem as (field, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut p = Vec::new();
        if HataEnvironment::parse(&self.environment).is_none() {
            p.push((
                "auto.environment".into(),
                format!(
                    "unknown environment `{}`; use open, suburban, urban_small or urban_large",
                    self.environment
                ),
            ));
        }
        if !(self.area_delta_h_m.is_finite() && (0.0..=2000.0).contains(&self.area_delta_h_m)) {
            p.push((
                "auto.area_delta_h_m".into(),
                format!(
                    "{} is invalid: must be 0..=2000 m (10 flat, 30 plains, 90 hills, 200 mountains)",
                    self.area_delta_h_m
                ),
            ));
        }
        p
    }
}

/// The member models of `auto`.
#[derive(Debug)]
pub struct AutoModel {
    config: AutoConfig,
    itm: Itm,
    itm_config: ItmConfig,
    terrain: TerrainModel,
    hata: Hata,
    cost231: Cost231,
}

/// Which member serves a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    Terrain,
    Itm,
    Hata,
    Cost231,
    FreeSpace,
    ItmArea,
}

/// ITM warnings that mean "this path lies outside the conditions ITM was fitted for": the
/// link goes to the terrain model instead. [`ItmWarning::ExtremeVariability`] is not among
/// them: it follows from the configured percentages, not from the path.
fn outside_itm_validity(code: &str) -> bool {
    ItmWarning::ALL
        .iter()
        .any(|w| w.code() == code && *w != ItmWarning::ExtremeVariability)
}

impl AutoModel {
    /// Builds the members; `itm` configures ITM (point-to-point and area mode), `k_factor` and
    /// `diffraction` the terrain model.
    pub fn new(
        config: AutoConfig,
        itm: ItmConfig,
        k_factor: f64,
        diffraction: DiffractionConfig,
    ) -> Result<AutoModel, PropagationError> {
        let problems = config.problems();
        if let Some((field, message)) = problems.into_iter().next() {
            return Err(PropagationError::Config { field, message });
        }
        let env = HataEnvironment::parse(&config.environment).expect("checked above");
        let cost_env = if env == HataEnvironment::UrbanLarge {
            Cost231Environment::Metropolitan
        } else {
            Cost231Environment::MediumCity
        };
        Ok(AutoModel {
            itm: Itm::new(itm.clone()).map_err(|e| PropagationError::Config {
                field: "itm".into(),
                message: e.problems.join("; "),
            })?,
            itm_config: itm,
            terrain: TerrainModel::new(Box::new(FreeSpace), k_factor, diffraction)?,
            hata: Hata::new(env),
            cost231: Cost231::new(cost_env),
            config,
        })
    }

    pub fn config(&self) -> &AutoConfig {
        &self.config
    }

    /// The member chosen before ITM has looked at the path (ITM's own validity flags may still
    /// send a link to the terrain model, see [`AutoModel::served_by`]).
    pub fn choose(&self, link: &Link<'_>) -> Member {
        let short = link.distance_m < itm::SHORT_RANGE_LIMIT_M;
        let empirical = || {
            if hata::within_validity(link, 150.0, 1500.0) {
                Some(Member::Hata)
            } else if hata::within_validity(link, 1500.0, 2000.0) {
                Some(Member::Cost231)
            } else {
                None
            }
        };
        match link.profile_m {
            Some(_) if short => Member::Terrain,
            Some(_) => match (self.config.empirical_with_terrain, empirical()) {
                (true, Some(m)) => m,
                _ => Member::Itm,
            },
            None if short => Member::FreeSpace,
            None => empirical().unwrap_or(Member::ItmArea),
        }
    }

    fn member(&self, m: Member) -> &dyn PropagationModel {
        match m {
            Member::Terrain => &self.terrain,
            Member::Itm => &self.itm,
            Member::Hata => &self.hata,
            Member::Cost231 => &self.cost231,
            Member::FreeSpace => &FreeSpace,
            Member::ItmArea => unreachable!("area mode is evaluated by AutoModel::area"),
        }
    }

    /// ITM area mode for a link without terrain.
    fn area(&self, link: &Link<'_>) -> Result<(itm::ItmOutput, itm::ItmParams), PropagationError> {
        let params = self
            .itm_config
            .params(link.tx_height_m, link.rx_height_m, link.freq_mhz);
        let path = AreaPath {
            distance_m: link.distance_m,
            delta_h_m: self.config.area_delta_h_m,
            siting: [SitingCriteria::Random; 2],
        };
        let out = itm::area(&params, &path).map_err(|e| PropagationError::InvalidParameter {
            model: ITM_AREA_NAME,
            parameter: "itm",
            value: f64::NAN,
            reason: e.to_string(),
        })?;
        Ok((out, params))
    }

    /// Loss of the link from the chosen member, ITM falling back to the terrain model where it
    /// flags the path.
    fn loss_for(
        &self,
        link: &Link<'_>,
        m: Member,
        itm_result: Option<Loss>,
    ) -> Result<Loss, PropagationError> {
        match m {
            Member::ItmArea => {
                let (out, _) = self.area(link)?;
                let mut warnings = WarningCodes::default();
                for w in out.warnings.iter() {
                    warnings.push(w.code());
                }
                Ok(Loss {
                    loss_db: out.loss_db,
                    mode: itm::planner_mode(&out),
                    warnings,
                    model: ITM_AREA_NAME,
                })
            }
            Member::Itm => {
                let l = match itm_result {
                    Some(l) => l,
                    None => self.itm.loss(link)?,
                };
                if l.warnings.iter().any(outside_itm_validity) {
                    self.terrain.loss(link)
                } else {
                    Ok(l)
                }
            }
            other => self.member(other).loss(link),
        }
    }

    /// The member that serves `link`, after ITM's validity check.
    pub fn served_by(&self, link: &Link<'_>) -> Result<&'static str, PropagationError> {
        self.loss(link).map(|l| l.model)
    }
}

impl PropagationModel for AutoModel {
    fn name(&self) -> &'static str {
        NAME
    }

    fn uses_terrain(&self) -> bool {
        true
    }

    fn path_loss(&self, link: &Link<'_>) -> Result<PathLoss, PropagationError> {
        match self.choose(link) {
            Member::ItmArea => {
                let (out, params) = self.area(link)?;
                let warnings = out
                    .warnings
                    .iter()
                    .map(|w| super::ModelWarning {
                        code: w.code(),
                        message: itm::describe_warning(w, &params, &out),
                    })
                    .collect();
                Ok(PathLoss {
                    loss_db: out.loss_db,
                    mode: itm::planner_mode(&out),
                    warnings,
                })
            }
            Member::Itm => {
                let l = self.itm.loss(link)?;
                if l.warnings.iter().any(outside_itm_validity) {
                    self.terrain.path_loss(link)
                } else {
                    self.itm.path_loss(link)
                }
            }
            other => self.member(other).path_loss(link),
        }
    }

    fn loss(&self, link: &Link<'_>) -> Result<Loss, PropagationError> {
        self.loss_for(link, self.choose(link), None)
    }

    fn losses(
        &self,
        link: &Link<'_>,
        freqs_mhz: &[f64],
        out: &mut Vec<Result<Loss, PropagationError>>,
    ) {
        // ITM analyses the profile once for all the bands it serves (up to MAX_BANDS; a site
        // has a handful). Fixed arrays, so nothing is allocated per link.
        const MAX_BANDS: usize = 16;
        let mut itm_freqs = [0.0_f64; MAX_BANDS];
        let mut n_itm = 0;
        for &f in freqs_mhz {
            if n_itm < MAX_BANDS
                && self.choose(&Link {
                    freq_mhz: f,
                    ..*link
                }) == Member::Itm
            {
                itm_freqs[n_itm] = f;
                n_itm += 1;
            }
        }
        let mut itm_results: [Option<Result<Loss, PropagationError>>; MAX_BANDS] =
            Default::default();
        if n_itm > 1 {
            let mut k = 0;
            self.itm.losses_with(link, &itm_freqs[..n_itm], &mut |r| {
                itm_results[k] = Some(r);
                k += 1;
            });
        }
        let mut next = 0;
        for &freq_mhz in freqs_mhz {
            let l = Link { freq_mhz, ..*link };
            let m = self.choose(&l);
            let r = if m == Member::Itm && next < n_itm && n_itm > 1 {
                let shared = itm_results[next]
                    .take()
                    .expect("one ITM result per ITM band");
                next += 1;
                shared.and_then(|itm_loss| self.loss_for(&l, m, Some(itm_loss)))
            } else {
                self.loss_for(&l, m, None)
            };
            out.push(r);
        }
    }

    /// The smallest bound of the members (free space, Hata and COST-231 never go below free
    /// space; ITM's bound depends on its statistics).
    fn loss_floor_db(&self, freq_mhz: f64) -> Option<f64> {
        Some(self.itm.loss_floor_db(freq_mhz)?.min(0.0))
    }

    /// The farthest any member could serve: ITM's smooth-earth range, and Hata / COST-231 up to
    /// their 20 km limit where the band is theirs.
    fn max_range_m(
        &self,
        freq_mhz: f64,
        tx_height_m: f64,
        rx_height_m: f64,
        max_loss_db: f64,
        cap_m: f64,
    ) -> f64 {
        let itm = self
            .itm
            .max_range_m(freq_mhz, tx_height_m, rx_height_m, max_loss_db, cap_m);
        let empirical_cap = (hata::DISTANCE_RANGE_KM.1 * 1000.0).min(cap_m);
        let empirical = if (150.0..=1500.0).contains(&freq_mhz) {
            self.hata.max_range_m(
                freq_mhz,
                tx_height_m,
                rx_height_m,
                max_loss_db,
                empirical_cap,
            )
        } else if (1500.0..=2000.0).contains(&freq_mhz) {
            self.cost231.max_range_m(
                freq_mhz,
                tx_height_m,
                rx_height_m,
                max_loss_db,
                empirical_cap,
            )
        } else {
            0.0
        };
        itm.max(empirical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> AutoModel {
        AutoModel::new(
            AutoConfig::default(),
            ItmConfig::default(),
            4.0 / 3.0,
            DiffractionConfig::default(),
        )
        .unwrap()
    }

    fn link(freq_mhz: f64, distance_m: f64, tx_height_m: f64, profile: Option<&[f64]>) -> Link<'_> {
        Link {
            freq_mhz,
            distance_m,
            tx_height_m,
            rx_height_m: 1.5,
            profile_m: profile,
        }
    }

    /// The selection table of the module docs, row by row.
    #[test]
    fn selection_table() {
        let m = model();
        let rolling: Vec<f64> = (0..101)
            .map(|i| 400.0 + 30.0 * (i as f64 * 0.3).sin())
            .collect();
        let p = Some(&rolling[..]);
        let served = |l: &Link<'_>| m.loss(l).unwrap().model;
        // With a DEM profile.
        assert_eq!(m.choose(&link(900.0, 500.0, 30.0, p)), Member::Terrain);
        assert_eq!(served(&link(900.0, 500.0, 30.0, p)), "terrain");
        assert_eq!(m.choose(&link(900.0, 10_000.0, 30.0, p)), Member::Itm);
        assert_eq!(m.choose(&link(2100.0, 45_000.0, 20.0, p)), Member::Itm);
        // Without terrain.
        assert_eq!(served(&link(900.0, 500.0, 30.0, None)), "free_space");
        assert_eq!(served(&link(900.0, 10_000.0, 30.0, None)), "hata_open");
        assert_eq!(
            served(&link(1800.0, 10_000.0, 30.0, None)),
            "cost231_medium_city"
        );
        // Outside Hata's ranges: beyond 20 km, above 2000 MHz, masts under 30 m.
        assert_eq!(served(&link(900.0, 25_000.0, 30.0, None)), "itm_area");
        assert_eq!(served(&link(2100.0, 5_000.0, 30.0, None)), "itm_area");
        assert_eq!(served(&link(900.0, 5_000.0, 25.0, None)), "itm_area");
        // Empirical models inside their ranges also with terrain, when asked.
        let m2 = AutoModel::new(
            AutoConfig {
                empirical_with_terrain: true,
                environment: "suburban".into(),
                ..AutoConfig::default()
            },
            ItmConfig::default(),
            4.0 / 3.0,
            DiffractionConfig::default(),
        )
        .unwrap();
        assert_eq!(
            m2.loss(&link(900.0, 10_000.0, 30.0, p)).unwrap().model,
            "hata_suburban"
        );
        let flat = vec![400.0; 101];
        assert_eq!(
            m2.loss(&link(900.0, 30_000.0, 30.0, Some(&flat)))
                .unwrap()
                .model,
            "itm"
        );
    }

    /// Where ITM flags the path (here a transmitter right behind a cliff: its horizon is far
    /// closer than its smooth-earth horizon), the terrain model serves it, without warnings.
    #[test]
    fn itm_outside_its_validity_falls_back_to_the_terrain_model() {
        let m = model();
        let mut z = vec![100.0; 201];
        z[2] = 400.0;
        let l = link(900.0, 20_000.0, 30.0, Some(&z));
        let itm = m.itm.loss(&l).unwrap();
        assert!(itm.warnings.iter().any(outside_itm_validity), "{itm:?}");
        let auto = m.loss(&l).unwrap();
        assert_eq!(auto.model, "terrain");
        assert!(auto.warnings.is_empty(), "{auto:?}");
        assert_eq!(auto.loss_db, m.terrain.loss(&l).unwrap().loss_db);
        let pl = m.path_loss(&l).unwrap();
        assert_eq!(pl.loss_db, auto.loss_db);
    }

    /// The multi-band path gives what single links give.
    #[test]
    fn losses_equal_single_band_losses() {
        let m = model();
        let z: Vec<f64> = (0..301)
            .map(|i| 300.0 + 80.0 * (i as f64 * 0.05).cos())
            .collect();
        let freqs = [900.0, 2100.0, 1800.0, 800.0, 3500.0];
        for d in [600.0, 5_000.0, 15_000.0, 40_000.0] {
            for profile in [Some(&z[..]), None] {
                let l = link(900.0, d, 30.0, profile);
                let mut out = Vec::new();
                m.losses(&l, &freqs, &mut out);
                for (f, r) in freqs.iter().zip(out) {
                    let one = m.loss(&Link { freq_mhz: *f, ..l }).unwrap();
                    assert_eq!(r.unwrap(), one, "{d} m, {f} MHz");
                }
            }
        }
    }
}
