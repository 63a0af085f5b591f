//! Coverage planner: propagation models, coverage evaluation over an R-tree, gap analysis,
//! site and broadband planning, and reports.

pub mod geo;
pub mod propagation;
pub mod antenna;
pub mod budget;
pub mod link;
pub mod analyze;
pub mod config;
pub mod coverage;
pub mod gaps;
pub mod output;
pub mod summary;
pub mod synth;
pub mod plan;
pub mod broadband;
pub mod invest;
