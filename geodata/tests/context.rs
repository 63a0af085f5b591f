//! The neighbouring-country context layer: embedded for the default dataset, optional in user
//! sources, and never overlapping the dataset's own regions beyond simplification slivers.

use std::collections::BTreeSet;

use geo::{Area, BooleanOps, BoundingRect, Intersects};
use geo_types::MultiPolygon;
use geodata::sources::LayerSource;
use geodata::Sources;

#[test]
fn embedded_context_has_the_neighbours_and_no_overlap() {
    let ds = geodata::embedded::uzbekistan().unwrap_or_else(|e| panic!("{e}"));
    let codes: BTreeSet<&str> = ds.context.iter().map(|c| c.iso_a2.as_str()).collect();
    assert_eq!(
        codes,
        BTreeSet::from(["AF", "KG", "KZ", "TJ", "TM"]),
        "neighbours of the embedded dataset"
    );
    assert_eq!(ds.sources["context"], "embedded:uz/context.geojson");
    let names: BTreeSet<&str> = ds.context.iter().map(|c| c.name_en.as_str()).collect();
    for n in [
        "Afghanistan",
        "Kazakhstan",
        "Kyrgyzstan",
        "Tajikistan",
        "Turkmenistan",
    ] {
        assert!(names.contains(n), "{n} missing from {names:?}");
    }
    // Context is map background: it adds no regions and no targets.
    assert_eq!(ds.regions.len(), 14);
    assert!(ds.regions.iter().all(|r| r.code.starts_with("UZ-")));

    let own = MultiPolygon(
        ds.regions
            .iter()
            .flat_map(|r| r.geometry.0.iter().cloned())
            .collect(),
    );
    let own_area = own.unsigned_area();
    let own_box = own.bounding_rect().unwrap();
    for c in &ds.context {
        assert!(!c.geometry.0.is_empty(), "{}: empty outline", c.iso_a2);
        // Each neighbour borders the dataset: its outline reaches the dataset's bbox.
        assert!(
            c.geometry.intersects(&own_box),
            "{} does not reach the dataset",
            c.iso_a2
        );
        // Shared borders were simplified separately, so slivers are expected; anything above
        // 0.5 % of the dataset's area would be a real overlap.
        let overlap = c.geometry.intersection(&own).unsigned_area();
        assert!(
            overlap < 0.005 * own_area,
            "{} overlaps the dataset's regions by {:.3} % of their area",
            c.iso_a2,
            100.0 * overlap / own_area
        );
        // Clipped to the dataset's bbox + about 3°.
        let b = c.geometry.bounding_rect().unwrap();
        assert!(b.min().x >= own_box.min().x - 3.01 && b.max().x <= own_box.max().x + 3.01);
        assert!(b.min().y >= own_box.min().y - 3.01 && b.max().y <= own_box.max().y + 3.01);
    }
}

#[test]
fn user_context_is_optional_and_read_from_sources() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("regions.geojson"),
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"XX-A","name_en":"A"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("around.geojson"),
        r#"{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"cc":"YY","label":"Wye"},"geometry":{"type":"Polygon","coordinates":[[[1,0],[2,0],[2,1],[1,1],[1,0]]]}},
{"type":"Feature","properties":{"cc":"YY","label":"Wye"},"geometry":{"type":"Polygon","coordinates":[[[1,1],[2,1],[2,2],[1,2],[1,1]]]}},
{"type":"Feature","properties":{"cc":"ZZ"},"geometry":{"type":"Polygon","coordinates":[[[-1,0],[0,0],[0,1],[-1,1],[-1,0]]]}}
]}"#,
    )
    .unwrap();
    let mut src = Sources {
        regions: Some(LayerSource::new("regions.geojson")),
        ..Default::default()
    };
    let ds = src.load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert!(ds.context.is_empty(), "absent context layer = empty");

    let toml_text = r#"
        regions = { path = "regions.geojson" }
        context = { path = "around.geojson", mapping = { iso_a2 = "cc", name_en = "label" } }
    "#;
    src = toml::from_str(toml_text).unwrap_or_else(|e| panic!("{e}"));
    let ds = src.load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ds.regions.len(), 1);
    assert_eq!(
        ds.context.len(),
        2,
        "two features of YY merge into one country"
    );
    assert_eq!(ds.context[0].iso_a2, "YY");
    assert_eq!(ds.context[0].name_en, "Wye");
    assert_eq!(ds.context[0].geometry.0.len(), 2);
    assert_eq!(ds.context[1].name_en, "ZZ", "name defaults to the code");

    // A context file without the code field is an error naming the field.
    let bad: Sources = toml::from_str(r#"context = { path = "around.geojson" }"#).unwrap();
    let e = bad.load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("iso_a2"), "{e}");
}
