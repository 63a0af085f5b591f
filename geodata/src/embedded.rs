//! The embedded default dataset (Uzbekistan), compiled into the binary so the planner runs
//! with no input files. Built by `geodata/build/build_uz.py` from pinned registry packages;
//! sources and licences are in `geodata/data/uz/ATTRIBUTION.md`. Sites and fixed nodes are
//! synthetic (a deterministic generator), and the dataset says so in `synthetic_layers`.

use crate::dataset::Dataset;
use crate::dem::Dem;
use crate::error::{GeodataError, Location, Problem};
use crate::layers;
use crate::mapping::{
    ContextMapping, FixedNodeMapping, RegionMapping, RoadMapping, SettlementMapping, SiteMapping,
};
use crate::read;
use crate::routes::RouteTable;
use crate::validate::Report;

/// The raw files of an embedded dataset.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedFiles<'a> {
    /// Prefix for file names in messages, e.g. `embedded:uz/`.
    pub label: &'a str,
    pub regions_geojson: &'a [u8],
    pub settlements_csv: &'a [u8],
    pub roads_geojson: &'a [u8],
    pub routes_csv: &'a [u8],
    pub sites_csv: &'a [u8],
    pub fixed_nodes_csv: &'a [u8],
    /// GeoTIFF bytes; `None` for a dataset without a DEM.
    pub dem_tif: Option<&'a [u8]>,
    /// Neighbouring countries (`context.geojson`, map background); `None` for none.
    pub context_geojson: Option<&'a [u8]>,
}

const UZ: EmbeddedFiles<'static> = EmbeddedFiles {
    label: "embedded:uz/",
    regions_geojson: include_bytes!("../data/uz/regions.geojson"),
    settlements_csv: include_bytes!("../data/uz/settlements.csv"),
    roads_geojson: include_bytes!("../data/uz/roads.geojson"),
    routes_csv: include_bytes!("../data/uz/routes.csv"),
    sites_csv: include_bytes!("../data/uz/sites_synthetic.csv"),
    fixed_nodes_csv: include_bytes!("../data/uz/fixed_nodes_synthetic.csv"),
    dem_tif: Some(include_bytes!("../data/uz/dem.tif")),
    context_geojson: Some(include_bytes!("../data/uz/context.geojson")),
};

/// Attribution text for the embedded default (sources, versions, licences).
pub const UZBEKISTAN_ATTRIBUTION: &str = include_str!("../data/uz/ATTRIBUTION.md");

/// The embedded Uzbekistan default: 14 regions, settlements with population and region code,
/// the trunk road network with international route refs, the route table's routes, a GLOBE
/// 30″ DEM, **synthetic** sites and fixed-broadband nodes, and the neighbouring countries
/// (AF, KG, KZ, TJ, TM) as map context.
pub fn uzbekistan() -> Result<Dataset, GeodataError> {
    let mut ds = from_files(&UZ, "Uzbekistan (embedded default)")?;
    ds.synthetic_layers = vec!["sites".into(), "fixed_nodes".into()];
    Ok(ds)
}

/// The route table of the embedded default.
pub fn uzbekistan_routes() -> Result<RouteTable, GeodataError> {
    RouteTable::from_csv_bytes(&format!("{}routes.csv", UZ.label), UZ.routes_csv)
}

/// Builds a dataset from in-memory files in the project's own layouts, reporting every
/// problem at once.
pub fn from_files(files: &EmbeddedFiles<'_>, name: &str) -> Result<Dataset, GeodataError> {
    let f = |n: &str| format!("{}{n}", files.label);
    let mut r = Report::default();
    let mut ds = Dataset {
        name: name.to_owned(),
        ..Default::default()
    };
    let routes = match RouteTable::from_csv_bytes(&f("routes.csv"), files.routes_csv) {
        Ok(t) => Some(t),
        Err(e) => {
            r.errors.extend(e.problems().iter().cloned());
            None
        }
    };

    let l = read::geojson::read_bytes(&f("regions.geojson"), files.regions_geojson);
    let (v, locs, rep) = layers::regions(&l, &RegionMapping::default());
    ds.regions = v;
    ds.origins.insert("regions".into(), locs);
    r.merge(rep);

    let m = SettlementMapping::default();
    let l = read::csv::read_bytes(
        &f("settlements.csv"),
        files.settlements_csv,
        (&m.lon, &m.lat),
    );
    let (v, locs, rep) = layers::settlements(&l, &m);
    ds.settlements = v;
    ds.origins.insert("settlements".into(), locs);
    r.merge(rep);

    let l = read::geojson::read_bytes(&f("roads.geojson"), files.roads_geojson);
    let (v, locs, rep) = layers::roads(&l, &RoadMapping::default(), routes.as_ref());
    ds.roads = v;
    ds.origins.insert("roads".into(), locs);
    r.merge(rep);

    let m = SiteMapping::default();
    let l = read::csv::read_bytes(&f("sites_synthetic.csv"), files.sites_csv, (&m.lon, &m.lat));
    let (v, locs, cells, rep) = layers::sites_and_cells(&l, &m);
    ds.sites = v;
    ds.origins.insert("sites".into(), locs);
    ds.origins.insert("site_cells".into(), cells);
    r.merge(rep);

    let m = FixedNodeMapping::default();
    let l = read::csv::read_bytes(
        &f("fixed_nodes_synthetic.csv"),
        files.fixed_nodes_csv,
        (&m.lon, &m.lat),
    );
    let (v, locs, rep) = layers::fixed_nodes(&l, &m);
    ds.fixed_nodes = v;
    ds.origins.insert("fixed_nodes".into(), locs);
    r.merge(rep);

    if let Some(bytes) = files.context_geojson {
        let l = read::geojson::read_bytes(&f("context.geojson"), bytes);
        let (v, locs, rep) = layers::context(&l, &ContextMapping::default());
        ds.context = v;
        ds.origins.insert("context".into(), locs);
        ds.sources.insert("context".into(), f("context.geojson"));
        r.merge(rep);
    }

    if let Some(bytes) = files.dem_tif {
        match load_dem_bytes(&f("dem.tif"), bytes) {
            Ok(d) => ds.dem = Some(d),
            Err(e) => r.errors.push(Problem::new(
                f("dem.tif"),
                Location::None,
                None,
                e.to_string(),
                "rebuild the embedded dataset (make dataset)",
            )),
        }
    }
    for (layer, file) in [
        ("regions", "regions.geojson"),
        ("settlements", "settlements.csv"),
        ("roads", "roads.geojson"),
        ("sites", "sites_synthetic.csv"),
        ("fixed_nodes", "fixed_nodes_synthetic.csv"),
        ("dem", "dem.tif"),
    ] {
        ds.sources.insert(layer.into(), f(file));
    }
    r.errors.into_result()?;
    ds.warnings = r.warnings;
    Ok(ds)
}

fn load_dem_bytes(source: &str, bytes: &[u8]) -> Result<Dem, GeodataError> {
    Dem::from_bytes(source, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_vector_layers_load_cleanly() {
        let files = EmbeddedFiles {
            dem_tif: None,
            ..UZ
        };
        let ds = match from_files(&files, "uz") {
            Ok(ds) => ds,
            Err(e) => panic!("{e}"),
        };
        eprintln!(
            "regions {} settlements {} pop {} roads {} km {:.0} sites {} fixed {} warnings {:?} routes {:?}",
            ds.regions.len(),
            ds.settlements.len(),
            ds.total_population(),
            ds.roads.len(),
            ds.road_km(),
            ds.sites.len(),
            ds.fixed_nodes.len(),
            ds.warnings,
            ds.route_km()
        );
        assert_eq!(ds.regions.len(), 14);
    }

    #[test]
    fn inline_sample_builds_and_reports_every_problem() {
        let files = EmbeddedFiles {
            label: "mem:",
            regions_geojson: br#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"XX-A","name_en":"A"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}}]}"#,
            settlements_csv: b"id,name,lon,lat,population,region\ns1,One,0.5,0.5,1000,XX-A\n",
            roads_geojson: br#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"r1","class":"trunk","refs":"A380","international":false},"geometry":{"type":"LineString","coordinates":[[0,0],[1,1]]}}]}"#,
            routes_csv: b"route,aliases,international,seq,waypoint,lat,lon\nAH63,A380,true,1,X,0,0\n",
            sites_csv: b"site_id,lon,lat,height_m,operator,technology,band_mhz,eirp_dbm,azimuth_deg,beamwidth_deg,tilt_deg\nq,0.5,0.5,30,op,4g,1800,60,,,\n",
            fixed_nodes_csv: b"id,lon,lat,kind,technology,ports_total,ports_used\nf,0.5,0.5,olt,ftth,100,10\n",
            dem_tif: None,
            context_geojson: None,
        };
        let ds = from_files(&files, "t").unwrap();
        assert_eq!(ds.roads[0].refs, vec!["A380", "AH63"]);
        assert!(ds.roads[0].international);
        assert_eq!(ds.sources["roads"], "mem:roads.geojson");
        let bad = EmbeddedFiles {
            settlements_csv: b"id,name,lon,lat,population,region\ns1,One,0.5,0.5,lots,XX-A\n",
            fixed_nodes_csv:
                b"id,lon,lat,kind,technology,ports_total,ports_used\nf,0.5,0.5,olt,ftth,10,100\n",
            ..files
        };
        let e = from_files(&bad, "t").unwrap_err().to_string();
        assert!(
            e.contains(
                "mem:settlements.csv: line 2: field \"population\": \"lots\" is not a number"
            ),
            "{e}"
        );
        assert!(e.contains("mem:fixed_nodes_synthetic.csv: line 2: field \"ports_used\": ports_used 100 exceeds ports_total 10"), "{e}");
    }
}
