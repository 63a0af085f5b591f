//! Coverage planner: propagation models, coverage evaluation over an R-tree, gap analysis,
//! site and broadband planning, and reports.
//!
//! # Data flow
//!
//! ```text
//! inputs → targets → coverage → gaps → plan / broadband / investment → outputs
//! ```
//!
//! [`inputs`] loads and checks the dataset, [`targets`] turns settlements, roads and an optional
//! grid into points to evaluate, [`coverage`] finds the best server per technology at each
//! target, [`gaps`] aggregates what is left without service, [`plan`] picks new sites,
//! [`broadband`] and [`invest`] cost fixed broadband and the programme, [`speeds`] adds measured
//! speeds, and [`render`] writes text, JSON, CSV, GeoJSON, GeoTIFF, GeoPackage, KMZ and HTML.
//!
//! # Layers
//!
//! A module imports only from layers above it in this list (no import cycle between modules):
//!
//! 1. Leaf utilities: [`numbers`] (rounding, numbers in messages), [`geo`] (geodesy, point
//!    index), [`output`] (atomic writes, staged output folders, `OutputError`).
//! 2. Stages, each owning its config section and never importing [`config`]: [`targets`],
//!    [`coverage`], [`gaps`], [`inputs`], [`summary`], [`broadband`], [`plan`] (`[plan]`
//!    settings, candidates, costs, greedy selection), [`invest`], [`speeds`], and [`synth`]
//!    (synthetic countries for tests and benchmarks).
//! 3. [`config`]: the planner config file, composed of the stages' sections; parsing and
//!    validation.
//! 4. Pipelines, running stages under a [`config::PlannerConfig`] and returning data:
//!    [`analyze`] (`planner analyze`), [`link`] (`planner link`), [`planning`]
//!    (`planner plan`), [`report`] (`planner report`).
//! 5. [`render`]: pure rendering of computed results into text and files; nothing of the
//!    computation imports it.
//!
//! The `planner` binary (`src/main.rs`) sits on top: command-line arguments (clap), stdout and
//! exit codes.

// 1. Leaf utilities.
pub mod geo;
pub mod numbers;
pub mod output;

// 2. Stages.
pub mod broadband;
pub mod coverage;
pub mod gaps;
pub mod inputs;
pub mod invest;
pub mod plan;
pub mod speeds;
pub mod summary;
pub mod synth;
pub mod targets;

// 3. Configuration.
pub mod config;

// 4. Pipelines.
pub mod analyze;
pub mod link;
pub mod planning;
pub mod report;

// 5. Rendering.
pub mod render;
