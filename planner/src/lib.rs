//! Coverage planner: propagation models, coverage evaluation over an R-tree, gap analysis,
//! site and broadband planning, and reports.

pub mod analyze;
pub mod broadband;
pub mod config;
pub mod coverage;
pub mod gaps;
pub mod geo;
pub mod inputs;
pub mod invest;
pub mod link;
pub mod numbers;
pub mod output;
pub mod plan;
pub mod render;
pub mod report;
pub mod speeds;
pub mod summary;
pub mod synth;
pub mod targets;
