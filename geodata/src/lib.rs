//! Domain model, readers, validation and the embedded default dataset for the coverage planner.
//!
//! Everything is WGS84 lon/lat degrees; distances in metres.

pub mod dataset;
pub mod dem;
pub mod error;
pub mod model;

pub use dataset::Dataset;
pub use dem::{Dem, Profile};
pub use error::GeodataError;
pub use model::*;
