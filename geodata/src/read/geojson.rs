//! Native GeoJSON reader (RFC 7946: WGS84 lon/lat by definition).
//!
//! Ring closure and ring length are checked here, on the raw coordinates, because
//! `geo_types::Polygon` silently closes rings on construction.

use std::collections::{BTreeMap, BTreeSet};

use geo_types::{
    Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon,
};
use serde_json::Value as Json;

use super::{RawFeature, RawLayer, Value};
use crate::error::{Location, Problem};

/// Reads a GeoJSON FeatureCollection (or a single Feature) held in memory.
/// Never fails: unreadable parts are recorded in [`RawLayer::problems`].
pub fn read_bytes(file: &str, bytes: &[u8]) -> RawLayer {
    let mut layer = RawLayer {
        file: file.to_owned(),
        ..Default::default()
    };
    if super::is_blank(bytes) {
        return super::empty_file(file);
    }
    let root: Json = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            layer.problems.push(Problem::new(
                file,
                Location::None,
                None,
                format!("not valid JSON: {e}"),
                "fix the JSON syntax at that line and column (a GeoJSON validator helps)",
            ));
            return layer;
        }
    };
    if let Some(crs) = root.get("crs") {
        let name = crs
            .pointer("/properties/name")
            .and_then(Json::as_str)
            .unwrap_or("");
        let wgs84 = name.contains("CRS84") || name.ends_with(":4326") || name.ends_with("::4326");
        if !wgs84 {
            layer.problems.push(Problem::new(
                file,
                Location::None,
                Some("crs"),
                format!("declares CRS {name:?}; GeoJSON is read as WGS84 lon/lat"),
                "reproject to WGS84 (ogr2ogr -t_srs EPSG:4326) or save as GeoPackage so the CRS is honoured",
            ));
            return layer;
        }
    }
    let features: Vec<&Json> = match root.get("type").and_then(Json::as_str) {
        Some("FeatureCollection") => match root.get("features").and_then(Json::as_array) {
            Some(a) => a.iter().collect(),
            None => {
                layer.problems.push(Problem::new(
                    file,
                    Location::None,
                    Some("features"),
                    "FeatureCollection has no \"features\" array",
                    "add a \"features\": [] array",
                ));
                return layer;
            }
        },
        Some("Feature") => vec![&root],
        other => {
            layer.problems.push(Problem::new(
                file,
                Location::None,
                Some("type"),
                format!(
                    "top-level type is {:?}, not a FeatureCollection",
                    other.unwrap_or("missing")
                ),
                "wrap the geometries in a FeatureCollection whose features carry properties",
            ));
            return layer;
        }
    };
    let mut fields = BTreeSet::new();
    for (i, f) in features.into_iter().enumerate() {
        let loc = Location::Feature(i);
        let mut attrs = BTreeMap::new();
        match f.get("properties") {
            Some(Json::Object(props)) => {
                for (k, v) in props {
                    fields.insert(k.clone());
                    attrs.insert(k.clone(), json_value(v));
                }
            }
            None | Some(Json::Null) => {}
            Some(_) => layer.problems.push(Problem::new(
                file,
                loc.clone(),
                Some("properties"),
                "\"properties\" is not an object",
                "give properties as {\"name\": value, …}",
            )),
        }
        if let Some(id) = f.get("id") {
            // A top-level Feature id stands in for an `id` property when there is none.
            if !attrs.contains_key("id") && !id.is_null() {
                attrs.insert("id".into(), json_value(id));
                fields.insert("id".into());
            }
        }
        let mut geometry_reported = false;
        let geometry = match f.get("geometry") {
            None | Some(Json::Null) => None,
            Some(g) => match parse_geometry(g) {
                Ok(g) => Some(g),
                Err(msg) => {
                    geometry_reported = true;
                    layer.problems.push(Problem::new(file, loc.clone(), Some("geometry"), msg, "fix the geometry (e.g. with QGIS \"Fix geometries\" or ogr2ogr -makevalid)"));
                    None
                }
            },
        };
        layer.features.push(RawFeature {
            location: loc,
            attrs,
            geometry,
            geometry_reported,
        });
    }
    layer.fields = fields;
    layer
}

fn json_value(v: &Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::Text(s.clone()),
        other => Value::Text(other.to_string()),
    }
}

fn position(v: &Json) -> Result<Coord<f64>, String> {
    let a = v
        .as_array()
        .ok_or_else(|| format!("position {v} is not an array [lon, lat]"))?;
    if a.len() < 2 {
        return Err(format!("position {v} has fewer than 2 numbers"));
    }
    let x = a[0]
        .as_f64()
        .ok_or_else(|| format!("longitude {} is not a number", a[0]))?;
    let y = a[1]
        .as_f64()
        .ok_or_else(|| format!("latitude {} is not a number", a[1]))?;
    Ok(Coord { x, y })
}

fn positions(v: &Json) -> Result<Vec<Coord<f64>>, String> {
    v.as_array()
        .ok_or_else(|| "coordinates are not an array of positions".to_string())?
        .iter()
        .map(position)
        .collect()
}

fn ring(v: &Json, which: &str) -> Result<LineString<f64>, String> {
    let c = positions(v)?;
    if c.len() < 4 {
        return Err(format!("{which} ring has {} positions; a ring needs at least 4 (3 corners and the first repeated)", c.len()));
    }
    if c.first() != c.last() {
        return Err(format!(
            "{which} ring is not closed: it starts at {:?} and ends at {:?}",
            (c[0].x, c[0].y),
            (c[c.len() - 1].x, c[c.len() - 1].y)
        ));
    }
    Ok(LineString(c))
}

fn polygon(v: &Json) -> Result<Polygon<f64>, String> {
    let rings = v
        .as_array()
        .ok_or("polygon coordinates are not an array of rings")?;
    let Some(first) = rings.first() else {
        return Err("polygon has no rings".into());
    };
    let exterior = ring(first, "exterior")?;
    let interiors = rings[1..]
        .iter()
        .enumerate()
        .map(|(i, r)| ring(r, &format!("interior {i}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Polygon::new(exterior, interiors))
}

fn parse_geometry(g: &Json) -> Result<Geometry<f64>, String> {
    let ty = g
        .get("type")
        .and_then(Json::as_str)
        .ok_or("geometry has no \"type\"")?;
    if ty == "GeometryCollection" {
        return Err("GeometryCollection is not supported".into());
    }
    let c = g
        .get("coordinates")
        .ok_or_else(|| format!("{ty} has no \"coordinates\""))?;
    let arr = |v: &Json| {
        v.as_array()
            .cloned()
            .ok_or_else(|| format!("{ty} coordinates are not an array"))
    };
    Ok(match ty {
        "Point" => Geometry::Point(Point(position(c)?)),
        "MultiPoint" => {
            Geometry::MultiPoint(MultiPoint(positions(c)?.into_iter().map(Point).collect()))
        }
        "LineString" => Geometry::LineString(LineString(positions(c)?)),
        "MultiLineString" => Geometry::MultiLineString(MultiLineString(
            arr(c)?
                .iter()
                .map(|l| positions(l).map(LineString))
                .collect::<Result<_, _>>()?,
        )),
        "Polygon" => Geometry::Polygon(polygon(c)?),
        "MultiPolygon" => Geometry::MultiPolygon(MultiPolygon(
            arr(c)?.iter().map(polygon).collect::<Result<_, _>>()?,
        )),
        other => return Err(format!("unknown geometry type {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_features_properties_and_geometries() {
        let src = br#"{"type":"FeatureCollection","features":[
            {"type":"Feature","id":7,"properties":{"name":"A","population":12},"geometry":{"type":"Point","coordinates":[69.2,41.3]}},
            {"type":"Feature","properties":{"name":"B"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}"#;
        let l = read_bytes("t.geojson", src);
        assert!(l.problems.is_empty(), "{}", l.problems);
        assert_eq!(l.features.len(), 2);
        assert_eq!(l.features[0].attrs["id"], Value::Int(7));
        assert_eq!(l.features[0].attrs["population"], Value::Int(12));
        assert!(matches!(l.features[1].geometry, Some(Geometry::Polygon(_))));
        assert!(l.fields.contains("population"));
    }

    #[test]
    fn reports_open_rings_bad_positions_and_bad_json() {
        let src = br#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}},
            {"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}},
            {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":["x",1]}}]}"#;
        let l = read_bytes("r.geojson", src);
        let s = l.problems.to_string();
        assert!(
            s.contains("r.geojson: feature 1: field \"geometry\": exterior ring is not closed"),
            "{s}"
        );
        assert!(
            s.contains("r.geojson: feature 2: field \"geometry\": exterior ring has 3 positions"),
            "{s}"
        );
        assert!(
            s.contains("r.geojson: feature 3: field \"geometry\": longitude \"x\" is not a number"),
            "{s}"
        );
        let l = read_bytes("j.geojson", b"{\"type\": ");
        assert!(
            l.problems.to_string().contains("j.geojson: not valid JSON"),
            "{}",
            l.problems
        );
        let l = read_bytes("c.geojson", br#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:32642"}},"features":[]}"#);
        assert!(
            l.problems
                .to_string()
                .contains("declares CRS \"EPSG:32642\""),
            "{}",
            l.problems
        );
    }
}
