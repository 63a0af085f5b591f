//! `planner link` from Python: the same report, as the JSON `planner link --json` prints.

use std::path::PathBuf;

use planner::coverage::propagation::diffraction::DiffractionMethod;
use planner::link::LatLon;
use pyo3::prelude::*;

use crate::errors;

/// The arguments of one link report (the CLI's flags).
pub struct LinkRequest {
    pub freq_mhz: f64,
    /// Transmitter `(lat, lon)`, degrees.
    pub from_lat_lon: Option<(f64, f64)>,
    /// Receiver `(lat, lon)`, degrees.
    pub to_lat_lon: Option<(f64, f64)>,
    pub profile: Option<PathBuf>,
    pub tx_height_m: f64,
    pub rx_height_m: f64,
    pub eirp_dbm: f64,
    pub models: Vec<String>,
    pub k_factor: Option<f64>,
    pub diffraction: String,
    pub step_m: f64,
}

fn lat_lon(flag: &str, v: (f64, f64)) -> PyResult<LatLon> {
    planner::link::parse_lat_lon(&format!("{},{}", v.0, v.1)).map_err(|e| {
        errors::usage(format!(
            "invalid value '{},{}' for '{flag} <LAT,LON>': {e}",
            v.0, v.1
        ))
    })
}

/// Runs the report over `dem` (coordinates) or the profile CSV; returns its JSON.
pub fn run(py: Python<'_>, dem: Option<&geodata::Dem>, r: LinkRequest) -> PyResult<String> {
    let mut req = planner::link::LinkRequest::new(r.freq_mhz);
    match (&r.profile, r.from_lat_lon, r.to_lat_lon) {
        (Some(_), None, None) | (None, Some(_), Some(_)) => {}
        _ => {
            return Err(errors::usage(
                "give either from_lat_lon and to_lat_lon (over the DEM) or a profile CSV",
            ))
        }
    }
    req.from = r.from_lat_lon.map(|v| lat_lon("--from", v)).transpose()?;
    req.to = r.to_lat_lon.map(|v| lat_lon("--to", v)).transpose()?;
    req.profile = r.profile;
    req.tx_height_m = r.tx_height_m;
    req.rx_height_m = r.rx_height_m;
    req.budget.rx_height_m = r.rx_height_m;
    req.eirp_dbm = r.eirp_dbm;
    req.models = r.models;
    if let Some(k) = r.k_factor {
        req.model.k_factor = k;
    }
    req.model.diffraction = DiffractionMethod::parse(&r.diffraction).ok_or_else(|| {
        errors::usage(format!(
            "invalid value '{}' for '--diffraction': use deygout, epstein_peterson or single_edge",
            r.diffraction
        ))
    })?;
    req.step_m = r.step_m;
    let report = py
        .detach(|| planner::link::run(&req, dem))
        .map_err(errors::to_py)?;
    Ok(planner::render::link::render(&report, true))
}
