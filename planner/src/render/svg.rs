//! SVG drawing for the HTML report: maps in a cos(latitude)-scaled equirectangular projection
//! (true shape at the map's central latitude; fine for a country-sized area, and no projection
//! library needed) and simple charts (lines and bars), as inline SVG strings.

use std::fmt::Write;

/// Escapes text for XML/HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// Projection of lon/lat degrees onto a `width`-pixel-wide map of a bounding box.
#[derive(Debug, Clone, Copy)]
pub struct Projection {
    west: f64,
    north: f64,
    kx: f64,
    scale: f64,
    pub width: f64,
    pub height: f64,
}

impl Projection {
    /// Fits `[west, south, east, north]` into `width` pixels (height follows the aspect ratio),
    /// with a margin of `pad` pixels.
    pub fn fit(bbox: [f64; 4], width: f64, pad: f64) -> Projection {
        let [w, s, e, n] = bbox;
        let kx = (0.5 * (s + n)).to_radians().cos().max(0.05);
        let span_x = ((e - w) * kx).max(1e-6);
        let span_y = (n - s).max(1e-6);
        let scale = (width - 2.0 * pad) / span_x;
        Projection {
            west: w - pad / scale / kx,
            north: n + pad / scale,
            kx,
            scale,
            width,
            height: span_y * scale + 2.0 * pad,
        }
    }

    pub fn xy(&self, lon: f64, lat: f64) -> (f64, f64) {
        (
            (lon - self.west) * self.kx * self.scale,
            (self.north - lat) * self.scale,
        )
    }

    /// Inverse of [`Projection::xy`]: the lon/lat degrees at pixel `(x, y)`.
    pub fn lonlat(&self, x: f64, y: f64) -> (f64, f64) {
        (
            self.west + x / (self.kx * self.scale),
            self.north - y / self.scale,
        )
    }

    /// SVG path data of a polyline (or closed ring), dropping vertices under half a pixel apart
    /// so country-size layers stay small.
    pub fn path(&self, coords: impl IntoIterator<Item = (f64, f64)>, close: bool) -> String {
        let mut d = String::new();
        let mut last: Option<(f64, f64)> = None;
        let mut n = 0;
        let mut pending: Option<(f64, f64)> = None;
        for (lon, lat) in coords {
            let (x, y) = self.xy(lon, lat);
            if let Some((lx, ly)) = last {
                if (x - lx).abs() < 0.5 && (y - ly).abs() < 0.5 {
                    pending = Some((x, y));
                    continue;
                }
            }
            let _ = write!(d, "{}{:.1} {:.1}", if n == 0 { "M" } else { "L" }, x, y);
            last = Some((x, y));
            pending = None;
            n += 1;
        }
        // Keep the true end point of an open line.
        if let (Some((x, y)), false) = (pending, close) {
            let _ = write!(d, "L{x:.1} {y:.1}");
            n += 1;
        }
        if n < 2 {
            // A line shorter than a pixel still shows as a dot.
            if let Some((x, y)) = last {
                let _ = write!(d, "L{:.1} {y:.1}", x + 0.6);
            }
        }
        if close && n > 2 {
            d.push('Z');
        }
        d
    }
}

/// A legend entry: swatch colour, shape (`line`, `dot`, `triangle`, `square`, `area` for a
/// filled outline) and label.
pub type LegendItem<'a> = (&'a str, &'a str, String);

/// Width in pixels a label takes at `font_px` in the page's sans-serif (average glyph ≈ 0.56 em,
/// rounded up so estimates err on the wide side).
pub fn text_width_px(label: &str, font_px: f64) -> f64 {
    label.chars().count() as f64 * font_px * 0.6
}

/// Scale bar (a round number of km, at most 160 px) and north arrow at the map's bottom-left.
pub fn scale_bar(p: &Projection) -> String {
    let km_per_px = 111.195 / p.scale;
    let km = [1000.0, 500.0, 200.0, 100.0, 50.0, 20.0, 10.0, 5.0, 2.0, 1.0]
        .into_iter()
        .find(|k| k / km_per_px <= 160.0)
        .unwrap_or(1.0);
    let len = km / km_per_px;
    let (x, y) = (16.0, p.height - 16.0);
    format!(
        r##"<g class="scale" font-size="11" fill="#333"><rect x="{x:.0}" y="{:.1}" width="{len:.1}" height="5" fill="#fff" stroke="#333"/><rect x="{x:.0}" y="{:.1}" width="{:.1}" height="5" fill="#333"/><text x="{x:.0}" y="{:.1}">0</text><text x="{:.1}" y="{:.1}" text-anchor="end">{km} km</text><path d="M{:.1} {:.1}l6 16l-6 -4l-6 4Z" fill="#333"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">N</text></g>"##,
        y - 5.0,
        y - 5.0,
        len / 2.0,
        y - 9.0,
        x + len,
        y - 9.0,
        x + 8.0,
        y - 56.0,
        x + 8.0,
        y - 60.0,
    )
}

/// Legend block at the map's top-right corner, as wide as its longest label.
pub fn legend(items: &[LegendItem<'_>], width: f64) -> String {
    let mut o = String::new();
    let w = 40.0
        + items
            .iter()
            .map(|(_, _, l)| text_width_px(l, 12.0))
            .fold(0.0, f64::max);
    let x0 = width - w - 8.0;
    let _ = write!(
        o,
        r##"<g class="legend"><rect x="{x0:.0}" y="8" width="{w}" height="{}" fill="#ffffff" fill-opacity="0.9" stroke="#999"/>"##,
        12 + 18 * items.len()
    );
    for (i, (color, shape, label)) in items.iter().enumerate() {
        let y = 22.0 + 18.0 * i as f64;
        let x = x0 + 14.0;
        match *shape {
            "line" => {
                let _ = write!(
                    o,
                    r#"<line x1="{:.0}" y1="{y:.0}" x2="{:.0}" y2="{y:.0}" stroke="{color}" stroke-width="3"/>"#,
                    x - 8.0,
                    x + 8.0
                );
            }
            "triangle" => {
                let _ = write!(
                    o,
                    r##"<path d="M{:.0} {:.0}L{:.0} {:.0}L{:.0} {:.0}Z" fill="{color}" stroke="#000" stroke-width="0.5"/>"##,
                    x,
                    y - 6.0,
                    x - 6.0,
                    y + 5.0,
                    x + 6.0,
                    y + 5.0
                );
            }
            "area" => {
                let _ = write!(
                    o,
                    r##"<rect x="{:.0}" y="{:.0}" width="16" height="11" fill="{color}" stroke="#9a9a94"/>"##,
                    x - 8.0,
                    y - 5.5
                );
            }
            "square" => {
                let _ = write!(
                    o,
                    r#"<rect x="{:.0}" y="{:.0}" width="10" height="10" fill="{color}"/>"#,
                    x - 5.0,
                    y - 5.0
                );
            }
            _ => {
                let _ = write!(
                    o,
                    r##"<circle cx="{x:.0}" cy="{y:.0}" r="5" fill="{color}" stroke="#333" stroke-width="0.5"/>"##
                );
            }
        }
        let _ = write!(
            o,
            r#"<text x="{:.0}" y="{:.0}" font-size="12">{}</text>"#,
            x + 14.0,
            y + 4.0,
            esc(label)
        );
    }
    o.push_str("</g>");
    o
}

/// One data series of a line chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub color: &'static str,
    /// (x, y) points.
    pub points: Vec<(f64, f64)>,
}

/// A line chart with axes, ticks and a legend; `y` in [y_min, y_max].
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    y_range: (f64, f64),
) -> String {
    let (w, h) = (860.0, 360.0);
    // Right margin leaves room for the last x tick label.
    let (l, r, t, b) = (70.0, 45.0, 56.0, 50.0);
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let x_max = xs.fold(0.0f64, f64::max).max(1e-9);
    let (y0, y1) = y_range;
    let px = |x: f64| l + (w - l - r) * x / x_max;
    let py = |y: f64| t + (h - t - b) * (1.0 - ((y - y0) / (y1 - y0)).clamp(0.0, 1.0));
    let mut o = String::new();
    let _ = write!(
        o,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{}"><rect width="{w}" height="{h}" fill="#fff"/><text x="{l}" y="22" font-size="15" font-weight="bold">{}</text>"##,
        esc(title),
        esc(title)
    );
    for k in 0..=5 {
        let y = y0 + (y1 - y0) * k as f64 / 5.0;
        let _ = write!(
            o,
            r##"<line x1="{l}" x2="{:.0}" y1="{:.1}" y2="{:.1}" stroke="#ddd"/><text x="{:.0}" y="{:.1}" font-size="11" text-anchor="end">{y:.1}</text>"##,
            w - r,
            py(y),
            py(y),
            l - 6.0,
            py(y) + 4.0
        );
    }
    for k in 0..=5 {
        let x = x_max * k as f64 / 5.0;
        let label = if x_max >= 1e5 {
            crate::summary::group(x.round() as u64)
        } else if x_max >= 10.0 {
            format!("{x:.0}")
        } else {
            format!("{x:.1}")
        };
        let _ = write!(
            o,
            r#"<text x="{:.1}" y="{:.0}" font-size="11" text-anchor="middle">{label}</text>"#,
            px(x),
            h - b + 16.0
        );
    }
    let _ = write!(
        o,
        r##"<line x1="{l}" x2="{l}" y1="{t}" y2="{:.0}" stroke="#333"/><line x1="{l}" x2="{:.0}" y1="{:.0}" y2="{:.0}" stroke="#333"/><text x="{:.0}" y="{:.0}" font-size="12" text-anchor="middle">{}</text><text x="16" y="{:.0}" font-size="12" transform="rotate(-90 16 {:.0})" text-anchor="middle">{}</text>"##,
        h - b,
        w - r,
        h - b,
        h - b,
        l + (w - l - r) / 2.0,
        h - 10.0,
        esc(x_label),
        t + (h - t - b) / 2.0,
        t + (h - t - b) / 2.0,
        esc(y_label)
    );
    for (i, s) in series.iter().enumerate() {
        let mut d = String::new();
        for (k, &(x, y)) in s.points.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1} {:.1}",
                if k == 0 { "M" } else { "L" },
                px(x),
                py(y)
            );
        }
        let _ = write!(
            o,
            r#"<path d="{d}" fill="none" stroke="{}" stroke-width="2.5"/>"#,
            s.color
        );
        for &(x, y) in &s.points {
            let _ = write!(
                o,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{}"/>"#,
                px(x),
                py(y),
                s.color
            );
        }
        // Legend in one row above the plot, so it never hides a line.
        let lx = l + 230.0 * i as f64;
        let _ = write!(
            o,
            r##"<rect x="{lx:.0}" y="36" width="14" height="4" fill="{}"/><text x="{:.0}" y="42" font-size="12">{}</text>"##,
            s.color,
            lx + 20.0,
            esc(&s.label)
        );
    }
    o.push_str("</svg>");
    o
}

/// Grouped horizontal bars: one row per category, one bar per series (values 0–`max`).
pub fn bar_chart(
    title: &str,
    unit: &str,
    categories: &[String],
    series: &[(&str, &'static str, Vec<f64>)],
    max: Option<f64>,
) -> String {
    let row_h = 8.0 + 12.0 * series.len() as f64;
    let (w, l, r, t) = (860.0, 190.0, 80.0, 50.0);
    let h = t + row_h * categories.len() as f64 + 20.0;
    let vmax = max
        .unwrap_or_else(|| {
            series
                .iter()
                .flat_map(|s| s.2.iter().copied())
                .fold(0.0, f64::max)
        })
        .max(1e-9);
    let mut o = String::new();
    let _ = write!(
        o,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h:.0}" width="100%" role="img" aria-label="{}"><rect width="{w}" height="{h:.0}" fill="#fff"/><text x="10" y="22" font-size="15" font-weight="bold">{}</text>"##,
        esc(title),
        esc(title)
    );
    for (i, (label, color, _)) in series.iter().enumerate() {
        let x = l + 170.0 * i as f64;
        let _ = write!(
            o,
            r#"<rect x="{x:.0}" y="30" width="12" height="10" fill="{color}"/><text x="{:.0}" y="39" font-size="12">{}</text>"#,
            x + 16.0,
            esc(label)
        );
    }
    for (ci, cat) in categories.iter().enumerate() {
        let y = t + row_h * ci as f64;
        let _ = write!(
            o,
            r#"<text x="{:.0}" y="{:.1}" font-size="12" text-anchor="end">{}</text>"#,
            l - 6.0,
            y + row_h / 2.0 + 4.0,
            esc(cat)
        );
        for (si, (_, color, vals)) in series.iter().enumerate() {
            let v = vals.get(ci).copied().unwrap_or(0.0);
            let bw = (w - l - r) * (v / vmax).clamp(0.0, 1.0);
            let by = y + 4.0 + 12.0 * si as f64;
            let _ = write!(
                o,
                r#"<rect x="{l}" y="{by:.1}" width="{bw:.1}" height="10" fill="{color}"/><text x="{:.1}" y="{:.1}" font-size="10">{}{}</text>"#,
                l + bw + 4.0,
                by + 9.0,
                fmt_num(v),
                esc(unit)
            );
        }
    }
    o.push_str("</svg>");
    o
}

/// Number with thousands separators; one decimal below 100.
pub fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 100.0 {
        let s = crate::summary::group(v.abs().round() as u64);
        if v < 0.0 {
            format!("-{s}")
        } else {
            s
        }
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_keeps_shape_at_the_central_latitude() {
        let p = Projection::fit([60.0, 40.0, 62.0, 42.0], 400.0, 0.0);
        let (x0, y0) = p.xy(60.0, 42.0);
        let (x1, y1) = p.xy(62.0, 40.0);
        assert!(x0.abs() < 1e-9 && y0.abs() < 1e-9);
        assert!((x1 - 400.0).abs() < 1e-9);
        // 2° of latitude vs 2° of longitude × cos(41°).
        assert!(((y1 / x1) - 1.0 / 41f64.to_radians().cos()).abs() < 1e-9);
        let (lon, lat) = p.lonlat(x1, y1);
        assert!((lon - 62.0).abs() < 1e-9 && (lat - 40.0).abs() < 1e-9);
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn paths_drop_sub_pixel_vertices_but_keep_ends() {
        let p = Projection::fit([0.0, 0.0, 1.0, 1.0], 100.0, 0.0);
        let d = p.path([(0.0, 0.0), (0.001, 0.0), (0.002, 0.0), (1.0, 0.0)], false);
        assert_eq!(d, "M0.0 100.0L100.0 100.0");
        let d = p.path([(0.5, 0.5), (0.501, 0.5)], false);
        assert_eq!(d, "M50.0 50.0L50.1 50.0");
    }
}
