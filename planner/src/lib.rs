//! Coverage planner: propagation models, coverage evaluation over an R-tree, gap analysis,
//! site and broadband planning, and reports.

pub mod propagation;
