//! A complete input dataset: every layer the planner works on, plus summary figures.

use std::collections::BTreeMap;

use crate::dem::Dem;
use crate::error::{Location, Warning};
use crate::model::{ContextCountry, FixedNode, Region, Road, Settlement, Site, Technology};

/// Every layer of one planning area. Layers a user does not supply are empty.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Human name of the dataset, e.g. `Uzbekistan (embedded default)`.
    pub name: String,
    pub regions: Vec<Region>,
    pub settlements: Vec<Settlement>,
    pub roads: Vec<Road>,
    pub sites: Vec<Site>,
    pub fixed_nodes: Vec<FixedNode>,
    pub dem: Option<Dem>,
    /// Neighbouring countries for map context (optional; empty when not given). Never
    /// analysed: not targets, not regions.
    pub context: Vec<ContextCountry>,
    /// Names of layers that are synthetic (generated, not observed), e.g. `sites`.
    pub synthetic_layers: Vec<String>,
    /// Where each layer came from (`settlements` → file path or `embedded:settlements.csv`),
    /// used to name the file in validation messages.
    pub sources: BTreeMap<String, String>,
    /// Where each item came from in its file (`settlements` → one [`Location`] per settlement,
    /// feature index or CSV line), so validation of a loaded dataset points at the same
    /// feature/line the reader would. Empty for datasets built in code.
    pub origins: BTreeMap<String, Vec<Location>>,
    /// Warnings raised while loading (defaults applied, features skipped …); never silent.
    pub warnings: Vec<Warning>,
}

impl Dataset {
    /// Sum of settlement populations, persons (saturating: a dataset built in code need not
    /// have passed validation's bound on each population).
    pub fn total_population(&self) -> u64 {
        self.settlements
            .iter()
            .fold(0u64, |t, s| t.saturating_add(s.population))
    }

    /// Total geodesic road length, kilometres.
    pub fn road_km(&self) -> f64 {
        self.roads
            .iter()
            .map(|r| crate::line_length_m(&r.geometry))
            .sum::<f64>()
            / 1000.0
    }

    /// Geodesic length per route ref, kilometres (a road on two routes counts for both).
    pub fn route_km(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for r in &self.roads {
            if r.refs.is_empty() {
                continue;
            }
            let km = crate::line_length_m(&r.geometry) / 1000.0;
            for rf in &r.refs {
                *out.entry(rf.clone()).or_insert(0.0) += km;
            }
        }
        out
    }

    /// Geodesic length of roads flagged international, kilometres.
    pub fn international_road_km(&self) -> f64 {
        self.roads
            .iter()
            .filter(|r| r.international)
            .map(|r| crate::line_length_m(&r.geometry))
            .sum::<f64>()
            / 1000.0
    }

    /// Number of cells per technology.
    pub fn cells_by_technology(&self) -> BTreeMap<Technology, usize> {
        let mut out = BTreeMap::new();
        for c in self.sites.iter().flat_map(|s| &s.cells) {
            *out.entry(c.technology).or_insert(0) += 1;
        }
        out
    }

    /// Number of sites having at least one cell of each technology.
    pub fn sites_by_technology(&self) -> BTreeMap<Technology, usize> {
        let mut out = BTreeMap::new();
        for s in &self.sites {
            let mut techs: Vec<Technology> = s.cells.iter().map(|c| c.technology).collect();
            techs.sort();
            techs.dedup();
            for t in techs {
                *out.entry(t).or_insert(0) += 1;
            }
        }
        out
    }

    /// True when the named layer (`sites`, `fixed_nodes` …) is synthetic.
    pub fn is_synthetic(&self, layer: &str) -> bool {
        self.synthetic_layers.iter().any(|l| l == layer)
    }
}
