//! Site cost model: capex and yearly opex by site type, plus backhaul to the nearest fibre node
//! (buried/aerial fibre priced per km, or microwave hops), whichever is cheaper over the horizon.
//!
//! All money in the configured currency (default `USD`); the figures shipped as defaults are
//! planning assumptions for illustration, to be replaced with the operator's own prices.

use serde::{Deserialize, Serialize};

use crate::geo::geodesic_distance_m;

/// How a candidate site would be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteType {
    /// A new mast on a new plot.
    NewBuild,
    /// Antennas added to an existing tower (lease).
    TowerSharing,
    /// Antennas on a building roof.
    Rooftop,
}

impl SiteType {
    pub const ALL: [SiteType; 3] = [
        SiteType::NewBuild,
        SiteType::TowerSharing,
        SiteType::Rooftop,
    ];

    /// Key used in files: `new_build`, `tower_sharing`, `rooftop`.
    pub fn as_str(self) -> &'static str {
        match self {
            SiteType::NewBuild => "new_build",
            SiteType::TowerSharing => "tower_sharing",
            SiteType::Rooftop => "rooftop",
        }
    }

    /// Parses the keys above (also `new`, `sharing`, `roof`).
    pub fn parse(s: &str) -> Option<SiteType> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "new_build" | "new" | "greenfield" => Some(SiteType::NewBuild),
            "tower_sharing" | "sharing" | "shared" => Some(SiteType::TowerSharing),
            "rooftop" | "roof" => Some(SiteType::Rooftop),
            _ => None,
        }
    }
}

/// Capex and yearly opex of one site type.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeCost {
    pub capex: f64,
    pub opex_per_year: f64,
}

/// Backhaul prices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackhaulCost {
    /// Fibre build cost per route km.
    pub fibre_capex_per_km: f64,
    /// Route length / straight-line distance (fibre follows roads and plots, not the crow).
    pub fibre_route_factor: f64,
    /// Fibre maintenance per route km and year.
    pub fibre_opex_per_km_year: f64,
    /// One microwave hop (two radios, antennas, installation).
    pub microwave_capex_per_hop: f64,
    pub microwave_opex_per_hop_year: f64,
    /// Longest hop, km; longer distances need relays.
    pub microwave_max_hop_km: f64,
    /// Fixed-node technologies that count as fibre points of presence (`ftth`, …).
    pub fibre_node_technologies: Vec<String>,
}

impl Default for BackhaulCost {
    fn default() -> Self {
        BackhaulCost {
            fibre_capex_per_km: 12_000.0,
            fibre_route_factor: 1.3,
            fibre_opex_per_km_year: 150.0,
            microwave_capex_per_hop: 30_000.0,
            microwave_opex_per_hop_year: 2_500.0,
            microwave_max_hop_km: 40.0,
            fibre_node_technologies: vec!["ftth".into()],
        }
    }
}

/// The whole cost model (`[plan.cost]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostModel {
    pub currency: String,
    /// Years of opex included in a site's cost (total cost of ownership horizon).
    pub horizon_years: f64,
    pub new_build: TypeCost,
    pub tower_sharing: TypeCost,
    pub rooftop: TypeCost,
    pub backhaul: BackhaulCost,
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            currency: "USD".into(),
            horizon_years: 5.0,
            new_build: TypeCost {
                capex: 110_000.0,
                opex_per_year: 9_000.0,
            },
            tower_sharing: TypeCost {
                capex: 35_000.0,
                opex_per_year: 12_000.0,
            },
            rooftop: TypeCost {
                capex: 55_000.0,
                opex_per_year: 10_000.0,
            },
            backhaul: BackhaulCost::default(),
        }
    }
}

/// Which backhaul was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackhaulKind {
    Fibre,
    Microwave,
}

/// Backhaul decision for one site.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backhaul {
    pub kind: BackhaulKind,
    /// Id of the nearest fibre node; `None` when the dataset has none (microwave only).
    pub nearest_fibre_node: Option<String>,
    /// Straight-line distance to it, km.
    pub distance_km: Option<f64>,
    /// Fibre route km (distance × route factor) when fibre was chosen.
    pub fibre_km: Option<f64>,
    /// Microwave hops when microwave was chosen.
    pub microwave_hops: Option<u32>,
    pub capex: f64,
    pub opex_per_year: f64,
    /// Cost over the horizon of the option not chosen (for comparison); `None` without fibre.
    pub alternative_cost: Option<f64>,
}

/// Full cost of one site.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteCost {
    /// capex + opex_per_year × horizon, site and backhaul together.
    pub cost: f64,
    pub capex: f64,
    pub opex_per_year: f64,
    pub backhaul: Backhaul,
}

impl CostModel {
    /// Cost of one type.
    pub fn type_cost(&self, t: SiteType) -> TypeCost {
        match t {
            SiteType::NewBuild => self.new_build,
            SiteType::TowerSharing => self.tower_sharing,
            SiteType::Rooftop => self.rooftop,
        }
    }

    /// Every rule on values, checked at once (messages name the key under `prefix`).
    pub fn problems(&self, prefix: &str) -> Vec<String> {
        let mut p = Vec::new();
        let mut nonneg = |k: &str, v: f64| {
            if !(v.is_finite() && v >= 0.0) {
                p.push(format!("{prefix}.{k} = {v} must be a finite number ≥ 0"));
            }
        };
        nonneg("horizon_years", self.horizon_years);
        for t in SiteType::ALL {
            let c = self.type_cost(t);
            nonneg(&format!("{}.capex", t.as_str()), c.capex);
            nonneg(&format!("{}.opex_per_year", t.as_str()), c.opex_per_year);
        }
        let b = &self.backhaul;
        nonneg("backhaul.fibre_capex_per_km", b.fibre_capex_per_km);
        nonneg("backhaul.fibre_opex_per_km_year", b.fibre_opex_per_km_year);
        nonneg(
            "backhaul.microwave_capex_per_hop",
            b.microwave_capex_per_hop,
        );
        nonneg(
            "backhaul.microwave_opex_per_hop_year",
            b.microwave_opex_per_hop_year,
        );
        if !(b.fibre_route_factor.is_finite() && b.fibre_route_factor >= 1.0) {
            p.push(format!(
                "{prefix}.backhaul.fibre_route_factor = {} must be ≥ 1 (route km per straight km)",
                b.fibre_route_factor
            ));
        }
        if !(b.microwave_max_hop_km.is_finite() && b.microwave_max_hop_km > 0.0) {
            p.push(format!(
                "{prefix}.backhaul.microwave_max_hop_km = {} must be > 0 km",
                b.microwave_max_hop_km
            ));
        }
        for t in &b.fibre_node_technologies {
            if geodata::FixedTechnology::parse(t).is_none() {
                p.push(format!(
                    "{prefix}.backhaul.fibre_node_technologies: `{t}` is not a fixed technology (ftth, dsl, docsis, fwa)"
                ));
            }
        }
        p
    }

    /// Cost of a site of type `t` whose nearest fibre node is `nearest` (id, straight-line m).
    pub fn site_cost(&self, t: SiteType, nearest: Option<(&str, f64)>) -> SiteCost {
        let tc = self.type_cost(t);
        let b = &self.backhaul;
        let h = self.horizon_years;
        let mw = |km: f64| {
            let hops = (km / b.microwave_max_hop_km).ceil().max(1.0);
            (
                hops as u32,
                hops * b.microwave_capex_per_hop,
                hops * b.microwave_opex_per_hop_year,
            )
        };
        let backhaul = match nearest {
            None => {
                // No fibre anywhere in the data: one hop towards the core is the assumption.
                let (hops, capex, opex) = mw(0.0);
                Backhaul {
                    kind: BackhaulKind::Microwave,
                    nearest_fibre_node: None,
                    distance_km: None,
                    fibre_km: None,
                    microwave_hops: Some(hops),
                    capex,
                    opex_per_year: opex,
                    alternative_cost: None,
                }
            }
            Some((id, d_m)) => {
                let km = d_m / 1000.0;
                let fkm = km * b.fibre_route_factor;
                let f_capex = fkm * b.fibre_capex_per_km;
                let f_opex = fkm * b.fibre_opex_per_km_year;
                let (hops, m_capex, m_opex) = mw(km);
                let f_total = f_capex + f_opex * h;
                let m_total = m_capex + m_opex * h;
                // Ties go to fibre: more capacity for the same money.
                if f_total <= m_total {
                    Backhaul {
                        kind: BackhaulKind::Fibre,
                        nearest_fibre_node: Some(id.to_string()),
                        distance_km: Some(round2(km)),
                        fibre_km: Some(round2(fkm)),
                        microwave_hops: None,
                        capex: f_capex,
                        opex_per_year: f_opex,
                        alternative_cost: Some(m_total),
                    }
                } else {
                    Backhaul {
                        kind: BackhaulKind::Microwave,
                        nearest_fibre_node: Some(id.to_string()),
                        distance_km: Some(round2(km)),
                        fibre_km: None,
                        microwave_hops: Some(hops),
                        capex: m_capex,
                        opex_per_year: m_opex,
                        alternative_cost: Some(f_total),
                    }
                }
            }
        };
        let mut backhaul = backhaul;
        backhaul.capex = round2(backhaul.capex);
        backhaul.opex_per_year = round2(backhaul.opex_per_year);
        backhaul.alternative_cost = backhaul.alternative_cost.map(round2);
        let capex = tc.capex + backhaul.capex;
        let opex = tc.opex_per_year + backhaul.opex_per_year;
        SiteCost {
            cost: capex + opex * h,
            capex,
            opex_per_year: opex,
            backhaul,
        }
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Nearest fibre node to each point: (node index, geodesic metres), by brute force over a
/// coarse prefilter (nodes are few: hundreds to a few thousand).
pub fn nearest_nodes(nodes: &[(f64, f64)], points: &[(f64, f64)]) -> Vec<Option<(usize, f64)>> {
    use rayon::prelude::*;
    points
        .par_iter()
        .map(|&p| {
            let mut best: Option<(usize, f64)> = None;
            for (i, &n) in nodes.iter().enumerate() {
                let d = geodesic_distance_m(p, n);
                if best.map_or(true, |(_, bd)| d < bd) {
                    best = Some((i, d));
                }
            }
            best
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cheaper_backhaul_is_chosen_and_named() {
        let m = CostModel::default();
        // 2 km: fibre 2.6 route km ≈ 31k + opex; one microwave hop 30k + 12.5k opex.
        let near = m.site_cost(SiteType::NewBuild, Some(("olt-1", 2_000.0)));
        assert_eq!(near.backhaul.kind, BackhaulKind::Fibre);
        assert_eq!(near.backhaul.fibre_km, Some(2.6));
        let far = m.site_cost(SiteType::NewBuild, Some(("olt-1", 60_000.0)));
        assert_eq!(far.backhaul.kind, BackhaulKind::Microwave);
        assert_eq!(far.backhaul.microwave_hops, Some(2));
        assert_eq!(far.capex, 110_000.0 + 60_000.0);
        assert_eq!(far.opex_per_year, 9_000.0 + 5_000.0);
        assert_eq!(far.cost, far.capex + 5.0 * far.opex_per_year);
        assert!(far.backhaul.alternative_cost.unwrap() > far.cost - 110_000.0 - 45_000.0);
        let none = m.site_cost(SiteType::Rooftop, None);
        assert_eq!(none.backhaul.kind, BackhaulKind::Microwave);
        assert_eq!(none.backhaul.nearest_fibre_node, None);
    }

    #[test]
    fn bad_values_are_all_reported() {
        let mut m = CostModel::default();
        m.rooftop.capex = -1.0;
        m.backhaul.fibre_route_factor = 0.5;
        m.backhaul.fibre_node_technologies = vec!["copper".into()];
        let p = m.problems("plan.cost");
        assert_eq!(p.len(), 3, "{p:?}");
        assert_eq!(
            p[0],
            "plan.cost.rooftop.capex = -1 must be a finite number ≥ 0"
        );
        assert!(p[1].starts_with("plan.cost.backhaul.fibre_route_factor = 0.5 must be ≥ 1"));
        assert!(p[2].contains("`copper` is not a fixed technology"));
    }
}
