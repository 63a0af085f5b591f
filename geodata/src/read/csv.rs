//! Native CSV reader: one row per point feature, coordinates from lon/lat columns (WGS84).

use std::collections::{BTreeMap, BTreeSet};

use geo_types::{Geometry, Point};

use super::{RawFeature, RawLayer, Value};
use crate::error::{Location, Problem};

/// Reads a CSV with a header row. `lonlat` names the longitude and latitude columns; when
/// both exist every row gets a point geometry (rows with bad coordinates are reported and get
/// none). Values are kept as text; the layer builders parse them.
pub fn read_bytes(file: &str, bytes: &[u8], lonlat: (&str, &str)) -> RawLayer {
    let mut layer = RawLayer {
        file: file.to_owned(),
        ..Default::default()
    };
    // A UTF-8 byte-order mark (Excel adds one) would otherwise become part of the first name.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
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
            let mut coord = |col: usize, name: &str, limit: f64| -> Option<f64> {
                let raw = rec.get(col).unwrap_or("");
                let hint = format!(
                    "give decimal degrees between -{limit} and {limit} (WGS84), e.g. 41.2995"
                );
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
            match (lon, lat) {
                (Some(x), Some(y)) => geometry = Some(Geometry::Point(Point::new(x, y))),
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
