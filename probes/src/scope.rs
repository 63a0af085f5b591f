//! Whether a target measures the country's own network or its international connectivity
//! (the `scope` label of every target's series).
//!
//! A regional server's users reach the rest of the world through the country's international
//! gateways; comparing targets inside the country (`domestic`) with targets abroad
//! (`international`) per region tells whether a slow region is slow on its access network or
//! on the international path. The set is closed so the label stays bounded.

use serde::{Deserialize, Serialize};

/// Where a target is, relative to the agent's country.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Inside the agent's country (the default: regional servers, national IXPs).
    #[default]
    Domestic,
    /// Abroad: reached through the international gateways.
    International,
}

impl Scope {
    /// Every scope, in label order.
    pub const ALL: [Scope; 2] = [Scope::Domestic, Scope::International];

    /// The label value and config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Domestic => "domestic",
            Scope::International => "international",
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
