//! Coverage stage: link budgets, antenna patterns and path-loss models, and the engine that
//! evaluates every target against the sites in range.
//!
//! Data flow: [`budget`] turns a `[budget]` table into EIRP, thresholds and offsets;
//! [`antenna`] gives each cell's gain towards a target; [`propagation`] gives the path loss;
//! [`engine::Engine`] combines them into the best server per technology at each target.

pub mod antenna;
pub mod budget;
pub mod engine;
pub mod propagation;

pub use engine::*;
