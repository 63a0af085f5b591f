//! The report page: one HTML file with inline CSS and SVG — key figures, maps (regions, roads
//! coloured by coverage, settlements by status, proposed sites, fixed broadband), the coverage
//! curve, per-region bars and the summary tables, and the measured speeds per region when the
//! report was given a Prometheus server. No scripts, fonts, images or links to fetch.

use std::fmt::Write;

use geodata::Dataset;

use super::svg::{self, esc, legend, Projection, Series};
use crate::analyze::Analysis;
use crate::gaps::{RegionRow, ServiceSummary};
use crate::report::ReportData;
use crate::speeds::{SpeedSource, Speeds, TargetSource};
use crate::summary::group;

const GREEN: &str = "#1a9850";
const RED: &str = "#d73027";
const BLUE: &str = "#2c5cc5";
const ORANGE: &str = "#f28e2b";
const PURPLE: &str = "#7b3294";
const GREY: &str = "#bbbbbb";
/// Neighbouring countries (map context): fill and border.
const CONTEXT_FILL: &str = "#ecebe4";
const CONTEXT_STROKE: &str = "#9a9a94";

const CSS: &str = "body{font-family:sans-serif;margin:0 auto;max-width:1100px;padding:16px 24px;color:#222;line-height:1.4}
h1{font-size:26px;margin-bottom:4px}h2{font-size:20px;margin-top:36px;border-bottom:2px solid #2c5cc5;padding-bottom:4px}
h3{font-size:16px;margin-top:24px}.sub{color:#555;margin-top:0}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}.card{border:1px solid #ccc;border-radius:6px;padding:10px 14px;min-width:190px;flex:1;background:#f8f9fb}
.card .v{font-size:22px;font-weight:bold}.card .l{font-size:12px;color:#555}
table{border-collapse:collapse;width:100%;margin:8px 0 16px;font-size:13px}th,td{border:1px solid #ddd;padding:4px 6px;text-align:right}
th{background:#eef1f7}td.t,th.t{text-align:left}tr.total td{font-weight:bold;background:#f3f3f3}
.note{font-size:12px;color:#555}.warn{background:#fff4e0;border:1px solid #f0c36d;padding:8px 12px;border-radius:4px}
figure{margin:12px 0}figcaption{font-size:12px;color:#555}svg{max-width:100%;height:auto}
tr.below td{background:#fde0dd}td.below{color:#b2182b;font-weight:bold}
@media print{@page{size:A4;margin:14mm}body{max-width:none;padding:0;font-size:11px}.screen-only{display:none!important}
h2{break-after:avoid}figure,table,.cards{break-inside:avoid}.card{min-width:150px}}";

/// Attribution of the map layers (shown on the map and in the report's sources).
const ATTRIBUTION_SHORT: &str = "Roads © OpenStreetMap contributors (ODbL) · places GeoNames, SimpleMaps (CC BY 4.0) · regions and neighbouring countries Natural Earth · terrain NOAA GLOBE";

fn pct(v: f64) -> String {
    format!("{v:.2} %")
}

fn money(v: f64, cur: &str) -> String {
    format!("{} {cur}", group(v.max(0.0).round() as u64))
}

fn mi(a: &Analysis) -> &ServiceSummary {
    &a.gaps
        .services
        .iter()
        .find(|(s, _)| s.key() == "mobile_internet")
        .expect("gap analysis has every service")
        .1
}

/// Opens a static map. Outside the dataset's regions and its neighbouring countries (the
/// context layer) is neutral grey, not water: nothing is known there.
fn map_open(p: &Projection, label: &str) -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {:.0} {:.0}" width="100%" role="img" aria-label="{}"><rect width="100%" height="100%" fill="#e4e3df"/>"##,
        p.width,
        p.height,
        esc(label)
    )
}

/// Opens a static map and draws the neighbouring countries under everything else.
fn map_open_with_context(ds: &Dataset, p: &Projection, label: &str) -> String {
    let mut o = map_open(p, label);
    o.push_str(&context_layer(ds, p));
    o
}

/// Neighbouring countries (map context only): light fill, grey borders, a tooltip each.
fn context_layer(ds: &Dataset, p: &Projection) -> String {
    if ds.context.is_empty() {
        return String::new();
    }
    let mut o = format!(
        r#"<g class="context" fill="{CONTEXT_FILL}" stroke="{CONTEXT_STROKE}" stroke-width="0.8">"#
    );
    for c in &ds.context {
        let mut d = String::new();
        for poly in &c.geometry.0 {
            d.push_str(&p.path(poly.exterior().0.iter().map(|c| (c.x, c.y)), true));
            for hole in poly.interiors() {
                d.push_str(&p.path(hole.0.iter().map(|c| (c.x, c.y)), true));
            }
        }
        let _ = write!(
            o,
            r#"<path d="{d}" fill-rule="evenodd"><title>{} ({})</title></path>"#,
            esc(&c.name_en),
            esc(&c.iso_a2)
        );
    }
    o.push_str("</g>");
    o
}

/// Pixel boxes the static maps keep free of country names: the legend (top right, at most
/// `legend_w` wide and `legend_h` high) and the scale bar with the north arrow (bottom left).
fn reserved_boxes(p: &Projection, legend_w: f64, legend_h: f64) -> [[f64; 4]; 2] {
    [
        [p.width - legend_w - 16.0, 0.0, p.width, legend_h + 16.0],
        [0.0, p.height - 84.0, 200.0, p.height],
    ]
}

/// Neighbouring-country names, one per country at a fixed position: the point of the country's
/// visible part farthest (on an 8-pixel grid) from its border, the map edge, the dataset's
/// regions, the legend and the scale bar, so a name never overlaps the dataset. A country with
/// no room for its name is left unnamed (its tooltip still names it).
fn context_labels(ds: &Dataset, p: &Projection, reserved: &[[f64; 4]]) -> String {
    use geo::{BoundingRect, Contains};
    use geo_types::Point;
    if ds.context.is_empty() {
        return String::new();
    }
    const STEP: f64 = 8.0;
    const FONT: f64 = 13.0;
    let cols = (p.width / STEP).floor() as usize;
    let rows = (p.height / STEP).floor() as usize;
    let centre = |i: usize, j: usize| ((i as f64 + 0.5) * STEP, (j as f64 + 0.5) * STEP);
    // Cells covered by the dataset's regions (or reserved) are never available to any name.
    let mut blocked = vec![false; cols * rows];
    let region_boxes: Vec<_> = ds
        .regions
        .iter()
        .filter_map(|r| r.geometry.bounding_rect().map(|b| (r, b)))
        .collect();
    for j in 0..rows {
        for i in 0..cols {
            let (x, y) = centre(i, j);
            let (lon, lat) = p.lonlat(x, y);
            let pt = Point::new(lon, lat);
            blocked[j * cols + i] = reserved
                .iter()
                .any(|b| x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3])
                || region_boxes.iter().any(|(r, b)| {
                    lon >= b.min().x
                        && lon <= b.max().x
                        && lat >= b.min().y
                        && lat <= b.max().y
                        && r.geometry.contains(&pt)
                });
        }
    }
    let mut o = String::from(
        r##"<g class="context-labels" font-size="13" font-style="italic" fill="#77776f" text-anchor="middle" stroke="#fff" stroke-width="3" paint-order="stroke">"##,
    );
    for c in &ds.context {
        let Some(bb) = c.geometry.bounding_rect() else {
            continue;
        };
        let mut inside = vec![false; cols * rows];
        for j in 0..rows {
            for i in 0..cols {
                let k = j * cols + i;
                if blocked[k] {
                    continue;
                }
                let (lon, lat) = p.lonlat(centre(i, j).0, centre(i, j).1);
                inside[k] = lon >= bb.min().x
                    && lon <= bb.max().x
                    && lat >= bb.min().y
                    && lat <= bb.max().y
                    && c.geometry.contains(&Point::new(lon, lat));
            }
        }
        // Chessboard distance (in cells) to the nearest cell outside, by two passes.
        let mut dist = vec![0u32; cols * rows];
        for j in 0..rows {
            for i in 0..cols {
                let k = j * cols + i;
                if !inside[k] {
                    continue;
                }
                let mut d = u32::MAX;
                for (di, dj) in [(-1i64, 0i64), (-1, -1), (0, -1), (1, -1)] {
                    let (ni, nj) = (i as i64 + di, j as i64 + dj);
                    let v = if ni < 0 || nj < 0 || ni >= cols as i64 {
                        0
                    } else {
                        dist[nj as usize * cols + ni as usize]
                    };
                    d = d.min(v);
                }
                dist[k] = d + 1;
            }
        }
        for j in (0..rows).rev() {
            for i in (0..cols).rev() {
                let k = j * cols + i;
                if !inside[k] {
                    continue;
                }
                let mut d = dist[k];
                for (di, dj) in [(1i64, 0i64), (1, 1), (0, 1), (-1, 1)] {
                    let (ni, nj) = (i as i64 + di, j as i64 + dj);
                    let v = if ni < 0 || ni >= cols as i64 || nj >= rows as i64 {
                        0
                    } else {
                        dist[nj as usize * cols + ni as usize]
                    };
                    d = d.min(v + 1);
                }
                dist[k] = d;
            }
        }
        // The name's box (half width and height in cells) must lie on the country's free cells.
        let half_w = ((svg::text_width_px(&c.name_en, FONT) / 2.0 + 4.0) / STEP).ceil() as i64;
        let half_h = ((FONT / 2.0 + 3.0) / STEP).ceil() as i64;
        let mut best: Option<(u32, usize, usize)> = None;
        for j in 0..rows {
            for i in 0..cols {
                let d = dist[j * cols + i];
                if d == 0 || best.is_some_and(|b| d <= b.0) {
                    continue;
                }
                let fits = (-half_h..=half_h).all(|dj| {
                    (-half_w..=half_w).all(|di| {
                        let (ni, nj) = (i as i64 + di, j as i64 + dj);
                        ni >= 0
                            && nj >= 0
                            && ni < cols as i64
                            && nj < rows as i64
                            && inside[nj as usize * cols + ni as usize]
                    })
                });
                if fits {
                    best = Some((d, i, j));
                }
            }
        }
        if let Some((_, i, j)) = best {
            let (x, y) = centre(i, j);
            let _ = write!(
                o,
                r#"<text x="{x:.0}" y="{:.0}">{}</text>"#,
                y + FONT * 0.35,
                esc(&c.name_en)
            );
        }
    }
    o.push_str("</g>");
    o
}

fn regions_layer(ds: &Dataset, p: &Projection) -> String {
    let mut o = String::from(r##"<g fill="#f7f7f2" stroke="#777" stroke-width="0.8">"##);
    for r in &ds.regions {
        let mut d = String::new();
        for poly in &r.geometry.0 {
            d.push_str(&p.path(poly.exterior().0.iter().map(|c| (c.x, c.y)), true));
            for hole in poly.interiors() {
                d.push_str(&p.path(hole.0.iter().map(|c| (c.x, c.y)), true));
            }
        }
        let _ = write!(
            o,
            r#"<path d="{d}" fill-rule="evenodd"><title>{} ({})</title></path>"#,
            esc(&r.name_en),
            esc(&r.code)
        );
    }
    o.push_str("</g>");
    o
}

/// Region names at their centroids, largest regions first; a name that would overlap one
/// already placed (e.g. a capital city inside its own region, both called "Tashkent") is left
/// out rather than drawn over it — its tooltip still names it.
fn region_labels(ds: &Dataset, p: &Projection) -> String {
    use geo::{Area, Centroid};
    let mut regs: Vec<_> = ds.regions.iter().collect();
    regs.sort_by(|a, b| {
        b.geometry
            .unsigned_area()
            .total_cmp(&a.geometry.unsigned_area())
    });
    let mut placed: Vec<[f64; 4]> = Vec::new();
    let mut o = String::from(
        r##"<g font-size="11" fill="#444" text-anchor="middle" stroke="#fff" stroke-width="3" paint-order="stroke">"##,
    );
    for r in regs {
        let Some(c) = r.geometry.centroid() else {
            continue;
        };
        let (x, y) = p.xy(c.x(), c.y());
        let w = svg::text_width_px(&r.name_en, 11.0);
        let b = [x - w / 2.0 - 2.0, y - 11.0, x + w / 2.0 + 2.0, y + 3.0];
        if placed
            .iter()
            .any(|q| b[0] < q[2] && q[0] < b[2] && b[1] < q[3] && q[1] < b[3])
        {
            continue;
        }
        placed.push(b);
        let _ = write!(
            o,
            r#"<text x="{x:.0}" y="{y:.0}">{}</text>"#,
            esc(&r.name_en)
        );
    }
    o.push_str("</g>");
    o
}

/// Existing sites as small grey dots under everything else.
fn existing_sites_layer(ds: &Dataset, p: &Projection) -> String {
    let mut o = String::from(r##"<g fill="#8a8a8a">"##);
    for s in &ds.sites {
        let (x, y) = p.xy(s.lon, s.lat);
        let _ = write!(o, r#"<circle cx="{x:.1}" cy="{y:.1}" r="1.1"/>"#);
    }
    o.push_str("</g>");
    o
}

fn roads_layer(a: &Analysis, p: &Projection) -> String {
    let mut o = String::from(r#"<g fill="none" stroke-linecap="round">"#);
    for st in a
        .gaps
        .stretches
        .iter()
        .filter(|s| s.service == "mobile_internet")
    {
        let (color, w) = match (st.covered, st.international) {
            (true, true) => (GREEN, 2.6),
            (true, false) => (GREEN, 1.0),
            (false, true) => (RED, 3.0),
            (false, false) => (RED, 1.2),
        };
        let _ = write!(
            o,
            r#"<path d="{}" stroke="{color}" stroke-width="{w}"/>"#,
            p.path(st.coords.iter().copied(), false)
        );
    }
    o.push_str("</g>");
    o
}

fn settlement_radius(pop: u64) -> f64 {
    (1.5 + (pop as f64).sqrt() / 120.0).min(9.0)
}

fn settlements_layer(ds: &Dataset, a: &Analysis, p: &Projection) -> String {
    let mut o = String::from(r##"<g stroke="#333" stroke-width="0.4">"##);
    // Uncovered last so they are drawn on top.
    for pass in [true, false] {
        for (i, s) in ds.settlements.iter().enumerate() {
            let c = a.coverage.mobile_internet(i);
            if c != pass {
                continue;
            }
            let (x, y) = p.xy(s.lon, s.lat);
            let _ = write!(
                o,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="{:.1}" fill="{}"><title>{} — {} people — {}</title></circle>"#,
                settlement_radius(s.population),
                if c { GREEN } else { RED },
                esc(&s.name),
                group(s.population),
                if c {
                    "mobile Internet"
                } else {
                    "no mobile Internet"
                }
            );
        }
    }
    o.push_str("</g>");
    o
}

fn sites_layer(sites: &[crate::plan::PlannedSite], p: &Projection) -> String {
    let mut o = String::from(r##"<g fill="#2c5cc5" stroke="#000" stroke-width="0.6">"##);
    for s in sites {
        let (x, y) = p.xy(s.lon, s.lat);
        let _ = write!(
            o,
            r#"<path d="M{x:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z"><title>#{} {} ({})</title></path>"#,
            y - 7.0,
            x - 6.0,
            y + 5.0,
            x + 6.0,
            y + 5.0,
            s.rank,
            esc(&s.id),
            s.site_type.as_str().replace('_', " ")
        );
    }
    o.push_str("</g>");
    o
}

fn coverage_map(ds: &Dataset, a: &Analysis, r: &ReportData, p: &Projection, title: &str) -> String {
    let mut o = map_open_with_context(ds, p, title);
    o.push_str(&regions_layer(ds, p));
    o.push_str(&existing_sites_layer(ds, p));
    o.push_str(&roads_layer(a, p));
    o.push_str(&settlements_layer(ds, a, p));
    o.push_str(&sites_layer(&r.plan.selection.sites, p));
    o.push_str(&region_labels(ds, p));
    let mut items: Vec<svg::LegendItem> = vec![
        (GREEN, "line", "road with mobile Internet".into()),
        (RED, "line", "road without (thick: international)".into()),
        (GREEN, "dot", "settlement with mobile Internet".into()),
        (RED, "dot", "settlement without".into()),
        (BLUE, "triangle", "proposed site".into()),
        (
            "#8a8a8a",
            "dot",
            if ds.synthetic_layers.iter().any(|l| l.contains("sites")) {
                "existing site (synthetic)".into()
            } else {
                "existing site".into()
            },
        ),
    ];
    with_context_legend(ds, &mut items);
    o.push_str(&context_labels(ds, p, &legend_reserved(p, &items)));
    o.push_str(&legend(&items, p.width));
    o.push_str(&svg::scale_bar(p));
    o.push_str("</svg>");
    o
}

/// Adds the neighbouring countries' swatch to a static map's legend when there are any.
fn with_context_legend(ds: &Dataset, items: &mut Vec<svg::LegendItem<'_>>) {
    if !ds.context.is_empty() {
        items.push((CONTEXT_FILL, "area", "neighbouring country".into()));
    }
}

/// The boxes country names keep clear of, for a legend with these items.
fn legend_reserved(p: &Projection, items: &[svg::LegendItem<'_>]) -> [[f64; 4]; 2] {
    let w = 40.0
        + items
            .iter()
            .map(|(_, _, l)| svg::text_width_px(l, 12.0))
            .fold(0.0, f64::max);
    reserved_boxes(p, w, 12.0 + 18.0 * items.len() as f64)
}

fn broadband_map(ds: &Dataset, r: &ReportData, p: &Projection) -> String {
    let mut o = map_open_with_context(ds, p, "Fixed broadband: served and unserved settlements");
    o.push_str(&regions_layer(ds, p));
    let _ = write!(o, r#"<g fill="none" stroke="{GREY}" stroke-width="0.8">"#);
    for road in &ds.roads {
        let _ = write!(
            o,
            r#"<path d="{}"/>"#,
            p.path(road.geometry.0.iter().map(|c| (c.x, c.y)), false)
        );
    }
    o.push_str("</g>");
    let _ = write!(
        o,
        r#"<g fill="none" stroke="{PURPLE}" stroke-width="2" stroke-dasharray="5 3">"#
    );
    for s in r.broadband.settlements.iter().filter(|s| !s.served) {
        let _ = write!(
            o,
            r#"<path d="{}"/>"#,
            p.path(s.fibre_route.iter().copied(), false)
        );
    }
    o.push_str(r##"</g><g stroke="#333" stroke-width="0.4">"##);
    for (s, st) in r.broadband.settlements.iter().zip(&ds.settlements) {
        let (x, y) = p.xy(s.lon, s.lat);
        let _ = write!(
            o,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="{:.1}" fill="{}"><title>{} — {} ports demand — {}</title></circle>"#,
            settlement_radius(st.population),
            if s.served { GREEN } else { ORANGE },
            esc(&s.name),
            group(s.demand_ports),
            if s.served { "served" } else { "unserved" }
        );
    }
    // Nodes on top of the settlement dots they sit in, white-edged so they stay visible.
    o.push_str("</g><g fill=\"#222\" stroke=\"#fff\" stroke-width=\"0.8\">");
    for n in &ds.fixed_nodes {
        let (x, y) = p.xy(n.lon, n.lat);
        let _ = write!(
            o,
            r#"<rect x="{:.1}" y="{:.1}" width="4" height="4"><title>{} — {} ({})</title></rect>"#,
            x - 2.0,
            y - 2.0,
            esc(&n.id),
            esc(&n.kind),
            n.technology.as_str()
        );
    }
    o.push_str("</g>");
    o.push_str(&region_labels(ds, p));
    let mut items: Vec<svg::LegendItem> = vec![
        (GREEN, "dot", "settlement served by a fixed node".into()),
        (ORANGE, "dot", "settlement unserved".into()),
        (PURPLE, "line", "new fibre route".into()),
        ("#222", "square", "fixed node (OLT, DSLAM, …)".into()),
    ];
    with_context_legend(ds, &mut items);
    o.push_str(&context_labels(ds, p, &legend_reserved(p, &items)));
    o.push_str(&legend(&items, p.width));
    o.push_str(&svg::scale_bar(p));
    o.push_str("</svg>");
    o
}

fn card(o: &mut String, id: &str, value: &str, label: &str) {
    let _ = write!(
        o,
        r#"<div class="card"><div class="v" id="{id}">{}</div><div class="l">{}</div></div>"#,
        esc(value),
        esc(label)
    );
}

/// Bytes per second as Mbit/s with one decimal; "—" when missing.
fn mbit_s(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}", x * 8.0 / 1e6))
        .unwrap_or_else(|| "—".into())
}

/// The "Measured speeds" section: per region the 1-day medians against the targets, the
/// regions below target highlighted, then the regions without measurements and the warnings.
fn speeds_section(o: &mut String, s: &Speeds) {
    let _ = write!(
        o,
        "<h2 id=\"speeds\">Measured speeds</h2><p id=\"speeds-source\">Median download and upload per region over the last day, in Mbit/s, measured by the probe agents and read from Prometheus at <b>{}</b> ({}). The target is {}; a region is <b>below target</b> when its download or upload median is under it.</p>",
        esc(&s.url),
        match s.source {
            SpeedSource::RecordingRules => "source: recording rules",
            SpeedSource::RawExpressions => {
                "source: raw probe gauges, the recording rules were not found"
            }
        },
        match s.target_factor {
            Some(f) => format!("the region's baseline × {f} recorded in Prometheus, or the planner config's [speeds] target where Prometheus has none"),
            None => "the planner config's [speeds] target".into(),
        }
    );
    let _ = write!(
        o,
        "<p id=\"speeds-summary\"><b>{}</b> of {} measured regions below target{}.</p>",
        s.regions_below_target.len(),
        s.regions_measured,
        if s.regions_below_target.is_empty() {
            String::new()
        } else {
            format!(": {}", esc(&s.regions_below_target.join(", ")))
        }
    );
    let measured: Vec<_> = s.regions.iter().filter(|r| r.measured).collect();
    if !measured.is_empty() {
        o.push_str("<table id=\"speeds-table\"><tr><th class=\"t\">region</th><th class=\"t\">label</th><th>agents</th><th>download</th><th>target</th><th>ratio</th><th>upload</th><th>target</th><th>ratio</th><th>download 7 d</th><th>upload 7 d</th><th class=\"t\">target from</th><th class=\"t\">status</th></tr>");
        let ratio = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "—".into());
        for r in measured {
            let no_target = r.download_target_bytes_per_second.is_none()
                && r.upload_target_bytes_per_second.is_none();
            let mut from: Vec<&str> = [r.download_target_source, r.upload_target_source]
                .into_iter()
                .flatten()
                .map(|t| match t {
                    TargetSource::Prometheus => "Prometheus",
                    TargetSource::Config => "planner config",
                })
                .collect();
            from.dedup();
            let _ = write!(
                o,
                "<tr id=\"speeds-{}\"{}><td class=\"t\">{} {}</td><td class=\"t\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"t\">{}</td><td class=\"t{}\">{}</td></tr>",
                esc(&r.region),
                if r.below_target { " class=\"below\"" } else { "" },
                esc(&r.name),
                esc(&r.region),
                esc(&r.label),
                r.agents,
                mbit_s(r.download_bytes_per_second),
                mbit_s(r.download_target_bytes_per_second),
                ratio(r.download_ratio_to_target),
                mbit_s(r.upload_bytes_per_second),
                mbit_s(r.upload_target_bytes_per_second),
                ratio(r.upload_ratio_to_target),
                mbit_s(r.download_7d_bytes_per_second),
                mbit_s(r.upload_7d_bytes_per_second),
                if from.is_empty() { "—".into() } else { from.join(", ") },
                if r.below_target { " below" } else { "" },
                if r.below_target {
                    "below target"
                } else if no_target {
                    "no target"
                } else {
                    "ok"
                }
            );
        }
        o.push_str("</table><p class=\"note\">Ratio = median / target (the target is met at ≥ 1). Medians are taken per agent over the window, then across the region's agents, so one busy site cannot move a region.</p>");
    }
    let scoped = s.regions_with_both_scopes();
    if !scoped.is_empty() {
        let _ = write!(
            o,
            "<h3>Domestic and international paths</h3><p id=\"speeds-scope-summary\"><b>{}</b> of {} measured regions limited by the international path{}.</p>",
            s.regions_international_bottleneck.len(),
            s.regions_measured,
            if s.regions_international_bottleneck.is_empty() {
                String::new()
            } else {
                format!(": {}", esc(&s.regions_international_bottleneck.join(", ")))
            }
        );
        o.push_str("<table id=\"speeds-scope-table\"><tr><th class=\"t\">region</th><th>download domestic</th><th>download international</th><th>ratio</th><th>upload domestic</th><th>upload international</th><th>ratio</th><th>lowest acceptable ratio</th><th class=\"t\">status</th></tr>");
        let ratio = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "—".into());
        for r in scoped {
            let _ = write!(
                o,
                "<tr id=\"speeds-scope-{}\"{}><td class=\"t\">{} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2} ({})</td><td class=\"t{}\">{}</td></tr>",
                esc(&r.region),
                if r.international_bottleneck { " class=\"below\"" } else { "" },
                esc(&r.name),
                esc(&r.region),
                mbit_s(r.domestic_download_bytes_per_second),
                mbit_s(r.international_download_bytes_per_second),
                ratio(r.international_download_ratio),
                mbit_s(r.domestic_upload_bytes_per_second),
                mbit_s(r.international_upload_bytes_per_second),
                ratio(r.international_upload_ratio),
                r.international_ratio_min,
                match r.international_ratio_min_source {
                    TargetSource::Prometheus => "Prometheus",
                    TargetSource::Config => "planner config",
                },
                if r.international_bottleneck { " below" } else { "" },
                if r.international_bottleneck {
                    "international path is the bottleneck"
                } else {
                    "ok"
                }
            );
        }
        o.push_str("</table><p class=\"note\">Domestic targets are inside the agents' country, international ones abroad (the target's <code>scope</code> label). Ratio = international / domestic 1-day median: near 1 when the access network limits both, low when the international gateways or upstream capacity do.</p>");
    }
    let none: Vec<String> = s
        .regions
        .iter()
        .filter(|r| !r.measured)
        .map(|r| format!("{} {}", esc(&r.name), esc(&r.region)))
        .collect();
    if !none.is_empty() {
        let _ = write!(
            o,
            "<p id=\"speeds-unmeasured\">No measurements ({}): {}.</p>",
            none.len(),
            none.join(", ")
        );
    }
    if !s.warnings.is_empty() {
        o.push_str("<div class=\"warn\" id=\"speeds-warnings\">Warnings:<ul>");
        for w in &s.warnings {
            let _ = write!(o, "<li>{}</li>", esc(w));
        }
        o.push_str("</ul></div>");
    }
}

/// Today's mobile Internet per operator, and the settlements only one operator serves.
fn operators_section(o: &mut String, ops: &crate::report::Operators) {
    let _ = write!(
        o,
        "<h2 id=\"operators\">Mobile Internet per operator</h2><p>Each operator's existing sites evaluated alone with the same model and link budget. <b id=\"op-several\">{}</b> of the {} settlements with mobile Internet today ({} people) are served by two operators or more; <b id=\"op-sole\">{}</b> ({} people) by one only: there, sharing that operator's sites or national roaming would serve the other operators' customers without a new mast.</p>",
        group(ops.settlements_covered_by_several as u64),
        group(ops.settlements_covered_any as u64),
        group(ops.population_covered_by_several),
        group(ops.sole_operator_settlements.len() as u64),
        group(ops.sole_operator_settlements.iter().map(|s| s.population).sum()),
    );
    o.push_str("<table id=\"operators-table\"><tr><th class=\"t\">operator</th><th>sites</th><th>settlements served</th><th>% of settlements</th><th>people served</th><th>% of people</th><th>settlements served by it alone</th><th>people there</th></tr>");
    for x in &ops.operators {
        let _ = write!(
            o,
            "<tr><td class=\"t\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&x.operator),
            group(x.sites as u64),
            group(x.settlements_covered as u64),
            pct(x.settlements_covered_pct),
            group(x.population_covered),
            pct(x.population_covered_pct),
            group(x.sole_operator_settlements as u64),
            group(x.sole_operator_population),
        );
    }
    o.push_str("</table>");
    const SHOWN: usize = 25;
    let sole = &ops.sole_operator_settlements;
    if !sole.is_empty() {
        let _ = write!(
            o,
            "<table id=\"sole-operator\"><caption>Settlements served by one operator only{}</caption><tr><th class=\"t\">settlement</th><th class=\"t\">region</th><th>people</th><th class=\"t\">only operator</th></tr>",
            if sole.len() > SHOWN {
                format!(" (the {SHOWN} most populous of {}; all in report.json)", group(sole.len() as u64))
            } else {
                String::new()
            }
        );
        for x in sole.iter().take(SHOWN) {
            let _ = write!(
                o,
                "<tr><td class=\"t\">{}</td><td class=\"t\">{}</td><td>{}</td><td class=\"t\">{}</td></tr>",
                esc(&x.name),
                esc(&x.region),
                group(x.population),
                esc(&x.operator)
            );
        }
        o.push_str("</table>");
    }
}

fn region_rows(a: &Analysis) -> Vec<&RegionRow> {
    a.gaps
        .by_region
        .iter()
        .filter(|r| r.service == "mobile_internet")
        .collect()
}

/// Renders the whole page.
pub fn render(ds: &Dataset, r: &ReportData) -> anyhow::Result<String> {
    let before = &r.plan.prepared.before;
    let after = &r.plan.after;
    let sel = &r.plan.selection;
    let pc = &r.plan.prepared.config;
    let cur = &pc.cost.currency;
    let (mb, ma) = (mi(before), mi(after));
    let total_cost: f64 = sel.sites.iter().map(|s| s.cost).sum();
    let total_capex: f64 = sel.sites.iter().map(|s| s.capex).sum();
    let bt = &r.broadband.totals;
    let inv = &r.investment;

    let mut o = String::with_capacity(1 << 20);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Coverage and investment report — {}</title><style>{CSS}</style>{}</head><body>",
        esc(&ds.name),
        super::map::head()
    );
    let _ = write!(
        o,
        "<h1>Mobile and fixed broadband coverage: gaps, plan and investment</h1><p class=\"sub\">{} · propagation model <b>{}</b> · thresholds 3G {} dBm, 4G {} dBm · road samples every ≤ {} m · costs in {cur} over {} years</p><p class=\"sub\" id=\"generated-line\">{} · data: {} · sources, models and version at the end</p>",
        esc(&ds.name),
        esc(&before.model),
        before.settings.threshold_dbm[1],
        before.settings.threshold_dbm[2],
        before.road_step_m,
        pc.cost.horizon_years,
        super::provenance::generated_line(r),
        esc(ATTRIBUTION_SHORT)
    );
    if !ds.synthetic_layers.is_empty() {
        let _ = write!(
            o,
            "<p class=\"warn\">Synthetic layers (generated, not observed): <b>{}</b>. Figures that depend on them illustrate the method, not the real network.</p>",
            esc(&ds.synthetic_layers.join(", "))
        );
    }

    o.push_str("<h2>Key figures</h2><div class=\"cards\">");
    card(
        &mut o,
        "kf-headline",
        &format!(
            "{:.1} %",
            before.gaps.headline.percent_without_mobile_internet
        ),
        "of international highway km without mobile Internet today",
    );
    card(
        &mut o,
        "kf-settlements-before",
        &pct(mb.settlements_covered_pct),
        "settlements with mobile Internet today",
    );
    card(
        &mut o,
        "kf-settlements-after",
        &pct(ma.settlements_covered_pct),
        "settlements with mobile Internet after the plan",
    );
    card(
        &mut o,
        "kf-population-after",
        &pct(ma.population_covered_pct),
        &format!(
            "population covered after the plan (today {})",
            pct(mb.population_covered_pct)
        ),
    );
    card(
        &mut o,
        "kf-highway-after",
        &pct(ma.international_road_km_covered_pct),
        &format!(
            "international highway km covered after (today {})",
            pct(mb.international_road_km_covered_pct)
        ),
    );
    card(
        &mut o,
        "kf-sites",
        &sel.sites.len().to_string(),
        "new or upgraded sites proposed",
    );
    card(
        &mut o,
        "kf-cost",
        &money(total_cost, cur),
        &format!(
            "plan cost over {} years (capex {})",
            pc.cost.horizon_years,
            money(total_capex, cur)
        ),
    );
    card(
        &mut o,
        "kf-unserved",
        &bt.settlements_unserved.to_string(),
        "settlements without fixed broadband",
    );
    card(
        &mut o,
        "kf-port-deficit",
        &group(bt.port_deficit),
        &format!("port deficit (target {} new ports)", group(bt.ports_target)),
    );
    card(
        &mut o,
        "kf-invest-total",
        &money(inv.total.total_capex, cur),
        "capex to reach the stated targets",
    );
    if let Some(s) = &r.speeds {
        card(
            &mut o,
            "kf-speeds-below",
            &format!("{} of {}", s.regions_below_target.len(), s.regions_measured),
            "measured regions below their speed target",
        );
    }
    o.push_str("</div>");
    let _ = write!(
        o,
        "<p id=\"headline\">{}</p>",
        esc(&before.gaps.headline.text)
    );

    o.push_str(&super::map::section(ds, r, ATTRIBUTION_SHORT)?);

    let proj = Projection::fit(crate::report::heatmap::dataset_bbox(ds), 1000.0, 12.0);
    o.push_str("<h2>Mobile Internet today and the proposed sites</h2><figure>");
    o.push_str(&coverage_map(
        ds,
        before,
        r,
        &proj,
        "Mobile Internet today with the proposed sites",
    ));
    o.push_str("<figcaption>Roads and settlements coloured by mobile Internet (3G or better) before the plan; blue triangles: proposed sites.</figcaption></figure>");
    o.push_str("<h2>After the plan</h2><figure>");
    o.push_str(&coverage_map(
        ds,
        after,
        r,
        &proj,
        "Mobile Internet after the plan",
    ));
    o.push_str("<figcaption>The same map with the proposed sites built (full coverage run over existing and proposed sites).</figcaption></figure>");

    // Before / after table per service.
    o.push_str("<h3>Coverage before and after, per service</h3><table><tr><th class=\"t\">service</th><th>settlements before</th><th>after</th><th>population before</th><th>after</th><th>intl. highway km before</th><th>after</th></tr>");
    for ((svc, b), (_, a)) in before.gaps.services.iter().zip(&after.gaps.services) {
        let _ = write!(
            o,
            "<tr><td class=\"t\">{}</td><td>{} / {} ({})</td><td>{} ({})</td><td>{}</td><td>{}</td><td>{:.1} km ({})</td><td>{:.1} km ({})</td></tr>",
            svc.key(),
            b.settlements_covered,
            b.settlements_total,
            pct(b.settlements_covered_pct),
            a.settlements_covered,
            pct(a.settlements_covered_pct),
            pct(b.population_covered_pct),
            pct(a.population_covered_pct),
            b.international_road_km_covered,
            pct(b.international_road_km_covered_pct),
            a.international_road_km_covered,
            pct(a.international_road_km_covered_pct)
        );
    }
    o.push_str("</table>");

    // Coverage curve.
    let curve = &sel.curve;
    let series = vec![
        Series {
            label: "% population".into(),
            color: BLUE,
            points: curve
                .iter()
                .map(|c| (c.cost, c.population_covered_pct))
                .collect(),
        },
        Series {
            label: "% settlements".into(),
            color: GREEN,
            points: curve
                .iter()
                .map(|c| (c.cost, c.settlements_covered_pct))
                .collect(),
        },
        Series {
            label: "% international highway km".into(),
            color: RED,
            points: curve
                .iter()
                .map(|c| (c.cost, c.international_road_km_covered_pct))
                .collect(),
        },
    ];
    let y_min = curve
        .iter()
        .flat_map(|c| {
            [
                c.population_covered_pct,
                c.settlements_covered_pct,
                c.international_road_km_covered_pct,
            ]
        })
        .fold(100.0f64, f64::min);
    let y_min = ((y_min - 2.0) / 5.0).floor().max(0.0) * 5.0;
    o.push_str("<h2>Coverage curve</h2><figure>");
    o.push_str(&svg::line_chart(
        "Mobile Internet coverage vs cumulative cost of the proposed sites",
        &format!(
            "cumulative cost, {cur} (capex + {} years opex)",
            pc.cost.horizon_years
        ),
        "% covered",
        &series,
        (y_min, 100.0),
    ));
    let _ = write!(
        o,
        "<figcaption>Each point adds one site, in the order picked (greedy maximal covering with lazy re-evaluation, ranked by {}). The selection stopped because {}; targets {}.</figcaption></figure>",
        match pc.rank { crate::plan::greedy::Rank::Gain => "gain", crate::plan::greedy::Rank::GainPerCost => "gain per unit cost" },
        match sel.stop {
            crate::plan::greedy::StopReason::TargetReached => "the targets were reached",
            crate::plan::greedy::StopReason::MaxPicks => "the site limit was reached",
            crate::plan::greedy::StopReason::Budget => "no further candidate fits the budget",
            crate::plan::greedy::StopReason::NoGain => "no remaining candidate adds coverage",
        },
        if sel.targets_met { "met" } else { "not met" }
    );

    // Per-region bars.
    // Regions without settlements or roads (e.g. places outside every polygon) add nothing.
    let rb: Vec<&RegionRow> = region_rows(before)
        .into_iter()
        .filter(|x| x.population_total > 0 || x.international_road_km > 0.0)
        .collect();
    let ra: Vec<&RegionRow> = rb
        .iter()
        .map(|b| {
            region_rows(after)
                .into_iter()
                .find(|a| a.region == b.region)
                .expect("same regions after")
        })
        .collect();
    let cats: Vec<String> = rb
        .iter()
        .map(|x| {
            if x.region.is_empty() {
                "(outside regions)".into()
            } else {
                format!("{} {}", x.name, x.region)
            }
        })
        .collect();
    o.push_str("<h2>Per region</h2><figure>");
    // People without mobile Internet rather than % with it: at 96–100 % the bars of a
    // percentage chart cannot be told apart, the head counts can.
    o.push_str(&svg::bar_chart(
        "People without mobile Internet per region, before and after",
        "",
        &cats,
        &[
            (
                "before",
                ORANGE,
                rb.iter().map(|x| x.population_uncovered as f64).collect(),
            ),
            (
                "after",
                BLUE,
                ra.iter().map(|x| x.population_uncovered as f64).collect(),
            ),
        ],
        None,
    ));
    o.push_str("</figure><figure>");
    o.push_str(&svg::bar_chart(
        "International highway km without mobile Internet per region",
        " km",
        &cats,
        &[
            (
                "before",
                RED,
                rb.iter()
                    .map(|x| x.international_road_km_uncovered)
                    .collect(),
            ),
            (
                "after",
                BLUE,
                ra.iter()
                    .map(|x| x.international_road_km_uncovered)
                    .collect(),
            ),
        ],
        None,
    ));
    o.push_str("</figure>");
    o.push_str("<table><tr><th class=\"t\">region</th><th>settlements without mobile Internet (before → after)</th><th>population without (before → after)</th><th>intl. km without (before → after)</th></tr>");
    for (b, a) in rb.iter().zip(&ra) {
        let _ = write!(
            o,
            "<tr><td class=\"t\">{} {}</td><td>{} → {}</td><td>{} → {}</td><td>{:.1} → {:.1}</td></tr>",
            esc(&b.name),
            esc(&b.region),
            b.settlements_uncovered,
            a.settlements_uncovered,
            group(b.population_uncovered),
            group(a.population_uncovered),
            b.international_road_km_uncovered,
            a.international_road_km_uncovered
        );
    }
    o.push_str("</table>");
    o.push_str("<h3>International routes</h3><table><tr><th class=\"t\">route</th><th>km</th><th>without mobile Internet before</th><th>after</th></tr>");
    let routes_a: std::collections::BTreeMap<&str, f64> = after
        .gaps
        .by_route
        .iter()
        .filter(|x| x.service == "mobile_internet")
        .map(|x| (x.route.as_str(), x.road_km_uncovered))
        .collect();
    for x in before
        .gaps
        .by_route
        .iter()
        .filter(|x| x.service == "mobile_internet" && x.international)
    {
        let _ = write!(
            o,
            "<tr><td class=\"t\">{}</td><td>{:.1}</td><td>{:.1} km</td><td>{:.1} km</td></tr>",
            esc(&x.route),
            x.road_km,
            x.road_km_uncovered,
            routes_a.get(x.route.as_str()).copied().unwrap_or(0.0)
        );
    }
    o.push_str("</table>");

    operators_section(&mut o, &r.operators);

    if let Some(s) = &r.speeds {
        speeds_section(&mut o, s);
    }

    // Proposed sites.
    let _ = write!(o, "<h2>Proposed sites ({})</h2><table><tr><th>#</th><th class=\"t\">id</th><th class=\"t\">type</th><th class=\"t\">region</th><th>lon</th><th>lat</th><th>+ people</th><th>+ settlements</th><th>+ highway km</th><th>capex, {cur}</th><th>opex / year, {cur}</th><th class=\"t\">backhaul</th><th>cost, {cur} ({} y)</th></tr>", sel.sites.len(), pc.cost.horizon_years);
    for s in &sel.sites {
        let bh = match s.backhaul.kind {
            crate::plan::cost::BackhaulKind::Fibre => {
                format!("fibre {:.1} km", s.backhaul.fibre_km.unwrap_or(0.0))
            }
            crate::plan::cost::BackhaulKind::Microwave => {
                format!("microwave × {}", s.backhaul.microwave_hops.unwrap_or(1))
            }
        };
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td><td>{:.4}</td><td>{:.4}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td class=\"t\">{}</td><td>{}</td></tr>",
            s.rank, esc(&s.id), s.site_type.as_str().replace('_', " "), esc(&s.region), s.lon, s.lat,
            group(s.marginal_gain.population), s.marginal_gain.settlements, s.marginal_gain.highway_km,
            group(s.capex.round() as u64), group(s.opex_per_year.round() as u64), bh, group(s.cost.round() as u64)
        );
    }
    let _ = write!(o, "<tr class=\"total\"><td></td><td class=\"t\">total</td><td colspan=\"7\"></td><td>{}</td><td></td><td></td><td>{}</td></tr></table>", group(total_capex.round() as u64), group(total_cost.round() as u64));

    // Fixed broadband.
    o.push_str("<h2>Fixed broadband</h2><figure>");
    o.push_str(&broadband_map(ds, r, &proj));
    let bc = &r.broadband_config;
    let _ = write!(
        o,
        "<figcaption>Demand = households × take-up {:.0} % (households = population / {} where the data has none). Reach: FTTH {} km, DSL {} km, cable {} km, FWA {} km. New fibre follows roads where a road is within {:.1} km of both ends ({:.1} km), else a straight line ({:.1} km).</figcaption></figure>",
        100.0 * bc.take_up, bc.household_size, bc.reach_km.ftth, bc.reach_km.dsl, bc.reach_km.docsis, bc.reach_km.fwa,
        bc.road_snap_max_m / 1000.0, bt.fibre_km_along_roads, bt.fibre_km_straight
    );
    let _ = write!(
        o,
        "<table id=\"ports\" class=\"ports\"><tr><th class=\"t\">fixed-broadband ports</th><th>ports</th></tr><tr><td class=\"t\">demand (households × take-up)</td><td id=\"ports-demand\">{}</td></tr><tr><td class=\"t\">installed</td><td id=\"ports-installed\">{}</td></tr><tr><td class=\"t\">&nbsp;&nbsp;of which in use / spare</td><td id=\"ports-used\">{} / {}</td></tr><tr><td class=\"t\">shortfall: demand − installed, summed over the regions short of ports (a spare port in one region cannot serve another)</td><td id=\"ports-deficit\">{}</td></tr><tr><td class=\"t\">national target of new ports</td><td id=\"ports-target\">{}</td></tr><tr class=\"total\"><td class=\"t\">to build = the larger of shortfall and target</td><td id=\"ports-to-build\">{}</td></tr></table><p class=\"note\">{}</p>",
        group(bt.demand_ports), group(bt.ports_total), group(bt.ports_used), group(bt.ports_total.saturating_sub(bt.ports_used)), group(bt.port_deficit), group(bt.ports_target), group(bt.ports_to_build),
        if bt.ports_to_build == bt.ports_target && bt.ports_target > bt.port_deficit {
            format!("The target ({}) exceeds the shortfall ({}), so the target sets the ports to build; the {} ports beyond the shortfall add capacity for growth.", group(bt.ports_target), group(bt.port_deficit), group(bt.ports_target - bt.port_deficit))
        } else {
            format!("The shortfall ({}) exceeds the target ({}), so the shortfall sets the ports to build.", group(bt.port_deficit), group(bt.ports_target))
        }
    );
    o.push_str("<table><tr><th class=\"t\">region</th><th>settlements</th><th>unserved</th><th>households</th><th>port demand</th><th>ports installed</th><th>in use</th><th>deficit</th><th>fibre km to unserved</th></tr>");
    for x in &r.broadband.by_region {
        let _ = write!(
            o,
            "<tr><td class=\"t\">{} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td></tr>",
            esc(&x.name), esc(&x.region), x.settlements, x.settlements_unserved, group(x.households), group(x.demand_ports), group(x.ports_total), group(x.ports_used), group(x.port_deficit), x.fibre_km_to_unserved
        );
    }
    let _ = write!(o, "<tr class=\"total\"><td class=\"t\">total</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td></tr></table>", bt.settlements, bt.settlements_unserved, group(bt.households), group(bt.demand_ports), group(bt.ports_total), group(bt.ports_used), group(bt.port_deficit), bt.fibre_km_to_unserved);
    let unserved: Vec<_> = r
        .broadband
        .settlements
        .iter()
        .filter(|s| !s.served)
        .collect();
    if !unserved.is_empty() {
        o.push_str("<h3>Unserved settlements and the fibre to reach them</h3><table><tr><th class=\"t\">settlement</th><th class=\"t\">region</th><th>port demand</th><th class=\"t\">from node</th><th>fibre km</th><th class=\"t\">measured</th></tr>");
        for s in unserved.iter().take(200) {
            let _ = write!(
                o,
                "<tr><td class=\"t\">{}</td><td class=\"t\">{}</td><td>{}</td><td class=\"t\">{}</td><td>{}</td><td class=\"t\">{}</td></tr>",
                esc(&s.name), esc(&s.region), group(s.demand_ports), esc(s.fibre_from.as_deref().unwrap_or("—")),
                s.fibre_km.map(|k| format!("{k:.1}")).unwrap_or_else(|| "—".into()),
                match s.fibre_method { Some(crate::broadband::FibreMethod::Road) => "along roads", Some(crate::broadband::FibreMethod::Straight) => "straight line", None => "no fibre node" }
            );
        }
        o.push_str("</table>");
    }

    // Investment.
    let t = &inv.targets;
    let _ = write!(
        o,
        "<h2>Investment to reach the targets</h2><p>Targets: mobile Internet in {} of settlements{}{}; {} new fixed-broadband ports. Mobile targets {} with {} sites.</p>",
        t.settlements_pct.map(|v| format!("{v} %")).unwrap_or_else(|| "— ".into()),
        t.population_pct.map(|v| format!(", {v} % of population")).unwrap_or_default(),
        t.international_road_km_pct.map(|v| format!(", {v} % of international highway km")).unwrap_or_default(),
        group(inv.ports_target),
        if inv.mobile_targets_met { "met" } else { "NOT met" },
        inv.total.mobile_sites
    );
    let cats: Vec<String> = inv
        .by_region
        .iter()
        .map(|x| {
            if x.region.is_empty() {
                "(outside regions)".into()
            } else {
                format!("{} {}", x.name, x.region)
            }
        })
        .collect();
    o.push_str("<figure>");
    o.push_str(&svg::bar_chart(
        &format!("Capex per region, {cur}"),
        "",
        &cats,
        &[
            (
                "mobile sites",
                BLUE,
                inv.by_region.iter().map(|x| x.mobile_capex).collect(),
            ),
            (
                "fixed broadband",
                PURPLE,
                inv.by_region.iter().map(|x| x.broadband_capex).collect(),
            ),
        ],
        None,
    ));
    o.push_str("</figure>");
    let _ = write!(o, "<table><tr><th class=\"t\">region</th><th>mobile sites</th><th>mobile capex</th><th>mobile cost ({} y)</th><th>new ports</th><th>fibre km</th><th>new nodes</th><th>broadband capex</th><th>total capex</th></tr>", inv.horizon_years);
    for x in inv.by_region.iter().chain(std::iter::once(&inv.total)) {
        let total = x.name == "Total" && x.region.is_empty();
        let _ = write!(
            o,
            "<tr{}><td class=\"t\">{} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if total { " class=\"total\"" } else { "" },
            esc(&x.name), esc(&x.region), x.mobile_sites, money(x.mobile_capex, cur), money(x.mobile_cost, cur), group(x.broadband_ports), x.broadband_fibre_km, x.broadband_new_nodes, money(x.broadband_capex, cur), money(x.total_capex, cur)
        );
    }
    o.push_str("</table>");

    // Method.
    let c = &pc.cost;
    let _ = write!(
        o,
        "<h2>Method and assumptions</h2><ul class=\"note\"><li>Coverage: link budget per technology (EIRP, path loss by the <b>{}</b> model, receiver threshold); a settlement or road piece has mobile Internet when 3G, 4G or 5G reaches its threshold. Road pieces are judged at their midpoints (≤ {} m long).</li><li>Candidates: {} ({}). Each candidate is a standard site ({} m mast, {} m on roofs; {}) evaluated with the same engine against every target still without mobile Internet.</li><li>Selection: greedy maximal covering with lazy re-evaluation; objective = {} per person + {} per settlement + {} per international highway km + {} per other road km.</li><li>Costs ({cur}): new build capex {} / opex {} per year; tower sharing {} / {}; rooftop {} / {}; backhaul to the nearest fibre node: fibre {} per km × route factor {}, or microwave {} per hop of ≤ {} km, whichever costs less over {} years.</li><li>All figures are reproducible: the same inputs and config give the same report.</li></ul>",
        esc(&before.model), before.road_step_m,
        r.plan.prepared.candidates.len(),
        r.plan.candidate_counts.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", "),
        pc.site.height_m, pc.site.rooftop_height_m,
        pc.site.cells.iter().map(|x| format!("{} {} MHz {} dBm EIRP", x.technology, x.band_mhz, x.eirp_dbm)).collect::<Vec<_>>().join(", "),
        pc.weights.population, pc.weights.settlement, pc.weights.international_road_km, pc.weights.road_km,
        group(c.new_build.capex as u64), group(c.new_build.opex_per_year as u64),
        group(c.tower_sharing.capex as u64), group(c.tower_sharing.opex_per_year as u64),
        group(c.rooftop.capex as u64), group(c.rooftop.opex_per_year as u64),
        group(c.backhaul.fibre_capex_per_km as u64), c.backhaul.fibre_route_factor,
        group(c.backhaul.microwave_capex_per_hop as u64), c.backhaul.microwave_max_hop_km, c.horizon_years
    );
    o.push_str(&super::provenance::section(ds, r));
    let _ = write!(
        o,
        "<footer class=\"note\"><p>{} · {}</p></footer>",
        super::provenance::generated_line(r),
        esc(ATTRIBUTION_SHORT)
    );
    o.push_str("</body></html>\n");
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{polygon, MultiPolygon};
    use geodata::{ContextCountry, Region};

    fn rect(w: f64, s: f64, e: f64, n: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![polygon![
            (x: w, y: s), (x: e, y: s), (x: e, y: n), (x: w, y: n), (x: w, y: s)
        ]])
    }

    /// A dataset square at 10–11°E with a neighbour wrapping it on the west and south.
    fn ds() -> Dataset {
        Dataset {
            regions: vec![Region {
                code: "XX-A".into(),
                name_en: "A".into(),
                name_local: None,
                name_ru: None,
                geometry: rect(10.0, 0.0, 11.0, 1.0),
            }],
            context: vec![ContextCountry {
                iso_a2: "YY".into(),
                name_en: "Wyeland".into(),
                geometry: MultiPolygon(vec![polygon![
                    (x: 7.0, y: -2.0), (x: 12.0, y: -2.0), (x: 12.0, y: 0.0), (x: 10.0, y: 0.0),
                    (x: 10.0, y: 3.0), (x: 7.0, y: 3.0), (x: 7.0, y: -2.0)
                ]]),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn neighbours_are_drawn_first_and_named_off_the_dataset() {
        let d = ds();
        // The view is the dataset's bbox grown so the neighbour shows on the left.
        let p = Projection::fit([8.0, -0.5, 11.2, 1.2], 800.0, 12.0);
        let svg = map_open_with_context(&d, &p, "t");
        assert!(svg.contains(r#"<g class="context""#), "{svg}");
        assert!(svg.contains("<title>Wyeland (YY)</title>"));
        let labels = context_labels(&d, &p, &reserved_boxes(&p, 100.0, 40.0));
        let x: f64 = labels
            .split("<text x=\"")
            .nth(1)
            .and_then(|t| t.split('"').next())
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no label: {labels}"));
        let (lon, _) = p.lonlat(x, 0.0);
        // The name's half width in degrees at this scale, plus a margin: clear of the region.
        let half = svg::text_width_px("Wyeland", 13.0) / 2.0;
        let (lon_right, _) = p.lonlat(x + half, 0.0);
        assert!(
            lon < 10.0 && lon_right <= 10.0,
            "label at {lon}..{lon_right}°E overlaps the dataset"
        );
        assert!(labels.contains(">Wyeland</text>"));
        // Without context: nothing drawn, no legend entry.
        let none = Dataset::default();
        assert_eq!(context_layer(&none, &p), "");
        assert_eq!(context_labels(&none, &p, &[]), "");
        let mut items = Vec::new();
        with_context_legend(&none, &mut items);
        assert!(items.is_empty());
        with_context_legend(&d, &mut items);
        assert_eq!(items[0].2, "neighbouring country");
    }
}
