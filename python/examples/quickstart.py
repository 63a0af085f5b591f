"""A short tour of coverage_planner: coverage for your own points and sites, the gap analysis,
a link report and the same evaluation over a local Dask cluster.

    target/python-venv/bin/python python/examples/quickstart.py [OUT_DIR]

Units: metres, dBm, MHz, WGS84 degrees.
"""

from __future__ import annotations

import sys
import tempfile

import geopandas as gpd
import numpy as np

import coverage_planner as cp
import coverage_planner.distributed as cpd


def main() -> None:
    out_dir = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="coverage-planner-")

    # 1. The embedded default dataset (Uzbekistan; its sites are SYNTHETIC) and its physics.
    pl = cp.Planner.embedded()
    print(f"{pl.dataset_summary()['name']}: model {pl.model}, halo {pl.max_range_m() / 1000:.0f} km")

    # 2. Your own targets: any points as a GeoDataFrame (other CRSs are reprojected).
    rng = np.random.default_rng(0)
    pts = gpd.GeoDataFrame(
        {"name": [f"farm {i}" for i in range(500)]},
        geometry=gpd.points_from_xy(rng.uniform(68.5, 70.5, 500), rng.uniform(40.5, 41.8, 500)),
        crs=4326,
    )
    res = pl.evaluate(pts)
    print(f"{res['mobile_internet'].mean():.0%} of the points have mobile Internet (3G or better)")
    print(res[["name", "site_4g", "rx_dbm_4g", "distance_m_4g", "covered_4g"]].head())

    # 3. Your own sites: one row per cell, the columns of the planner's sites file. Here: the
    #    dataset's sites without their 4G sectors, to see what 4G adds.
    cells = pl.sites
    no4g = cells[cells["technology"] != "4g"].drop(columns=["site_index", "cell"])
    res2 = pl.evaluate(pts, sites=no4g)
    print(f"without 4G: {res2['mobile_internet'].mean():.0%} with mobile Internet")

    # 4. Another propagation model, by name or as a whole [model] table.
    terrain = pl.with_model("terrain").evaluate(pts)
    print(f"terrain model: {terrain['covered_2g'].mean():.0%} with 2G (open-area Hata: {res['covered_2g'].mean():.0%})")

    # 5. The gap analysis of `planner analyze`, and its files.
    a = pl.analyze()
    print(a.summary["coverage"]["headline"]["text"])
    print(a.by_route[a.by_route["service"] == "mobile_internet"].head())
    print("wrote", len(a.write(out_dir)), "files to", out_dir)

    # 6. A point-to-point link report (`planner link`).
    link = pl.link(900, (41.26, 69.21), (41.40, 69.60), models=["itm", "hata_open"])
    for m in link["models"]:
        print(f"link {m['model']}: {m['loss_db']:.1f} dB")

    # 7. The same evaluation over Dask, tile by tile with a halo: identical results.
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        tiled = cpd.evaluate(pl.coverage(), pts, pl.site_set(), client=client, tile_deg=0.5)
    same = tiled.drop(columns="geometry").equals(res.drop(columns="geometry"))
    print(f"Dask: {tiled.attrs['tiles']} tiles, identical to the single process: {same}")


if __name__ == "__main__":
    main()
