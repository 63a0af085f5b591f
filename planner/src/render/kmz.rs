//! The report's KMZ for Google Earth and other KML 2.2 viewers: a zip holding `doc.kml` first,
//! then the heatmap PNGs (one ground overlay per heatmap and technology, equal-latitude rows
//! stretched over the grid's `LatLonBox`) and a legend PNG shown as a screen overlay; point
//! placemarks for existing sites, proposed sites and settlements without mobile Internet
//! (today and still after the plan), and uncovered road stretches as line strings.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use geodata::{Dataset, Technology};

use crate::output::OutputError;
use crate::render::heatmap::{self, CLASSES};
use crate::render::svg::esc;
use crate::report::ReportData;

/// Folder names of `doc.kml`, in order, for tests and docs.
pub const FOLDERS: [&str; 7] = [
    "Coverage heatmaps",
    "Existing sites",
    "Proposed sites",
    "Settlements without mobile Internet today",
    "Settlements still without mobile Internet after the plan",
    "Road stretches without mobile Internet today",
    "Road stretches still without mobile Internet after the plan",
];

/// Name of a heatmap image inside the KMZ.
pub fn heatmap_png(key: &str, tech: Technology) -> String {
    format!("files/heatmap_{key}_{}.png", tech.as_str())
}

/// Legend image inside the KMZ.
pub const LEGEND_PNG: &str = "files/legend.png";

fn coord(lon: f64, lat: f64) -> String {
    format!("{lon:.6},{lat:.6}")
}

fn placemark(k: &mut String, name: &str, style: &str, description: &str, lon: f64, lat: f64) {
    let _ = writeln!(
        k,
        "<Placemark><name>{}</name><styleUrl>#{style}</styleUrl><description>{}</description><Point><coordinates>{}</coordinates></Point></Placemark>",
        esc(name),
        esc(description),
        coord(lon, lat)
    );
}

fn phase_words(key: &str) -> &'static str {
    if key == "today" {
        "today"
    } else {
        "after the plan"
    }
}

/// The `doc.kml` text.
pub fn doc_kml(ds: &Dataset, r: &ReportData) -> String {
    let mut k = String::new();
    k.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<kml xmlns=\"http://www.opengis.net/kml/2.2\">\n<Document>\n");
    let _ = writeln!(
        k,
        "<name>Mobile coverage plan</name><description>{}</description>",
        esc(&format!(
            "Generated {} by planner {}. Received power per technology from the planner's propagation models; sites, settlements and roads from the report's dataset (OpenStreetMap contributors, ODbL; GeoNames; SimpleMaps; Natural Earth; GLOBE; synthetic sites where no real ones are given).",
            r.generated_utc,
            env!("CARGO_PKG_VERSION")
        ))
    );
    for (id, colour, scale) in [
        ("existing-site", "ff7f7f7f", 0.5),
        ("proposed-site", "ff0000d4", 0.9),
        ("uncovered-settlement", "ff0080ff", 0.7),
    ] {
        // KML colours are aabbggrr. No icon image: the viewer's own pin, tinted, so nothing is
        // fetched.
        let _ = writeln!(
            k,
            "<Style id=\"{id}\"><IconStyle><color>{colour}</color><scale>{scale}</scale></IconStyle></Style>"
        );
    }
    k.push_str("<Style id=\"uncovered-road\"><LineStyle><color>ff2020d0</color><width>3</width></LineStyle></Style>\n");

    // Heatmaps: the plan's 4G (else its first technology) is visible, the rest switched off.
    let _ = writeln!(k, "<Folder><name>{}</name>", FOLDERS[0]);
    let shown = r.heatmaps.last().and_then(|h| {
        let t = h.technologies();
        t.contains(&Technology::G4)
            .then_some(Technology::G4)
            .or(t.first().copied())
            .map(|t| (h.key, t))
    });
    for h in &r.heatmaps {
        for t in h.technologies() {
            let [w, s, e, n] = h.bbox;
            let _ = writeln!(
                k,
                "<GroundOverlay><name>{} best received power {}</name><visibility>{}</visibility><color>c8ffffff</color><Icon><href>{}</href></Icon><LatLonBox><north>{n}</north><south>{s}</south><east>{e}</east><west>{w}</west></LatLonBox></GroundOverlay>",
                t.as_str().to_uppercase(),
                phase_words(h.key),
                u8::from(shown == Some((h.key, t))),
                heatmap_png(h.key, t),
            );
        }
    }
    let legend: Vec<String> = (0..CLASSES.len()).map(heatmap::label).collect();
    let _ = writeln!(
        k,
        "<ScreenOverlay><name>Legend: received power (dBm)</name><description>{}</description><Icon><href>{LEGEND_PNG}</href></Icon><overlayXY x=\"0\" y=\"0\" xunits=\"fraction\" yunits=\"fraction\"/><screenXY x=\"10\" y=\"30\" xunits=\"pixels\" yunits=\"pixels\"/><size x=\"0\" y=\"0\" xunits=\"pixels\" yunits=\"pixels\"/></ScreenOverlay>",
        esc(&legend.join("; "))
    );
    k.push_str("</Folder>\n");

    let _ = writeln!(k, "<Folder><name>{}</name>", FOLDERS[1]);
    for s in &ds.sites {
        let mut techs: Vec<String> = s
            .cells
            .iter()
            .map(|c| c.technology.as_str().to_uppercase())
            .collect();
        techs.sort();
        techs.dedup();
        placemark(
            &mut k,
            &s.id,
            "existing-site",
            &format!(
                "{}; {}; mast {} m",
                s.operator.as_deref().unwrap_or("unknown operator"),
                techs.join(", "),
                s.height_m
            ),
            s.lon,
            s.lat,
        );
    }
    k.push_str("</Folder>\n");

    let _ = writeln!(k, "<Folder><name>{}</name>", FOLDERS[2]);
    for p in &r.plan.selection.sites {
        placemark(
            &mut k,
            &format!("#{} {}", p.rank, p.id),
            "proposed-site",
            &format!(
                "{}; region {}; mast {} m; +{} people, +{} settlements, +{:.1} km of highway",
                p.site_type.as_str().replace('_', " "),
                p.region,
                p.height_m,
                crate::summary::group(p.marginal_gain.population),
                p.marginal_gain.settlements,
                p.marginal_gain.highway_km
            ),
            p.lon,
            p.lat,
        );
    }
    k.push_str("</Folder>\n");

    let before = &r.plan.prepared.before;
    let after = &r.plan.after;
    for (fi, a) in [(3, before), (4, after)] {
        let _ = writeln!(k, "<Folder><name>{}</name>", FOLDERS[fi]);
        for (i, s) in ds.settlements.iter().enumerate() {
            if !a.coverage.mobile_internet(i) {
                placemark(
                    &mut k,
                    &s.name,
                    "uncovered-settlement",
                    &format!(
                        "{} people; region {}",
                        crate::summary::group(s.population),
                        a.gaps.settlement_region[i]
                    ),
                    s.lon,
                    s.lat,
                );
            }
        }
        k.push_str("</Folder>\n");
    }
    for (fi, a) in [(5, before), (6, after)] {
        let _ = writeln!(k, "<Folder><name>{}</name>", FOLDERS[fi]);
        for st in uncovered_stretches(a) {
            let coords: Vec<String> = st.coords.iter().map(|&(x, y)| coord(x, y)).collect();
            let name = if st.refs.is_empty() {
                st.road_id.clone()
            } else {
                st.refs.join(" / ")
            };
            let _ = writeln!(
                k,
                "<Placemark><name>{}</name><styleUrl>#uncovered-road</styleUrl><description>{}</description><LineString><tessellate>1</tessellate><coordinates>{}</coordinates></LineString></Placemark>",
                esc(&name),
                esc(&format!(
                    "{:.1} km from km {:.1}; region {}{}",
                    st.length_m / 1000.0,
                    st.start_m / 1000.0,
                    st.region,
                    if st.international { "; international highway" } else { "" }
                )),
                coords.join(" ")
            );
        }
        k.push_str("</Folder>\n");
    }
    k.push_str("</Document>\n</kml>\n");
    k
}

/// Mobile-Internet road stretches without service in an analysis.
pub fn uncovered_stretches(
    a: &crate::analyze::Analysis,
) -> impl Iterator<Item = &crate::gaps::Stretch> {
    a.gaps
        .stretches
        .iter()
        .filter(|s| s.service == "mobile_internet" && !s.covered && s.coords.len() >= 2)
}

/// Digits and the few letters of the legend labels as 3 × 5 pixel glyphs (rows top to bottom,
/// bit 2 = left column). A screen overlay can only show an image, so the legend's text is drawn.
fn glyph(c: char) -> [u8; 5] {
    match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 3, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '-' => [0, 0, 7, 0, 0],
        '>' => [4, 2, 1, 2, 4],
        'd' => [1, 1, 7, 5, 7],
        'B' => [6, 5, 6, 5, 6],
        'm' => [0, 0, 7, 7, 5],
        't' => [2, 7, 2, 2, 3],
        'o' => [0, 7, 5, 5, 7],
        _ => [0; 5],
    }
}

/// Legend rows as drawn: "> -60 dBm", "-70 to -60 dBm", …
pub fn legend_lines() -> Vec<String> {
    (0..CLASSES.len())
        .map(|i| {
            if i == 0 {
                format!("> {} dBm", CLASSES[0].min_dbm)
            } else {
                format!("{} to {} dBm", CLASSES[i].min_dbm, CLASSES[i - 1].min_dbm)
            }
        })
        .collect()
}

/// RGBA legend image: a swatch and its label per class on a white, opaque background.
pub fn legend_rgba() -> (usize, usize, Vec<u8>) {
    const S: usize = 3; // pixels per glyph pixel
    const ROW: usize = 24;
    let lines = legend_lines();
    let longest = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let (w, h) = (8 + 20 + 8 + longest * 4 * S + 8, 8 + ROW * lines.len() + 4);
    let mut px = vec![255u8; w * h * 4];
    let mut set = |x: usize, y: usize, rgb: [u8; 3]| {
        let o = (y * w + x) * 4;
        px[o..o + 3].copy_from_slice(&rgb);
    };
    for (i, line) in lines.iter().enumerate() {
        let y0 = 8 + i * ROW;
        for y in y0..y0 + 18 {
            for x in 8..28 {
                set(x, y, CLASSES[i].rgb);
            }
        }
        for (ci, c) in line.chars().enumerate() {
            let g = glyph(c);
            for (gy, bits) in g.iter().enumerate() {
                for gx in 0..3 {
                    if bits & (4 >> gx) != 0 {
                        for dy in 0..S {
                            for dx in 0..S {
                                set(
                                    36 + ci * 4 * S + gx * S + dx,
                                    y0 + 2 + gy * S + dy,
                                    [0x22; 3],
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    (w, h, px)
}

/// The KMZ bytes: `doc.kml` first (viewers open the first .kml), then the images.
pub fn kmz_bytes(ds: &Dataset, r: &ReportData) -> anyhow::Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let deflate = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    // PNGs are already compressed.
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    z.start_file("doc.kml", deflate)?;
    z.write_all(doc_kml(ds, r).as_bytes())?;
    for h in &r.heatmaps {
        for t in h.technologies() {
            let (w, rows, px) = heatmap::rgba(h, t, false);
            z.start_file(heatmap_png(h.key, t), stored)?;
            z.write_all(&heatmap::png(w, rows, &px)?)?;
        }
    }
    let (w, h, px) = legend_rgba();
    z.start_file(LEGEND_PNG, stored)?;
    z.write_all(&heatmap::png(w, h, &px)?)?;
    Ok(z.finish()?.into_inner())
}

/// Writes `dir/name` (the KMZ) through a temporary file and a rename.
pub fn write(dir: &Path, name: &str, ds: &Dataset, r: &ReportData) -> Result<PathBuf, OutputError> {
    let bytes = kmz_bytes(ds, r).map_err(|e| OutputError {
        path: dir.join(name),
        message: format!("{e:#}"),
    })?;
    crate::output::write_atomic(dir, name, &bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn legend_labels_use_drawable_glyphs_only() {
        for l in super::legend_lines() {
            for c in l.chars().filter(|c| *c != ' ') {
                assert_ne!(super::glyph(c), [0; 5], "{c} in {l}");
            }
        }
        assert_eq!(super::legend_lines()[1], "-70 to -60 dBm");
    }
}
