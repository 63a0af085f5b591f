//! Coverage rasters through GDAL: the best received power per technology as Float32 dBm with a
//! no-data value, and the heatmap's 10 dB classes as a Byte raster with a colour table — as
//! GeoTIFFs (`coverage.tif`, with internal overviews) and as GeoPackage raster tables beside
//! the vector layers. Every raster covers exactly its grid's box (see
//! [`crate::targets::GridSpec::new`]).
//!
//! Levels below [`RX_FLOOR_DBM`] are written as no-data: a propagation model happily returns
//! −230 dBm 300 km away from a mast, but no receiver reports such a level and a map showing it
//! misleads.

use gdal::raster::{Buffer, ColorEntry, ColorTable, PaletteInterpretation, RasterCreationOptions};
use gdal::spatial_ref::SpatialRef;
use gdal::Metadata;
use geodata::Technology;

use crate::render::heatmap::{class_of, label, CLASSES};
use crate::report::Heatmap;
use crate::targets::GridSpec;

/// Lowest level written, dBm: the bottom of the 3GPP RSRP reporting range (TS 36.133 §9.1.4,
/// −140 dBm), below every technology's receiver sensitivity. Weaker levels are no-data.
pub const RX_FLOOR_DBM: f64 = -140.0;

/// No-data value of the Float32 dBm rasters.
pub const RX_NODATA: f64 = -9999.0;

/// No-data value (and colour-table entry, transparent) of the class rasters; class `i` of
/// [`CLASSES`] (0 = strongest) is stored as `i + 1`.
pub const CLASS_NODATA: u8 = 0;

/// Overview decimation factors of `coverage.tif`, kept while the overview is at least 2 pixels
/// on its shorter side.
pub const OVERVIEWS: [i32; 3] = [2, 4, 8];

/// A level as written: `None` (no-data) when no site reaches the cell or below the floor.
pub fn floored(dbm: f32) -> Option<f32> {
    (dbm.is_finite() && f64::from(dbm) >= RX_FLOOR_DBM).then_some(dbm)
}

/// Stored class value of a level (`CLASS_NODATA` below the weakest class).
pub fn class_value(dbm: f32) -> u8 {
    class_of(dbm).map_or(CLASS_NODATA, |i| i as u8 + 1)
}

fn geo_transform(g: &GridSpec) -> [f64; 6] {
    [g.west_deg, g.dlon_deg, 0.0, g.north_deg, 0.0, -g.dlat_deg]
}

fn srs() -> gdal::errors::Result<SpatialRef> {
    SpatialRef::from_epsg(4326)
}

/// The colour table of the class rasters: entry 0 transparent, entry `i + 1` class `i`.
pub fn class_color_table() -> ColorTable<'static> {
    let mut ct = ColorTable::new(PaletteInterpretation::Rgba);
    ct.set_color_entry(CLASS_NODATA as u16, &ColorEntry::rgba(0, 0, 0, 0));
    for (i, c) in CLASSES.iter().enumerate() {
        let [r, g, b] = c.rgb.map(i16::from);
        ct.set_color_entry(i as u16 + 1, &ColorEntry::rgba(r, g, b, 255));
    }
    ct
}

/// Class names by stored value (0 = no-data), for descriptions and legends.
pub fn class_names() -> Vec<String> {
    std::iter::once("no signal or below -120 dBm".to_string())
        .chain((0..CLASSES.len()).map(label))
        .collect()
}

/// One-band in-memory dataset of `grid` holding `data`.
fn mem_band<T: gdal::raster::GdalType + Copy>(
    grid: &GridSpec,
    data: Vec<T>,
    describe: &str,
) -> gdal::errors::Result<gdal::Dataset> {
    let (w, h) = (grid.cols as usize, grid.rows as usize);
    let mem = gdal::DriverManager::get_driver_by_name("MEM")?;
    let mut ds = mem.create_with_band_type::<T, _>("", w, h, 1)?;
    ds.set_geo_transform(&geo_transform(grid))?;
    ds.set_spatial_ref(&srs()?)?;
    let mut band = ds.rasterband(1)?;
    band.set_description(describe)?;
    band.write((0, 0), (w, h), &mut Buffer::new((w, h), data))?;
    Ok(ds)
}

/// Float32 dBm band of technology index `ti` of per-cell levels (NaN = none).
fn rx_values(cells: &[[f32; 4]], ti: usize) -> Vec<f32> {
    cells
        .iter()
        .map(|c| floored(c[ti]).unwrap_or(RX_NODATA as f32))
        .collect()
}

/// Writes per-cell best levels (NaN where no site of the technology reaches the cell) as a
/// 4-band Float32 GeoTIFF in EPSG:4326 (band n = technology `2g` … `5g`, no-data
/// [`RX_NODATA`], levels below [`RX_FLOOR_DBM`] as no-data), tiled, DEFLATE-compressed, with
/// internal [`OVERVIEWS`] (nearest neighbour: every overview pixel is a level really
/// computed; averaging decibels would not be a power average). Written to `path` directly;
/// callers write to a temporary name and rename.
pub fn write_coverage_tiff(
    path: &std::path::Path,
    grid: &GridSpec,
    cells: &[[f32; 4]],
) -> gdal::errors::Result<()> {
    let (w, h) = (grid.cols as usize, grid.rows as usize);
    let driver = gdal::DriverManager::get_driver_by_name("GTiff")?;
    let opts = RasterCreationOptions::from_iter(["COMPRESS=DEFLATE", "TILED=YES"]);
    let mut ds = driver.create_with_band_type_with_options::<f32, _>(path, w, h, 4, &opts)?;
    ds.set_geo_transform(&geo_transform(grid))?;
    ds.set_spatial_ref(&srs()?)?;
    ds.set_metadata_item("RX_FLOOR_DBM", &RX_FLOOR_DBM.to_string(), "")?;
    for (bi, tech) in Technology::ALL.iter().enumerate() {
        let mut band = ds.rasterband(bi + 1)?;
        band.set_no_data_value(Some(RX_NODATA))?;
        band.set_description(&format!("best received power {} dBm", tech.as_str()))?;
        band.write(
            (0, 0),
            (w, h),
            &mut Buffer::new((w, h), rx_values(cells, bi)),
        )?;
    }
    let levels: Vec<i32> = OVERVIEWS
        .iter()
        .copied()
        .filter(|&f| w.min(h) / f as usize >= 2)
        .collect();
    if !levels.is_empty() {
        ds.build_overviews("NEAREST", &levels, &[])?;
    }
    ds.close()
}

/// Writes the 10 dB classes of technology index `ti` of per-cell best levels as a one-band Byte
/// GeoTIFF (value `i + 1` = class `i` of [`CLASSES`], 0 = no-data, transparent) with the
/// classes' colour table and internal overviews (nearest). One band per file: GeoTIFF keeps a
/// colour table on the first band only.
pub fn write_class_tiff(
    path: &std::path::Path,
    grid: &GridSpec,
    cells: &[[f32; 4]],
    ti: usize,
) -> gdal::errors::Result<()> {
    let (w, h) = (grid.cols as usize, grid.rows as usize);
    let driver = gdal::DriverManager::get_driver_by_name("GTiff")?;
    let opts = RasterCreationOptions::from_iter(["COMPRESS=DEFLATE", "TILED=YES"]);
    let mut ds = driver.create_with_band_type_with_options::<u8, _>(path, w, h, 1, &opts)?;
    ds.set_geo_transform(&geo_transform(grid))?;
    ds.set_spatial_ref(&srs()?)?;
    {
        let mut band = ds.rasterband(1)?;
        band.set_no_data_value(Some(f64::from(CLASS_NODATA)))?;
        band.set_description(&format!(
            "received power class {} (1 = {}, {} = {})",
            Technology::ALL[ti].as_str(),
            label(0),
            CLASSES.len(),
            label(CLASSES.len() - 1)
        ))?;
        let data: Vec<u8> = cells.iter().map(|c| class_value(c[ti])).collect();
        band.write((0, 0), (w, h), &mut Buffer::new((w, h), data))?;
        band.set_color_table(&class_color_table());
    }
    let levels: Vec<i32> = OVERVIEWS
        .iter()
        .copied()
        .filter(|&f| w.min(h) / f as usize >= 2)
        .collect();
    if !levels.is_empty() {
        ds.build_overviews("NEAREST", &levels, &[])?;
    }
    ds.close()
}

/// Name of the GeoPackage raster table of one heatmap and technology: `rx_dbm_4g_today`,
/// `rx_class_4g_after`, …
pub fn gpkg_table(kind: &str, key: &str, tech: Technology) -> String {
    format!("{kind}_{}_{key}", tech.as_str())
}

/// The raster tables the GeoPackage gets for `heatmaps`, in the order written: per heatmap and
/// technology in reach, the Float32 dBm table then the Byte class table.
pub fn gpkg_tables(heatmaps: &[Heatmap]) -> Vec<String> {
    let mut out = Vec::new();
    for h in heatmaps {
        for t in h.technologies() {
            out.push(gpkg_table("rx_dbm", h.key, t));
            out.push(gpkg_table("rx_class", h.key, t));
        }
    }
    out
}

fn phase_words(key: &str) -> &'static str {
    if key == "today" {
        "existing sites"
    } else {
        "existing and proposed sites"
    }
}

/// Appends the heatmaps' raster tables ([`gpkg_tables`]) to the GeoPackage at `path` (which
/// must exist): Float32 dBm as TIFF tiles (GPKG 2D gridded coverage, no-data [`RX_NODATA`]),
/// classes as paletted PNG tiles. Same grid, hence same extent, as the heatmap.
pub fn append_gpkg(path: &std::path::Path, heatmaps: &[Heatmap]) -> gdal::errors::Result<()> {
    let gpkg = gdal::DriverManager::get_driver_by_name("GPKG")?;
    for h in heatmaps {
        for t in h.technologies() {
            let ti = crate::coverage::tech_index(t);
            let table = gpkg_table("rx_dbm", h.key, t);
            let describe = format!(
                "best received power {} dBm, {} (below {RX_FLOOR_DBM} dBm: no-data)",
                t.as_str(),
                phase_words(h.key)
            );
            let mem = mem_band(&h.grid, rx_values(&h.rx_dbm, ti), &describe)?;
            mem.rasterband(1)?.set_no_data_value(Some(RX_NODATA))?;
            let opts = RasterCreationOptions::from_iter([
                "APPEND_SUBDATASET=YES".to_string(),
                format!("RASTER_TABLE={table}"),
                format!("RASTER_IDENTIFIER={table}"),
                format!("RASTER_DESCRIPTION={describe}"),
                "TILE_FORMAT=TIFF".to_string(),
            ]);
            mem.create_copy(&gpkg, path, &opts)?.close()?;

            let table = gpkg_table("rx_class", h.key, t);
            let describe = format!(
                "received power class {} (10 dB classes, value 1 = ≥ -60 dBm … 7 = -120 … -110 dBm, 0 = none), {}",
                t.as_str(),
                phase_words(h.key)
            );
            let data: Vec<u8> = h.rx_dbm.iter().map(|c| class_value(c[ti])).collect();
            let mem = mem_band(&h.grid, data, &describe)?;
            {
                let mut band = mem.rasterband(1)?;
                band.set_color_table(&class_color_table());
            }
            let opts = RasterCreationOptions::from_iter([
                "APPEND_SUBDATASET=YES".to_string(),
                format!("RASTER_TABLE={table}"),
                format!("RASTER_IDENTIFIER={table}"),
                format!("RASTER_DESCRIPTION={describe}"),
                "TILE_FORMAT=PNG".to_string(),
            ]);
            mem.create_copy(&gpkg, path, &opts)?.close()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_and_classes() {
        assert_eq!(floored(-232.0), None);
        assert_eq!(floored(f32::NAN), None);
        assert_eq!(floored(-140.0), Some(-140.0));
        assert_eq!(class_value(-55.0), 1);
        assert_eq!(class_value(-115.0), 7);
        assert_eq!(class_value(-125.0), CLASS_NODATA);
        assert_eq!(class_names().len(), CLASSES.len() + 1);
    }
}
