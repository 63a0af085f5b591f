//! The report's interactive map: Leaflet (vendored, `planner/assets/leaflet`, embedded at build
//! time) over the report's own layers as inline GeoJSON — neighbouring countries (context,
//! under everything), regions, settlements by mobile
//! Internet signal class today, covered and uncovered road stretches, existing sites by
//! technology (coloured by operator), proposed sites, fixed nodes — and the coverage heatmaps
//! (best received power per technology, today and after the plan) as PNG image overlays
//! (data: URIs) with a dBm legend. No tiles and nothing else is fetched: the page works
//! offline and sends no request.

use std::collections::BTreeMap;
use std::fmt::Write;

use geodata::{Dataset, Technology};
use serde_json::{json, Value};

use super::heatmap;
use super::svg::esc;
use crate::coverage::budget::{BudgetConfig, SignalClass};
use crate::coverage::CoverageResult;
use crate::report::ReportData;

const LEAFLET_JS: &str = include_str!("../../assets/leaflet/leaflet.js");
const LEAFLET_CSS: &str = include_str!("../../assets/leaflet/leaflet.css");
/// Leaflet's version, for the attribution line.
pub const LEAFLET_VERSION: &str = "1.9.4";

/// Operator colours in order of first appearance (ColorBrewer Set1 without red/green, which
/// mean uncovered/covered elsewhere in the report).
const OPERATOR_COLOURS: [&str; 8] = [
    "#377eb8", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#666666", "#e6ab02", "#17becf",
];

fn r5(v: f64) -> f64 {
    (v * 1e5).round() / 1e5
}

fn pt(lon: f64, lat: f64) -> Value {
    json!({ "type": "Point", "coordinates": [r5(lon), r5(lat)] })
}

fn feature(geometry: Value, properties: Value) -> Value {
    json!({ "type": "Feature", "geometry": geometry, "properties": properties })
}

/// Polygon rings as GeoJSON MultiPolygon coordinates, rounded to 5 decimals.
fn multipolygon(mp: &geo_types::MultiPolygon<f64>) -> Value {
    let polys: Vec<Vec<Vec<Value>>> =
        mp.0.iter()
            .map(|p| {
                std::iter::once(p.exterior())
                    .chain(p.interiors())
                    .map(|ring| {
                        ring.0
                            .iter()
                            .map(|c| json!([r5(c.x), r5(c.y)]))
                            .collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
    json!({ "type": "MultiPolygon", "coordinates": polys })
}

fn fc(features: Vec<Value>) -> Value {
    json!({ "type": "FeatureCollection", "features": features })
}

/// Mobile-Internet signal class of target `i`: the best class over 3G, 4G and 5G, with the
/// technology and level that gave it.
pub fn mobile_class(
    b: &BudgetConfig,
    cov: &CoverageResult,
    i: usize,
) -> (SignalClass, Option<(Technology, f64)>) {
    let mut best = (SignalClass::None, None::<(Technology, f64)>);
    for t in [Technology::G3, Technology::G4, Technology::G5] {
        if let Some(rx) = cov.per_target[i].rx_dbm(t) {
            let c = b.classify(t, rx);
            let margin = rx - b.threshold_dbm(t);
            let better = match best.1 {
                None => true,
                Some((bt, brx)) => {
                    c > best.0 || (c == best.0 && margin > brx - b.threshold_dbm(bt))
                }
            };
            if better {
                best = (c, Some((t, rx)));
            }
        }
    }
    best
}

/// Operator → colour, operators sorted by name.
pub fn operator_colours(ds: &Dataset) -> BTreeMap<String, &'static str> {
    let mut ops: Vec<String> = ds
        .sites
        .iter()
        .map(|s| {
            s.operator
                .clone()
                .unwrap_or_else(|| "unknown operator".into())
        })
        .collect();
    ops.sort();
    ops.dedup();
    ops.into_iter()
        .enumerate()
        .map(|(i, o)| (o, OPERATOR_COLOURS[i % OPERATOR_COLOURS.len()]))
        .collect()
}

fn tech_label(t: Technology) -> String {
    t.as_str().to_uppercase()
}

/// The map's data: every layer as GeoJSON plus the heatmap images.
fn data(ds: &Dataset, r: &ReportData) -> anyhow::Result<Value> {
    let before = &r.plan.prepared.before;
    let b = &r.budget;
    let regions: Vec<Value> = ds
        .regions
        .iter()
        .map(|reg| {
            let polys: Vec<Vec<Vec<Value>>> = reg
                .geometry
                .0
                .iter()
                .map(|p| {
                    std::iter::once(p.exterior())
                        .chain(p.interiors())
                        .map(|ring| {
                            ring.0
                                .iter()
                                .map(|c| json!([r5(c.x), r5(c.y)]))
                                .collect::<Vec<_>>()
                        })
                        .collect::<Vec<_>>()
                })
                .collect();
            feature(
                json!({ "type": "MultiPolygon", "coordinates": polys }),
                json!({ "name": reg.name_en, "code": reg.code }),
            )
        })
        .collect();
    let context: Vec<Value> = ds
        .context
        .iter()
        .map(|c| {
            feature(
                multipolygon(&c.geometry),
                json!({ "name": c.name_en, "code": c.iso_a2 }),
            )
        })
        .collect();
    let mut settlements: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for (i, s) in ds.settlements.iter().enumerate() {
        let (class, best) = mobile_class(b, &before.coverage, i);
        let (after_class, _) = mobile_class(b, &r.plan.after.coverage, i);
        settlements.entry(class.as_str()).or_default().push(feature(
            pt(s.lon, s.lat),
            json!({
                "name": s.name, "population": s.population, "class": class.as_str(),
                "after": after_class.as_str(),
                "best": best.map(|(t, rx)| format!("{} {:.0} dBm", tech_label(t), rx)),
            }),
        ));
    }
    let mut roads: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for st in before
        .gaps
        .stretches
        .iter()
        .filter(|s| s.service == "mobile_internet")
    {
        let coords: Vec<Value> = st
            .coords
            .iter()
            .map(|&(x, y)| json!([r5(x), r5(y)]))
            .collect();
        roads
            .entry(if st.covered { "covered" } else { "uncovered" })
            .or_default()
            .push(feature(
                json!({ "type": "LineString", "coordinates": coords }),
                json!({
                    "refs": st.refs.join(", "), "international": st.international,
                    "km": (st.length_m / 100.0).round() / 10.0, "region": st.region,
                }),
            ));
    }
    let colours = operator_colours(ds);
    let mut sites: BTreeMap<Technology, Vec<Value>> = BTreeMap::new();
    for s in &ds.sites {
        let op = s
            .operator
            .clone()
            .unwrap_or_else(|| "unknown operator".into());
        let mut techs: Vec<Technology> = s.cells.iter().map(|c| c.technology).collect();
        techs.sort();
        techs.dedup();
        let names: Vec<String> = techs.iter().map(|t| tech_label(*t)).collect();
        for t in &techs {
            sites.entry(*t).or_default().push(feature(
                pt(s.lon, s.lat),
                json!({ "id": s.id, "operator": op, "colour": colours[&op],
                        "technologies": names.join(" "), "height_m": s.height_m }),
            ));
        }
    }
    let proposed: Vec<Value> = r
        .plan
        .selection
        .sites
        .iter()
        .map(|s| {
            feature(
                pt(s.lon, s.lat),
                json!({ "rank": s.rank, "id": s.id, "type": s.site_type.as_str().replace('_', " "),
                        "region": s.region, "people": s.marginal_gain.population }),
            )
        })
        .collect();
    let nodes: Vec<Value> = ds
        .fixed_nodes
        .iter()
        .map(|n| {
            feature(
                pt(n.lon, n.lat),
                json!({ "id": n.id, "kind": n.kind, "technology": n.technology.as_str(),
                        "ports_total": n.ports_total, "ports_used": n.ports_used }),
            )
        })
        .collect();
    let mut heat = Vec::new();
    let mut heat_bounds = Value::Null;
    for h in &r.heatmaps {
        heat_bounds = json!([[h.bbox[1], h.bbox[0]], [h.bbox[3], h.bbox[2]]]);
        for t in h.technologies() {
            let (w, hh, px) = heatmap::rgba(h, t, true);
            let png = heatmap::png(w, hh, &px)?;
            use base64::Engine as _;
            heat.push(json!({
                "key": format!("{}-{}", h.key, t.as_str()),
                "label": format!("{} best received power, {}", tech_label(t),
                    if h.key == "today" { "today" } else { "after the plan" }),
                "png": format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png)),
                "threshold_dbm": h.threshold_dbm[crate::coverage::tech_index(t)],
            }));
        }
    }
    let legend: Vec<Value> = (0..heatmap::CLASSES.len())
        .map(
            |i| json!({ "colour": heatmap::hex(&heatmap::CLASSES[i]), "label": heatmap::label(i) }),
        )
        .collect();
    let bbox = crate::report::heatmap::dataset_bbox(ds);
    Ok(json!({
        "bounds": [[bbox[1], bbox[0]], [bbox[3], bbox[2]]],
        "context": fc(context),
        "regions": fc(regions),
        "settlements": settlements.into_iter().map(|(k, v)| (k.to_string(), fc(v))).collect::<BTreeMap<_, _>>(),
        "roads": roads.into_iter().map(|(k, v)| (k.to_string(), fc(v))).collect::<BTreeMap<_, _>>(),
        "sites": sites.into_iter().map(|(k, v)| (tech_label(k), fc(v))).collect::<BTreeMap<_, _>>(),
        "operators": colours,
        "proposed": fc(proposed),
        "fixed_nodes": fc(nodes),
        "heatmaps": heat,
        "heat_bounds": heat_bounds,
        "heat_legend": legend,
        "synthetic_sites": ds.synthetic_layers.iter().any(|l| l.contains("sites")),
    }))
}

/// The page script: builds the map from the inline data. Exposes `window.reportMap` (map,
/// overlays, heatmaps) for the browser test.
const MAP_JS: &str = r#"(function(){
var D=JSON.parse(document.getElementById('map-data').textContent);
var map=L.map('map',{preferCanvas:true,zoomSnap:0.25,attributionControl:true});
map.attributionControl.setPrefix('Leaflet');
map.attributionControl.addAttribution(document.getElementById('map-attribution').textContent);
map.fitBounds(D.bounds,{padding:[8,8]});
function esc(s){return String(s==null?'':s).replace(/[&<>"]/g,function(c){return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c];});}
function points(fc,style,tip){return L.geoJSON(fc,{pointToLayer:function(f,ll){return L.circleMarker(ll,style(f.properties));},onEachFeature:function(f,l){l.bindTooltip(tip(f.properties));}});}
function grp(n){return n.toLocaleString('en-GB');}
var overlays={};
var ctx=null;
if(D.context.features.length){ctx=overlays['Neighbouring countries']=L.geoJSON(D.context,{style:{color:'#8f8d86',weight:1.2,fillColor:'#d4d2c9',fillOpacity:0.65},onEachFeature:function(f,l){l.bindTooltip(esc(f.properties.name)+' ('+esc(f.properties.code)+')',{sticky:true});}});
map.on('overlayadd',function(e){if(e.layer===ctx)ctx.bringToBack();});}
overlays['Regions']=L.geoJSON(D.regions,{style:{color:'#666',weight:1,fillColor:'#f7f7f2',fillOpacity:0.35},onEachFeature:function(f,l){l.bindTooltip(esc(f.properties.name)+' ('+esc(f.properties.code)+')',{sticky:true});}});
var road={covered:['#1a9850','Roads with mobile Internet'],uncovered:['#d73027','Roads without mobile Internet']};
Object.keys(road).forEach(function(k){if(!D.roads[k])return;overlays[road[k][1]]=L.geoJSON(D.roads[k],{style:function(f){return {color:road[k][0],weight:f.properties.international?4:1.5,opacity:0.9};},onEachFeature:function(f,l){var p=f.properties;l.bindTooltip((p.refs?esc(p.refs)+' · ':'')+(p.international?'international route':'road')+' · '+p.km+' km · '+(k=='covered'?'mobile Internet':'no mobile Internet')+(p.region?' · '+esc(p.region):''),{sticky:true});}});});
var ops=D.operators;
Object.keys(D.sites).forEach(function(t){overlays['Existing '+t+' sites'+(D.synthetic_sites?' (synthetic)':'')]=points(D.sites[t],function(p){return {radius:3,color:'#222',weight:0.5,fillColor:p.colour,fillOpacity:0.9};},function(p){return esc(p.id)+' · '+esc(p.operator)+' · '+esc(p.technologies)+' · mast '+p.height_m+' m';});});
var cls={strong:['#1a9850','strong signal'],variable:['#fdae61','variable signal'],none:['#d73027','no signal']};
['strong','variable','none'].forEach(function(k){if(!D.settlements[k])return;overlays['Settlements: '+cls[k][1]]=points(D.settlements[k],function(p){return {radius:Math.min(3+Math.sqrt(p.population)/80,12),color:'#222',weight:0.8,fillColor:cls[k][0],fillOpacity:0.95};},function(p){return '<b>'+esc(p.name)+'</b><br>'+grp(p.population)+' people<br>mobile Internet today: '+cls[p.class][1]+(p.best?' ('+esc(p.best)+')':'')+'<br>after the plan: '+cls[p.after][1];});});
overlays['Proposed sites']=points(D.proposed,function(){return {radius:6,color:'#000',weight:1.5,fillColor:'#2c5cc5',fillOpacity:1};},function(p){return 'Proposed site #'+p.rank+' '+esc(p.id)+'<br>'+esc(p.type)+(p.region?' · '+esc(p.region):'')+'<br>+'+grp(p.people)+' people with mobile Internet';});
overlays['Fixed nodes']=points(D.fixed_nodes,function(){return {radius:3.5,color:'#fff',weight:1,fillColor:'#333',fillOpacity:1};},function(p){return esc(p.id)+' · '+esc(p.kind)+' ('+esc(p.technology)+') · '+grp(p.ports_used)+' of '+grp(p.ports_total)+' ports used';});
var base={'No heatmap':L.layerGroup()};var heat={};var first=null;
D.heatmaps.forEach(function(h){var o=L.imageOverlay(h.png,D.heat_bounds,{opacity:0.7,interactive:false,alt:h.label,className:'heatmap heatmap-'+h.key});base[h.label]=o;heat[h.key]=o;if(!first||h.key=='today-4g')first=h.label;});
(first?base[first]:base['No heatmap']).addTo(map);
['Neighbouring countries','Regions','Roads with mobile Internet','Roads without mobile Internet','Settlements: strong signal','Settlements: variable signal','Settlements: no signal','Proposed sites'].forEach(function(n){if(overlays[n])overlays[n].addTo(map);});
L.control.layers(base,overlays,{collapsed:false,position:'topright'}).addTo(map);
L.control.scale({metric:true,imperial:false,maxWidth:160}).addTo(map);
var lg=L.control({position:'bottomleft'});
lg.onAdd=function(){var d=L.DomUtil.create('div','map-legend');var s='<b>Best received power</b>';D.heat_legend.forEach(function(c){s+='<div><i style="background:'+c.colour+'"></i>'+esc(c.label)+'</div>';});s+='<div class="thr">covered from: '+D.heatmaps.filter(function(h){return h.key.indexOf('today')==0;}).map(function(h){return h.key.slice(6).toUpperCase()+' '+h.threshold_dbm+' dBm';}).join(', ')+'</div>';if(ctx)s+='<div class="ctx"><i style="background:#dad8d0;border-color:#8f8d86"></i>Neighbouring country</div>';s+='<b>Operators</b>';Object.keys(ops).forEach(function(o){s+='<div><i style="background:'+ops[o]+'"></i>'+esc(o)+'</div>';});d.innerHTML=s;return d;};
lg.addTo(map);
window.reportMap={map:map,overlays:overlays,base:base,heatmaps:heat,context:ctx};
})();"#;

const MAP_CSS: &str = "#map{height:640px;border:1px solid #bbb;background:#e4e3df}
.map-legend{background:#fff;padding:6px 8px;font-size:12px;line-height:16px;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);max-width:220px}
.map-legend i{display:inline-block;width:14px;height:12px;margin-right:6px;vertical-align:-2px;border:1px solid #888}
.map-legend .thr{color:#555;margin:2px 0 6px}
.leaflet-control-layers{font-size:12px}";

/// JSON for a `<script type="application/json">`: `</` cannot end the element early.
fn script_safe(v: &Value) -> String {
    v.to_string().replace("</", "<\\/")
}

/// Leaflet's CSS and the map's own, for the page's `<head>`.
pub fn head() -> String {
    format!("<style>{LEAFLET_CSS}\n{MAP_CSS}</style>")
}

/// What the map shows outside the dataset's regions.
fn context_note(ds: &Dataset) -> String {
    if ds.context.is_empty() {
        "Outside the dataset's regions the map is left blank (neutral grey, not water): the dataset carries no neighbouring countries.".into()
    } else {
        let mut names: Vec<&str> = ds.context.iter().map(|c| c.name_en.as_str()).collect();
        names.sort_unstable();
        format!(
            "Around the dataset's regions the neighbouring countries ({}) are drawn as context only (layer \"Neighbouring countries\"; nothing is analysed there); elsewhere the map is left blank (neutral grey, not water).",
            esc(&names.join(", "))
        )
    }
}

/// The map section: container, attribution text, data and scripts.
pub fn section(ds: &Dataset, r: &ReportData, attribution: &str) -> anyhow::Result<String> {
    let d = data(ds, r)?;
    let mut o = String::new();
    let _ = write!(
        o,
        "<section id=\"map-section\" class=\"screen-only\"><h2>Interactive map</h2><p class=\"note\">Drag to pan, scroll or use ± to zoom, hover for details; the box on the right switches layers and the heatmap (one at a time). The heatmap is the best received power per technology on a {} × {} grid, without and with the proposed sites. {}</p><div id=\"map\"></div><span id=\"map-attribution\" hidden>{}</span>",
        r.heatmaps.first().map(|h| h.grid.cols).unwrap_or(0),
        r.heatmaps.first().map(|h| h.grid.rows).unwrap_or(0),
        context_note(ds),
        esc(attribution)
    );
    let _ = write!(
        o,
        "<script type=\"application/json\" id=\"map-data\">{}</script><script>{LEAFLET_JS}</script><script>{MAP_JS}</script></section>",
        script_safe(&d)
    );
    Ok(o)
}
