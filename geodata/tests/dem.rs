//! DEM loading, sampling and profiles against rasters written with GDAL here and the embedded
//! GLOBE window.

use std::path::{Path, PathBuf};

use gdal::raster::Buffer;
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::DriverManager;
use geo::{Distance, Geodesic, Point};
use geodata::{Dem, GeodataError};

/// Plane used by the synthetic GeoTIFF: value at the centre of cell (col, row).
fn plane_z(col: f64, row: f64) -> f64 {
    100.0 + 3.0 * col + 7.0 * row
}

const W: f64 = 68.0;
const N: f64 = 42.0;
const CELL: f64 = 0.01;
const COLS: usize = 40;
const ROWS: usize = 30;

/// Writes a GeoTIFF (EPSG:4326, `CELL`° cells from (`W`, `N`)) holding `plane_z`, with the
/// no-data value -9999 at the given cells.
fn write_plane_tif(dir: &Path, nodata_cells: &[(usize, usize)]) -> PathBuf {
    let path = dir.join("plane.tif");
    let drv = DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = drv
        .create_with_band_type::<f32, _>(&path, COLS, ROWS, 1)
        .unwrap();
    ds.set_geo_transform(&[W, CELL, 0.0, N, 0.0, -CELL])
        .unwrap();
    ds.set_spatial_ref(&SpatialRef::from_epsg(4326).unwrap())
        .unwrap();
    let mut data: Vec<f32> = (0..ROWS)
        .flat_map(|r| (0..COLS).map(move |c| plane_z(c as f64, r as f64) as f32))
        .collect();
    for &(c, r) in nodata_cells {
        data[r * COLS + c] = -9999.0;
    }
    let mut band = ds.rasterband(1).unwrap();
    band.set_no_data_value(Some(-9999.0)).unwrap();
    band.write((0, 0), (COLS, ROWS), &mut Buffer::new((COLS, ROWS), data))
        .unwrap();
    ds.close().unwrap();
    path
}

/// lon/lat of a fractional cell-centre index.
fn lonlat(col: f64, row: f64) -> (f64, f64) {
    (W + (col + 0.5) * CELL, N - (row + 0.5) * CELL)
}

#[test]
fn geotiff_plane_is_reproduced_exactly_by_bilinear_sampling() {
    let dir = tempfile::tempdir().unwrap();
    let dem = Dem::from_gdal(write_plane_tif(dir.path(), &[])).unwrap();
    assert_eq!((dem.cols, dem.rows), (COLS, ROWS));
    assert!((dem.west_deg - W).abs() < 1e-12 && (dem.north_deg - N).abs() < 1e-12);
    assert!((dem.dlon_deg - CELL).abs() < 1e-15 && (dem.dlat_deg - CELL).abs() < 1e-15);
    assert!(dem.source.ends_with("plane.tif"), "{}", dem.source);
    for &(c, r) in &[
        (0.0, 0.0),
        (5.0, 7.0),
        (12.3, 4.8),
        (38.99, 28.01),
        (20.5, 14.5),
        (1.25, 27.75),
    ] {
        let (lon, lat) = lonlat(c, r);
        let z = dem.elevation_m(lon, lat).unwrap();
        assert!(
            (z - plane_z(c, r)).abs() < 1e-6,
            "({c}, {r}): {z} vs {}",
            plane_z(c, r)
        );
    }
}

#[test]
fn outside_points_are_none_and_profiles_through_them_fail_naming_dem_and_point() {
    let dir = tempfile::tempdir().unwrap();
    let dem = Dem::from_gdal(write_plane_tif(dir.path(), &[])).unwrap();
    let east = W + COLS as f64 * CELL;
    let south = N - ROWS as f64 * CELL;
    assert_eq!(dem.elevation_m(W - 1e-6, 41.9), None);
    assert_eq!(dem.elevation_m(east + 1e-6, 41.9), None);
    assert_eq!(dem.elevation_m(68.1, N + 1e-6), None);
    assert_eq!(dem.elevation_m(68.1, south - 1e-6), None);
    // On the outer half-cell band the edge value holds (no extrapolation, no sea level).
    assert_eq!(dem.elevation_m(W, N), Some(plane_z(0.0, 0.0)));

    let err = dem.profile((68.1, 41.9), (68.5, 41.9), 100.0).unwrap_err();
    assert!(matches!(err, GeodataError::OutsideDem { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("plane.tif"), "{msg}");
    assert!(msg.contains("is outside the DEM"), "{msg}");
    assert!(msg.contains("lat 41.9"), "{msg}");
    assert!(
        msg.contains("lon 68.0000..68.4000, lat 41.7000..42.0000"),
        "{msg}"
    );
    assert!(msg.contains("use a DEM that covers"), "{msg}");

    let mut out = vec![1.0; 3];
    let err = dem
        .profile_into((67.0, 41.9), (68.1, 41.9), 10, &mut out)
        .unwrap_err();
    assert!(
        matches!(err, GeodataError::OutsideDem { lon, .. } if lon == 67.0),
        "{err:?}"
    );
    assert!(out.is_empty(), "a failed profile leaves no partial samples");
}

#[test]
fn nodata_cells_are_errors_never_sea_level() {
    let dir = tempfile::tempdir().unwrap();
    let dem = Dem::from_gdal(write_plane_tif(dir.path(), &[(10, 10)])).unwrap();
    assert!(dem.data_m[10 * COLS + 10].is_nan());
    let (lon, lat) = lonlat(10.3, 10.0);
    assert_eq!(dem.elevation_m(lon, lat), None);
    // A neighbour of the void is still fine at its own centre.
    let (lon2, lat2) = lonlat(11.0, 10.0);
    assert!((dem.elevation_m(lon2, lat2).unwrap() - plane_z(11.0, 10.0)).abs() < 1e-6);

    let (a, b) = (lonlat(2.0, 10.0), lonlat(30.0, 10.0));
    let err = dem.profile(a, b, 200.0).unwrap_err();
    assert!(matches!(err, GeodataError::DemNoData { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("plane.tif") && msg.contains("no elevation data at (lon 68.09"),
        "{msg}"
    );
    assert!(msg.contains("fill the voids"), "{msg}");
}

#[test]
fn profile_along_a_meridian_follows_the_plane_with_geodesic_spacing() {
    let dir = tempfile::tempdir().unwrap();
    let dem = Dem::from_gdal(write_plane_tif(dir.path(), &[])).unwrap();
    // Along the centre line of column 7 the great circle is the meridian: z is linear in row.
    let from = lonlat(7.0, 1.0);
    let to = lonlat(7.0, 25.0);
    let p = dem.profile(from, to, 250.0).unwrap();
    let d = Geodesic.distance(Point::new(from.0, from.1), Point::new(to.0, to.1));
    assert!((p.distance_m - d).abs() < 1e-6);
    assert_eq!(p.elevations_m.len(), (d / 250.0).ceil() as usize + 1);
    assert!(p.step_m <= 250.0 && p.step_m > 240.0, "{}", p.step_m);
    let n = p.elevations_m.len() - 1;
    for (i, z) in p.elevations_m.iter().enumerate() {
        let row = 1.0 + 24.0 * i as f64 / n as f64;
        // Equal angular steps on the sphere vs ellipsoidal latitude spacing: tiny drift only.
        assert!(
            (z - plane_z(7.0, row)).abs() < 0.02,
            "sample {i}: {z} vs {}",
            plane_z(7.0, row)
        );
    }
    assert!((p.elevations_m[0] - plane_z(7.0, 1.0)).abs() < 1e-6);
    assert!((p.elevations_m[n] - plane_z(7.0, 25.0)).abs() < 1e-6);

    // profile_into: exactly n points, reusing the buffer.
    let mut buf = Vec::new();
    let len = dem.profile_into(from, to, 5, &mut buf).unwrap();
    assert!((len - d).abs() < 1e-6);
    assert_eq!(buf.len(), 5);
    let again = dem.profile_into(to, from, 3, &mut buf).unwrap();
    assert!((again - d).abs() < 1e-6);
    assert_eq!(buf.len(), 3);
    assert!((buf[1] - plane_z(7.0, 13.0)).abs() < 0.02);
}

#[test]
fn bad_profile_requests_are_rejected_with_clear_messages() {
    let dir = tempfile::tempdir().unwrap();
    let dem = Dem::from_gdal(write_plane_tif(dir.path(), &[])).unwrap();
    let (a, b) = (lonlat(1.0, 1.0), lonlat(5.0, 5.0));
    for step in [0.0, -5.0, f64::NAN] {
        let msg = dem.profile(a, b, step).unwrap_err().to_string();
        assert!(
            msg.contains("plane.tif") && msg.contains("must be a positive number of metres"),
            "{msg}"
        );
    }
    let msg = dem
        .profile_into(a, b, 1, &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("at least 2 points, 1 requested"), "{msg}");
    let msg = dem
        .profile((f64::NAN, 41.9), b, 100.0)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("is not a valid lon/lat"), "{msg}");
    // Zero-length profile: both samples at the point.
    let p = dem.profile(a, a, 100.0).unwrap();
    assert_eq!(p.distance_m, 0.0);
    assert_eq!(p.elevations_m.len(), 2);
    assert!(p
        .elevations_m
        .iter()
        .all(|z| (z - plane_z(1.0, 1.0)).abs() < 1e-6));
}

#[test]
fn srtm_hgt_file_is_read_with_voids_as_no_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("N41E069.hgt");
    let n = 1201usize;
    let mut bytes = Vec::with_capacity(n * n * 2);
    for r in 0..n {
        for c in 0..n {
            let z: i16 = if (r, c) == (100, 200) {
                -32768
            } else {
                (r + c) as i16
            };
            bytes.extend_from_slice(&z.to_be_bytes());
        }
    }
    std::fs::write(&path, bytes).unwrap();
    let dem = Dem::from_gdal(&path).unwrap();
    assert_eq!((dem.cols, dem.rows), (n, n));
    // SRTM samples sit on whole 3-arc-second positions: GDAL's area grid is shifted half a cell.
    let cell = 1.0 / 1200.0;
    assert!(
        (dem.west_deg - (69.0 - cell / 2.0)).abs() < 1e-9,
        "{}",
        dem.west_deg
    );
    assert!(
        (dem.north_deg - (42.0 + cell / 2.0)).abs() < 1e-9,
        "{}",
        dem.north_deg
    );
    // Sample (row 300, col 600) is at 69.5°E, 41.75°N.
    let z = dem.elevation_m(69.5, 41.75).unwrap();
    assert!((z - 900.0).abs() < 1e-6, "{z}");
    let z = dem.elevation_m(69.5 + cell / 2.0, 41.75).unwrap();
    assert!((z - 900.5).abs() < 1e-6, "{z}");
    // The void at (row 100, col 200).
    let (lon, lat) = (69.0 + 200.0 * cell, 42.0 - 100.0 * cell);
    assert_eq!(dem.elevation_m(lon, lat), None);
    let err = dem
        .profile((lon - 0.01, lat), (lon + 0.01, lat), 30.0)
        .unwrap_err();
    assert!(matches!(err, GeodataError::DemNoData { .. }), "{err:?}");
    assert!(err.to_string().contains("N41E069.hgt"), "{err}");
}

#[test]
fn projected_raster_is_warped_to_wgs84_and_reads_back() {
    // A 20 km square in UTM 42N (EPSG:32642) holding z = 500 + 0.01·(x − x0) + 0.02·(y0 − y).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("utm42.tif");
    let (x0, y0, res, n) = (500_000.0, 4_570_000.0, 100.0, 200usize);
    let z_at = |x: f64, y: f64| 500.0 + 0.01 * (x - x0) + 0.02 * (y0 - y);
    {
        let drv = DriverManager::get_driver_by_name("GTiff").unwrap();
        let mut ds = drv.create_with_band_type::<f32, _>(&path, n, n, 1).unwrap();
        ds.set_geo_transform(&[x0, res, 0.0, y0, 0.0, -res])
            .unwrap();
        ds.set_spatial_ref(&SpatialRef::from_epsg(32642).unwrap())
            .unwrap();
        let data: Vec<f32> = (0..n)
            .flat_map(|r| (0..n).map(move |c| (c, r)))
            .map(|(c, r)| z_at(x0 + (c as f64 + 0.5) * res, y0 - (r as f64 + 0.5) * res) as f32)
            .collect();
        let mut band = ds.rasterband(1).unwrap();
        band.write((0, 0), (n, n), &mut Buffer::new((n, n), data))
            .unwrap();
        ds.close().unwrap();
    }
    let dem = Dem::from_gdal(&path).unwrap();
    // UTM 42N's central meridian is 69°E; x0 = 500 km lies on it, y0 ≈ 41.28°N.
    assert!((dem.west_deg - 69.0).abs() < 0.01, "{}", dem.west_deg);
    assert!((dem.north_deg - 41.28).abs() < 0.02, "{}", dem.north_deg);
    assert!(
        dem.dlat_deg > 0.0008 && dem.dlat_deg < 0.0010,
        "{}",
        dem.dlat_deg
    );

    let mut wgs84 = SpatialRef::from_epsg(4326).unwrap();
    wgs84.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut utm = SpatialRef::from_epsg(32642).unwrap();
    utm.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let tr = CoordTransform::new(&wgs84, &utm).unwrap();
    for &(lon, lat) in &[(69.1, 41.2), (69.05, 41.15), (69.18, 41.22), (69.12, 41.12)] {
        let (mut xs, mut ys, mut zs) = ([lon], [lat], [0.0]);
        tr.transform_coords(&mut xs, &mut ys, &mut zs).unwrap();
        let want = z_at(xs[0], ys[0]);
        let got = dem.elevation_m(lon, lat).unwrap();
        assert!((got - want).abs() < 0.5, "({lon}, {lat}): {got} vs {want}");
    }
    // The warped grid's corners lie outside the rotated UTM square: no data there, not zero.
    let nan_cells = dem.data_m.iter().filter(|v| v.is_nan()).count();
    assert!(nan_cells > 0, "warped corners must be no-data");
    // No fill value leaks in: every valid cell holds a value of the plane's range (≥ 500 m).
    assert!(dem
        .data_m
        .iter()
        .filter(|v| !v.is_nan())
        .all(|&v| (499.0..=1100.0).contains(&v)));
}

#[test]
fn rotated_and_unreferenced_rasters_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let drv = DriverManager::get_driver_by_name("GTiff").unwrap();

    let rotated = dir.path().join("rotated.tif");
    let mut ds = drv
        .create_with_band_type::<f32, _>(&rotated, 4, 4, 1)
        .unwrap();
    ds.set_geo_transform(&[68.0, 0.01, 0.002, 42.0, 0.001, -0.01])
        .unwrap();
    ds.set_spatial_ref(&SpatialRef::from_epsg(4326).unwrap())
        .unwrap();
    ds.close().unwrap();
    let msg = Dem::from_gdal(&rotated).unwrap_err().to_string();
    assert!(
        msg.contains("rotated.tif") && msg.contains("rotated or sheared geotransform"),
        "{msg}"
    );
    assert!(msg.contains("gdalwarp"), "{msg}");

    let no_crs = dir.path().join("nocrs.tif");
    let mut ds = drv
        .create_with_band_type::<f32, _>(&no_crs, 4, 4, 1)
        .unwrap();
    ds.set_geo_transform(&[68.0, 0.01, 0.0, 42.0, 0.0, -0.01])
        .unwrap();
    ds.close().unwrap();
    let msg = Dem::from_gdal(&no_crs).unwrap_err().to_string();
    assert!(
        msg.contains("nocrs.tif") && msg.contains("has no coordinate reference system"),
        "{msg}"
    );

    let missing = dir.path().join("missing.tif");
    let err = Dem::from_gdal(&missing).unwrap_err();
    assert!(matches!(err, GeodataError::Gdal { .. }), "{err:?}");
    assert!(err.to_string().contains("missing.tif"), "{err}");

    let err = Dem::from_bytes("embedded:garbage.tif", b"not a raster").unwrap_err();
    assert!(err.to_string().contains("embedded:garbage.tif"), "{err}");
}

// --- the embedded GLOBE window --------------------------------------------------------------

const TASHKENT: (f64, f64) = (69.2163, 41.2646);
const SAMARKAND: (f64, f64) = (66.9597, 39.6542);
const SHAHRISABZ: (f64, f64) = (66.8306, 39.0578);

fn embedded_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/uz/dem.tif")
}

#[test]
fn embedded_dem_has_the_documented_window_and_known_heights() {
    let bytes = std::fs::read(embedded_path()).unwrap();
    let dem = Dem::from_bytes("embedded:dem.tif", &bytes).unwrap();
    assert_eq!(dem.source, "embedded:dem.tif");
    assert_eq!((dem.cols, dem.rows), (2088, 1032));
    assert!((dem.west_deg - 55.9).abs() < 1e-9 && (dem.east_deg() - 73.3).abs() < 1e-9);
    assert!((dem.south_deg() - 37.1).abs() < 1e-9 && (dem.north_deg - 45.7).abs() < 1e-9);
    let from_file = Dem::from_gdal(embedded_path()).unwrap();
    assert_eq!(from_file.data_m, dem.data_m);

    // GLOBE cell values there are 424 m and 698 m; bilinear may differ by a few tens of metres.
    let t = dem.elevation_m(TASHKENT.0, TASHKENT.1).unwrap();
    assert!((t - 424.0).abs() < 30.0, "Tashkent {t}");
    let s = dem.elevation_m(SAMARKAND.0, SAMARKAND.1).unwrap();
    assert!((s - 698.0).abs() < 30.0, "Samarkand {s}");
    // Outside the window (the Caspian coast) is an error, not sea level.
    assert_eq!(dem.elevation_m(52.0, 41.0), None);
}

#[test]
fn embedded_profile_crosses_the_zarafshan_range_between_samarkand_and_shahrisabz() {
    let dem = Dem::from_gdal(embedded_path()).unwrap();
    let p = dem.profile(SAMARKAND, SHAHRISABZ, 1000.0).unwrap();
    assert!(
        (p.distance_m - 69_000.0).abs() < 2_000.0,
        "{}",
        p.distance_m
    );
    let first = p.elevations_m[0];
    let last = *p.elevations_m.last().unwrap();
    assert!(
        (first - 698.0).abs() < 30.0 && (last - 614.0).abs() < 40.0,
        "{first} {last}"
    );
    let (imax, zmax) =
        p.elevations_m.iter().enumerate().fold(
            (0, f64::MIN),
            |acc, (i, &z)| if z > acc.1 { (i, z) } else { acc },
        );
    // The crest (Takhtakaracha area) rises > 1,500 m, roughly 35–50 km south of Samarkand.
    assert!(zmax > 1500.0, "crest {zmax}");
    let at_km = imax as f64 * p.step_m / 1000.0;
    assert!((30.0..=50.0).contains(&at_km), "crest at {at_km} km");
    assert!(p.elevations_m.iter().all(|z| z.is_finite() && *z > 300.0));
}
