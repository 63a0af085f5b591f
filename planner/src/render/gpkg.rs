//! The report's GeoPackage: every layer for QGIS — regions, settlements with coverage before and
//! after and fixed-broadband status, mobile-Internet road stretches before and after, existing
//! sites, proposed sites, fixed nodes, unserved settlements and new fibre routes, plus the
//! regions' measured speeds when the report has them — in EPSG:4326, and the coverage heatmaps
//! as raster tables (Float32 dBm and Byte classes with a colour table per technology, today and
//! after the plan; see [`crate::render::raster`]), written through GDAL to a temporary file and
//! renamed.

use std::path::{Path, PathBuf};

use gdal::spatial_ref::SpatialRef;
use gdal::vector::{
    Feature, FieldValue, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
    ToGdal,
};
use geodata::Dataset;

use crate::output::OutputError;
use crate::report::ReportData;

/// Layer names in the order written, for tests and docs.
pub const LAYERS: [&str; 8] = [
    "regions",
    "settlements",
    "road_stretches",
    "sites",
    "proposed_sites",
    "fixed_nodes",
    "unserved_settlements",
    "fibre_routes",
];

/// The extra layer written when the report has measured speeds: one region polygon per row
/// with the columns of speeds.csv (bytes per second), so QGIS can colour regions by them.
pub const SPEEDS_LAYER: &str = "speeds";

type Fields = Vec<(&'static str, OGRFieldType::Type)>;

fn s(v: impl Into<String>) -> Option<FieldValue> {
    Some(FieldValue::StringValue(v.into()))
}
fn r(v: f64) -> Option<FieldValue> {
    Some(FieldValue::RealValue(v))
}
fn i(v: i64) -> Option<FieldValue> {
    Some(FieldValue::Integer64Value(v))
}
fn b(v: bool) -> Option<FieldValue> {
    Some(FieldValue::IntegerValue(v as i32))
}

fn point(lon: f64, lat: f64) -> gdal::errors::Result<Geometry> {
    let mut g = Geometry::empty(OGRwkbGeometryType::wkbPoint)?;
    g.add_point_2d((lon, lat));
    Ok(g)
}

fn line(coords: &[(f64, f64)]) -> gdal::errors::Result<Geometry> {
    let mut g = Geometry::empty(OGRwkbGeometryType::wkbLineString)?;
    for &c in coords {
        g.add_point_2d(c);
    }
    Ok(g)
}

/// One layer's rows: geometry and field values in `fields` order (`None` = null).
struct LayerData {
    name: &'static str,
    ty: OGRwkbGeometryType::Type,
    fields: Fields,
    rows: Vec<(Geometry, Vec<Option<FieldValue>>)>,
}

fn write_layer(ds: &mut gdal::Dataset, srs: &SpatialRef, l: LayerData) -> gdal::errors::Result<()> {
    let mut tx = ds.start_transaction()?;
    {
        let layer = tx.create_layer(LayerOptions {
            name: l.name,
            srs: Some(srs),
            ty: l.ty,
            options: None,
        })?;
        layer.create_defn_fields(&l.fields)?;
        for (geom, vals) in l.rows {
            let mut f = Feature::new(layer.defn())?;
            f.set_geometry(geom)?;
            for (k, v) in vals.iter().enumerate() {
                if let Some(v) = v {
                    f.set_field(k, v)?;
                }
            }
            f.create(&layer)?;
        }
    }
    tx.commit()
}

fn layers(ds: &Dataset, rd: &ReportData) -> gdal::errors::Result<Vec<LayerData>> {
    use OGRFieldType::{OFTInteger, OFTInteger64, OFTReal, OFTString};
    let before = &rd.plan.prepared.before;
    let after = &rd.plan.after;
    let mut out = Vec::new();

    let mut rows = Vec::new();
    for reg in &ds.regions {
        rows.push((
            reg.geometry.to_gdal()?,
            vec![
                s(&reg.code),
                s(&reg.name_en),
                reg.name_local.clone().and_then(s),
            ],
        ));
    }
    out.push(LayerData {
        name: "regions",
        ty: OGRwkbGeometryType::wkbMultiPolygon,
        fields: vec![
            ("code", OFTString),
            ("name", OFTString),
            ("name_local", OFTString),
        ],
        rows,
    });

    let mut rows = Vec::new();
    for (k, st) in ds.settlements.iter().enumerate() {
        let bb = &rd.broadband.settlements[k];
        let rx = |a: &crate::analyze::Analysis, t: usize| {
            a.coverage.per_target[k].best[t].map(|x| crate::numbers::round(x.rx_dbm, 2))
        };
        rows.push((
            point(st.lon, st.lat)?,
            vec![
                s(&st.id),
                s(&st.name),
                s(&before.gaps.settlement_region[k]),
                i(st.population as i64),
                b(before.coverage.mobile_internet(k)),
                b(after.coverage.mobile_internet(k)),
                rx(before, 2).and_then(r),
                rx(after, 2).and_then(r),
                rx(before, 1).and_then(r),
                rx(after, 1).and_then(r),
                b(bb.served),
                i(bb.households as i64),
                i(bb.demand_ports as i64),
            ],
        ));
    }
    out.push(LayerData {
        name: "settlements",
        ty: OGRwkbGeometryType::wkbPoint,
        fields: vec![
            ("id", OFTString),
            ("name", OFTString),
            ("region", OFTString),
            ("population", OFTInteger64),
            ("mobile_internet_before", OFTInteger),
            ("mobile_internet_after", OFTInteger),
            ("rx_dbm_4g_before", OFTReal),
            ("rx_dbm_4g_after", OFTReal),
            ("rx_dbm_3g_before", OFTReal),
            ("rx_dbm_3g_after", OFTReal),
            ("broadband_served", OFTInteger),
            ("households", OFTInteger64),
            ("demand_ports", OFTInteger64),
        ],
        rows,
    });

    let mut rows = Vec::new();
    for (phase, a) in [("before", before), ("after", after)] {
        for st in a
            .gaps
            .stretches
            .iter()
            .filter(|x| x.service == "mobile_internet")
        {
            rows.push((
                line(&st.coords)?,
                vec![
                    s(phase),
                    b(st.covered),
                    s(&st.road_id),
                    s(st.refs.join(";")),
                    b(st.international),
                    s(&st.region),
                    r(st.start_m),
                    r(st.length_m),
                ],
            ));
        }
    }
    out.push(LayerData {
        name: "road_stretches",
        ty: OGRwkbGeometryType::wkbLineString,
        fields: vec![
            ("phase", OFTString),
            ("covered", OFTInteger),
            ("road_id", OFTString),
            ("refs", OFTString),
            ("international", OFTInteger),
            ("region", OFTString),
            ("start_m", OFTReal),
            ("length_m", OFTReal),
        ],
        rows,
    });

    let mut rows = Vec::new();
    for site in &ds.sites {
        let mut techs: Vec<&str> = site.cells.iter().map(|c| c.technology.as_str()).collect();
        techs.sort_unstable();
        techs.dedup();
        rows.push((
            point(site.lon, site.lat)?,
            vec![
                s(&site.id),
                site.operator.clone().and_then(s),
                r(site.height_m),
                i(site.cells.len() as i64),
                s(techs.join(";")),
            ],
        ));
    }
    out.push(LayerData {
        name: "sites",
        ty: OGRwkbGeometryType::wkbPoint,
        fields: vec![
            ("id", OFTString),
            ("operator", OFTString),
            ("height_m", OFTReal),
            ("cells", OFTInteger),
            ("technologies", OFTString),
        ],
        rows,
    });

    let mut rows = Vec::new();
    for p in &rd.plan.selection.sites {
        rows.push((
            point(p.lon, p.lat)?,
            vec![
                i(p.rank as i64),
                s(&p.id),
                s(p.site_type.as_str()),
                s(p.source.as_str()),
                s(&p.region),
                r(p.height_m),
                r(p.cost),
                r(p.capex),
                r(p.opex_per_year),
                s(format!("{:?}", p.backhaul.kind).to_lowercase()),
                p.backhaul.distance_km.and_then(r),
                i(p.marginal_gain.population as i64),
                i(p.marginal_gain.settlements as i64),
                r(p.marginal_gain.highway_km),
                r(p.cumulative_cost),
            ],
        ));
    }
    out.push(LayerData {
        name: "proposed_sites",
        ty: OGRwkbGeometryType::wkbPoint,
        fields: vec![
            ("rank", OFTInteger),
            ("id", OFTString),
            ("type", OFTString),
            ("source", OFTString),
            ("region", OFTString),
            ("height_m", OFTReal),
            ("cost", OFTReal),
            ("capex", OFTReal),
            ("opex_per_year", OFTReal),
            ("backhaul", OFTString),
            ("backhaul_distance_km", OFTReal),
            ("gain_population", OFTInteger64),
            ("gain_settlements", OFTInteger),
            ("gain_highway_km", OFTReal),
            ("cumulative_cost", OFTReal),
        ],
        rows,
    });

    let mut rows = Vec::new();
    for n in &ds.fixed_nodes {
        rows.push((
            point(n.lon, n.lat)?,
            vec![
                s(&n.id),
                s(&n.kind),
                s(n.technology.as_str()),
                i(n.ports_total as i64),
                i(n.ports_used as i64),
            ],
        ));
    }
    out.push(LayerData {
        name: "fixed_nodes",
        ty: OGRwkbGeometryType::wkbPoint,
        fields: vec![
            ("id", OFTString),
            ("kind", OFTString),
            ("technology", OFTString),
            ("ports_total", OFTInteger64),
            ("ports_used", OFTInteger64),
        ],
        rows,
    });

    let unserved: Vec<&crate::broadband::SettlementBroadband> = rd
        .broadband
        .settlements
        .iter()
        .filter(|x| !x.served)
        .collect();
    let method = |x: &crate::broadband::SettlementBroadband| {
        x.fibre_method
            .map(|m| format!("{m:?}").to_lowercase())
            .and_then(s)
    };
    let mut rows = Vec::new();
    for x in &unserved {
        rows.push((
            point(x.lon, x.lat)?,
            vec![
                s(&x.id),
                s(&x.name),
                s(&x.region),
                i(x.demand_ports as i64),
                x.fibre_from.clone().and_then(s),
                x.fibre_km.and_then(r),
                method(x),
            ],
        ));
    }
    let fields: Fields = vec![
        ("id", OFTString),
        ("name", OFTString),
        ("region", OFTString),
        ("demand_ports", OFTInteger64),
        ("fibre_from", OFTString),
        ("fibre_km", OFTReal),
        ("fibre_method", OFTString),
    ];
    out.push(LayerData {
        name: "unserved_settlements",
        ty: OGRwkbGeometryType::wkbPoint,
        fields: fields.clone(),
        rows,
    });
    let mut rows = Vec::new();
    for x in unserved.iter().filter(|x| x.fibre_route.len() >= 2) {
        rows.push((
            line(&x.fibre_route)?,
            vec![
                s(&x.id),
                s(&x.name),
                s(&x.region),
                i(x.demand_ports as i64),
                x.fibre_from.clone().and_then(s),
                x.fibre_km.and_then(r),
                method(x),
            ],
        ));
    }
    out.push(LayerData {
        name: "fibre_routes",
        ty: OGRwkbGeometryType::wkbLineString,
        fields,
        rows,
    });

    if let Some(sp) = &rd.speeds {
        let target_source = |t: Option<crate::speeds::TargetSource>| {
            t.map(|t| match t {
                crate::speeds::TargetSource::Prometheus => "prometheus",
                crate::speeds::TargetSource::Config => "config",
            })
            .and_then(s)
        };
        let mut rows = Vec::new();
        for x in &sp.regions {
            // Speeds lists every region of the same dataset, so the code always resolves.
            let Some(reg) = ds.regions.iter().find(|g| g.code == x.region) else {
                continue;
            };
            rows.push((
                reg.geometry.to_gdal()?,
                vec![
                    s(&x.region),
                    s(&x.name),
                    (!x.label.is_empty()).then(|| x.label.clone()).and_then(s),
                    b(x.measured),
                    i(x.agents as i64),
                    x.download_bytes_per_second.and_then(r),
                    x.upload_bytes_per_second.and_then(r),
                    x.download_7d_bytes_per_second.and_then(r),
                    x.upload_7d_bytes_per_second.and_then(r),
                    x.download_target_bytes_per_second.and_then(r),
                    x.upload_target_bytes_per_second.and_then(r),
                    target_source(x.download_target_source),
                    target_source(x.upload_target_source),
                    x.download_ratio_to_target.and_then(r),
                    x.upload_ratio_to_target.and_then(r),
                    b(x.below_target),
                    x.domestic_download_bytes_per_second.and_then(r),
                    x.international_download_bytes_per_second.and_then(r),
                    x.domestic_upload_bytes_per_second.and_then(r),
                    x.international_upload_bytes_per_second.and_then(r),
                    x.international_download_ratio.and_then(r),
                    x.international_upload_ratio.and_then(r),
                    r(x.international_ratio_min),
                    b(x.international_bottleneck),
                ],
            ));
        }
        out.push(LayerData {
            name: SPEEDS_LAYER,
            ty: OGRwkbGeometryType::wkbMultiPolygon,
            fields: vec![
                ("region", OFTString),
                ("name", OFTString),
                ("label", OFTString),
                ("measured", OFTInteger),
                ("agents", OFTInteger64),
                ("download_bytes_per_second", OFTReal),
                ("upload_bytes_per_second", OFTReal),
                ("download_7d_bytes_per_second", OFTReal),
                ("upload_7d_bytes_per_second", OFTReal),
                ("download_target_bytes_per_second", OFTReal),
                ("upload_target_bytes_per_second", OFTReal),
                ("download_target_source", OFTString),
                ("upload_target_source", OFTString),
                ("download_ratio_to_target", OFTReal),
                ("upload_ratio_to_target", OFTReal),
                ("below_target", OFTInteger),
                ("domestic_download_bytes_per_second", OFTReal),
                ("international_download_bytes_per_second", OFTReal),
                ("domestic_upload_bytes_per_second", OFTReal),
                ("international_upload_bytes_per_second", OFTReal),
                ("international_download_ratio", OFTReal),
                ("international_upload_ratio", OFTReal),
                ("international_ratio_min", OFTReal),
                ("international_bottleneck", OFTInteger),
            ],
            rows,
        });
    }
    Ok(out)
}

/// Writes `dir/name` (a GeoPackage) through a temporary file and a rename.
pub fn write(
    dir: &Path,
    name: &str,
    ds: &Dataset,
    rd: &ReportData,
) -> Result<PathBuf, OutputError> {
    let dest = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp-{}.gpkg", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let res = (|| -> gdal::errors::Result<()> {
        let driver = gdal::DriverManager::get_driver_by_name("GPKG")?;
        let mut out = driver.create_vector_only(&tmp)?;
        let mut srs = SpatialRef::from_epsg(4326)?;
        // Keep lon/lat order whatever GDAL's default axis mapping is.
        srs.set_axis_mapping_strategy(gdal::spatial_ref::AxisMappingStrategy::TraditionalGisOrder);
        for l in layers(ds, rd)? {
            write_layer(&mut out, &srs, l)?;
        }
        out.close()?;
        crate::render::raster::append_gpkg(&tmp, &rd.heatmaps)
    })();
    let res = res
        .map_err(|e| OutputError {
            path: dest.clone(),
            message: e.to_string(),
        })
        .and_then(|_| {
            std::fs::rename(&tmp, &dest).map_err(|e| OutputError {
                path: dest.clone(),
                message: e.to_string(),
            })
        });
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(dest)
}
