//! Planner configuration file (TOML): inputs, propagation model, link budget, analysis settings
//! and outputs. Parsed strictly (unknown keys rejected), then validated as a whole so every
//! problem is reported at once.
//!
//! ```toml
//! [inputs]
//! embedded = "uzbekistan"        # or a [inputs.sources] table (geodata sources)
//!
//! [model]                        # propagation model (default hata_open), see
//! model = "free_space"           # `planner analyze --help` and propagation::registry
//!
//! [budget]                       # link budget (planner::budget::BudgetConfig)
//! thresholds_dbm = { 2g = -104.0, 3g = -105.0, 4g = -110.0, 5g = -110.0 }
//! rx_height_m = 1.5
//!
//! [analysis]
//! road_step_m = 250.0
//!
//! [outputs]
//! dir = "out"
//! coverage_tiff = false
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::coverage::OutsideDem;

/// Names accepted by `inputs.embedded`.
pub const EMBEDDED_DATASETS: [&str; 1] = ["uzbekistan"];

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlannerConfig {
    #[serde(default)]
    pub inputs: InputsConfig,
    /// Propagation model table, parsed by the model registry.
    #[serde(default)]
    pub model: Option<toml::Value>,
    /// Link-budget table, parsed by the budget module.
    #[serde(default)]
    pub budget: Option<toml::Value>,
    #[serde(default)]
    pub analysis: AnalysisConfig,
    #[serde(default)]
    pub outputs: OutputsConfig,
    /// Site planning table (`[plan]`), parsed by `crate::plan::PlanConfig`.
    #[serde(default)]
    pub plan: Option<toml::Value>,
    /// Fixed-broadband table (`[broadband]`), parsed by `crate::broadband::BroadbandConfig`.
    #[serde(default)]
    pub broadband: Option<toml::Value>,
    /// Investment-summary table (`[invest]`), parsed by `crate::invest::InvestConfig`.
    #[serde(default)]
    pub invest: Option<toml::Value>,
    /// Measured-speeds table (`[speeds]`), parsed by `crate::speeds::SpeedsConfig`.
    #[serde(default)]
    pub speeds: Option<toml::Value>,
}

/// Where the data comes from: an embedded dataset, or the user's files.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InputsConfig {
    /// Name of an embedded dataset (`uzbekistan`).
    pub embedded: Option<String>,
    /// User inputs (geodata sources table: paths and attribute mapping); relative paths are
    /// resolved against the config file's folder.
    pub sources: Option<toml::Value>,
}

/// Settings of the coverage and gap analysis.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AnalysisConfig {
    /// Spacing of road sample points, metres (each piece is judged at its midpoint).
    pub road_step_m: f64,
    /// Upper bound on any site's useful range, metres.
    pub max_range_m: f64,
    /// Terrain-profile sample spacing, metres (default: the DEM cell size).
    pub profile_step_m: Option<f64>,
    /// Targets outside the DEM with a terrain model: `error` (default) or `skip` (counted).
    pub outside_dem: OutsideDem,
    /// Optional coverage grid.
    pub grid: Option<GridConfig>,
    /// Worker threads (default: all cores).
    pub threads: Option<usize>,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            road_step_m: 250.0,
            max_range_m: 60_000.0,
            profile_step_m: None,
            outside_dem: OutsideDem::Error,
            grid: None,
            threads: None,
        }
    }
}

/// A regular grid of targets written as a coverage GeoTIFF.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GridConfig {
    /// `[west, south, east, north]`, degrees; default: the dataset's regions' extent.
    pub bbox: Option<[f64; 4]>,
    /// Cell size, metres.
    pub resolution_m: f64,
}

/// What to write.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OutputsConfig {
    /// Output folder (overridden by `--out`); relative to the config file's folder.
    pub dir: Option<PathBuf>,
    pub csv: bool,
    pub geojson: bool,
    /// Write coverage.tif (needs `analysis.grid`).
    pub coverage_tiff: bool,
}

impl Default for OutputsConfig {
    fn default() -> Self {
        OutputsConfig {
            dir: None,
            csv: true,
            geojson: true,
            coverage_tiff: false,
        }
    }
}

/// A configuration file that could not be used; lists every problem found.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path} is not valid TOML for the planner: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config {path} has {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

impl PlannerConfig {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<PlannerConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates config text; `path` names it in messages and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<PlannerConfig, ConfigError> {
        let mut cfg: PlannerConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let problems = cfg.problems();
        if !problems.is_empty() {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                problems,
            });
        }
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(d) = &cfg.outputs.dir {
            if d.is_relative() {
                cfg.outputs.dir = Some(base.join(d));
            }
        }
        Ok(cfg)
    }

    /// Every rule that spans fields or values, checked at once.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        match (&self.inputs.embedded, &self.inputs.sources) {
            (Some(_), Some(_)) => p.push(
                "inputs: set either `embedded` or a `[inputs.sources]` table, not both".to_string(),
            ),
            (Some(name), None) if !EMBEDDED_DATASETS.contains(&name.as_str()) => p.push(format!(
                "inputs.embedded = \"{name}\" is not an embedded dataset; choose one of: {}",
                EMBEDDED_DATASETS.join(", ")
            )),
            _ => {}
        }
        if let Some(src) = &self.inputs.sources {
            if let Err(e) = crate::analyze::sources_from_config(src) {
                p.push(format!("inputs.sources: {e:#}"));
            }
        }
        if let Err(e) = crate::speeds::SpeedsConfig::from_toml(self.speeds.as_ref()) {
            p.extend(e);
        }
        let a = &self.analysis;
        if !(a.road_step_m.is_finite() && a.road_step_m >= 1.0 && a.road_step_m <= 1000.0) {
            p.push(format!(
                "analysis.road_step_m = {} must be between 1 and 1000 metres (default 250)",
                a.road_step_m
            ));
        }
        if !(a.max_range_m.is_finite() && a.max_range_m > 0.0 && a.max_range_m <= 500_000.0) {
            p.push(format!(
                "analysis.max_range_m = {} must be above 0 and at most 500000 metres",
                a.max_range_m
            ));
        }
        if let Some(s) = a.profile_step_m {
            if !(s.is_finite() && s >= 1.0) {
                p.push(format!(
                    "analysis.profile_step_m = {s} must be at least 1 metre"
                ));
            }
        }
        if a.threads == Some(0) {
            p.push("analysis.threads = 0: give a positive number of threads or leave it out for all cores".to_string());
        }
        if let Some(g) = &a.grid {
            if !(g.resolution_m.is_finite() && g.resolution_m >= 1.0) {
                p.push(format!(
                    "analysis.grid.resolution_m = {} must be at least 1 metre",
                    g.resolution_m
                ));
            }
            if let Some(b) = g.bbox {
                if let Err(e) = crate::coverage::GridSpec::new(b, g.resolution_m.max(1.0)) {
                    p.push(format!("analysis.grid: {e}"));
                }
            }
        }
        if self.outputs.coverage_tiff && a.grid.is_none() {
            p.push("outputs.coverage_tiff = true needs an [analysis.grid] table (resolution_m, optional bbox)".to_string());
        }
        if let Err(e) = crate::analyze::model_from_config(self.model.as_ref(), None) {
            p.push(format!("model: {e:#}"));
        }
        if let Err(e) = crate::analyze::budget_from_config(self.budget.as_ref(), a) {
            p.push(format!("budget: {e:#}"));
        }
        p.extend(crate::plan::config_problems(self));
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        match PlannerConfig::parse(text, Path::new("test.toml")) {
            Ok(_) => Vec::new(),
            Err(ConfigError::Invalid { problems, .. }) => problems,
            Err(e) => vec![e.to_string()],
        }
    }

    #[test]
    fn empty_config_is_the_embedded_default() {
        let c = PlannerConfig::parse("", Path::new("x.toml")).unwrap();
        assert_eq!(c.analysis.road_step_m, 250.0);
        assert!(c.inputs.embedded.is_none() && c.inputs.sources.is_none());
    }

    #[test]
    fn unknown_key_is_rejected_with_its_name() {
        let p = problems("[analysis]\nroad_stepm = 100\n");
        assert_eq!(p.len(), 1);
        assert!(p[0].contains("unknown field `road_stepm`"), "{p:?}");
        assert!(p[0].contains("test.toml"), "{p:?}");
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let p = problems(
            "[inputs]\nembedded = \"atlantis\"\n[budget]\nrx_height_m = -1\n[analysis]\nroad_step_m = 0\nmax_range_m = 1e9\nthreads = 0\n\
             [outputs]\ncoverage_tiff = true\n",
        );
        assert_eq!(p.len(), 6, "{p:#?}");
        assert!(p[0].contains(
            "inputs.embedded = \"atlantis\" is not an embedded dataset; choose one of: uzbekistan"
        ));
        assert!(p[1].contains("analysis.road_step_m = 0 must be between 1 and 1000 metres"));
        assert!(p[2].contains(
            "analysis.max_range_m = 1000000000 must be above 0 and at most 500000 metres"
        ));
        assert!(p[3].contains("analysis.threads = 0"));
        assert!(p[4].contains("outputs.coverage_tiff = true needs an [analysis.grid] table"));
        assert!(
            p[5].starts_with("budget: ")
                && p[5].contains("rx_height_m = -1: must be in (0, 1000] metres"),
            "{}",
            p[5]
        );
    }

    #[test]
    fn both_inputs_rejected() {
        let p = problems("[inputs]\nembedded = \"uzbekistan\"\n[inputs.sources]\n");
        assert_eq!(
            p,
            vec![
                "inputs: set either `embedded` or a `[inputs.sources]` table, not both".to_string()
            ]
        );
    }

    #[test]
    fn bad_grid_rejected() {
        let p = problems("[analysis.grid]\nbbox = [70.0, 40.0, 69.0, 41.0]\nresolution_m = 500\n");
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("analysis.grid: grid bbox [70.0, 40.0, 69.0, 41.0] must be [west, south, east, north]"), "{p:?}");
    }

    #[test]
    fn example_configs_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/planner");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "toml") {
                if let Err(e) = PlannerConfig::load(&path) {
                    panic!("{e}");
                }
                n += 1;
            }
        }
        assert!(n >= 2, "expected example configs in {}", dir.display());
    }
}
