//! A complete input dataset: every layer the planner works on.

use crate::dem::Dem;
use crate::model::{FixedNode, Region, Road, Settlement, Site};

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
    /// Names of layers that are synthetic (generated, not observed), e.g. `sites`.
    pub synthetic_layers: Vec<String>,
}
