//! Renderers: turn analysis results into files and pages — the HTML report with its SVG maps
//! and charts, the GeoPackage (vector layers and coverage rasters), the coverage GeoTIFFs, and the `planner link` report (text,
//! JSON, SVG profile). Renderers read results; they compute
//! nothing the analyses do not already hold.
//!
//! The files of each command: [`analysis`] (`planner analyze --out`), [`plan`] (`planner plan`
//! JSON, text and `--out`), [`report`] (`planner report --out`: report.html, coverage.gpkg,
//! coverage.kmz, report.json). No computing module imports `render`.

pub mod analysis;
pub mod gpkg;
pub mod heatmap;
pub mod html;
pub mod kmz;
pub mod link;
pub mod map;
pub mod plan;
pub mod profile_svg;
pub mod provenance;
pub mod raster;
pub mod report;
pub mod svg;
