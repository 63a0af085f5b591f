//! Site planning (`planner plan`): candidate sites, their coverage of the targets still without
//! mobile Internet, a cost model, and greedy maximal covering with lazy re-evaluation until a
//! budget, a number of sites or a coverage target is reached; ranked picks and a coverage curve.
//!
//! The objective is weighted uncovered population plus weighted highway-km (`[plan.weights]`).
//! Candidates are evaluated one at a time against the uncovered targets with the same engine and
//! link budget as `planner analyze`; mobile Internet of a set of sites is the union of what each
//! site gives, so the objective is monotone submodular and the greedy bound holds. After the
//! picks, a full coverage run over existing + proposed sites gives `coverage_after`.

pub mod candidates;
pub mod cost;
pub mod greedy;

use std::path::PathBuf;

use geodata::{Cell, Technology};
use serde::{Deserialize, Serialize};

use candidates::{RoadCandidates, Source};
use cost::{CostModel, SiteType};
use greedy::{Rank, StopReason};

/// Coverage targets, percent; planning stops when every one given is reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoverageTargets {
    /// Share of settlements with mobile Internet, %.
    pub settlements_pct: Option<f64>,
    /// Share of population with mobile Internet, %.
    pub population_pct: Option<f64>,
    /// Share of international highway km with mobile Internet, %.
    pub international_road_km_pct: Option<f64>,
}

impl Default for CoverageTargets {
    fn default() -> Self {
        // The programme's stated goals: every settlement, 95 % of international highway km.
        CoverageTargets {
            settlements_pct: Some(100.0),
            population_pct: None,
            international_road_km_pct: Some(95.0),
        }
    }
}

/// Objective weights: the value of covering one person, settlement or road km.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    /// Per person newly covered.
    pub population: f64,
    /// Per settlement newly covered (so small villages count too).
    pub settlement: f64,
    /// Per km of international highway newly covered.
    pub international_road_km: f64,
    /// Per km of any other road newly covered.
    pub road_km: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            population: 1.0,
            settlement: 1000.0,
            international_road_km: 200.0,
            road_km: 0.0,
        }
    }
}

/// One cell of the standard candidate site (`[[plan.site.cells]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellSpec {
    /// `2g`, `3g`, `4g` or `5g`.
    pub technology: String,
    pub band_mhz: f64,
    pub eirp_dbm: f64,
    pub azimuth_deg: Option<f64>,
    pub beamwidth_deg: Option<f64>,
    pub tilt_deg: Option<f64>,
}

/// The standard macro site placed at every candidate (`[plan.site]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StandardSite {
    /// Mast antenna height, metres (new builds, generated candidates).
    pub height_m: f64,
    /// Antenna height on rooftops, metres.
    pub rooftop_height_m: f64,
    pub cells: Vec<CellSpec>,
}

impl Default for StandardSite {
    fn default() -> Self {
        // Omni approximation of a three-sector site: LTE 800 (coverage layer) and UMTS 2100.
        StandardSite {
            height_m: 30.0,
            rooftop_height_m: 20.0,
            cells: vec![
                CellSpec {
                    technology: "4g".into(),
                    band_mhz: 800.0,
                    eirp_dbm: 61.0,
                    azimuth_deg: None,
                    beamwidth_deg: None,
                    tilt_deg: None,
                },
                CellSpec {
                    technology: "3g".into(),
                    band_mhz: 2100.0,
                    eirp_dbm: 58.0,
                    azimuth_deg: None,
                    beamwidth_deg: None,
                    tilt_deg: None,
                },
            ],
        }
    }
}

/// `[plan]` section of the planner config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlanConfig {
    /// CSV of user candidates `id,lon,lat,type[,height_m]`, relative to the config's folder.
    pub candidates_csv: Option<PathBuf>,
    /// Offer existing 2G-only sites as tower-sharing upgrades.
    pub existing_sites: bool,
    /// Generate a candidate at every settlement without mobile Internet.
    pub from_settlements: bool,
    /// Generate candidates along uncovered stretches: `international`, `all` or `none`.
    pub from_roads: RoadCandidates,
    /// Spacing of generated road candidates, metres.
    pub road_spacing_m: f64,
    /// Generated candidates closer than this to another are dropped, metres.
    pub min_spacing_m: f64,
    /// Settlements with at least this population get a rooftop candidate.
    pub rooftop_min_population: u64,
    /// `gain_per_cost` (default) or `gain`.
    pub rank: Rank,
    pub max_sites: Option<usize>,
    /// Total cost cap (capex + opex over the horizon), in the cost model's currency.
    pub budget: Option<f64>,
    pub targets: CoverageTargets,
    pub weights: Weights,
    pub site: StandardSite,
    pub cost: CostModel,
}

impl Default for PlanConfig {
    fn default() -> Self {
        PlanConfig {
            candidates_csv: None,
            existing_sites: true,
            from_settlements: true,
            from_roads: RoadCandidates::International,
            road_spacing_m: 8_000.0,
            min_spacing_m: 1_500.0,
            rooftop_min_population: 20_000,
            rank: Rank::GainPerCost,
            max_sites: None,
            budget: None,
            targets: CoverageTargets::default(),
            weights: Weights::default(),
            site: StandardSite::default(),
            cost: CostModel::default(),
        }
    }
}

impl PlanConfig {
    /// Every rule on values, checked at once.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        for (k, v) in [
            ("plan.road_spacing_m", self.road_spacing_m),
            ("plan.min_spacing_m", self.min_spacing_m),
            ("plan.site.height_m", self.site.height_m),
            ("plan.site.rooftop_height_m", self.site.rooftop_height_m),
        ] {
            if !(v.is_finite() && v >= 1.0) {
                p.push(format!("{k} = {v} must be at least 1 metre"));
            }
        }
        for (k, v) in [
            ("settlements_pct", self.targets.settlements_pct),
            ("population_pct", self.targets.population_pct),
            (
                "international_road_km_pct",
                self.targets.international_road_km_pct,
            ),
        ] {
            if let Some(v) = v {
                if !(0.0..=100.0).contains(&v) {
                    p.push(format!(
                        "plan.targets.{k} = {v} must be a percentage in [0, 100]"
                    ));
                }
            }
        }
        let w = &self.weights;
        for (k, v) in [
            ("population", w.population),
            ("settlement", w.settlement),
            ("international_road_km", w.international_road_km),
            ("road_km", w.road_km),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                p.push(format!(
                    "plan.weights.{k} = {v} must be a finite number ≥ 0"
                ));
            }
        }
        if w.population + w.settlement + w.international_road_km + w.road_km <= 0.0 {
            p.push("plan.weights: all weights are 0, nothing would be worth covering; give population or international_road_km a positive weight".into());
        }
        if let Some(b) = self.budget {
            if !(b.is_finite() && b > 0.0) {
                p.push(format!("plan.budget = {b} must be a positive amount"));
            }
        }
        if self.max_sites == Some(0) {
            p.push("plan.max_sites = 0: give a positive number of sites or leave it out".into());
        }
        if self.site.cells.is_empty() {
            p.push(
                "plan.site.cells is empty: the standard site needs at least one 3G/4G/5G cell"
                    .into(),
            );
        }
        for (i, c) in self.site.cells.iter().enumerate() {
            if Technology::parse(&c.technology).is_none() {
                p.push(format!(
                    "plan.site.cells[{i}].technology = `{}` is not 2g, 3g, 4g or 5g",
                    c.technology
                ));
            }
            if !(c.band_mhz.is_finite() && c.band_mhz > 0.0) {
                p.push(format!(
                    "plan.site.cells[{i}].band_mhz = {} must be > 0 MHz",
                    c.band_mhz
                ));
            }
            if !(c.eirp_dbm.is_finite() && (-30.0..=100.0).contains(&c.eirp_dbm)) {
                p.push(format!(
                    "plan.site.cells[{i}].eirp_dbm = {} must be in [-30, 100] dBm",
                    c.eirp_dbm
                ));
            }
        }
        if !self.site.cells.is_empty()
            && self
                .site
                .cells
                .iter()
                .all(|c| Technology::parse(&c.technology) == Some(Technology::G2))
        {
            p.push("plan.site.cells: only 2G cells; a site must carry 3G, 4G or 5G to give mobile Internet".into());
        }
        p.extend(self.cost.problems("plan.cost"));
        p
    }

    /// The standard site's cells.
    pub fn cells(&self) -> Vec<Cell> {
        self.site
            .cells
            .iter()
            .filter_map(|c| {
                Some(Cell {
                    technology: Technology::parse(&c.technology)?,
                    band_mhz: c.band_mhz,
                    eirp_dbm: c.eirp_dbm,
                    azimuth_deg: c.azimuth_deg,
                    beamwidth_deg: c.beamwidth_deg,
                    tilt_deg: c.tilt_deg,
                })
            })
            .collect()
    }
}

/// One point of the coverage curve (mobile Internet).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurvePoint {
    pub sites: usize,
    pub cost: f64,
    pub capex: f64,
    pub settlements_covered: u64,
    pub settlements_covered_pct: f64,
    pub population_covered: u64,
    pub population_covered_pct: f64,
    pub international_road_km_covered: f64,
    pub international_road_km_covered_pct: f64,
}

/// Marginal gain of one pick.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gain {
    pub population: u64,
    pub settlements: u64,
    pub highway_km: f64,
    pub road_km: f64,
    /// Weighted objective gained.
    pub objective: f64,
    /// Ranking score at pick time (objective, or objective per unit cost).
    pub score: f64,
}

/// A proposed site, in pick order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedSite {
    pub rank: usize,
    /// Index into the candidates the plan was prepared with: picks are kept by index, never
    /// looked up again by id.
    #[serde(skip)]
    pub candidate: usize,
    pub id: String,
    pub lon: f64,
    pub lat: f64,
    #[serde(rename = "type")]
    pub site_type: SiteType,
    pub source: Source,
    pub region: String,
    pub height_m: f64,
    pub cost: f64,
    pub capex: f64,
    pub opex_per_year: f64,
    pub backhaul: cost::Backhaul,
    pub marginal_gain: Gain,
    pub cumulative_cost: f64,
}

/// The selected sites and the coverage they buy.
#[derive(Debug)]
pub struct Selection {
    pub sites: Vec<PlannedSite>,
    pub curve: Vec<CurvePoint>,
    pub stop: StopReason,
    pub targets_met: bool,
    pub gain_evaluations: u64,
    pub targets: CoverageTargets,
}
