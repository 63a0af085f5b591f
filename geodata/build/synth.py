"""SYNTHETIC layers of the embedded Uzbekistan dataset: mobile cell sites and fixed-broadband nodes.

No registry package carries real site locations, so these are a plausible sample from a seeded,
documented generator (geodata/build/README.md). Every random draw comes from a `random.Random`
seeded with the global seed plus a stable key (settlement id, road point index), so adding one
settlement does not reshuffle the rest and a re-run yields the same bytes.
"""

import json
import math
import os
import random
import re

import numpy as np

from build_uz import csv_text, geodesic_km, log, write_atomic

SITE_HEADER = ["site_id", "lon", "lat", "height_m", "operator", "technology", "band_mhz",
               "eirp_dbm", "azimuth_deg", "beamwidth_deg", "tilt_deg"]
FIXED_HEADER = ["id", "lon", "lat", "kind", "technology", "ports_total", "ports_used"]

# Thresholds used ONLY to place highway sites (the planner has its own, configurable ones).
RSCP_MIN_DBM = -105.0
RSRP_MIN_DBM = -110.0
RXLEV_MIN_DBM = -104.0  # GSM: BCCH carrier at full power
CPICH_SHARE_DB = -10.0  # CPICH carries ~10 % of a UMTS cell's power
LTE_N_RB = 50  # 10 MHz carrier
NR_N_RB = 273  # 100 MHz at 30 kHz spacing
HANDSET_M = 1.5
SECTOR_BEAMWIDTH_DEG = 65.0
TARGET_GAP = (0.15, 0.25)  # share of international-route km without 3G-or-better
# Tried in order; the first (rural 3G/4G share, highway skip remote, highway skip other) whose
# estimated route gap falls in TARGET_GAP is kept (the last one otherwise).
TUNING = [(0.3, 0.9, 0.5), (0.35, 0.9, 0.4), (0.25, 0.9, 0.6), (0.4, 0.85, 0.35),
          (0.2, 0.95, 0.7)]


def read_operators(raw):
    """Operational MCC 434 networks with a GSM layer, with their bands per technology."""
    ops = []
    for r in json.loads(raw):
        if r.get("mcc") != "434" or r.get("status") != "Operational":
            continue
        bands = r.get("bands") or ""
        if "GSM" not in bands:
            continue  # CDMA / WiMAX-only networks are out of scope
        tech = {"2g": [], "3g": [], "4g": [], "5g": []}
        for part in bands.split("/"):
            part = part.strip()
            m = re.match(r"(GSM|UMTS|LTE|5G)\s*(\d+)?", part)
            if not m or not m.group(2):
                continue
            key = {"GSM": "2g", "UMTS": "3g", "LTE": "4g", "5G": "5g"}[m.group(1)]
            tech[key].append(int(m.group(2)))
        ops.append({"mnc": r["mnc"], "name": r.get("brand") or r["operator"], "bands": tech})
    ops.sort(key=lambda o: o["mnc"])
    if not ops:
        raise SystemExit("mcc-mnc-list: no operational GSM network with MCC 434")
    return ops


def rng_for(seed, key):
    return random.Random(f"{seed}:{key}")


def offset(lon, lat, dist_km, bearing_deg):
    # Small offsets (< 20 km): local flat-earth step is accurate to metres.
    dlat = dist_km * math.cos(math.radians(bearing_deg)) / 111.32
    dlon = dist_km * math.sin(math.radians(bearing_deg)) / (111.32 * math.cos(math.radians(lat)))
    return lon + dlon, lat + dlat


def eirp(rng, tech):
    lo, hi = {"2g": (55, 58), "3g": (55, 58), "4g": (58, 62), "5g": (62, 65)}[tech]
    return round(rng.uniform(lo, hi) * 2) / 2  # 0.5 dB steps like a planning tool


class Sites:
    def __init__(self):
        self.rows = []
        self.n = 0

    def add(self, rng, lon, lat, height_m, op, cells, sectors, tilt_range):
        """cells: list of (technology, band_mhz); sectors: 0 = omni, else 3."""
        self.n += 1
        site_id = f"syn{self.n:05d}"
        az0 = rng.randrange(0, 120)
        for tech, band in cells:
            e = eirp(rng, tech)
            if sectors:
                for k in range(sectors):
                    tilt = round(rng.uniform(*tilt_range) * 2) / 2
                    self.rows.append([site_id, lon, lat, height_m, op, tech, band, e,
                                      (az0 + k * 120) % 360, SECTOR_BEAMWIDTH_DEG, tilt])
            else:
                self.rows.append([site_id, lon, lat, height_m, op, tech, band, e, None, None, None])
        return site_id


def lte_band(op, rng, rural):
    bands = sorted(op["bands"]["4g"])
    if not bands:
        return []
    if rural:
        return [bands[0]]  # the lowest band reaches furthest
    return bands


REMOTE_REGIONS = {"UZ-QR", "UZ-NW", "UZ-BU", "UZ-QA", "UZ-SU", "UZ-JI"}


def settlement_sites(sites, settlements, ops, seed, rural_data):
    """rural_data: chance that a small (< 20k) settlement's site carries 3G/4G; villages get
    60 % of that, and settlements in desert/mountain regions another 60 %."""
    tashkent = max(settlements, key=lambda s: s["population"])
    for s in sorted(settlements, key=lambda s: s["id"]):
        rng = rng_for(seed, s["id"])
        pop = s["population"]
        radius_km = min(12.0, 0.9 * math.sqrt(pop / 10000.0))
        if pop >= 100000:
            kind, present = "city", list(ops)
        elif pop >= 20000:
            kind, present = "town", list(ops)
        elif pop >= 5000:
            kind = "small"
            present = sorted(rng.sample(ops, min(len(ops), rng.choice([2, 3]))), key=lambda o: o["mnc"])
        else:
            kind = "village"
            present = sorted(rng.sample(ops, min(len(ops), rng.choice([0, 1, 1, 2]))),
                             key=lambda o: o["mnc"])
        for op in present:
            if kind in ("city", "town"):
                n = max(1, round(pop / 40000.0)) if kind == "city" else max(1, round(pop / 25000.0))
            else:
                n = 1
            for i in range(n):
                if n == 1 and kind in ("small", "village"):
                    d = rng.uniform(0, 0.5)
                else:
                    d = radius_km * math.sqrt(rng.random())
                lon, lat = offset(s["lon"], s["lat"], d, rng.uniform(0, 360))
                if kind == "city":
                    rooftop = rng.random() < 0.7
                    height = rng.randint(15, 30) if rooftop else rng.randint(25, 35)
                    cells = [("2g", 900), ("3g", 2100)] + [("4g", b) for b in lte_band(op, rng, False)]
                    sectors, tilt = 3, (4.0, 6.0)
                elif kind == "town":
                    height = rng.randint(25, 45)
                    cells = [("2g", 900), ("3g", 2100)] + [("4g", b) for b in lte_band(op, rng, rng.random() < 0.5)]
                    sectors, tilt = 3, (3.0, 5.0)
                else:
                    height = rng.randint(30, 50)
                    x = rng.random()
                    share = rural_data * (0.6 if kind == "village" else 1.0)
                    share *= 0.6 if s["region"] in REMOTE_REGIONS else 1.0
                    mix = "full" if x < share else ("3g" if x < share + 0.1 else "2g")
                    cells = [("2g", 900)]
                    if mix in ("full", "3g") and op["bands"]["3g"]:
                        cells.append(("3g", 2100))
                    if mix == "full":
                        cells += [("4g", b) for b in lte_band(op, rng, True)]
                    sectors = 3 if rng.random() < 0.5 else 0
                    tilt = (2.0, 4.0)
                if not op["bands"]["2g"]:
                    cells = [c for c in cells if c[0] != "2g"]
                sites.add(rng, lon, lat, height, op["name"], cells, sectors, tilt)
        if s["id"] == tashkent["id"]:
            # A handful of 5G NR 3500 MHz sites in the capital only, for operators licensed there.
            for op in ops:
                if 3500 not in op["bands"]["5g"]:
                    continue
                for i in range(6):
                    lon, lat = offset(s["lon"], s["lat"], 6.0 * math.sqrt(rng.random()), rng.uniform(0, 360))
                    sites.add(rng, lon, lat, rng.randint(20, 30), op["name"],
                              [("4g", max(op["bands"]["4g"] or [1800])), ("5g", 3500)], 3, (6.0, 8.0))


# --- link budget used to place highway sites ---------------------------------------------------


def hata_open_db(f_mhz, hb_m, d_km):
    """Okumura-Hata open-area loss; COST-231 Hata above 1500 MHz; above 2000 MHz the 2000 MHz
    value plus free-space frequency scaling (the formulas are not defined there)."""
    f = np.minimum(f_mhz, 2000.0)
    lf = np.log10(f)
    hb = np.maximum(hb_m, 1.0)
    d = np.maximum(d_km, 0.05)
    a_hm = (1.1 * lf - 0.7) * HANDSET_M - (1.56 * lf - 0.8)
    base = np.where(f <= 1500.0, 69.55 + 26.16 * lf, 46.3 + 33.9 * lf)
    urban = base - 13.82 * np.log10(hb) - a_hm + (44.9 - 6.55 * np.log10(hb)) * np.log10(d)
    open_area = urban - 4.78 * lf ** 2 + 18.33 * lf - 40.94
    return open_area + 20.0 * np.log10(np.maximum(f_mhz, 2000.0) / 2000.0)


def cell_arrays(rows, techs=("3g", "4g", "5g")):
    """Arrays of the selected cells: lon, lat, height, band, margin at 0 dB loss, azimuth."""
    sel = [r for r in rows if r[5] in techs]
    lon = np.array([r[1] for r in sel])
    lat = np.array([r[2] for r in sel])
    h = np.array([float(r[3]) for r in sel])
    f = np.array([float(r[6]) for r in sel])
    ref = []
    for r in sel:
        if r[5] == "2g":
            ref.append(r[7] - RXLEV_MIN_DBM)
        elif r[5] == "3g":
            ref.append(r[7] + CPICH_SHARE_DB - RSCP_MIN_DBM)
        elif r[5] == "4g":
            ref.append(r[7] - 10 * math.log10(12 * LTE_N_RB) - RSRP_MIN_DBM)
        else:
            ref.append(r[7] - 10 * math.log10(12 * NR_N_RB) - RSRP_MIN_DBM)
    az = np.array([np.nan if r[8] is None else float(r[8]) for r in sel])
    return lon, lat, h, f, np.array(ref), az


def covered(points, cells):
    """Boolean per point: some 3G/4G/5G cell meets its threshold (Hata open area, sector pattern)."""
    lon, lat, h, f, ref, az = cells
    out = np.zeros(len(points), dtype=bool)
    if len(lon) == 0:
        return out
    pts = np.asarray(points)
    for i0 in range(0, len(pts), 256):
        p = pts[i0:i0 + 256]
        plon = p[:, 0:1]
        plat = p[:, 1:2]
        coslat = np.cos(np.radians(plat))
        dx = (lon[None, :] - plon) * 111.32 * coslat
        dy = (lat[None, :] - plat) * 111.32
        d = np.hypot(dx, dy)
        near = d < 60.0
        # bearing from the site to the point
        brg = (np.degrees(np.arctan2(-dx, -dy)) + 360.0) % 360.0
        diff = np.abs((brg - az[None, :] + 180.0) % 360.0 - 180.0)
        gain = np.where(np.isnan(az)[None, :], 0.0,
                        -np.minimum(12.0 * (diff / SECTOR_BEAMWIDTH_DEG) ** 2, 20.0))
        loss = hata_open_db(f[None, :], h[None, :], d)
        margin = ref[None, :] + gain - loss
        out[i0:i0 + 256] = np.any(near & (margin >= 0.0), axis=1)
    return out


def sample_roads(roads, international, step_km=0.5):
    """Points every ≤ step_km along the selected roads: (lon, lat), weight km, refs, edge index."""
    pts, wts, refs = [], [], []
    for feat in roads:
        p = feat["properties"]
        if bool(p["international"]) != international:
            continue
        (lon1, lat1), (lon2, lat2) = feat["geometry"]["coordinates"]
        length = p["length_km"]
        n = max(1, math.ceil(length / step_km))
        for k in range(n):
            t = (k + 0.5) / n
            pts.append((lon1 + t * (lon2 - lon1), lat1 + t * (lat2 - lat1)))
            wts.append(length / n)
            refs.append(p["refs"])
    return np.array(pts), np.array(wts), refs


def road_sites(sites, roads, ops, seed, skip_remote, skip_other, remote_box):
    """Sites along international routes where nothing reaches, with seeded gaps left open."""
    pts, wts, _ = sample_roads(roads, True)
    # Walk the route points in a stable order and drop a site wherever the last placed road
    # site is > 20 km away and the point is not already served; some are skipped (gaps).
    cells = cell_arrays(sites.rows)
    cov = covered(pts, cells)
    placed = []
    order = np.lexsort((pts[:, 1], pts[:, 0]))
    for idx in order:
        if cov[idx]:
            continue
        lon, lat = pts[idx]
        if any(abs(lon - a) < 0.3 and abs(lat - b) < 0.3 and geodesic_km(lon, lat, a, b) < 20.0
               for a, b in placed):
            continue
        rng = rng_for(seed, f"road:{lon:.3f},{lat:.3f}")
        placed.append((lon, lat))
        remote = remote_box(lon, lat)
        if rng.random() < (skip_remote if remote else skip_other):
            continue
        op = ops[rng.randrange(len(ops))]
        low = sorted(op["bands"]["4g"])[:1]
        x = rng.random()
        cells_spec = [("2g", 900)]
        if x < 0.75:
            cells_spec += [("4g", b) for b in low] or [("3g", 2100)]
        elif x < 0.9:
            cells_spec.append(("3g", 2100))
        # else: 2G only (voice, no mobile Internet)
        sites.add(rng, float(lon), float(lat), rng.randint(35, 50), op["name"], cells_spec,
                  3 if rng.random() < 0.5 else 0, (1.0, 3.0))
    # Sparse 2G masts along other main roads: voice coverage, no data.
    opts, _, _ = sample_roads(roads, False, step_km=25.0)
    for i in np.lexsort((opts[:, 1], opts[:, 0])):
        lon, lat = opts[i]
        rng = rng_for(seed, f"road2g:{lon:.3f},{lat:.3f}")
        if rng.random() < 0.15:
            op = ops[rng.randrange(len(ops))]
            sites.add(rng, float(lon), float(lat), rng.randint(35, 50), op["name"], [("2g", 900)],
                      0, (0.0, 0.0))


def route_coverage(sites, roads):
    pts, wts, refs = sample_roads(roads, True)
    cov = covered(pts, cell_arrays(sites.rows))
    total = float(wts.sum())
    gap = float(wts[~cov].sum())
    per = {}
    for r, w, c in zip(refs, wts, cov):
        for ref in r.split(";"):
            t = per.setdefault(ref, [0.0, 0.0])
            t[0] += w
            if not c:
                t[1] += w
    return {"international_km": round(total, 1), "without_3g_plus_km": round(gap, 1),
            "without_3g_plus_share": round(gap / total, 3) if total else 0.0,
            "per_route_without_3g_plus_km": {k: round(v[1], 1) for k, v in sorted(per.items())},
            "per_route_km": {k: round(v[0], 1) for k, v in sorted(per.items())}}


def build_sites(out_dir, settlements, roads, regions, ops, seed):
    remote_codes = {"UZ-QR", "UZ-NW", "UZ-BU"}
    geoms = [(r["code"], r["geom"]) for r in regions]
    from shapely.geometry import Point

    def remote_box(lon, lat):
        p = Point(lon, lat)
        for code, g in geoms:
            if g.contains(p):
                return code in remote_codes
        return True  # border strip outside the simplified outline

    chosen = None
    # Deterministic tuning: the first skip setting that lands the route gap in the target band.
    for rural_data, skip_remote, skip_other in TUNING:
        sites = Sites()
        settlement_sites(sites, settlements, ops, seed, rural_data)
        road_sites(sites, roads, ops, seed, skip_remote, skip_other, remote_box)
        cov = route_coverage(sites, roads)
        log(f"sites: rural data {rural_data}, skip {skip_remote}/{skip_other} -> {sites.n} sites, "
            f"{len(sites.rows)} cells, route gap {cov['without_3g_plus_share']:.3f}")
        chosen = (sites, cov, rural_data, skip_remote, skip_other)
        if TARGET_GAP[0] <= cov["without_3g_plus_share"] <= TARGET_GAP[1]:
            break
    sites, cov, rural_data, skip_remote, skip_other = chosen

    # Settlement centres: 3G-or-better, or nothing at all (2G counted separately).
    centres = np.array([(s["lon"], s["lat"]) for s in settlements])
    cov3 = covered(centres, cell_arrays(sites.rows))
    cov2 = covered(centres, cell_arrays(sites.rows, ("2g",)))
    pop = np.array([s["population"] for s in settlements])

    def fmt(v):
        if v is None:
            return ""
        if isinstance(v, float):
            return f"{v:.5f}".rstrip("0").rstrip(".") if abs(v) < 1000 else f"{v:.1f}"
        return str(v)

    rows = []
    for r in sites.rows:
        rows.append([r[0], f"{r[1]:.5f}", f"{r[2]:.5f}", str(r[3]), r[4], r[5], str(r[6]),
                     f"{r[7]:.1f}", fmt(r[8]), fmt(r[9]), fmt(r[10])])
    write_atomic(os.path.join(out_dir, "sites_synthetic.csv"), csv_text(SITE_HEADER, rows))
    by_tech = {}
    for r in sites.rows:
        by_tech[r[5]] = by_tech.get(r[5], 0) + 1
    stats = {
        "synthetic": True,
        "seed": seed,
        "sites": sites.n,
        "cells": len(sites.rows),
        "cells_by_technology": dict(sorted(by_tech.items())),
        "operators": [f"434-{o['mnc']} {o['name']}" for o in ops],
        "rural_data_share": rural_data,
        "highway_skip_probability": {"remote_regions": skip_remote, "other": skip_other},
        "estimate_model": "Okumura-Hata open area (COST-231 above 1500 MHz), handset 1.5 m, "
                          "RSCP >= -105 dBm (CPICH = EIRP - 10 dB), RSRP >= -110 dBm "
                          "(EIRP - 10log10(12*50)), 3GPP sector pattern, no terrain",
        "route_coverage_estimate": cov,
        "settlements_without_3g_plus": int((~cov3).sum()),
        "population_without_3g_plus": int(pop[~cov3].sum()),
        "settlements_2g_only_estimate": int((~cov3 & cov2).sum()),
    }
    log(f"sites: {json.dumps(stats)}")
    return stats


# --- fixed broadband ------------------------------------------------------------------------


def build_fixed(out_dir, settlements, seed):
    rows = []
    n = 0
    served = 0
    for s in sorted(settlements, key=lambda s: s["id"]):
        rng = rng_for(seed, "fixed:" + s["id"])
        pop = s["population"]
        households = pop / 4.0
        radius_km = min(10.0, 0.7 * math.sqrt(pop / 10000.0))
        nodes = []
        if pop >= 50000:
            ftth = households * rng.uniform(0.20, 0.40)
            dsl = households * rng.uniform(0.05, 0.15)
            nodes += split("olt", "ftth", ftth, 64, 4096, rng)
            nodes += split("msan", "dsl", dsl, 48, 1536, rng)
        elif pop >= 10000:
            if rng.random() < 0.85:
                if rng.random() < 0.5:
                    nodes += split("olt", "ftth", households * rng.uniform(0.10, 0.25), 64, 4096, rng)
                nodes += split("dslam", "dsl", households * rng.uniform(0.05, 0.15), 48, 768, rng)
        elif pop >= 3000:
            x = rng.random()
            if x < 0.35:
                nodes += split("dslam", "dsl", households * rng.uniform(0.08, 0.2), 48, 384, rng)
            elif x < 0.55:
                nodes += split("msan", "fwa", households * rng.uniform(0.05, 0.15), 32, 256, rng)
        served += 1 if nodes else 0
        for kind, tech, total in nodes:
            n += 1
            d = radius_km * math.sqrt(rng.random()) if len(nodes) > 1 else rng.uniform(0, 0.3)
            lon, lat = offset(s["lon"], s["lat"], d, rng.uniform(0, 360))
            util = rng.uniform(0.55, 0.97) if pop >= 50000 else rng.uniform(0.35, 0.9)
            rows.append([f"fn{n:05d}", f"{lon:.5f}", f"{lat:.5f}", kind, tech, total,
                         min(total, int(round(total * util)))])
    write_atomic(os.path.join(out_dir, "fixed_nodes_synthetic.csv"), csv_text(FIXED_HEADER, rows))
    stats = {"synthetic": True, "nodes": len(rows),
             "ports_total": sum(r[5] for r in rows), "ports_used": sum(r[6] for r in rows),
             "by_kind": {k: sum(1 for r in rows if r[3] == k) for k in ("olt", "dslam", "msan")},
             "settlements_with_nodes": served,
             "settlements_without_nodes": len(settlements) - served}
    log(f"fixed nodes: {json.dumps(stats)}")
    return stats


def split(kind, tech, ports, unit, max_per_node, rng):
    """Port demand rounded up to whole cards (`unit` ports), spread over nodes of ≤ max ports."""
    total = max(unit, int(math.ceil(ports / unit)) * unit)
    out = []
    while total > 0:
        take = min(total, max_per_node)
        out.append((kind, tech, take))
        total -= take
    return out
