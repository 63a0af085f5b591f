//! Columns across the language boundary.
//!
//! In: numbers as little-endian buffers (`numpy.ndarray.tobytes()`), attribute columns as lists
//! of Python scalars, geometries as WKB (`shapely.to_wkb`), decoded into the same
//! [`RawLayer`] the file readers produce, so the layer builders check a GeoDataFrame exactly as
//! they check a file. Out: a list of `(name, kind, data)` triples that the Python side turns
//! into numpy arrays and a GeoDataFrame (kinds: `f8`, `i8`, `bool`, `str`, `wkb`).

use std::collections::{BTreeMap, BTreeSet};

use gdal::vector::{Geometry as GdalGeometry, ToGdal};
use geodata::error::{Location, Problem, Problems};
use geodata::read::{RawFeature, RawLayer, Value};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyList, PyString, PyTuple};

/// Decodes a buffer of little-endian `f64`.
pub fn f64s(name: &str, bytes: &[u8]) -> PyResult<Vec<f64>> {
    if bytes.len() % 8 != 0 {
        return Err(PyValueError::new_err(format!(
            "{name}: {} bytes is not a whole number of float64 values",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("chunk of 8")))
        .collect())
}

/// Decodes a buffer of little-endian `u32` (indices).
pub fn u32s(name: &str, bytes: &[u8]) -> PyResult<Vec<u32>> {
    if bytes.len() % 4 != 0 {
        return Err(PyValueError::new_err(format!(
            "{name}: {} bytes is not a whole number of uint32 values",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("chunk of 4")))
        .collect())
}

/// One attribute value from a Python scalar (`None` and NaN are null, as in a file).
fn value_of(o: &Bound<'_, PyAny>) -> PyResult<Value> {
    if o.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = o.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(i) = o.cast::<PyInt>() {
        return Ok(match i.extract::<i64>() {
            Ok(v) => Value::Int(v),
            // Beyond i64: keep the digits, the builders report it as a bad number.
            Err(_) => Value::Text(i.str()?.to_string()),
        });
    }
    if let Ok(f) = o.cast::<PyFloat>() {
        let v = f.value();
        return Ok(if v.is_nan() {
            Value::Null
        } else {
            Value::Float(v)
        });
    }
    if let Ok(s) = o.cast::<PyString>() {
        return Ok(Value::Text(s.to_str()?.to_owned()));
    }
    Ok(Value::Text(o.str()?.to_string()))
}

/// A layer named `file` in messages from attribute columns (`(name, list of scalars)`) and one
/// WKB geometry (or `None`) per row. Row `i` is reported as `feature i`.
pub fn raw_layer(
    file: &str,
    columns: &[(String, Bound<'_, PyList>)],
    wkb: &Bound<'_, PyList>,
) -> PyResult<RawLayer> {
    let n = wkb.len();
    for (name, col) in columns {
        if col.len() != n {
            return Err(PyValueError::new_err(format!(
                "{file}: column {name:?} has {} values for {n} geometries",
                col.len()
            )));
        }
    }
    let mut layer = RawLayer {
        file: file.to_string(),
        fields: columns
            .iter()
            .map(|(k, _)| k.clone())
            .collect::<BTreeSet<_>>(),
        ..RawLayer::default()
    };
    let mut problems = Problems::new();
    let mut features = Vec::with_capacity(n);
    for i in 0..n {
        let mut attrs = BTreeMap::new();
        for (name, col) in columns {
            let v = value_of(&col.get_item(i)?)?;
            if v != Value::Null {
                attrs.insert(name.clone(), v);
            }
        }
        let loc = Location::Feature(i);
        let item = wkb.get_item(i)?;
        let mut geometry_reported = false;
        let geometry = if item.is_none() {
            None
        } else {
            let bytes = item.cast::<PyBytes>().map_err(|_| {
                PyValueError::new_err(format!("{file}: geometry {i} is not WKB bytes"))
            })?;
            match decode_wkb(bytes.as_bytes()) {
                Ok(g) => Some(g),
                Err(msg) => {
                    geometry_reported = true;
                    problems.push(Problem::new(
                        file,
                        loc.clone(),
                        Some("geometry"),
                        msg,
                        "fix the geometry (e.g. with shapely.make_valid)",
                    ));
                    None
                }
            }
        };
        features.push(RawFeature {
            location: loc,
            attrs,
            geometry,
            geometry_reported,
        });
    }
    layer.features = features;
    layer.problems = problems;
    Ok(layer)
}

/// WKB → geo-types through GDAL (ISO and extended WKB, with Z/M dropped by the conversion).
fn decode_wkb(bytes: &[u8]) -> Result<geo_types::Geometry<f64>, String> {
    let g = GdalGeometry::from_wkb(bytes).map_err(|e| format!("unreadable WKB geometry: {e}"))?;
    if g.is_empty() {
        return Err("empty geometry".into());
    }
    g.to_geo().map_err(|e| format!("unsupported geometry: {e}"))
}

/// WKB of a geo-types geometry.
pub fn encode_wkb(g: &geo_types::Geometry<f64>) -> PyResult<Vec<u8>> {
    g.to_gdal()
        .and_then(|g| g.wkb())
        .map_err(|e| PyValueError::new_err(format!("cannot encode geometry as WKB: {e}")))
}

/// One output column.
pub enum Col {
    F64(Vec<f64>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
    Str(Vec<Option<String>>),
    Wkb(Vec<Vec<u8>>),
}

/// Output columns in order.
#[derive(Default)]
pub struct Columns(pub Vec<(String, Col)>);

impl Columns {
    pub fn push(&mut self, name: impl Into<String>, col: Col) {
        self.0.push((name.into(), col));
    }

    /// `[(name, kind, data)]`; numbers as little-endian bytes.
    pub fn into_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
        let out = PyList::empty(py);
        for (name, col) in self.0 {
            let (kind, data): (&str, Bound<'_, PyAny>) = match col {
                Col::F64(v) => (
                    "f8",
                    PyBytes::new(
                        py,
                        &v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(),
                    )
                    .into_any(),
                ),
                Col::I64(v) => (
                    "i8",
                    PyBytes::new(
                        py,
                        &v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(),
                    )
                    .into_any(),
                ),
                Col::Bool(v) => (
                    "bool",
                    PyBytes::new(py, &v.iter().map(|&b| b as u8).collect::<Vec<_>>()).into_any(),
                ),
                Col::Str(v) => ("str", PyList::new(py, v)?.into_any()),
                Col::Wkb(v) => (
                    "wkb",
                    PyList::new(py, v.iter().map(|b| PyBytes::new(py, b)))?.into_any(),
                ),
            };
            out.append(PyTuple::new(
                py,
                [
                    name.into_pyobject(py)?.into_any(),
                    kind.into_pyobject(py)?.into_any(),
                    data,
                ],
            )?)?;
        }
        Ok(out)
    }
}
