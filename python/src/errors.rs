//! Python exceptions for the planner's errors, one class per CLI exit code, each carrying the
//! message the CLI prints after `error: ` (the whole cause chain, `{:#}`).

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    coverage_planner._native,
    PlannerError,
    PyException,
    "Any error of the planner; `exit_code` is the code the `planner` CLI exits with."
);
create_exception!(
    coverage_planner._native,
    ConfigError,
    PlannerError,
    "A configuration, usage or input-data problem (CLI exit code 2)."
);
create_exception!(
    coverage_planner._native,
    OutputError,
    PlannerError,
    "An output file could not be written (CLI exit code 3)."
);
create_exception!(
    coverage_planner._native,
    SpeedsError,
    PlannerError,
    "Measured speeds could not be read from Prometheus (CLI exit code 4)."
);

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("PlannerError", py.get_type::<PlannerError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("OutputError", py.get_type::<OutputError>())?;
    m.add("SpeedsError", py.get_type::<SpeedsError>())?;
    Ok(())
}

/// Maps an error to the exception of the CLI exit code it would cause.
pub fn to_py(e: anyhow::Error) -> PyErr {
    let msg = format!("{e:#}");
    if e.is::<planner::output::OutputError>() {
        OutputError::new_err(msg)
    } else if e.is::<planner::speeds::SpeedsError>() {
        SpeedsError::new_err(msg)
    } else {
        ConfigError::new_err(msg)
    }
}

/// A usage error (bad argument), raised like the CLI's exit-code-2 errors.
pub fn usage(msg: impl Into<String>) -> PyErr {
    ConfigError::new_err(msg.into())
}
