//! `coverage_planner._native`: the planner library as a CPython extension module.
//!
//! The bindings stay thin: Python hands over plain columns (numbers as little-endian `f64`
//! buffers, text as lists) and gets columns back; GeoPandas, Shapely and Dask live in the pure
//! Python package around this module (`python/coverage_planner`). Every error is raised as a
//! Python exception carrying the message the `planner` CLI prints for the same problem.

use pyo3::prelude::*;

mod columns;
mod coverage;
mod errors;
mod link;
mod session;
mod state;

/// The package version (the workspace version).
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Propagation model names accepted by `model=` (besides the compound names such as
/// `hata_open` or `cost231_metropolitan`).
#[pyfunction]
fn model_names() -> Vec<&'static str> {
    planner::coverage::propagation::registry::MODEL_NAMES.to_vec()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(model_names, m)?)?;
    errors::register(m)?;
    m.add_class::<session::Session>()?;
    m.add_class::<session::AnalysisResult>()?;
    m.add_class::<coverage::Coverage>()?;
    m.add_class::<coverage::SiteSet>()?;
    Ok(())
}
