//! Coverage planner: propagation models, coverage evaluation over an R-tree, gap analysis,
//! site and broadband planning, and reports.

pub mod geo;
pub mod propagation;
