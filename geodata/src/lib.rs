//! Domain model, readers, validation and the embedded default dataset for the coverage planner.
//!
//! Everything is WGS84 lon/lat degrees; distances in metres.
//!
//! Layers (a module imports only from those before it): [`error`] and [`model`] →
//! [`mapping`], [`routes`], [`dem`] → [`dataset`] → [`validate`](mod@validate) → [`read`]
//! (format readers: files to raw features) → [`layers`] (raw features to the model) →
//! [`sources`] (configured files) and [`embedded`] (the default dataset).

pub mod dataset;
pub mod dem;
pub mod embedded;
pub mod error;
pub mod layers;
pub mod mapping;
pub mod model;
pub mod read;
pub mod routes;
pub mod sources;
pub mod validate;

pub use dataset::Dataset;
pub use dem::{Dem, Profile};
pub use error::{GeodataError, Location, Problem, Problems, Warning};
pub use model::*;
pub use sources::Sources;
pub use validate::validate;

use geo::{Geodesic, Length};
use geo_types::LineString;

/// Geodesic length of a lon/lat polyline on the WGS84 ellipsoid.
///
/// # Units
/// Lon/lat degrees in, metres out.
///
/// ```
/// use geo_types::line_string;
/// // One degree of longitude on the equator is 111,319.49 m on WGS84.
/// let l = line_string![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0)];
/// assert!((geodata::line_length_m(&l) - 111_319.49).abs() < 0.01);
/// ```
pub fn line_length_m(line: &LineString<f64>) -> f64 {
    Geodesic.length(line)
}
