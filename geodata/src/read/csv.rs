//! Native CSV reader: one row per point feature, coordinates from lon/lat columns (WGS84).

use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use std::collections::{BTreeMap, BTreeSet};

use geo_types::{Geometry, Point};

use super::{RawFeature, RawLayer, Value};
use crate::error::{Location, Problem};

/// Reads a CSV with a header row. `lonlat` names the longitude and latitude columns; when
/// both exist every row gets a point geometry (rows with bad coordinates are reported and get
/// none). Values are kept as text; the layer builders parse them.
pub fn read_bytes(file: &str, bytes: &[u8], lonlat: (&str, &str)) -> RawLayer {
    read_bytes_in(file, bytes, lonlat, None)
}

/// A transformation from a declared CRS to WGS84 lon/lat, both in x = east, y = north order.
fn to_wgs84(crs: &str) -> Result<CoordTransform, String> {
    let mut src = SpatialRef::from_definition(crs.trim())
        .map_err(|e| format!("crs {crs:?} is not a CRS GDAL/PROJ knows ({e})"))?;
    src.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut dst = SpatialRef::from_epsg(4326).map_err(|e| format!("cannot set up WGS84: {e}"))?;
    dst.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    CoordTransform::new(&src, &dst)
        .map_err(|e| format!("cannot transform crs {crs:?} to WGS84 ({e})"))
}

/// Like [`read_bytes`], with the coordinate columns in `crs` (`EPSG:32642`, a PROJ string or
/// WKT; x in the longitude column, y in the latitude column), reprojected to WGS84 through
/// GDAL. `None` means WGS84 lon/lat degrees.
pub fn read_bytes_in(
    file: &str,
    bytes: &[u8],
    lonlat: (&str, &str),
    crs: Option<&str>,
) -> RawLayer {
    let mut layer = RawLayer {
        file: file.to_owned(),
        ..Default::default()
    };
    // A UTF-8 byte-order mark (Excel adds one) would otherwise become part of the first name.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if super::is_blank(bytes) {
        return super::empty_file(file);
    }
    let mut rdr = ::csv::ReaderBuilder::new()
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(bytes);
    let header: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(str::to_owned).collect(),
        Err(e) => {
            layer.problems.push(Problem::new(
                file,
                Location::Line(1),
                None,
                format!("cannot read the CSV header: {e}"),
                "save the file as UTF-8 CSV with a header row",
            ));
            return layer;
        }
    };
    let transform = match crs.map(to_wgs84).transpose() {
        Ok(t) => t,
        Err(m) => {
            layer.problems.push(Problem::new(
                file,
                Location::None,
                Some("crs"),
                m,
                "give an authority code such as \"EPSG:32642\" (UTM 42N), a PROJ string or WKT",
            ));
            return layer;
        }
    };
    layer.fields = header.iter().cloned().collect::<BTreeSet<_>>();
    let find = |name: &str| header.iter().position(|h| h == name);
    let (lon_col, lat_col) = (find(lonlat.0), find(lonlat.1));
    if lon_col.is_none() || lat_col.is_none() {
        for (name, col) in [(lonlat.0, lon_col), (lonlat.1, lat_col)] {
            if col.is_none() {
                layer.problems.push(Problem::new(
                    file,
                    Location::Line(1),
                    Some(name),
                    "coordinate column is missing from the header",
                    format!("add a {name:?} column in decimal degrees (WGS84) or map another column to it"),
                ));
            }
        }
    }
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                layer.problems.push(Problem::new(
                    file,
                    Location::Line(line),
                    None,
                    format!("unreadable row: {e}"),
                    "fix the quoting or encoding of this row",
                ));
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        let loc = Location::Line(line);
        if rec.len() != header.len() {
            layer.problems.push(Problem::new(
                file,
                loc.clone(),
                None,
                format!("row has {} values but the header has {} columns", rec.len(), header.len()),
                "give every row as many comma-separated values as the header (quote values that contain commas)",
            ));
            continue;
        }
        let attrs: BTreeMap<String, Value> = header
            .iter()
            .zip(rec.iter())
            .map(|(h, v)| {
                (
                    h.clone(),
                    if v.is_empty() {
                        Value::Null
                    } else {
                        Value::Text(v.to_owned())
                    },
                )
            })
            .collect();
        let mut geometry = None;
        let mut geometry_reported = false;
        if let (Some(lc), Some(ac)) = (lon_col, lat_col) {
            let projected = transform.is_some();
            let mut coord = |col: usize, name: &str, limit: f64| -> Option<f64> {
                let raw = rec.get(col).unwrap_or("");
                let hint = if projected {
                    format!(
                        "give a number in the units of the layer's crs {:?}",
                        crs.unwrap_or("")
                    )
                } else {
                    format!(
                        "give decimal degrees between -{limit} and {limit} (WGS84), e.g. 41.2995; for projected coordinates (e.g. UTM metres) declare the layer's crs, e.g. crs = \"EPSG:32642\""
                    )
                };
                let limit = if projected { f64::INFINITY } else { limit };
                match raw.parse::<f64>() {
                    _ if raw.is_empty() => {
                        layer.problems.push(Problem::new(
                            file,
                            loc.clone(),
                            Some(name),
                            "coordinate is missing",
                            hint,
                        ));
                        None
                    }
                    Ok(v) if v.is_finite() && v.abs() <= limit => Some(v),
                    Ok(v) if v.is_finite() => {
                        layer.problems.push(Problem::new(
                            file,
                            loc.clone(),
                            Some(name),
                            format!("{v} is out of range"),
                            hint,
                        ));
                        None
                    }
                    _ => {
                        layer.problems.push(Problem::new(
                            file,
                            loc.clone(),
                            Some(name),
                            format!("{raw:?} is not a number"),
                            hint,
                        ));
                        None
                    }
                }
            };
            let lon = coord(lc, lonlat.0, 180.0);
            let lat = coord(ac, lonlat.1, 90.0);
            match (lon, lat, &transform) {
                (Some(x), Some(y), None) => geometry = Some(Geometry::Point(Point::new(x, y))),
                (Some(x), Some(y), Some(t)) => {
                    let (mut xs, mut ys) = ([x], [y]);
                    let done = t.transform_coords(&mut xs, &mut ys, &mut []);
                    let bad = match done {
                        Err(e) => Some(format!(
                            "({x}, {y}) cannot be reprojected from {}: {e}",
                            crs.unwrap_or("")
                        )),
                        Ok(()) => crate::validate::check_lonlat(xs[0], ys[0])
                            .map(|m| format!("({x}, {y}) in {} gives {m}", crs.unwrap_or(""))),
                    };
                    match bad {
                        None => geometry = Some(Geometry::Point(Point::new(xs[0], ys[0]))),
                        Some(m) => {
                            layer.problems.push(Problem::new(
                                file,
                                loc.clone(),
                                Some("geometry"),
                                m,
                                "check the coordinates and that the layer's crs is the one they are in",
                            ));
                            geometry_reported = true;
                        }
                    }
                }
                _ => geometry_reported = true,
            }
        }
        layer.features.push(RawFeature {
            location: loc,
            attrs,
            geometry,
            geometry_reported,
        });
    }
    layer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_with_points_and_reports_bad_coordinates() {
        let src =
            "\u{feff}id,name,lon,lat\na,Alpha,69.2,41.3\nb,Beta,abc,41\nc,Gamma,10,95\nd,Delta,1\n";
        let l = read_bytes("s.csv", src.as_bytes(), ("lon", "lat"));
        assert_eq!(l.features.len(), 3);
        assert_eq!(l.features[0].location, Location::Line(2));
        assert_eq!(l.features[0].attrs["id"], Value::Text("a".into()));
        assert_eq!(
            l.features[0].geometry,
            Some(Geometry::Point(Point::new(69.2, 41.3)))
        );
        assert!(l.features[1].geometry.is_none());
        let s = l.problems.to_string();
        assert!(
            s.contains(
                "s.csv: line 3: field \"lon\": \"abc\" is not a number — give decimal degrees"
            ),
            "{s}"
        );
        assert!(
            s.contains("s.csv: line 4: field \"lat\": 95 is out of range"),
            "{s}"
        );
        assert!(
            s.contains("s.csv: line 5: row has 3 values but the header has 4 columns"),
            "{s}"
        );
    }

    #[test]
    fn reports_missing_coordinate_columns() {
        let l = read_bytes("n.csv", b"id,x,y\n1,2,3\n", ("lon", "lat"));
        let s = l.problems.to_string();
        assert!(
            s.contains("n.csv: line 1: field \"lon\": coordinate column is missing"),
            "{s}"
        );
        assert!(s.contains("n.csv: line 1: field \"lat\""), "{s}");
    }
}
