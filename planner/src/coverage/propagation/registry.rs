//! Builds a propagation model from its config name, so configs and the CLI choose models by
//! name (`free_space`, `hata`, `cost231`, `terrain`, …).
//!
//! # Config (TOML/JSON, unknown keys rejected)
//! ```toml
//! model = "terrain"            # free_space | hata | cost231 | terrain (compound names below)
//! environment = "urban_small"  # hata: urban_large | urban_small | suburban | open
//!                              # cost231: medium_city (= urban_small, suburban) | metropolitan
//! base_model = "free_space"    # terrain only: free_space | hata | cost231 (compound names ok)
//! k_factor = 1.3333            # terrain only: effective Earth radius factor
//! diffraction = "deygout"      # terrain only: deygout | epstein_peterson | single_edge
//! max_edges = 3                # terrain only: most knife edges combined
//! max_terrain_relief_m = 500   # terrain only: relief assumed when bounding the search range
//! [itm]                        # model = "itm" or "auto" (`propagation::itm::ItmConfig`); with
//!                              # any other model the table is reported as a problem, not ignored
//! [auto]                       # model = "auto" only (`propagation::auto::AutoConfig`)
//! ```
//! `model = "auto"` (the default) picks a model valid for each link by band, distance, heights
//! and terrain; see [`super::auto`] for its table.
//! Compound names select the environment in the name: `hata_urban_large`, `hata_urban_small`,
//! `hata_suburban`, `hata_open`, `cost231_medium_city`, `cost231_metropolitan` (these are also
//! the names the models report). Defaults: Hata `urban_small`, COST-231 `medium_city`.

use super::cost231::{Cost231, Cost231Environment};
use super::diffraction::{DiffractionConfig, DiffractionMethod};
use super::free_space::FreeSpace;
use super::hata::{Hata, HataEnvironment};
use super::terrain::{TerrainModel, DEFAULT_K_FACTOR, DEFAULT_MAX_TERRAIN_RELIEF_M};
use super::{PropagationError, PropagationModel};
use serde::{Deserialize, Serialize};

/// Model names accepted in `model` (besides the compound Hata/COST-231 names).
pub const MODEL_NAMES: &[&str] = &["auto", "free_space", "hata", "cost231", "terrain", "itm"];

/// How to build one propagation model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Model name, see the module docs.
    pub model: String,
    /// Environment class for Hata / COST-231 (also for the terrain model's base).
    #[serde(default)]
    pub environment: Option<String>,
    /// Base model of `terrain`; free space when absent.
    #[serde(default)]
    pub base_model: Option<String>,
    /// Effective Earth radius factor k (terrain).
    #[serde(default = "default_k_factor")]
    pub k_factor: f64,
    /// Multiple-edge method (terrain).
    #[serde(default)]
    pub diffraction: DiffractionMethod,
    /// Most knife edges combined (terrain), ≥ 1.
    #[serde(default = "default_max_edges")]
    pub max_edges: usize,
    /// Terrain relief assumed when bounding the search range, metres (terrain), ≥ 0.
    #[serde(default = "default_relief_m")]
    pub max_terrain_relief_m: f64,
    /// ITM options (`[model.itm]`: climate, reliability_pct, confidence_pct, location_pct, ...;
    /// see `propagation::itm::ItmConfig`); defaults when absent.
    #[serde(default)]
    pub itm: Option<super::itm::ItmConfig>,
    /// Options of `model = "auto"` (`[model.auto]`); defaults when absent.
    #[serde(default)]
    pub auto: Option<super::auto::AutoConfig>,
}

fn default_k_factor() -> f64 {
    DEFAULT_K_FACTOR
}
fn default_max_edges() -> usize {
    DiffractionConfig::default().max_edges
}
fn default_relief_m() -> f64 {
    DEFAULT_MAX_TERRAIN_RELIEF_M
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig::from_name("free_space")
    }
}

impl ModelConfig {
    /// A config with defaults for everything but the (possibly compound) model name.
    pub fn from_name(name: &str) -> Self {
        ModelConfig {
            model: name.trim().to_string(),
            environment: None,
            base_model: None,
            k_factor: default_k_factor(),
            diffraction: DiffractionMethod::default(),
            max_edges: default_max_edges(),
            max_terrain_relief_m: default_relief_m(),
            itm: None,
            auto: None,
        }
    }

    /// Every problem with this config as (field, message) pairs; empty when valid.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut p = Vec::new();
        if let Err(e) = self.empirical(&self.model) {
            match (e, self.model.as_str()) {
                (_, "terrain") => {}
                (Problem::UnknownName, _) if self.is_extension() => {}
                (e, _) => p.push(e.into_pair("model", &self.model)),
            }
        }
        if self.model == "terrain" {
            if let Some(base) = &self.base_model {
                if base == "terrain" || base == "itm" {
                    p.push(("base_model".into(), format!("`{base}` is itself terrain-aware; the base must be free_space, hata or cost231")));
                } else if let Err(e) = self.empirical(base) {
                    p.push(e.into_pair("base_model", base));
                }
            }
        } else if let Some(base) = &self.base_model {
            p.push((
                "base_model".into(),
                format!("`{base}` is only used with model = \"terrain\"; remove it"),
            ));
        }
        match (&self.auto, self.model.as_str()) {
            (Some(auto), "auto") => p.extend(auto.problems()),
            (Some(_), other) => p.push((
                "auto".into(),
                format!("a [model.auto] table is only used with model = \"auto\" but model = \"{other}\"; set model = \"auto\" or remove the table"),
            )),
            (None, _) => {}
        }
        match (&self.itm, self.model.as_str()) {
            (Some(itm), "itm" | "auto") => {
                if let Err(e) = itm.validate() {
                    p.push(("itm".into(), e.problems.join("; ")));
                }
            }
            // Silently ignoring the table would let a planner believe the ITM climate or
            // reliability they wrote is in force while another model runs.
            (Some(_), other) => p.push((
                "itm".into(),
                format!("a [model.itm] table is only used with model = \"itm\" or \"auto\" but model = \"{other}\"; set one of them or remove the table"),
            )),
            (None, _) => {}
        }
        if !(self.k_factor.is_finite() && self.k_factor > 0.0) {
            p.push((
                "k_factor".into(),
                format!(
                    "{} is invalid: must be a finite number > 0 (4/3 for a standard atmosphere)",
                    self.k_factor
                ),
            ));
        }
        if self.max_edges == 0 {
            p.push((
                "max_edges".into(),
                "0 is invalid: must be at least 1 (3 is usual)".into(),
            ));
        }
        if !(self.max_terrain_relief_m.is_finite() && self.max_terrain_relief_m >= 0.0) {
            p.push((
                "max_terrain_relief_m".into(),
                format!(
                    "{} is invalid: must be a finite number of metres ≥ 0",
                    self.max_terrain_relief_m
                ),
            ));
        }
        p
    }

    /// Names that other modules register (ITM); they validate their own options.
    fn is_extension(&self) -> bool {
        self.model == "itm" || self.model == "auto"
    }

    /// Resolves a non-terrain model name (plain or compound) plus `environment`.
    fn empirical(&self, name: &str) -> Result<Box<dyn PropagationModel>, Problem> {
        let (family, env_in_name) = split_name(name);
        let env = match (env_in_name, self.environment.as_deref()) {
            (Some(a), Some(b)) if !same_env(family, a, b) => {
                return Err(Problem::EnvConflict(a.to_string(), b.to_string()))
            }
            (Some(a), _) => Some(a),
            (None, b) => b,
        };
        match family {
            "free_space" => Ok(Box::new(FreeSpace)),
            "hata" => {
                let e = match env {
                    None => HataEnvironment::UrbanSmall,
                    Some(s) => HataEnvironment::parse(s).ok_or_else(|| {
                        Problem::BadEnv(s.to_string(), "urban_large, urban_small, suburban, open")
                    })?,
                };
                Ok(Box::new(Hata::new(e)))
            }
            "cost231" => {
                let e = match env {
                    None => Cost231Environment::MediumCity,
                    Some(s) => parse_cost231_env(s)?,
                };
                Ok(Box::new(Cost231::new(e)))
            }
            _ => Err(Problem::UnknownName),
        }
    }
}

enum Problem {
    UnknownName,
    BadEnv(String, &'static str),
    EnvConflict(String, String),
}

impl Problem {
    fn into_pair(self, field: &str, value: &str) -> (String, String) {
        match self {
            Problem::UnknownName => (
                field.to_string(),
                format!(
                    "unknown model `{value}`; use one of {} (or hata_urban_large, hata_urban_small, hata_suburban, hata_open, cost231_medium_city, cost231_metropolitan)",
                    MODEL_NAMES.join(", ")
                ),
            ),
            Problem::BadEnv(env, accepted) => ("environment".into(), format!("unknown environment `{env}` for `{value}`; use one of {accepted}")),
            Problem::EnvConflict(a, b) => ("environment".into(), format!("`{value}` already selects environment `{a}` but environment = `{b}`; remove one")),
        }
    }
}

fn parse_cost231_env(s: &str) -> Result<Cost231Environment, Problem> {
    match HataEnvironment::parse(s) {
        Some(HataEnvironment::UrbanLarge) => Ok(Cost231Environment::Metropolitan),
        Some(HataEnvironment::UrbanSmall | HataEnvironment::Suburban) => Ok(Cost231Environment::MediumCity),
        _ => Err(Problem::BadEnv(s.to_string(), "medium_city (urban_small, suburban), metropolitan (urban_large); COST-231 has no open-area class")),
    }
}

fn same_env(family: &str, a: &str, b: &str) -> bool {
    match family {
        "hata" => HataEnvironment::parse(a) == HataEnvironment::parse(b),
        "cost231" => {
            matches!((parse_cost231_env(a), parse_cost231_env(b)), (Ok(x), Ok(y)) if x == y)
        }
        _ => a == b,
    }
}

/// Splits `hata_urban_large` into (`hata`, Some(`urban_large`)).
fn split_name(name: &str) -> (&str, Option<&str>) {
    for family in ["hata", "cost231"] {
        if let Some(rest) = name.strip_prefix(family) {
            if let Some(env) = rest.strip_prefix('_') {
                return (family, Some(env));
            }
            if rest.is_empty() {
                return (family, None);
            }
        }
    }
    (name, None)
}

/// Builds the model a config names; all problems are reported in one error.
///
/// ```
/// use planner::coverage::propagation::{build_model, ModelConfig};
/// let m = build_model(&ModelConfig::from_name("hata_suburban")).unwrap();
/// assert_eq!(m.name(), "hata_suburban");
/// ```
pub fn build_model(config: &ModelConfig) -> Result<Box<dyn PropagationModel>, PropagationError> {
    let problems = config.problems();
    if problems.len() == 1 {
        return Err(config_error(
            problems.into_iter().next().expect("one problem"),
        ));
    }
    if !problems.is_empty() {
        let fields: Vec<&str> = problems.iter().map(|p| p.0.as_str()).collect();
        let messages: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", p.0, p.1))
            .collect();
        return Err(PropagationError::Config {
            field: fields.join(", "),
            message: messages.join("; "),
        });
    }
    match config.model.as_str() {
        "terrain" => {
            let base = match &config.base_model {
                None => Box::new(FreeSpace) as Box<dyn PropagationModel>,
                Some(b) => config
                    .empirical(b)
                    .map_err(|e| config_error(e.into_pair("base_model", b)))?,
            };
            let diffraction = DiffractionConfig {
                method: config.diffraction,
                max_edges: config.max_edges,
            };
            let mut m = TerrainModel::new(base, config.k_factor, diffraction)?;
            m.max_terrain_relief_m = config.max_terrain_relief_m;
            Ok(Box::new(m))
        }
        "auto" => Ok(Box::new(super::auto::AutoModel::new(
            config.auto.clone().unwrap_or_default(),
            config.itm.clone().unwrap_or_default(),
            config.k_factor,
            DiffractionConfig {
                method: config.diffraction,
                max_edges: config.max_edges,
            },
        )?)),
        "itm" => {
            let itm = super::itm::Itm::new(config.itm.clone().unwrap_or_default())
                .map_err(|e| config_error(("itm".into(), e.problems.join("; "))))?;
            Ok(Box::new(itm))
        }
        name => config
            .empirical(name)
            .map_err(|e| config_error(e.into_pair("model", name))),
    }
}

fn config_error((field, message): (String, String)) -> PropagationError {
    PropagationError::Config { field, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_every_name() {
        for (name, expected) in [
            ("free_space", "free_space"),
            ("hata", "hata_urban_small"),
            ("hata_urban_large", "hata_urban_large"),
            ("hata_urban_small", "hata_urban_small"),
            ("hata_suburban", "hata_suburban"),
            ("hata_open", "hata_open"),
            ("cost231", "cost231_medium_city"),
            ("cost231_medium_city", "cost231_medium_city"),
            ("cost231_metropolitan", "cost231_metropolitan"),
            ("terrain", "terrain"),
        ] {
            let m = build_model(&ModelConfig::from_name(name)).unwrap();
            assert_eq!(m.name(), expected);
            assert_eq!(m.needs_terrain(), name == "terrain");
        }
    }

    #[test]
    fn parses_toml_strictly() {
        let c: ModelConfig = toml::from_str(
            "model = \"terrain\"\nbase_model = \"hata\"\nenvironment = \"open\"\nk_factor = 1.0\ndiffraction = \"epstein_peterson\"\nmax_edges = 5\n",
        )
        .unwrap();
        assert_eq!(c.diffraction, DiffractionMethod::EpsteinPeterson);
        assert_eq!(c.max_edges, 5);
        let m = build_model(&c).unwrap();
        assert_eq!(m.name(), "terrain");
        let e =
            toml::from_str::<ModelConfig>("model = \"hata\"\nenviroment = \"open\"\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `enviroment`"), "{e}");
        let c: ModelConfig =
            toml::from_str("model = \"cost231\"\nenvironment = \"metropolitan\"\n").unwrap();
        assert_eq!(build_model(&c).unwrap().name(), "cost231_metropolitan");
    }

    #[test]
    fn reports_all_problems_at_once() {
        let c = ModelConfig {
            k_factor: -1.0,
            max_edges: 0,
            ..ModelConfig::from_name("okumura")
        };
        let e = build_model(&c).unwrap_err().to_string();
        assert!(
            e.contains(
                "model: unknown model `okumura`; use one of auto, free_space, hata, cost231, terrain, itm"
            ),
            "{e}"
        );
        assert!(e.contains("k_factor: -1 is invalid"), "{e}");
        assert!(e.contains("max_edges: 0 is invalid"), "{e}");
    }

    #[test]
    fn rejects_bad_environments() {
        let c = ModelConfig {
            environment: Some("open".into()),
            ..ModelConfig::from_name("cost231")
        };
        let e = build_model(&c).unwrap_err().to_string();
        assert!(
            e.contains("unknown environment `open` for `cost231`"),
            "{e}"
        );
        assert!(e.contains("no open-area class"), "{e}");
        let c = ModelConfig {
            environment: Some("suburban".into()),
            ..ModelConfig::from_name("hata_urban_large")
        };
        let e = build_model(&c).unwrap_err().to_string();
        assert!(
            e.contains("already selects environment `urban_large`"),
            "{e}"
        );
        let c = ModelConfig {
            environment: Some("large_city".into()),
            ..ModelConfig::from_name("hata_urban_large")
        };
        assert_eq!(build_model(&c).unwrap().name(), "hata_urban_large");
        let c = ModelConfig {
            base_model: Some("terrain".into()),
            ..ModelConfig::from_name("terrain")
        };
        let e = build_model(&c).unwrap_err().to_string();
        assert!(
            e.contains("base_model: `terrain` is itself terrain-aware"),
            "{e}"
        );
        let c = ModelConfig {
            base_model: Some("hata".into()),
            ..ModelConfig::from_name("hata")
        };
        let e = build_model(&c).unwrap_err().to_string();
        assert!(e.contains("only used with model = \"terrain\""), "{e}");
    }

    #[test]
    fn rejects_itm_table_with_another_model() {
        let c: ModelConfig = toml::from_str(
            "model = \"hata\"\nk_factor = 0.0\n[itm]\nclimate = \"desert\"\nreliability_pct = 90.0\n",
        )
        .unwrap();
        let e = build_model(&c).unwrap_err().to_string();
        assert!(
            e.contains("itm: a [model.itm] table is only used with model = \"itm\" or \"auto\" but model = \"hata\"; set one of them or remove the table"),
            "{e}"
        );
        // Reported together with the other problems, not instead of them.
        assert!(e.contains("k_factor: 0 is invalid"), "{e}");
        let c: ModelConfig =
            toml::from_str("model = \"itm\"\n[itm]\nclimate = \"desert\"\n").unwrap();
        assert_eq!(build_model(&c).unwrap().name(), "itm");
    }

    #[test]
    fn builds_auto_with_its_tables() {
        let c: ModelConfig = toml::from_str(
            "model = \"auto\"\n[itm]\nreliability_pct = 90.0\n[auto]\nenvironment = \"suburban\"\narea_delta_h_m = 30.0\n",
        )
        .unwrap();
        let m = build_model(&c).unwrap();
        assert_eq!(m.name(), "auto");
        assert!(m.uses_terrain() && !m.needs_terrain());
        let c: ModelConfig =
            toml::from_str("model = \"hata\"\n[auto]\nenvironment = \"jungle\"\n").unwrap();
        let e = build_model(&c).unwrap_err().to_string();
        assert!(
            e.contains("[model.auto] table is only used with model = \"auto\""),
            "{e}"
        );
        let c: ModelConfig = toml::from_str(
            "model = \"auto\"\n[auto]\nenvironment = \"jungle\"\narea_delta_h_m = -1\n",
        )
        .unwrap();
        let e = build_model(&c).unwrap_err().to_string();
        assert!(
            e.contains("auto.environment: unknown environment `jungle`"),
            "{e}"
        );
        assert!(e.contains("auto.area_delta_h_m: -1 is invalid"), "{e}");
    }

    #[test]
    fn reports_itm_problems_with_the_others() {
        let c = ModelConfig {
            max_edges: 0,
            itm: Some(crate::coverage::propagation::itm::ItmConfig {
                reliability_pct: 100.0,
                ..Default::default()
            }),
            ..ModelConfig::from_name("itm")
        };
        let e = build_model(&c).unwrap_err().to_string();
        assert!(e.contains("itm: itm.reliability_pct = 100"), "{e}");
        assert!(e.contains("max_edges: 0 is invalid"), "{e}");
    }
}
