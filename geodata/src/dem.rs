//! Digital elevation model: an in-memory raster with bilinear sampling and terrain profiles.
//!
//! CONTRACT (signatures other crates build against; implementation owned by the geodata work):

use crate::error::GeodataError;

/// A terrain profile sampled at uniform spacing along the geodesic from `from` to `to`.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Spacing between consecutive samples, metres (last interval equal to the others).
    pub step_m: f64,
    /// Geodesic length of the path, metres.
    pub distance_m: f64,
    /// Terrain elevation above sea level at each sample, metres; first = `from`, last = `to`.
    pub elevations_m: Vec<f64>,
}

/// A north-up elevation raster in WGS84 lon/lat, held in memory as `f32` metres.
#[derive(Debug, Clone)]
pub struct Dem {
    /// Longitude of the west edge of the first column, degrees.
    pub west_deg: f64,
    /// Latitude of the north edge of the first row, degrees.
    pub north_deg: f64,
    /// Cell width, degrees of longitude.
    pub dlon_deg: f64,
    /// Cell height, degrees of latitude (positive; rows go south).
    pub dlat_deg: f64,
    pub cols: usize,
    pub rows: usize,
    /// Row-major elevations in metres; `NaN` where the source has no data.
    pub data_m: Vec<f32>,
    /// Where the raster came from (file path or `embedded:…`), for error messages.
    pub source: String,
}

impl Dem {
    /// Bilinear elevation in metres at a point; `None` outside the raster or on no-data cells.
    pub fn elevation_m(&self, lon: f64, lat: f64) -> Option<f64> {
        let _ = (lon, lat);
        unimplemented!("geodata: Dem::elevation_m")
    }

    /// Profile from `from` to `to` (lon, lat degrees) with samples at most `step_m` apart.
    /// Errors (never a sea-level default) when any sample falls outside the raster or on no-data.
    pub fn profile(&self, from: (f64, f64), to: (f64, f64), step_m: f64) -> Result<Profile, GeodataError> {
        let _ = (from, to, step_m);
        unimplemented!("geodata: Dem::profile")
    }

    /// Allocation-free variant for hot loops: fills `out` (cleared first) with exactly
    /// `n_points` (≥ 2) evenly spaced samples and returns the geodesic path length in metres.
    pub fn profile_into(&self, from: (f64, f64), to: (f64, f64), n_points: usize, out: &mut Vec<f64>) -> Result<f64, GeodataError> {
        let _ = (from, to, n_points, out);
        unimplemented!("geodata: Dem::profile_into")
    }
}
