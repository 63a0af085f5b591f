//! Digital elevation model: an in-memory raster with bilinear sampling and terrain profiles.
//!
//! Any raster GDAL reads (GeoTIFF, SRTM `.hgt`, `/vsimem/` buffers …) loads through
//! [`Dem::from_gdal`] / [`Dem::from_bytes`]; rasters in another CRS are warped to WGS84 lon/lat
//! on load, so sampling is always plain grid arithmetic.
//!
//! # Pixel convention
//! Cells are areas (GDAL's `PixelIsArea`): the value of a cell belongs to its centre, and
//! [`Dem::elevation_m`] interpolates bilinearly between the four surrounding cell centres.
//! Between the outer cell centres and the raster edge (half a cell) the edge value is held
//! constant; beyond the edge there is no value. There is no sea-level fallback anywhere: a
//! point outside the raster or on a no-data cell is `None`, and a profile touching one is an
//! error naming the DEM and the coordinate.
//!
//! Longitudes do not wrap at ±180°: a DEM crossing the antimeridian is not supported.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use gdal::raster::{GdalDataType, RasterCreationOptions};
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::{Dataset, DriverManager};
use geo::{Distance, Geodesic, Point};

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

/// Metres per degree of latitude (mean), used only to pick a warp resolution.
const M_PER_DEG_LAT: f64 = 111_320.0;

impl Dem {
    /// A DEM from a ready grid; checks that the geometry is usable and the data fits.
    ///
    /// # Units
    /// Origin and cell sizes in degrees, `data_m` row-major from the north-west in metres
    /// (`NaN` = no data).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        source: impl Into<String>,
        west_deg: f64,
        north_deg: f64,
        dlon_deg: f64,
        dlat_deg: f64,
        cols: usize,
        rows: usize,
        data_m: Vec<f32>,
    ) -> Result<Dem, GeodataError> {
        let source = source.into();
        let bad = |message: String| GeodataError::DemInvalid {
            dem: source.clone(),
            message,
        };
        if !(west_deg.is_finite() && north_deg.is_finite()) {
            return Err(bad(format!(
                "origin ({west_deg}, {north_deg}) is not finite"
            )));
        }
        if !(dlon_deg.is_finite() && dlon_deg > 0.0 && dlat_deg.is_finite() && dlat_deg > 0.0) {
            return Err(bad(format!(
                "cell size {dlon_deg} x {dlat_deg} degrees must be positive and finite"
            )));
        }
        if cols == 0 || rows == 0 {
            return Err(bad(format!("raster is empty ({cols} x {rows} cells)")));
        }
        if data_m.len() != cols * rows {
            return Err(bad(format!(
                "{} values for a {cols} x {rows} grid ({} expected)",
                data_m.len(),
                cols * rows
            )));
        }
        let south = north_deg - dlat_deg * rows as f64;
        let east = west_deg + dlon_deg * cols as f64;
        if north_deg > 90.0 + 1e-9
            || south < -90.0 - 1e-9
            || west_deg < -180.0 - 1e-9
            || east > 360.0 + 1e-9
        {
            return Err(bad(format!(
                "extent lon {west_deg}..{east}, lat {south}..{north_deg} is not valid lon/lat degrees"
            )));
        }
        Ok(Dem {
            west_deg,
            north_deg,
            dlon_deg,
            dlat_deg,
            cols,
            rows,
            data_m,
            source,
        })
    }

    /// Reads band 1 of any GDAL raster (GeoTIFF, SRTM `.hgt`, a `/vsimem/` path …) as metres.
    ///
    /// The band's no-data value becomes `NaN`. A raster in another CRS than geographic WGS84
    /// is warped to WGS84 lon/lat (bilinear) at about its own resolution. Rotated or sheared
    /// geotransforms and rasters without a CRS are rejected.
    pub fn from_gdal(path: impl AsRef<Path>) -> Result<Dem, GeodataError> {
        let path = path.as_ref();
        let ds = Dataset::open(path).map_err(|e| GeodataError::gdal(path, e))?;
        Dem::from_dataset(&ds, &path.display().to_string())
    }

    /// Reads a raster held in memory (e.g. the embedded GeoTIFF) through GDAL's `/vsimem/`.
    /// `name` labels the DEM in error messages (e.g. `embedded:dem.tif`).
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Dem, GeodataError> {
        // A unique in-memory path per call: concurrent loads must not see each other's file.
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let file_name = name
            .rsplit(['/', ':'])
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or("dem.tif");
        let vsi = format!("/vsimem/geodata-dem-{}-{n}/{file_name}", std::process::id());
        gdal::vsi::create_mem_file(&vsi, bytes.to_vec())
            .map_err(|e| GeodataError::gdal(name, e))?;
        let result = Dataset::open(&vsi)
            .map_err(|e| GeodataError::gdal(name, e))
            .and_then(|ds| Dem::from_dataset(&ds, name));
        // The dataset is closed by now; free the buffer whatever happened.
        let _ = gdal::vsi::unlink_mem_file(&vsi);
        result
    }

    fn from_dataset(ds: &Dataset, source: &str) -> Result<Dem, GeodataError> {
        let bad = |message: String| GeodataError::DemInvalid {
            dem: source.to_owned(),
            message,
        };
        if ds.raster_count() == 0 {
            return Err(bad(
                "has no raster band — give an elevation raster (GeoTIFF, .hgt …)".into(),
            ));
        }
        let gt = ds.geo_transform().map_err(|_| {
            bad("has no georeferencing (geotransform) — give a georeferenced raster".into())
        })?;
        if gt[2] != 0.0 || gt[4] != 0.0 {
            return Err(bad(format!(
                "has a rotated or sheared geotransform ({:?}) — warp it north-up first, e.g. `gdalwarp -t_srs EPSG:4326 in.tif out.tif`",
                gt
            )));
        }
        let srs = ds.spatial_ref().map_err(|_| {
            bad("has no coordinate reference system — assign one, e.g. `gdal_edit.py -a_srs EPSG:4326 file.tif`".into())
        })?;
        let wgs84 = wgs84().map_err(|e| GeodataError::gdal(source, e))?;
        if srs.is_geographic() && srs == wgs84 {
            read_grid(ds, source, gt)
        } else {
            let warped = warp_to_wgs84(ds, source, &srs, gt, &wgs84)?;
            let gt = warped
                .geo_transform()
                .map_err(|e| GeodataError::gdal(source, e))?;
            read_grid(&warped, source, gt)
        }
    }

    /// Longitude of the east edge, degrees.
    pub fn east_deg(&self) -> f64 {
        self.west_deg + self.dlon_deg * self.cols as f64
    }

    /// Latitude of the south edge, degrees.
    pub fn south_deg(&self) -> f64 {
        self.north_deg - self.dlat_deg * self.rows as f64
    }

    /// Whether a point lies within the raster's extent (edges included).
    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        lon >= self.west_deg
            && lon <= self.east_deg()
            && lat >= self.south_deg()
            && lat <= self.north_deg
    }

    /// Bilinear elevation in metres at a point; `None` outside the raster or on no-data cells.
    ///
    /// # Units
    /// Lon/lat degrees (WGS84) in, metres above sea level out.
    ///
    /// ```
    /// use geodata::Dem;
    /// // 2 x 2 cells of 1°, north-west corner at (60°E, 40°N); cell centres at x.5°.
    /// let dem = Dem::new("example", 60.0, 40.0, 1.0, 1.0, 2, 2, vec![100.0, 200.0, 300.0, 400.0]).unwrap();
    /// assert_eq!(dem.elevation_m(60.5, 39.5), Some(100.0)); // a cell centre
    /// assert_eq!(dem.elevation_m(61.0, 39.0), Some(250.0)); // between all four centres
    /// assert_eq!(dem.elevation_m(62.5, 39.0), None); // outside: no sea-level default
    /// ```
    pub fn elevation_m(&self, lon: f64, lat: f64) -> Option<f64> {
        if !self.contains(lon, lat) {
            return None; // also rejects NaN coordinates
        }
        // Fractional index in cell-centre space: centre of cell (c, r) is (c, r).
        let fx = ((lon - self.west_deg) / self.dlon_deg - 0.5).clamp(0.0, (self.cols - 1) as f64);
        let fy = ((self.north_deg - lat) / self.dlat_deg - 0.5).clamp(0.0, (self.rows - 1) as f64);
        // A point within 1e-9 cell of a centre line is on it: rounding in the caller's lon/lat
        // arithmetic must not pull in a no-data neighbour with a weight of 1e-12.
        let split = |f: f64, n: usize| {
            let i = f.floor() as usize;
            let t = f - i as f64;
            if t < 1e-9 {
                (i, 0.0)
            } else if t > 1.0 - 1e-9 && i + 1 < n {
                (i + 1, 0.0)
            } else {
                (i, t)
            }
        };
        let (x0, tx) = split(fx, self.cols);
        let (y0, ty) = split(fy, self.rows);
        let x1 = if tx == 0.0 {
            x0
        } else {
            (x0 + 1).min(self.cols - 1)
        };
        let y1 = if ty == 0.0 {
            y0
        } else {
            (y0 + 1).min(self.rows - 1)
        };
        let at = |x: usize, y: usize| f64::from(self.data_m[y * self.cols + x]);
        // Lerp form: exact for constant areas; any NaN corner propagates to the result.
        let north = at(x0, y0) + tx * (at(x1, y0) - at(x0, y0));
        let south = at(x0, y1) + tx * (at(x1, y1) - at(x0, y1));
        let z = north + ty * (south - north);
        (!z.is_nan()).then_some(z)
    }

    /// Elevation at a point or an error naming the DEM and the point (outside / no data).
    pub fn elevation_at(&self, lon: f64, lat: f64) -> Result<f64, GeodataError> {
        self.elevation_m(lon, lat)
            .ok_or_else(|| self.sample_error(lon, lat))
    }

    /// Profile from `from` to `to` (lon, lat degrees) with samples at most `step_m` apart.
    /// Errors (never a sea-level default) when any sample falls outside the raster or on no-data.
    ///
    /// # Units
    /// Points in lon/lat degrees (WGS84), `step_m` in metres; the profile's distances are
    /// metres along the WGS84 geodesic, elevations metres above sea level.
    ///
    /// ```
    /// use geodata::Dem;
    /// let dem = Dem::new("example", 60.0, 40.0, 0.01, 0.01, 100, 100, vec![250.0; 100 * 100]).unwrap();
    /// let p = dem.profile((60.1, 39.5), (60.9, 39.5), 1000.0).unwrap();
    /// assert!((p.distance_m - 68_810.5).abs() < 0.1); // WGS84 geodesic along ~39.5°N
    /// assert_eq!(p.elevations_m.len(), 70); // 69 steps of ≤ 1 km, both ends included
    /// assert!(p.elevations_m.iter().all(|&z| z == 250.0));
    /// assert!(dem.profile((60.1, 39.5), (61.5, 39.5), 1000.0).is_err()); // leaves the raster
    /// ```
    pub fn profile(
        &self,
        from: (f64, f64),
        to: (f64, f64),
        step_m: f64,
    ) -> Result<Profile, GeodataError> {
        if !(step_m.is_finite() && step_m > 0.0) {
            return Err(GeodataError::DemInvalid {
                dem: self.source.clone(),
                message: format!("profile step {step_m} m must be a positive number of metres"),
            });
        }
        check_point(&self.source, from)?;
        check_point(&self.source, to)?;
        let distance_m = geodesic_m(from, to);
        let intervals = (distance_m / step_m).ceil().max(1.0);
        if intervals > 1e8 {
            return Err(GeodataError::DemInvalid {
                dem: self.source.clone(),
                message: format!(
                    "profile of {distance_m:.0} m at {step_m} m steps needs {intervals} samples — use a larger step"
                ),
            });
        }
        let n_points = intervals as usize + 1;
        let mut elevations_m = Vec::with_capacity(n_points);
        let distance_m = self.profile_into(from, to, n_points, &mut elevations_m)?;
        Ok(Profile {
            step_m: distance_m / (n_points - 1) as f64,
            distance_m,
            elevations_m,
        })
    }

    /// Allocation-free variant for hot loops: fills `out` (cleared first) with exactly
    /// `n_points` (≥ 2) evenly spaced samples and returns the geodesic path length in metres.
    /// On error `out` is left empty.
    ///
    /// Samples are spaced evenly in angle along the great circle through both points (the
    /// sphere's geodesic; within 0.5 % of the ellipsoidal one), see [`Dem::profile_samples`];
    /// the length is the WGS84 geodesic distance.
    pub fn profile_into(
        &self,
        from: (f64, f64),
        to: (f64, f64),
        n_points: usize,
        out: &mut Vec<f64>,
    ) -> Result<f64, GeodataError> {
        self.profile_samples(from, to, n_points, out)?;
        Ok(geodesic_m(from, to))
    }

    /// The samples of [`Dem::profile_into`] without the path length, for callers that know it.
    ///
    /// Sample positions follow the great circle without trigonometry per sample: the path is
    /// cut into pieces of at most [`PIECE_M`], and within each piece the position in raster
    /// coordinates is the quadratic through the piece's exact great-circle end and middle
    /// points, stepped by finite differences. Over 50 km that quadratic stays within a few
    /// centimetres of the great circle (checked in the tests), far below any DEM's cell size.
    /// Bilinear interpolation then reads the four surrounding cell centres. Paths touching
    /// no-data cells, or leaving the raster, go through the exact per-point sampler so the
    /// error names the offending point.
    pub fn profile_samples(
        &self,
        from: (f64, f64),
        to: (f64, f64),
        n_points: usize,
        out: &mut Vec<f64>,
    ) -> Result<(), GeodataError> {
        out.clear();
        if n_points < 2 {
            return Err(GeodataError::DemInvalid {
                dem: self.source.clone(),
                message: format!("a profile needs at least 2 points, {n_points} requested"),
            });
        }
        check_point(&self.source, from)?;
        check_point(&self.source, to)?;
        let path = GreatCircle::new(from, to);
        out.reserve(n_points);
        if self.fast_samples(&path, n_points, out) {
            return Ok(());
        }
        out.clear();
        self.exact_samples(&path, n_points, out)
    }

    /// Per-point sampler: exact great-circle positions and [`Dem::elevation_m`].
    fn exact_samples(
        &self,
        path: &GreatCircle,
        n_points: usize,
        out: &mut Vec<f64>,
    ) -> Result<(), GeodataError> {
        let last = (n_points - 1) as f64;
        for i in 0..n_points {
            // Exact end points, whatever the rounding of the interpolation.
            let (lon, lat) = if i == 0 {
                path.from
            } else if i == n_points - 1 {
                path.to
            } else {
                path.at(i as f64 / last)
            };
            match self.elevation_m(lon, lat) {
                Some(z) => out.push(z),
                None => {
                    out.clear();
                    return Err(self.sample_error(lon, lat));
                }
            }
        }
        Ok(())
    }

    /// Fast sampler (see [`Dem::profile_samples`]); false when the path may leave the raster or
    /// touch no-data, so the caller takes the exact route.
    fn fast_samples(&self, path: &GreatCircle, n_points: usize, out: &mut Vec<f64>) -> bool {
        let intervals = n_points - 1;
        let length_m = path.omega * GREAT_CIRCLE_RADIUS_M;
        let pieces = ((length_m / PIECE_M).ceil() as usize).clamp(1, intervals);
        let (south, east) = (self.south_deg(), self.east_deg());
        let max_x = (self.cols - 1) as f64;
        let max_y = (self.rows - 1) as f64;
        let data = &self.data_m[..];
        let cols = self.cols;
        let mut p0 = path.from;
        let mut done = 0usize;
        let mut nan = false;
        for k in 0..pieces {
            // Samples of this piece: indices done..end (the piece's far end belongs to the
            // next piece, except for the last one).
            let end = if k + 1 == pieces {
                intervals
            } else {
                intervals * (k + 1) / pieces
            };
            let t0 = done as f64 / intervals as f64;
            let t1 = end as f64 / intervals as f64;
            let p1 = if k + 1 == pieces {
                path.to
            } else {
                path.at(t1)
            };
            let pm = path.at(0.5 * (t0 + t1));
            // Quadratic through p0 (s = 0), pm (s = 1/2), p1 (s = 1): p(s) = p0 + b s + c s².
            let quad = |a: f64, m: f64, b: f64| (4.0 * m - 3.0 * a - b, 2.0 * (a + b) - 4.0 * m);
            let (b_lon, c_lon) = quad(p0.0, pm.0, p1.0);
            let (b_lat, c_lat) = quad(p0.1, pm.1, p1.1);
            // The piece's extent: its ends and, when inside, the vertex of each quadratic.
            let range = |a: f64, b: f64, c: f64| {
                let end = a + b + c;
                let (mut lo, mut hi) = (a.min(end), a.max(end));
                if c != 0.0 {
                    let s = -b / (2.0 * c);
                    if s > 0.0 && s < 1.0 {
                        let v = a + b * s + c * s * s;
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                }
                (lo, hi)
            };
            let (lon_lo, lon_hi) = range(p0.0, b_lon, c_lon);
            let (lat_lo, lat_hi) = range(p0.1, b_lat, c_lat);
            if !(lon_lo >= self.west_deg
                && lon_hi <= east
                && lat_lo >= south
                && lat_hi <= self.north_deg)
            {
                return false;
            }
            // Raster coordinates (cell-centre space) are linear in lon/lat, so quadratic in the
            // sample index j: x(j) = x0 + dx j + ddx j(j-1)/2 with finite differences.
            let n = (end - done) as f64;
            let to_x = |lon: f64| (lon - self.west_deg) / self.dlon_deg;
            let to_y = |lat: f64| (self.north_deg - lat) / self.dlat_deg;
            let h = 1.0 / n;
            let mut x = to_x(p0.0) - 0.5;
            let mut y = to_y(p0.1) - 0.5;
            let bx = b_lon / self.dlon_deg;
            let cx = c_lon / self.dlon_deg;
            let by = -b_lat / self.dlat_deg;
            let cy = -c_lat / self.dlat_deg;
            let mut dx = bx * h + cx * h * h;
            let mut dy = by * h + cy * h * h;
            let ddx = 2.0 * cx * h * h;
            let ddy = 2.0 * cy * h * h;
            let count = if k + 1 == pieces {
                end - done + 1
            } else {
                end - done
            };
            for _ in 0..count {
                let fx = x.clamp(0.0, max_x);
                let fy = y.clamp(0.0, max_y);
                let (ix, iy) = (fx as usize, fy as usize);
                let (tx, ty) = (fx - ix as f64, fy - iy as f64);
                let ix1 = (ix + 1).min(cols - 1);
                let row0 = iy * cols;
                let row1 = (iy + 1).min(self.rows - 1) * cols;
                let z00 = f64::from(data[row0 + ix]);
                let z01 = f64::from(data[row0 + ix1]);
                let z10 = f64::from(data[row1 + ix]);
                let z11 = f64::from(data[row1 + ix1]);
                let north = z00 + tx * (z01 - z00);
                let south = z10 + tx * (z11 - z10);
                let z = north + ty * (south - north);
                nan |= z.is_nan();
                out.push(z);
                x += dx;
                y += dy;
                dx += ddx;
                dy += ddy;
            }
            p0 = p1;
            done = end;
        }
        debug_assert_eq!(out.len(), n_points);
        !nan
    }

    fn sample_error(&self, lon: f64, lat: f64) -> GeodataError {
        if self.contains(lon, lat) {
            GeodataError::DemNoData {
                dem: self.source.clone(),
                lon,
                lat,
            }
        } else {
            GeodataError::OutsideDem {
                dem: self.source.clone(),
                lon,
                lat,
                extent: format!(
                    "lon {:.4}..{:.4}, lat {:.4}..{:.4}",
                    self.west_deg,
                    self.east_deg(),
                    self.south_deg(),
                    self.north_deg
                ),
            }
        }
    }
}

fn check_point(source: &str, (lon, lat): (f64, f64)) -> Result<(), GeodataError> {
    if lon.is_finite()
        && lat.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=360.0).contains(&lon)
    {
        Ok(())
    } else {
        Err(GeodataError::DemInvalid {
            dem: source.to_owned(),
            message: format!(
                "profile end point (lon {lon}, lat {lat}) is not a valid lon/lat in degrees"
            ),
        })
    }
}

fn geodesic_m(from: (f64, f64), to: (f64, f64)) -> f64 {
    Geodesic.distance(Point::new(from.0, from.1), Point::new(to.0, to.1))
}

/// Longest piece of a profile sampled from one quadratic, metres (see [`Dem::profile_samples`]).
pub const PIECE_M: f64 = 50_000.0;

/// Sphere radius used only to size the pieces of a profile, metres.
const GREAT_CIRCLE_RADIUS_M: f64 = 6_371_008.8;

/// Points along the great circle from `a` to `b`, parametrised by the fraction of the arc:
/// p(t) = a·cos(tω) + u·sin(tω) with u the unit vector orthogonal to a towards b.
struct GreatCircle {
    a: [f64; 3],
    u: [f64; 3],
    omega: f64,
    from: (f64, f64),
    to: (f64, f64),
}

impl GreatCircle {
    fn new(from: (f64, f64), to: (f64, f64)) -> GreatCircle {
        let a = unit(from);
        let b = unit(to);
        let dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
        let cross = [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ];
        let sin_omega = (cross[0] * cross[0] + cross[1] * cross[1] + cross[2] * cross[2]).sqrt();
        let omega = sin_omega.atan2(dot);
        let u = if sin_omega > 1e-12 {
            [
                (b[0] - a[0] * dot) / sin_omega,
                (b[1] - a[1] * dot) / sin_omega,
                (b[2] - a[2] * dot) / sin_omega,
            ]
        } else {
            [0.0; 3]
        };
        GreatCircle {
            a,
            u,
            omega,
            from,
            to,
        }
    }

    fn at(&self, t: f64) -> (f64, f64) {
        if self.omega < 1e-12 {
            // Coincident (or antipodal, where the path is undefined): stay on the straight line.
            return (
                self.from.0 + t * (self.to.0 - self.from.0),
                self.from.1 + t * (self.to.1 - self.from.1),
            );
        }
        let (s, c) = (t * self.omega).sin_cos();
        let x = self.a[0] * c + self.u[0] * s;
        let y = self.a[1] * c + self.u[1] * s;
        let z = self.a[2] * c + self.u[2] * s;
        let lat = z.atan2((x * x + y * y).sqrt()).to_degrees();
        let mut lon = y.atan2(x).to_degrees();
        // Keep longitudes in the caller's convention (e.g. 0..360 grids).
        let ref_lon = self.from.0;
        while lon - ref_lon > 180.0 {
            lon -= 360.0;
        }
        while lon - ref_lon < -180.0 {
            lon += 360.0;
        }
        (lon, lat)
    }
}

fn unit((lon, lat): (f64, f64)) -> [f64; 3] {
    let (slat, clat) = lat.to_radians().sin_cos();
    let (slon, clon) = lon.to_radians().sin_cos();
    [clat * clon, clat * slon, slat]
}

fn wgs84() -> gdal::errors::Result<SpatialRef> {
    let mut srs = SpatialRef::from_epsg(4326)?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(srs)
}

/// Reads band 1 of a north-up WGS84 dataset into a [`Dem`].
fn read_grid(ds: &Dataset, source: &str, gt: [f64; 6]) -> Result<Dem, GeodataError> {
    let band = ds
        .rasterband(1)
        .map_err(|e| GeodataError::gdal(source, e))?;
    let (cols, rows) = band.size();
    let nodata = band.no_data_value();
    let buf = band
        .read_as::<f32>((0, 0), (cols, rows), (cols, rows), None)
        .map_err(|e| GeodataError::gdal(source, e))?;
    let (_, mut data) = buf.into_shape_and_vec();
    if let Some(nd) = nodata {
        // Compare in the band's own precision: an f32 band's no-data round-trips exactly.
        let nd32 = nd as f32;
        for v in &mut data {
            if *v == nd32 || (nd.is_nan() && v.is_nan()) {
                *v = f32::NAN;
            }
        }
    }
    // gt[5] is negative for north-up rasters; a south-up one is flipped into north-up order.
    let (north, dlat, data) = if gt[5] < 0.0 {
        (gt[3], -gt[5], data)
    } else {
        let mut flipped = Vec::with_capacity(data.len());
        for r in (0..rows).rev() {
            flipped.extend_from_slice(&data[r * cols..(r + 1) * cols]);
        }
        (gt[3] + gt[5] * rows as f64, gt[5], flipped)
    };
    Dem::new(source, gt[0], north, gt[1], dlat, cols, rows, data)
}

/// Warps a raster in any CRS to WGS84 lon/lat (bilinear) in memory, keeping about the source's
/// ground resolution; cells without source data become no-data (NaN).
fn warp_to_wgs84(
    ds: &Dataset,
    source: &str,
    srs: &SpatialRef,
    gt: [f64; 6],
    wgs84: &SpatialRef,
) -> Result<Dataset, GeodataError> {
    let gdal_err = |e| GeodataError::gdal(source, e);
    let (cols, rows) = ds.raster_size();
    let mut srs = srs.clone();
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let tr = CoordTransform::new(&srs, wgs84).map_err(|e| GeodataError::DemInvalid {
        dem: source.to_owned(),
        message: format!(
            "cannot transform its CRS to WGS84 ({e}) — reproject it to EPSG:4326 first"
        ),
    })?;
    let x0 = gt[0];
    let x1 = gt[0] + gt[1] * cols as f64;
    let y0 = gt[3];
    let y1 = gt[3] + gt[5] * rows as f64;
    let bounds = [x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1)];
    let [west, south, east, north] = tr.transform_bounds(&bounds, 21).map_err(gdal_err)?;
    // Ground size of a source cell in metres: projected units are usually metres (scaled by the
    // CRS's linear unit), geographic ones degrees of latitude.
    let cell_m = if srs.is_geographic() {
        gt[1].abs().min(gt[5].abs()) * M_PER_DEG_LAT
    } else {
        gt[1].abs().min(gt[5].abs()) * srs.linear_units()
    };
    if !(cell_m.is_finite() && cell_m > 0.0 && west < east && south < north) {
        return Err(GeodataError::DemInvalid {
            dem: source.to_owned(),
            message: format!(
                "cannot derive a WGS84 grid (cell {cell_m} m, extent lon {west}..{east}, lat {south}..{north}) — reproject it to EPSG:4326 first"
            ),
        });
    }
    let mid_lat = 0.5 * (south + north);
    let dlat = cell_m / M_PER_DEG_LAT;
    let dlon = cell_m / (M_PER_DEG_LAT * mid_lat.to_radians().cos().max(0.01));
    let out_cols = ((east - west) / dlon).ceil().max(1.0) as usize;
    let out_rows = ((north - south) / dlat).ceil().max(1.0) as usize;
    if out_cols.saturating_mul(out_rows) > 400_000_000 {
        return Err(GeodataError::DemInvalid {
            dem: source.to_owned(),
            message: format!("warped grid would be {out_cols} x {out_rows} cells — clip or reproject it to EPSG:4326 first"),
        });
    }
    let driver = DriverManager::get_driver_by_name("MEM").map_err(gdal_err)?;
    let mut dst = driver
        .create_with_band_type_with_options::<f32, _>(
            "",
            out_cols,
            out_rows,
            1,
            &RasterCreationOptions::default(),
        )
        .map_err(gdal_err)?;
    dst.set_geo_transform(&[west, dlon, 0.0, north, 0.0, -dlat])
        .map_err(gdal_err)?;
    dst.set_spatial_ref(wgs84).map_err(gdal_err)?;
    {
        let mut band = dst.rasterband(1).map_err(gdal_err)?;
        band.set_no_data_value(Some(f64::NAN)).map_err(gdal_err)?;
        band.fill(f64::NAN, None).map_err(gdal_err)?;
        debug_assert_eq!(band.band_type(), GdalDataType::Float32);
    }
    gdal::raster::reproject(ds, &dst).map_err(gdal_err)?;
    Ok(dst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane() -> Dem {
        // z = 10·col + 100·row at cell centres; 1° cells from (10°E, 50°N).
        let (cols, rows) = (5, 4);
        let data = (0..rows)
            .flat_map(|r| (0..cols).map(move |c| (10 * c + 100 * r) as f32))
            .collect();
        Dem::new("test:plane", 10.0, 50.0, 1.0, 1.0, cols, rows, data).unwrap()
    }

    #[test]
    fn bilinear_is_exact_on_a_plane_between_cell_centres() {
        let d = plane();
        // centre of cell (col 1, row 2) is lon 11.5, lat 47.5
        assert_eq!(d.elevation_m(11.5, 47.5), Some(210.0));
        let z = d.elevation_m(12.25, 48.1).unwrap();
        let (col, row) = (12.25 - 10.0 - 0.5, 50.0 - 48.1 - 0.5);
        assert!((z - (10.0 * col + 100.0 * row)).abs() < 1e-9, "{z}");
    }

    #[test]
    fn edge_half_cells_hold_the_edge_value_and_outside_is_none() {
        let d = plane();
        assert_eq!(d.elevation_m(10.0, 50.0), Some(0.0));
        assert_eq!(d.elevation_m(15.0, 46.0), Some(340.0));
        assert_eq!(d.elevation_m(9.999, 48.0), None);
        assert_eq!(d.elevation_m(12.0, 50.001), None);
        assert_eq!(d.elevation_m(f64::NAN, 48.0), None);
    }

    #[test]
    fn nodata_neighbour_makes_the_sample_none_unless_its_weight_is_zero() {
        let mut d = plane();
        d.data_m[0] = f32::NAN; // cell (0,0), centre (10.5, 49.5)
        assert_eq!(d.elevation_m(10.7, 49.3), None);
        assert_eq!(d.elevation_m(11.5, 49.5), Some(10.0));
    }

    /// A smooth but varied surface: z = 1000 + 400 sin(3 lon) cos(2 lat) (degrees as radians),
    /// on 0.01° cells around Central Asia.
    fn wavy() -> Dem {
        let (cols, rows) = (2000, 1200);
        let (west, north, cell) = (55.0, 47.0, 0.01);
        let data = (0..rows)
            .flat_map(|r| {
                (0..cols).map(move |c| {
                    let lon = west + (c as f64 + 0.5) * cell;
                    let lat = north - (r as f64 + 0.5) * cell;
                    (1000.0 + 400.0 * (3.0 * lon).sin() * (2.0 * lat).cos()) as f32
                })
            })
            .collect();
        Dem::new("test:wavy", west, north, cell, cell, cols, rows, data).unwrap()
    }

    #[test]
    fn fast_profile_matches_the_exact_great_circle_sampler() {
        let d = wavy();
        let mut state: u64 = 11;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut fast, mut exact) = (Vec::new(), Vec::new());
        for _ in 0..300 {
            let a = (56.0 + 17.0 * next(), 36.0 + 10.0 * next());
            // Up to ~150 km away, so paths span up to three 50 km pieces.
            let b = (
                (a.0 + (next() - 0.5) * 3.0).clamp(55.1, 74.9),
                (a.1 + (next() - 0.5) * 2.0).clamp(35.1, 46.9),
            );
            let n = 2 + (next() * 400.0) as usize;
            d.profile_samples(a, b, n, &mut fast).unwrap();
            let path = GreatCircle::new(a, b);
            exact.clear();
            d.exact_samples(&path, n, &mut exact).unwrap();
            assert_eq!(fast.len(), n);
            for (i, (f, e)) in fast.iter().zip(&exact).enumerate() {
                // 1 mm of elevation: positions agree to well under a centimetre.
                assert!(
                    (f - e).abs() < 1e-3,
                    "{a:?} → {b:?} sample {i}/{n}: {f} vs {e}"
                );
            }
        }
    }

    #[test]
    fn fast_profile_falls_back_for_no_data_and_edges() {
        let mut d = plane();
        d.data_m[7] = f32::NAN; // cell (2, 1), centre (12.5, 48.5)
        let mut out = Vec::new();
        let e = d
            .profile_samples((10.5, 48.5), (14.5, 48.5), 9, &mut out)
            .unwrap_err();
        assert!(matches!(e, GeodataError::DemNoData { .. }), "{e}");
        assert!(out.is_empty());
        // Along the south edge (the great circle bulges north, into the raster): the ends
        // hold the edge row's values.
        let d = plane();
        d.profile_samples((10.0, 46.0), (15.0, 46.0), 11, &mut out)
            .unwrap();
        assert_eq!(out.first(), Some(&300.0));
        assert!((out.last().unwrap() - 340.0).abs() < 1e-9, "{out:?}");
        // Along the north edge it bulges out of the raster: an error, as for the exact sampler.
        assert!(d
            .profile_samples((10.0, 50.0), (15.0, 50.0), 11, &mut out)
            .is_err());
    }

    #[test]
    fn great_circle_midpoint_of_meridian_and_equator_arcs() {
        let g = GreatCircle::new((0.0, 0.0), (0.0, 60.0));
        let (lon, lat) = g.at(0.5);
        assert!(lon.abs() < 1e-9 && (lat - 30.0).abs() < 1e-9);
        let g = GreatCircle::new((10.0, 0.0), (50.0, 0.0));
        let (lon, lat) = g.at(0.25);
        assert!((lon - 20.0).abs() < 1e-9 && lat.abs() < 1e-9);
        // Off the equator the great circle bulges poleward of the parallel.
        let g = GreatCircle::new((0.0, 45.0), (40.0, 45.0));
        let (lon, lat) = g.at(0.5);
        assert!((lon - 20.0).abs() < 1e-9 && lat > 45.5, "{lat}");
    }
}
