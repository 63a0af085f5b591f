//! Readers on real files: GeoJSON and CSV natively; GeoPackage, Shapefile, OSM XML and a
//! projected-CRS GeoPackage through GDAL (written with `ogr2ogr` in the test); the embedded
//! default dataset.

use std::path::{Path, PathBuf};
use std::process::Command;

use gdal::vector::LayerAccess;
use geodata::mapping::{RoadMapping, SettlementMapping};
use geodata::read::{self, LayerKind};
use geodata::sources::{LayerSource, Sources};
use geodata::{RoadClass, Technology};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Converts with GDAL's own command-line tool, so the test files are written by real GDAL.
fn ogr2ogr(args: &[&str]) {
    let out = Command::new("ogr2ogr")
        .args(args)
        .output()
        .expect("ogr2ogr (gdal-bin) must be installed");
    assert!(
        out.status.success(),
        "ogr2ogr {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const SETTLEMENTS_GEOJSON: &str = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"id":"tash","name":"Tashkent","population":2571668,"region":"UZ-TK"},"geometry":{"type":"Point","coordinates":[69.2163,41.2646]}},
 {"type":"Feature","properties":{"id":"sam","name":"Samarkand","population":546303,"region":"UZ-SA","households":120000},"geometry":{"type":"Point","coordinates":[66.9597,39.6542]}}
]}"#;

const ROADS_GEOJSON: &str = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"id":"m39a","class":"trunk","refs":"M-39;E 40","name":"Tashkent-Samarkand"},"geometry":{"type":"LineString","coordinates":[[69.2163,41.2646],[68.7842,40.4897],[67.8422,40.1158],[66.9597,39.6542]]}},
 {"type":"Feature","properties":{"id":"local","class":"secondary","refs":"4R-12"},"geometry":{"type":"MultiLineString","coordinates":[[[69.0,41.0],[69.1,41.1]],[[69.2,41.2],[69.3,41.25]]]}}
]}"#;

const REGIONS_GEOJSON: &str = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"code":"UZ-TK","name_en":"Tashkent","name_ru":"Ташкент"},"geometry":{"type":"Polygon","coordinates":[[[69.1,41.2],[69.4,41.2],[69.4,41.4],[69.1,41.4],[69.1,41.2]]]}},
 {"type":"Feature","properties":{"code":"UZ-SA","name_en":"Samarqand"},"geometry":{"type":"MultiPolygon","coordinates":[[[[66.5,39.3],[67.5,39.3],[67.5,40.0],[66.5,40.0],[66.5,39.3]]]]}}
]}"#;

#[test]
fn geojson_files_load_through_sources() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "settlements.geojson", SETTLEMENTS_GEOJSON);
    write(dir.path(), "roads.geojson", ROADS_GEOJSON);
    write(dir.path(), "regions.geojson", REGIONS_GEOJSON);
    let sources = Sources {
        settlements: Some(LayerSource::new("settlements.geojson")),
        roads: Some(LayerSource::new("roads.geojson")),
        regions: Some(LayerSource::new("regions.geojson")),
        ..Default::default()
    };
    let ds = sources.load(dir.path()).unwrap();
    assert_eq!(ds.settlements.len(), 2);
    assert_eq!(ds.settlements[0].population, 2_571_668);
    assert_eq!(ds.settlements[1].households, Some(120_000));
    assert_eq!(ds.settlements[1].region.as_deref(), Some("UZ-SA"));
    assert_eq!(
        ds.roads.len(),
        3,
        "a MultiLineString gives one road per part"
    );
    assert_eq!(ds.roads[0].refs, vec!["M39", "E40"]);
    assert!(ds.roads[0].international);
    assert_eq!(ds.roads[0].class, RoadClass::Trunk);
    assert_eq!(ds.roads[1].id, "local#0");
    assert_eq!(ds.roads[2].id, "local#1");
    assert!(!ds.roads[1].international);
    assert_eq!(ds.regions.len(), 2);
    assert_eq!(ds.regions[0].name_ru.as_deref(), Some("Ташкент"));
    // Tashkent–Gulistan–Jizzakh–Samarkand straight segments: about 272 km geodesic.
    let km = ds.route_km()["M39"];
    assert!((250.0..300.0).contains(&km), "{km}");
    assert!(ds.sources["roads"].ends_with("roads.geojson"));
}

#[test]
fn csv_files_load_sites_settlements_and_fixed_nodes() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.csv", "id,name,lon,lat,population,region\na,Alpha,69.2,41.3,1200,UZ-TO\nb,Beta,69.3,41.4,\"12 500\",\n");
    write(
        dir.path(),
        "cells.csv",
        "site_id,lon,lat,height_m,operator,technology,band_mhz,eirp_dbm,azimuth_deg,beamwidth_deg,tilt_deg\n\
         s1,69.2,41.3,30,Beeline,LTE,1800,61,0,65,3\n\
         s1,69.2,41.3,30,Beeline,LTE,1800,61,120,65,3\n\
         s1,69.2,41.3,30,Beeline,GSM,900,58,,,\n\
         s2,69.5,41.0,45,Ucell,3g,2100,59,,,\n",
    );
    write(
        dir.path(),
        "fixed.csv",
        "id,lon,lat,kind,technology,ports_total,ports_used\nn1,69.2,41.3,olt,GPON,1024,700\n",
    );
    let sources = Sources {
        settlements: Some(LayerSource::new("s.csv")),
        sites: Some(LayerSource::new("cells.csv")),
        fixed_nodes: Some(LayerSource::new("fixed.csv")),
        ..Default::default()
    };
    let ds = sources.load(dir.path()).unwrap();
    assert_eq!(ds.settlements[1].population, 12_500);
    assert_eq!(ds.settlements[1].region, None);
    assert_eq!(ds.sites.len(), 2);
    assert_eq!(ds.sites[0].cells.len(), 3);
    assert_eq!(ds.sites[0].cells[1].azimuth_deg, Some(120.0));
    assert_eq!(ds.sites[0].cells[2].technology, Technology::G2);
    assert_eq!(ds.sites[0].cells[2].azimuth_deg, None);
    assert_eq!(ds.sites[1].height_m, 45.0);
    assert_eq!(ds.fixed_nodes[0].technology, geodata::FixedTechnology::Ftth);
    assert_eq!(ds.fixed_nodes[0].ports_used, 700);
    assert_eq!(ds.cells_by_technology()[&Technology::G4], 2);
}

#[test]
fn opencellid_csv_becomes_omni_sites_with_a_counted_warning() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "cells.csv",
        "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\n\
         UMTS,434,5,1200,345678,0,69.28,41.31,2000,12,1,1459692000,1459692000,0\n\
         NR,434,4,1300,99,0,69.30,41.32,500,2,1,1459692000,1459692000,0\n",
    );
    let sources = Sources {
        sites: Some(LayerSource::new("cells.csv")),
        ..Default::default()
    };
    let ds = sources.load(dir.path()).unwrap();
    assert_eq!(ds.sites.len(), 2);
    assert_eq!(ds.sites[0].cells[0].technology, Technology::G3);
    assert_eq!(ds.sites[1].cells[0].technology, Technology::G5);
    assert_eq!(ds.sites[1].height_m, 30.0);
    assert_eq!(ds.warnings.len(), 1);
    assert!(
        ds.warnings[0]
            .to_string()
            .contains("2 OpenCelliD cell(s) became omni sites"),
        "{}",
        ds.warnings[0]
    );
}

#[test]
fn geopackage_shapefile_and_flatgeobuf_written_by_gdal_are_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "roads.geojson", ROADS_GEOJSON);
    let gpkg = dir.path().join("roads.gpkg");
    let shp = dir.path().join("roads.shp");
    let fgb = dir.path().join("roads.fgb");
    ogr2ogr(&[
        "-f",
        "GPKG",
        gpkg.to_str().unwrap(),
        src.to_str().unwrap(),
        "-nln",
        "roads",
    ]);
    ogr2ogr(&[
        "-f",
        "ESRI Shapefile",
        shp.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    ogr2ogr(&[
        "-f",
        "FlatGeobuf",
        fgb.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    let sset = write(dir.path(), "settlements.geojson", SETTLEMENTS_GEOJSON);
    ogr2ogr(&[
        "-f",
        "GPKG",
        "-update",
        gpkg.to_str().unwrap(),
        sset.to_str().unwrap(),
        "-nln",
        "places",
    ]);

    for (path, layer) in [(&gpkg, Some("roads")), (&shp, None), (&fgb, None)] {
        let sources = Sources {
            roads: Some(LayerSource {
                path: path.clone(),
                layer: layer.map(str::to_owned),
                crs: None,
                mapping: None,
            }),
            ..Default::default()
        };
        let ds = sources
            .load(dir.path())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(ds.roads.len(), 3, "{}", path.display());
        // FlatGeobuf's spatial index reorders features, so look roads up by id.
        let m39 = ds.roads.iter().find(|r| r.id == "m39a").unwrap();
        assert_eq!(m39.refs, vec!["M39", "E40"]);
        assert!(m39.international);
        assert_eq!(m39.geometry.0[1].x, 68.7842);
        assert!(ds.roads.iter().any(|r| r.id == "local#1"));
    }
    let sources = Sources {
        settlements: Some(LayerSource {
            path: gpkg.clone(),
            layer: Some("places".into()),
            crs: None,
            mapping: None,
        }),
        ..Default::default()
    };
    let ds = sources.load(dir.path()).unwrap();
    assert_eq!(ds.settlements.len(), 2);
    assert_eq!(ds.settlements[1].population, 546_303);
    assert_eq!(ds.settlements[1].households, Some(120_000));

    let err = Sources {
        roads: Some(LayerSource {
            path: gpkg.clone(),
            layer: Some("nope".into()),
            crs: None,
            mapping: None,
        }),
        ..Default::default()
    }
    .load(dir.path())
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("roads.gpkg: has no layer \"nope\" — choose one of its layers: roads, places"),
        "{err}"
    );
}

#[test]
fn projected_geopackage_is_reprojected_to_wgs84() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "settlements.geojson", SETTLEMENTS_GEOJSON);
    let utm = dir.path().join("utm.gpkg");
    ogr2ogr(&[
        "-f",
        "GPKG",
        "-t_srs",
        "EPSG:32642",
        utm.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    // The file really is in metres now.
    let raw = read::gdal_vector::read_path(&utm, None).unwrap();
    let raw_native = {
        let ds = gdal::Dataset::open(&utm).unwrap();
        let srs = ds.layer(0).unwrap().spatial_ref().unwrap();
        srs.auth_code().unwrap()
    };
    assert_eq!(raw_native, 32642);
    assert_eq!(raw.features.len(), 2);
    let ds = Sources {
        settlements: Some(LayerSource::new("utm.gpkg")),
        ..Default::default()
    }
    .load(dir.path())
    .unwrap();
    let t = &ds.settlements[0];
    assert!(
        (t.lon - 69.2163).abs() < 1e-6 && (t.lat - 41.2646).abs() < 1e-6,
        "{t:?}"
    );
    let s = &ds.settlements[1];
    assert!(
        (s.lon - 66.9597).abs() < 1e-6 && (s.lat - 39.6542).abs() < 1e-6,
        "{s:?}"
    );
}

const OSM_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand-written test">
  <node id="1" lat="41.2646" lon="69.2163" version="1"/>
  <node id="2" lat="40.4897" lon="68.7842" version="1"/>
  <node id="3" lat="40.1158" lon="67.8422" version="1"/>
  <node id="4" lat="41.0000" lon="69.0000" version="1"/>
  <node id="5" lat="41.0100" lon="69.0100" version="1"/>
  <node id="6" lat="41.0200" lon="69.0300" version="1"/>
  <node id="10" lat="40.4897" lon="68.7842" version="1">
    <tag k="place" v="city"/>
    <tag k="name" v="Gulistan"/>
    <tag k="population" v="77 300"/>
  </node>
  <node id="11" lat="40.1158" lon="67.8422" version="1">
    <tag k="place" v="village"/>
    <tag k="name" v="Nopop"/>
  </node>
  <node id="13" lat="40.3000" lon="67.9500" version="1">
    <tag k="place" v="hamlet"/>
    <tag k="name" v="Fuzzy"/>
    <tag k="population" v="~500"/>
  </node>
  <node id="12" lat="40.2000" lon="67.9000" version="1">
    <tag k="amenity" v="fuel"/>
    <tag k="name" v="Not a place"/>
  </node>
  <way id="100" version="1">
    <nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="trunk"/>
    <tag k="ref" v="M-39"/>
    <tag k="int_ref" v="E 40;AH 5"/>
    <tag k="name" v="Tashkent - Samarkand"/>
  </way>
  <way id="101" version="1">
    <nd ref="4"/><nd ref="5"/>
    <tag k="highway" v="residential"/>
  </way>
  <way id="102" version="1">
    <nd ref="5"/><nd ref="6"/>
    <tag k="waterway" v="canal"/>
  </way>
</osm>
"#;

#[test]
fn osm_xml_roads_and_places_through_gdal() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "extract.osm", OSM_XML);
    let sources = Sources {
        roads: Some(LayerSource::new("extract.osm")),
        settlements: Some(LayerSource::new("extract.osm")),
        ..Default::default()
    };
    let ds = sources.load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ds.roads.len(), 2, "the canal is not a road: {:?}", ds.roads);
    let trunk = ds.roads.iter().find(|r| r.id == "100").unwrap();
    assert_eq!(trunk.class, RoadClass::Trunk);
    assert_eq!(trunk.refs, vec!["M39", "E40", "AH5"]);
    assert!(trunk.international);
    assert_eq!(trunk.name.as_deref(), Some("Tashkent - Samarkand"));
    assert_eq!(trunk.geometry.0.len(), 3);
    let res = ds.roads.iter().find(|r| r.id == "101").unwrap();
    assert_eq!(res.class, RoadClass::Other);
    assert!(!res.international);

    assert_eq!(ds.settlements.len(), 1);
    assert_eq!(ds.settlements[0].name, "Gulistan");
    assert_eq!(ds.settlements[0].population, 77_300);
    assert_eq!(ds.settlements[0].id, "10");
    let w: Vec<String> = ds.warnings.iter().map(ToString::to_string).collect();
    assert!(
        w.iter().any(|w| w
            .contains("extract.osm: field \"population\": 1 place(s) without population skipped")),
        "{w:?}"
    );
    assert!(
        w.iter().any(|w| w.contains(
            "extract.osm: feature 3: field \"population\": \"~500\" is not a number; place skipped"
        )),
        "{w:?}"
    );

    // The mapping can be given explicitly, e.g. keep only trunk roads.
    let sources = Sources {
        roads: Some(LayerSource {
            path: "extract.osm".into(),
            layer: Some("lines".into()),
            crs: None,
            mapping: Some(RoadMapping {
                keep_classes: vec!["trunk".into()],
                ..RoadMapping::osm()
            }),
        }),
        ..Default::default()
    };
    assert_eq!(sources.load(dir.path()).unwrap().roads.len(), 1);
    // Raw reader: the hstore other_tags are unpacked into attributes.
    let raw = read::read_path(
        &dir.path().join("extract.osm"),
        None,
        LayerKind::Lines,
        ("lon", "lat"),
    )
    .unwrap();
    let f = raw
        .features
        .iter()
        .find(|f| f.attrs.get("osm_id").and_then(|v| v.as_text()).as_deref() == Some("100"))
        .unwrap();
    assert_eq!(f.attrs["int_ref"].as_text().as_deref(), Some("E 40;AH 5"));
    let _ = SettlementMapping::osm();
}

#[test]
fn sources_parse_strictly_from_toml_like_json() {
    let s: Sources = serde_json::from_str(r#"{"roads":{"path":"r.osm.pbf","mapping":{"class":"highway","route_ref":"ref","skip_without_class":true}},"dem":"dem.tif"}"#).unwrap();
    assert_eq!(s.roads.unwrap().mapping.unwrap().class, "highway");
    let e = serde_json::from_str::<Sources>(r#"{"road":{"path":"r.geojson"}}"#).unwrap_err();
    assert!(e.to_string().contains("unknown field `road`"), "{e}");
    let e =
        serde_json::from_str::<Sources>(r#"{"roads":{"path":"r.geojson","mapping":{"clas":"x"}}}"#)
            .unwrap_err();
    assert!(e.to_string().contains("unknown field `clas`"), "{e}");
}

#[test]
fn embedded_uzbekistan_dataset_loads() {
    let ds = geodata::embedded::uzbekistan().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ds.name, "Uzbekistan (embedded default)");
    assert_eq!(ds.regions.len(), 14);
    // 234 distinct settlements: DATA.md's 255 counts 22 GeoNames "seat twins" (the same town
    // listed twice, 1-3 km apart, once without population) that the build script merges so no
    // town's residents are counted twice (geodata/build/README.md).
    assert!(
        ds.settlements.len() >= 230,
        "{} settlements",
        ds.settlements.len()
    );
    let codes: std::collections::BTreeSet<&str> =
        ds.regions.iter().map(|r| r.code.as_str()).collect();
    for s in &ds.settlements {
        let code = s
            .region
            .as_deref()
            .unwrap_or_else(|| panic!("{} has no region", s.id));
        assert!(codes.contains(code), "{} has unknown region {code}", s.id);
    }
    assert!(
        ds.total_population() > 10_000_000,
        "{}",
        ds.total_population()
    );
    let km = ds.road_km();
    assert!(km >= 5000.0, "{km} road km");
    let routes = ds.route_km();
    for r in [
        "M39", "AH5", "E40", "AH62", "AH63", "AH7", "M37", "M34", "AH65",
    ] {
        assert!(
            routes.get(r).copied().unwrap_or(0.0) > 50.0,
            "route {r}: {routes:?}"
        );
    }
    assert!(ds.is_synthetic("sites") && ds.is_synthetic("fixed_nodes"));
    assert!(!ds.sites.is_empty() && !ds.fixed_nodes.is_empty());
    assert!(ds.dem.is_some());
    assert!(geodata::embedded::UZBEKISTAN_ATTRIBUTION.contains("GeoNames"));
}

#[test]
fn sources_from_a_toml_config() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "places.csv",
        "code,title,x,y,residents\np1,One,69.2,41.3,500\n",
    );
    let cfg = r#"
        name = "test area"
        synthetic_layers = ["sites"]

        [settlements]
        path = "places.csv"
        [settlements.mapping]
        id = "code"
        name = "title"
        lon = "x"
        lat = "y"
        population = "residents"
    "#;
    let sources: Sources = toml::from_str(cfg).unwrap();
    let ds = sources.load(dir.path()).unwrap();
    assert_eq!(ds.name, "test area");
    assert_eq!(ds.settlements[0].id, "p1");
    assert_eq!(ds.settlements[0].name, "One");
    assert_eq!(ds.settlements[0].population, 500);
    assert!(ds.is_synthetic("sites"));
    let e = toml::from_str::<Sources>(
        "[settlements]\npath = \"a.csv\"\n[settlements.mapping]\npopulaton = \"x\"\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("unknown field `populaton`"), "{e}");
}

#[test]
fn settlement_polygons_use_their_centroid_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "towns.geojson",
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"t","population":100},"geometry":{"type":"Polygon","coordinates":[[[69,41],[69.2,41],[69.2,41.2],[69,41.2],[69,41]]]}}]}"#,
    );
    let ds = Sources {
        settlements: Some(LayerSource::new("towns.geojson")),
        ..Default::default()
    }
    .load(dir.path())
    .unwrap();
    assert!(
        (ds.settlements[0].lon - 69.1).abs() < 1e-9 && (ds.settlements[0].lat - 41.1).abs() < 1e-9
    );
    let w: Vec<String> = ds.warnings.iter().map(ToString::to_string).collect();
    assert!(
        w.iter()
            .any(|w| w.contains("towns.geojson: 1 settlement polygon(s) placed at their centroid")),
        "{w:?}"
    );
}

#[test]
fn shapefile_without_crs_is_read_as_wgs84_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "s.geojson", SETTLEMENTS_GEOJSON);
    let shp = dir.path().join("s.shp");
    ogr2ogr(&[
        "-f",
        "ESRI Shapefile",
        shp.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    std::fs::remove_file(dir.path().join("s.prj")).unwrap();
    let ds = Sources {
        settlements: Some(LayerSource::new("s.shp")),
        ..Default::default()
    }
    .load(dir.path())
    .unwrap();
    assert_eq!(ds.settlements[0].lon, 69.2163);
    let w: Vec<String> = ds.warnings.iter().map(ToString::to_string).collect();
    assert!(w.iter().any(|w| w.contains("s.shp: layer declares no coordinate reference system; coordinates are taken as WGS84 lon/lat — if they are not, add the CRS")), "{w:?}");
}

#[test]
fn summary_figures() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "roads.geojson", ROADS_GEOJSON);
    write(dir.path(), "settlements.geojson", SETTLEMENTS_GEOJSON);
    let ds = Sources {
        roads: Some(LayerSource::new("roads.geojson")),
        settlements: Some(LayerSource::new("settlements.geojson")),
        ..Default::default()
    }
    .load(dir.path())
    .unwrap();
    assert_eq!(ds.settlements.len(), 2);
    assert_eq!(ds.total_population(), 2_571_668 + 546_303);
    assert!((ds.route_km()["M39"] - ds.international_road_km()).abs() < 1e-9);
    assert!(ds.road_km() > ds.international_road_km());
}
