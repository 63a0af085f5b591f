//! Reader for every vector format GDAL supports (GeoPackage, Shapefile, FlatGeobuf, OSM, KML …),
//! reprojecting to WGS84 lon/lat through GDAL's spatial reference API.

use std::collections::BTreeMap;
use std::path::Path;

use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::vector::{FieldValue, LayerAccess};

use super::{RawFeature, RawLayer, Value};
use crate::error::{GeodataError, Location, Problem};

/// The WGS84 lon/lat reference with longitude first, whatever EPSG's axis order says.
pub fn wgs84_lonlat() -> Result<SpatialRef, gdal::errors::GdalError> {
    let mut srs = SpatialRef::from_epsg(4326)?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(srs)
}

fn field_value(v: Option<FieldValue>) -> Value {
    match v {
        None => Value::Null,
        Some(FieldValue::IntegerValue(i)) => Value::Int(i.into()),
        Some(FieldValue::Integer64Value(i)) => Value::Int(i),
        Some(FieldValue::RealValue(f)) => Value::Float(f),
        Some(FieldValue::StringValue(s)) => Value::Text(s),
        Some(FieldValue::DateValue(d)) => Value::Text(d.to_string()),
        Some(FieldValue::DateTimeValue(d)) => Value::Text(d.to_string()),
        Some(FieldValue::IntegerListValue(l)) => Value::Text(join(&l)),
        Some(FieldValue::Integer64ListValue(l)) => Value::Text(join(&l)),
        Some(FieldValue::RealListValue(l)) => Value::Text(join(&l)),
        Some(FieldValue::StringListValue(l)) => Value::Text(l.join(";")),
    }
}

fn join<T: ToString>(l: &[T]) -> String {
    l.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(";")
}

/// Reads one layer (by name, or the first) of a GDAL vector dataset. Opening failures are
/// errors; per-feature trouble is collected in the layer's problems.
pub fn read_path(path: &Path, layer_name: Option<&str>) -> Result<RawLayer, GeodataError> {
    let file = path.display().to_string();
    if !path.exists() {
        return Err(GeodataError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    let ds = gdal::Dataset::open(path).map_err(|e| GeodataError::gdal(path, e))?;
    let mut layer = match layer_name {
        Some(name) => ds.layer_by_name(name).map_err(|_| {
            let names: Vec<String> = ds.layers().map(|l| l.name()).collect();
            GeodataError::Invalid(crate::error::Problems(vec![Problem::new(
                &file,
                Location::None,
                None,
                format!("has no layer {name:?}"),
                format!("choose one of its layers: {}", names.join(", ")),
            )]))
        })?,
        None => ds.layer(0).map_err(|_| {
            GeodataError::Invalid(crate::error::Problems(vec![Problem::new(
                &file,
                Location::None,
                None,
                "has no vector layer",
                "give a file that holds vector features",
            )]))
        })?,
    };
    let mut out = RawLayer {
        file: file.clone(),
        ..Default::default()
    };
    out.fields = layer.defn().fields().map(|f| f.name()).collect();
    let has_other_tags = out.fields.contains("other_tags");
    out.open_schema = has_other_tags;

    let transform = match layer.spatial_ref() {
        Some(mut src) => {
            src.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
            let dst = wgs84_lonlat().map_err(|e| GeodataError::gdal(path, e))?;
            if src == dst {
                None
            } else {
                Some(CoordTransform::new(&src, &dst).map_err(|e| GeodataError::gdal(path, e))?)
            }
        }
        None => {
            out.warnings.push(Problem::new(
                &file,
                Location::None,
                None,
                "layer declares no coordinate reference system; coordinates are taken as WGS84 lon/lat",
                "if they are not, add the CRS (e.g. a .prj next to a Shapefile, or ogr2ogr -a_srs)",
            ));
            None
        }
    };

    for (i, feature) in layer.features().enumerate() {
        let loc = Location::Feature(i);
        let mut attrs = BTreeMap::new();
        for (name, v) in feature.fields() {
            if has_other_tags && name == "other_tags" {
                if let Some(FieldValue::StringValue(h)) = &v {
                    for (k, tv) in super::osm::parse_other_tags(h) {
                        attrs.entry(k).or_insert(Value::Text(tv));
                    }
                }
                continue;
            }
            attrs.insert(name, field_value(v));
        }
        let mut geometry_reported = false;
        let geometry = match feature.geometry() {
            None => None,
            Some(g) if g.is_empty() => None,
            Some(g) => {
                let converted = match &transform {
                    Some(ct) => g.transform(ct).and_then(|g| g.to_geo()),
                    None => g.to_geo(),
                };
                match converted {
                    Ok(g) => Some(g),
                    Err(e) => {
                        geometry_reported = true;
                        out.problems.push(Problem::new(
                            &file,
                            loc.clone(),
                            Some("geometry"),
                            format!("cannot convert the {} geometry: {e}", g.geometry_name()),
                            "convert curves/collections to simple (multi)points, lines or polygons (ogr2ogr -nlt PROMOTE_TO_MULTI / -explodecollections)",
                        ));
                        None
                    }
                }
            }
        };
        out.features.push(RawFeature {
            location: loc,
            attrs,
            geometry,
            geometry_reported,
        });
    }
    Ok(out)
}
