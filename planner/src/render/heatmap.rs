//! Colours of the coverage heatmap and its image: best received power (dBm) in 10 dB classes
//! on a perceptually ordered ramp (viridis: dark = strong, yellow = weak), transparent where
//! no site of the technology reaches the cell or the level is below the weakest class. The same
//! classes colour the interactive map's overlay, the KMZ ground overlay, the GeoTIFF colour
//! table and every legend.

use geodata::Technology;

use crate::report::Heatmap;

/// One legend class: levels ≥ `min_dbm` (and below the next stronger class).
#[derive(Debug, Clone, Copy)]
pub struct Class {
    pub min_dbm: f64,
    pub rgb: [u8; 3],
}

/// Classes from strongest to weakest.
pub const CLASSES: [Class; 7] = [
    Class {
        min_dbm: -60.0,
        rgb: [0x44, 0x01, 0x54],
    },
    Class {
        min_dbm: -70.0,
        rgb: [0x44, 0x39, 0x83],
    },
    Class {
        min_dbm: -80.0,
        rgb: [0x31, 0x68, 0x8e],
    },
    Class {
        min_dbm: -90.0,
        rgb: [0x21, 0x91, 0x8c],
    },
    Class {
        min_dbm: -100.0,
        rgb: [0x35, 0xb7, 0x79],
    },
    Class {
        min_dbm: -110.0,
        rgb: [0x90, 0xd7, 0x43],
    },
    Class {
        min_dbm: -120.0,
        rgb: [0xfd, 0xe7, 0x25],
    },
];

/// Class index of a level (`None`: no signal or below the weakest class).
pub fn class_of(dbm: f32) -> Option<usize> {
    if !dbm.is_finite() {
        return None;
    }
    CLASSES.iter().position(|c| f64::from(dbm) >= c.min_dbm)
}

/// `#rrggbb` of a class.
pub fn hex(c: &Class) -> String {
    format!("#{:02x}{:02x}{:02x}", c.rgb[0], c.rgb[1], c.rgb[2])
}

/// Legend label of class `i` ("≥ −60 dBm", "−70 … −60 dBm").
pub fn label(i: usize) -> String {
    let c = CLASSES[i];
    if i == 0 {
        format!("≥ {} dBm", c.min_dbm)
    } else {
        format!("{} … {} dBm", c.min_dbm, CLASSES[i - 1].min_dbm)
    }
}

/// Latitude → Web-Mercator northing (unit sphere).
fn merc_y(lat_deg: f64) -> f64 {
    let phi = lat_deg.to_radians();
    (std::f64::consts::FRAC_PI_4 + phi / 2.0).tan().ln()
}

fn inv_merc_y(y: f64) -> f64 {
    (2.0 * y.exp().atan() - std::f64::consts::FRAC_PI_2).to_degrees()
}

/// RGBA pixels (row-major, north first) of technology `tech`. With `mercator`, rows are
/// resampled to equal Web-Mercator steps, so an image stretched over the grid's bounds on a
/// Web-Mercator map (Leaflet) lines up with the vectors at every latitude; without it, rows
/// are the grid's own equal latitude steps, as KML ground overlays expect.
pub fn rgba(h: &Heatmap, tech: Technology, mercator: bool) -> (usize, usize, Vec<u8>) {
    let (w, rows) = (h.grid.cols as usize, h.grid.rows as usize);
    let ti = crate::coverage::tech_index(tech);
    let (n, s) = (h.bbox[3], h.bbox[1]);
    let (yn, ys) = (merc_y(n), merc_y(s));
    let mut px = vec![0u8; w * rows * 4];
    for oy in 0..rows {
        let src = if mercator {
            let y = yn + (ys - yn) * (oy as f64 + 0.5) / rows as f64;
            let lat = inv_merc_y(y);
            (((n - lat) / h.grid.dlat_deg) as usize).min(rows - 1)
        } else {
            oy
        };
        for x in 0..w {
            if let Some(ci) = class_of(h.rx_dbm[src * w + x][ti]) {
                let o = (oy * w + x) * 4;
                px[o..o + 3].copy_from_slice(&CLASSES[ci].rgb);
                px[o + 3] = 255;
            }
        }
    }
    (w, rows, px)
}

/// PNG bytes of RGBA pixels, encoded by GDAL's PNG driver in memory.
pub fn png(w: usize, h: usize, rgba: &[u8]) -> gdal::errors::Result<Vec<u8>> {
    use gdal::raster::Buffer;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let mem = gdal::DriverManager::get_driver_by_name("MEM")?;
    let ds = mem.create_with_band_type::<u8, _>("", w, h, 4)?;
    for b in 0..4 {
        let band_px: Vec<u8> = rgba.iter().skip(b).step_by(4).copied().collect();
        let mut band = ds.rasterband(b + 1)?;
        band.write((0, 0), (w, h), &mut Buffer::new((w, h), band_px))?;
    }
    let name = format!(
        "/vsimem/planner-heatmap-{}-{}.png",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let png = gdal::DriverManager::get_driver_by_name("PNG")?;
    let copy = ds.create_copy(&png, &name, &gdal::cpl::CslStringList::new())?;
    drop(copy);
    let bytes = gdal::vsi::get_vsi_mem_file_bytes_owned(&name)?;
    Ok(bytes)
}

/// A PNG of the legend (class swatches and labels are drawn by the caller where text is
/// possible; this is for KML's screen overlay, which needs an image): swatches only, one row
/// per class, `cell` pixels square.
pub fn legend_swatches_rgba(cell: usize) -> (usize, usize, Vec<u8>) {
    let (w, h) = (cell, cell * CLASSES.len());
    let mut px = vec![0u8; w * h * 4];
    for (i, c) in CLASSES.iter().enumerate() {
        for y in i * cell..(i + 1) * cell {
            for x in 0..w {
                let o = (y * w + x) * 4;
                px[o..o + 3].copy_from_slice(&c.rgb);
                px[o + 3] = 255;
            }
        }
    }
    (w, h, px)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_ordered_and_cover_their_edges() {
        assert_eq!(class_of(-50.0), Some(0));
        assert_eq!(class_of(-60.0), Some(0));
        assert_eq!(class_of(-60.5), Some(1));
        assert_eq!(class_of(-120.0), Some(6));
        assert_eq!(class_of(-120.5), None);
        assert_eq!(class_of(f32::NAN), None);
        assert_eq!(label(0), "≥ -60 dBm");
        assert_eq!(label(1), "-70 … -60 dBm");
    }

    #[test]
    fn mercator_rows_stay_inside_the_grid_and_keep_the_ends() {
        assert!((inv_merc_y(merc_y(41.3)) - 41.3).abs() < 1e-9);
    }
}
