//! Error types of the geodata crate.
//!
//! CONTRACT placeholder: the geodata work replaces this with the full error design (per-feature
//! problems collected into one report).

/// Anything that can go wrong reading or validating geodata.
#[derive(Debug, thiserror::Error)]
pub enum GeodataError {
    #[error("{0}")]
    Other(String),
}
