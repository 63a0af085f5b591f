//! Planner configuration file (TOML), typed: one struct per section, parsed once, validated as
//! a whole (syntax errors, unknown keys, wrong types and values that break a rule are all listed
//! in one run, each with its line), then passed by reference to every stage.
//!
//! Each stage owns the type of its section ([`ModelConfig`] the propagation registry,
//! [`BudgetConfig`] the link budget, [`PlanConfig`] site planning, …); this module puts them
//! together and checks the rules that span sections. Untyped TOML is handled only in
//! [`parse`](self::parse).
//!
//! ```toml
//! [inputs]
//! embedded = "uzbekistan"        # or a [inputs.sources] table (geodata sources)
//!
//! [model]                        # propagation model (default auto), see
//! model = "free_space"           # `planner analyze --help` and propagation::registry
//!
//! [budget]                       # link budget (planner::coverage::budget::BudgetConfig)
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

mod parse;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::broadband::BroadbandConfig;
use crate::coverage::budget::BudgetConfig;
use crate::coverage::propagation::registry::{build_model, ModelConfig};
use crate::coverage::OutsideDem;
use crate::invest::InvestConfig;
use crate::plan::PlanConfig;
use crate::speeds::SpeedsConfig;

pub use crate::inputs::{InputsConfig, EMBEDDED_DATASETS};

/// Model used when the config has no `[model]` table and no `--model` is given: `auto`, which
/// serves every link with a model valid for it (ITM over the DEM where one covers the path,
/// Hata / COST-231 only inside their fitted ranges, see `coverage::propagation::auto`).
pub const DEFAULT_MODEL: &str = "auto";

/// The sections of a config file, in the order they are documented.
pub const SECTIONS: [&str; 9] = [
    "inputs",
    "model",
    "budget",
    "analysis",
    "outputs",
    "plan",
    "broadband",
    "invest",
    "speeds",
];

/// The whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannerConfig {
    pub inputs: InputsConfig,
    /// Propagation model (`[model]`).
    pub model: ModelConfig,
    /// Link budget (`[budget]`).
    pub budget: BudgetConfig,
    pub analysis: AnalysisConfig,
    pub outputs: OutputsConfig,
    /// Site planning (`[plan]`).
    pub plan: PlanConfig,
    /// Fixed broadband (`[broadband]`).
    pub broadband: BroadbandConfig,
    /// Investment summary (`[invest]`).
    pub invest: InvestConfig,
    /// Measured speeds from Prometheus (`[speeds]`).
    pub speeds: SpeedsConfig,
    /// Folder of the config file; relative paths in the config are resolved against it.
    pub base_dir: PathBuf,
}

impl Default for PlannerConfig {
    /// The embedded dataset with every default (what `planner analyze` without `--config` uses).
    fn default() -> Self {
        PlannerConfig {
            inputs: InputsConfig::default(),
            model: default_model(),
            budget: BudgetConfig::default(),
            analysis: AnalysisConfig::default(),
            outputs: OutputsConfig::default(),
            plan: PlanConfig::default(),
            broadband: BroadbandConfig::default(),
            invest: InvestConfig::default(),
            speeds: SpeedsConfig::default(),
            base_dir: PathBuf::from("."),
        }
    }
}

fn default_model() -> ModelConfig {
    ModelConfig::from_name(DEFAULT_MODEL)
}

/// Settings of the coverage and gap analysis.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GridConfig {
    /// `[west, south, east, north]`, degrees; default: the dataset's regions' extent.
    pub bbox: Option<[f64; 4]>,
    /// Cell size, metres.
    pub resolution_m: f64,
}

/// What to write.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigProblem {
    /// 1-based line of the key (or syntax error) in the file, when it is in the file.
    pub line: Option<usize>,
    /// Dotted key path (`analysis.road_step_m`, `plan.site.cells[0].technology`), when known.
    pub key: Option<String>,
    /// What is wrong and what to give instead.
    pub message: String,
}

/// A configuration file that could not be used; lists every problem found.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {}: {source} — check the path", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", InvalidDisplay(path, problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<ConfigProblem>,
    },
}

struct InvalidDisplay<'a>(&'a Path, &'a [ConfigProblem]);

impl fmt::Display for InvalidDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.0.display();
        write!(f, "config {path} has {} problem(s):", self.1.len())?;
        for p in self.1 {
            match p.line {
                Some(l) => write!(f, "\n  - {path}:{l}: {}", p.message)?,
                None => write!(f, "\n  - {path}: {}", p.message)?,
            }
        }
        Ok(())
    }
}

impl ConfigError {
    /// The problems (a read failure is one problem without a line).
    pub fn problems(&self) -> Vec<ConfigProblem> {
        match self {
            ConfigError::Read { .. } => vec![ConfigProblem {
                line: None,
                key: None,
                message: self.to_string(),
            }],
            ConfigError::Invalid { problems, .. } => problems.clone(),
        }
    }
}

/// The dotted key a problem message starts with (`plan.budget = -5 must …` → `plan.budget`).
fn leading_key(message: &str) -> &str {
    let end = message
        .find(|c: char| c.is_whitespace() || c == ':' || c == '=')
        .unwrap_or(message.len());
    &message[..end]
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
        let mut doc = parse::Document::parse(text);
        let mut cfg = PlannerConfig {
            inputs: doc.section("inputs", InputsConfig::default),
            model: doc.section("model", default_model),
            budget: doc.section("budget", BudgetConfig::default),
            analysis: doc.section("analysis", AnalysisConfig::default),
            outputs: doc.section("outputs", OutputsConfig::default),
            plan: doc.section("plan", PlanConfig::default),
            broadband: doc.section("broadband", BroadbandConfig::default),
            invest: doc.section("invest", InvestConfig::default),
            speeds: doc.section("speeds", SpeedsConfig::default),
            base_dir: path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
        };
        doc.reject_rest(&SECTIONS);
        let mut problems = std::mem::take(&mut doc.problems);
        let rules = if doc.syntax_errors {
            // Cross-section rules would judge a section that could not be read by its defaults.
            cfg.section_problems()
        } else {
            cfg.problems()
        };
        for message in rules {
            let key = leading_key(&message);
            problems.push(ConfigProblem {
                line: doc.line_of_key(key),
                key: (!key.is_empty()).then(|| key.to_string()),
                message,
            });
        }
        // In file order, so the list reads top to bottom like the file; rules without a line
        // (defaults that conflict) last.
        problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
        if !problems.is_empty() {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                problems,
            });
        }
        if let Some(d) = &cfg.outputs.dir {
            if d.is_relative() {
                cfg.outputs.dir = Some(cfg.base_dir.join(d));
            }
        }
        Ok(cfg)
    }

    /// Every rule of the whole config (each section's, then those spanning sections).
    pub fn problems(&self) -> Vec<String> {
        let mut p = self.section_problems();
        if self.inputs.embedded.is_some() && self.inputs.sources.is_some() {
            p.push(
                "inputs: set either `embedded` or a `[inputs.sources]` table, not both".to_string(),
            );
        }
        if self.outputs.coverage_tiff && self.analysis.grid.is_none() {
            p.push("outputs.coverage_tiff = true needs an [analysis.grid] table (resolution_m, optional bbox)".to_string());
        }
        p
    }

    /// Rules of single sections, each message starting with the key it is about.
    fn section_problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if let Some(name) = &self.inputs.embedded {
            if !EMBEDDED_DATASETS.contains(&name.as_str()) {
                p.push(format!(
                    "inputs.embedded = \"{name}\" is not an embedded dataset; choose one of: {}",
                    EMBEDDED_DATASETS.join(", ")
                ));
            }
        }
        let model = self.model.problems();
        if model.is_empty() {
            if let Err(e) = build_model(&self.model) {
                p.push(format!("model: {e}"));
            }
        }
        p.extend(
            model
                .into_iter()
                .map(|(field, message)| format!("model.{field}: {message}")),
        );
        if let Err(e) = self.budget.validate() {
            p.extend(e.problems.iter().map(|m| format!("budget.{m}")));
        }
        p.extend(analysis_problems(&self.analysis));
        p.extend(self.plan.problems());
        p.extend(self.broadband.problems());
        p.extend(self.invest.problems());
        p.extend(self.speeds.problems());
        p
    }

    /// Switches the model to `name` (`--model`); see [`model_named`].
    pub fn override_model(&mut self, name: &str) {
        self.model = model_named(&self.model, name);
    }
}

/// `configured` switched to the model `name`, keeping the settings that still apply (k-factor,
/// diffraction, and the `[model.itm]` options when switching to ITM), so a planner's
/// configured ITM reliability or climate is never silently replaced.
pub fn model_named(configured: &ModelConfig, name: &str) -> ModelConfig {
    let name = name.trim();
    if configured.model == name {
        return configured.clone();
    }
    ModelConfig {
        model: name.to_string(),
        environment: None,
        base_model: None,
        itm: if name == "itm" || name == "auto" {
            configured.itm.clone()
        } else {
            None
        },
        auto: if name == "auto" {
            configured.auto.clone()
        } else {
            None
        },
        ..configured.clone()
    }
}

fn analysis_problems(a: &AnalysisConfig) -> Vec<String> {
    let mut p = Vec::new();
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
        p.push(
            "analysis.threads = 0: give a positive number of threads or leave it out for all cores"
                .to_string(),
        );
    }
    if let Some(g) = &a.grid {
        if !(g.resolution_m.is_finite() && g.resolution_m >= 1.0) {
            p.push(format!(
                "analysis.grid.resolution_m = {} must be at least 1 metre",
                g.resolution_m
            ));
        }
        if let Some(b) = g.bbox {
            if let Err(e) = crate::targets::GridSpec::new(b, g.resolution_m.max(1.0)) {
                p.push(format!("analysis.grid.bbox: {e}"));
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<ConfigProblem> {
        match PlannerConfig::parse(text, Path::new("test.toml")) {
            Ok(_) => Vec::new(),
            Err(ConfigError::Invalid { problems, .. }) => problems,
            Err(e) => panic!("{e}"),
        }
    }

    fn messages(text: &str) -> Vec<String> {
        problems(text).into_iter().map(|p| p.message).collect()
    }

    #[test]
    fn empty_config_is_the_embedded_default() {
        let c = PlannerConfig::parse("", Path::new("x.toml")).unwrap();
        assert_eq!(c, PlannerConfig::default());
        assert_eq!(c.model.model, DEFAULT_MODEL);
    }

    #[test]
    fn unknown_key_is_rejected_with_its_name_and_line() {
        let p = problems("[analysis]\nroad_stepm = 100\n");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].line, Some(2));
        assert_eq!(p[0].key.as_deref(), Some("analysis.road_stepm"));
        assert!(
            p[0].message
                .starts_with("analysis.road_stepm: unknown field `road_stepm`, expected one of"),
            "{p:?}"
        );
        let e = PlannerConfig::parse("[analysis]\nroad_stepm = 100\n", Path::new("test.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("config test.toml has 1 problem(s):\n  - test.toml:2: analysis.road_stepm: unknown field"), "{e}");
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let p = messages(
            "[inputs]\nembedded = \"atlantis\"\n[budget]\nrx_height_m = -1\n[analysis]\nroad_step_m = 0\nmax_range_m = 1e9\nthreads = 0\n\
             [outputs]\ncoverage_tiff = true\n",
        );
        assert_eq!(p.len(), 6, "{p:#?}");
        assert!(p[0].starts_with(
            "inputs.embedded = \"atlantis\" is not an embedded dataset; choose one of: uzbekistan"
        ));
        assert!(
            p[1].starts_with("budget.rx_height_m = -1: must be in (0, 1000] metres"),
            "{}",
            p[1]
        );
        assert!(p[2].contains("analysis.road_step_m = 0 must be between 1 and 1000 metres"));
        assert!(p[3].contains(
            "analysis.max_range_m = 1000000000 must be above 0 and at most 500000 metres"
        ));
        assert!(p[4].contains("analysis.threads = 0"));
        assert!(p[5].contains("outputs.coverage_tiff = true needs an [analysis.grid] table"));
    }

    // Regression: an unknown key used to be the only problem reported, hiding every other one.
    #[test]
    fn an_unknown_key_hides_nothing() {
        let p = problems(
            "[analysis]\nroad_stepm = 100\nmax_range_m = -1\n[budget]\nrx_height_m = 0\n[plan]\nrank = \"cheapest\"\nbudget = -5.0\n[bogus]\nx = 1\n",
        );
        let m: Vec<(Option<usize>, &str)> =
            p.iter().map(|p| (p.line, p.message.as_str())).collect();
        assert_eq!(m.len(), 6, "{m:#?}");
        assert_eq!(m[0].0, Some(2));
        assert!(m[0].1.contains("unknown field `road_stepm`"));
        assert_eq!(m[1].0, Some(3));
        assert!(m[1]
            .1
            .starts_with("analysis.max_range_m = -1 must be above 0"));
        assert_eq!(m[2].0, Some(5));
        assert!(m[2]
            .1
            .starts_with("budget.rx_height_m = 0: must be in (0, 1000]"));
        assert_eq!(m[3].0, Some(7));
        assert!(m[3].1.starts_with(
            "plan.rank: unknown variant `cheapest`, expected `gain` or `gain_per_cost`"
        ));
        assert_eq!(m[4].0, Some(8));
        assert!(m[4]
            .1
            .starts_with("plan.budget = -5 must be a positive amount"));
        assert_eq!(m[5].0, Some(9));
        assert!(m[5]
            .1
            .starts_with("unknown section [bogus]; the sections are inputs, model"));
    }

    #[test]
    fn a_syntax_error_is_listed_with_the_other_problems() {
        let p =
            problems("[analysis]\nroad_step_m = 0\n[outputs]\ncsv = tru\n[plan]\nbudget = -1.0\n");
        let m: Vec<(Option<usize>, &str)> =
            p.iter().map(|p| (p.line, p.message.as_str())).collect();
        assert_eq!(m.len(), 3, "{m:#?}");
        assert_eq!(m[0].0, Some(2));
        assert!(m[0]
            .1
            .starts_with("analysis.road_step_m = 0 must be between"));
        assert_eq!(m[1].0, Some(4));
        assert!(
            m[1].1.starts_with("TOML syntax error at column 7"),
            "{}",
            m[1].1
        );
        assert_eq!(m[2].0, Some(6));
        assert!(m[2]
            .1
            .starts_with("plan.budget = -1 must be a positive amount"));
    }

    #[test]
    fn wrong_types_name_the_key() {
        let p = problems("[analysis]\nroad_step_m = \"fast\"\n[plan.site]\ncells = [{ technology = \"4g\", band_mhz = 800.0, eirp_dbm = 61.0 }, { technology = \"6g\", band_mhz = 1.0, eirp_dbm = 1.0 }]\n");
        assert_eq!(p.len(), 2, "{p:#?}");
        assert_eq!(p[0].line, Some(2));
        assert!(p[0]
            .message
            .starts_with("analysis.road_step_m: invalid type: string \"fast\", expected f64"));
        assert_eq!(p[1].line, Some(4));
        assert!(p[1]
            .message
            .starts_with("plan.site.cells[1].technology = `6g` is not 2g, 3g, 4g or 5g"));
    }

    #[test]
    fn both_inputs_rejected() {
        let p = messages("[inputs]\nembedded = \"uzbekistan\"\n[inputs.sources]\n");
        assert_eq!(
            p,
            vec![
                "inputs: set either `embedded` or a `[inputs.sources]` table, not both".to_string()
            ]
        );
    }

    #[test]
    fn sources_are_typed_and_strict() {
        let p = problems("[inputs.sources]\nsettlements = { path = \"s.csv\", mapping = { populaton = \"pop\" } }\n");
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_eq!(p[0].line, Some(2));
        assert!(
            p[0].message.starts_with(
                "inputs.sources.settlements.mapping.populaton: unknown field `populaton`"
            ),
            "{p:?}"
        );
        let c = PlannerConfig::parse(
            "[inputs.sources]\nsettlements = { path = \"s.csv\" }\n",
            Path::new("d/x.toml"),
        )
        .unwrap();
        let s = c.inputs.sources.unwrap();
        assert_eq!(s.settlements.unwrap().path, Path::new("s.csv"));
        assert_eq!(c.base_dir, Path::new("d"));
    }

    #[test]
    fn bad_grid_rejected() {
        let p = messages("[analysis.grid]\nbbox = [70.0, 40.0, 69.0, 41.0]\nresolution_m = 500\n");
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("analysis.grid.bbox: grid bbox [70.0, 40.0, 69.0, 41.0] must be [west, south, east, north]"), "{p:?}");
    }

    #[test]
    fn model_override_keeps_the_configured_itm_options() {
        // Regression: `--model itm` used to rebuild the config from the name alone, so the
        // configured [model.itm] reliability was silently replaced by the default.
        let mut c = PlannerConfig::parse(
            "[model]\nmodel = \"itm\"\n[model.itm]\nreliability_pct = 90.0\n",
            Path::new("m.toml"),
        )
        .unwrap();
        let configured = c.model.clone();
        c.override_model("itm");
        assert_eq!(c.model, configured);
        c.override_model("free_space");
        assert_eq!(c.model.model, "free_space");
        assert!(
            c.model.itm.is_none(),
            "switching away from ITM drops its table"
        );
        assert!(c.problems().is_empty());
        let mut c = PlannerConfig::parse(
            "[model]\nmodel = \"hata_open\"\nk_factor = 1.2\n",
            Path::new("m.toml"),
        )
        .unwrap();
        c.override_model("terrain");
        assert_eq!(c.model.k_factor, 1.2);
        assert_eq!(build_model(&c.model).unwrap().name(), "terrain");
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
