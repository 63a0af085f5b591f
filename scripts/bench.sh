#!/usr/bin/env bash
# Coverage benchmark: targets evaluated per second per propagation model with 1 and 2 threads
# (criterion, planner/benches/coverage.rs) on a seeded synthetic country (100k settlements, 20k
# sites, >= 50k road-km), and the same-data distance-threshold join in GeoPandas (Debian's
# /usr/bin/python3, projected CRS, sjoin against buffered sites), timed in the same run.
# Prints a table with the ratio. Bounded: about 2-4 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
DATA_DIR="$(cd "$TARGET_DIR" && pwd)/bench-data/coverage"
mkdir -p "$DATA_DIR"

BENCH_EXPORT_DIR="$DATA_DIR" cargo bench -p planner --bench coverage -- --noplot >&2

# GeoPandas: same targets and sites, projected to a conic equal-distance CRS centred on the
# data (metres), then every target joined to every site within the same 15 km range.
/usr/bin/python3 - "$DATA_DIR" > "$DATA_DIR/geopandas.json" <<'PY'
import json, sys, time
import pandas as pd
import geopandas as gpd

d = sys.argv[1]
meta = json.load(open(f"{d}/meta.json"))
t = pd.read_csv(f"{d}/targets.csv")
s = pd.read_csv(f"{d}/sites.csv")
lon0 = float(pd.concat([t.lon, s.lon]).mean())
lat0 = float(pd.concat([t.lat, s.lat]).mean())
crs = f"+proj=eqdc +lat_0={lat0} +lon_0={lon0} +lat_1={lat0 - 3} +lat_2={lat0 + 3} +datum=WGS84 +units=m"
runs = []
for _ in range(3):
    start = time.perf_counter()
    tg = gpd.GeoDataFrame(geometry=gpd.points_from_xy(t.lon, t.lat), crs="EPSG:4326").to_crs(crs)
    sg = gpd.GeoDataFrame(geometry=gpd.points_from_xy(s.lon, s.lat), crs="EPSG:4326").to_crs(crs)
    sg["geometry"] = sg.buffer(meta["range_m"], resolution=16)
    pairs = gpd.sjoin(tg, sg, how="inner", predicate="within")
    n_pairs = len(pairs)
    runs.append(time.perf_counter() - start)
best = min(runs)
print(json.dumps({"targets": len(t), "pairs": n_pairs, "seconds": best, "geopandas": gpd.__version__}))
PY

python3 - "$TARGET_DIR" "$DATA_DIR" <<'PY'
import json, sys, os
target, d = sys.argv[1], sys.argv[2]
meta = json.load(open(f"{d}/meta.json"))
gp = json.load(open(f"{d}/geopandas.json"))
gp_rate = gp["targets"] / gp["seconds"]
print(f"Synthetic country: {meta['settlements']} settlements, {meta['sites']} sites, {meta['road_km']:.0f} road-km; "
      f"{meta['subset']} targets per run, range {meta['range_m']/1000:.0f} km")
print(f"GeoPandas {gp['geopandas']} distance join (sjoin within buffers, projected): "
      f"{gp['seconds']:.2f} s, {gp['pairs']} pairs, {gp_rate:,.0f} targets/s")
print()
print(f"| model | threads | targets/s | vs GeoPandas join |")
print(f"|---|---|---|---|")
for model in ["free_space", "hata_open", "cost231", "terrain"]:
    for threads in [1, 2]:
        p = f"{target}/criterion/coverage/{model}/{threads}/new/estimates.json"
        if not os.path.exists(p):
            continue
        ns = json.load(open(p))["mean"]["point_estimate"]
        rate = meta["subset"] / (ns / 1e9)
        print(f"| {model} | {threads} | {rate:,.0f} | {rate / gp_rate:.2f}× |")
PY
