"""Throughput of the tiled Dask evaluation per worker, and its scaling from 1 to N workers.

A seeded synthetic country (the planner's generator: clustered settlements, sites around
them) gives the targets (its settlements) and the sites. The same evaluation runs in one
process on one thread (the reference) and on local clusters of 1, 2, … worker processes with
one thread each; every distributed result is checked equal to the reference.

    target/python-venv/bin/python python/benchmarks/dask_scaling.py                  # 1 M targets, 100 k sites
    target/python-venv/bin/python python/benchmarks/dask_scaling.py --targets 100000 --sites 10000
    target/python-venv/bin/python python/benchmarks/dask_scaling.py --scheduler tcp://scheduler:8786

Not part of the test suite (minutes of CPU); figures go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import pandas as pd

import coverage_planner as cp
import coverage_planner.distributed as cpd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", type=int, default=1_000_000, help="targets (synthetic settlements)")
    ap.add_argument("--sites", type=int, default=100_000, help="sites (5 cells each)")
    ap.add_argument("--model", default="hata_open", help="propagation model (default hata_open)")
    ap.add_argument("--max-range-m", type=float, default=None, help="analysis.max_range_m (default: the planner's)")
    ap.add_argument("--tile-deg", type=float, default=1.0, help="tile size, degrees")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--no-reference", action="store_true", help="skip the single-process run and its check")
    ap.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="run once on an existing cluster (e.g. tcp://scheduler:8786) with all its workers instead of local clusters")
    args = ap.parse_args()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    cfg = None
    if args.max_range_m is not None:
        cfg = cp.Planner.from_toml(f"[analysis]\nmax_range_m = {args.max_range_m}\n")
    t = time.perf_counter()
    country = cp.Planner.synthetic(
        seed=args.seed, settlements=args.targets, sites=args.sites, road_km=0.0,
        dem=args.model in ("terrain", "itm"), config=cfg,
    ).with_model(args.model)
    targets = country.settlements[["id", "geometry"]]
    cov, sites = country.coverage(), country.site_set()
    print(f"synthetic country: {len(targets):,} targets, {len(sites):,} sites, model {cov.model_name()}, "
          f"halo {cov.max_range_m(sites) / 1000:.1f} km ({time.perf_counter() - t:.1f} s to generate)")

    rows = []
    reference = None
    if not args.no_reference:
        t = time.perf_counter()
        reference = cp.evaluate(cov, targets, sites, threads=1)
        dt = time.perf_counter() - t
        links = reference.attrs["coverage_stats"]["links_evaluated"]
        rows.append(("1 process, 1 thread", 1, dt, len(targets) / dt, len(targets) / dt, links / dt))
        print(f"single process: {dt:.1f} s, {len(targets) / dt:,.0f} targets/s, {links / dt / 1e6:.2f} M links/s")

    from dask.distributed import Client, LocalCluster

    def clusters():
        if args.scheduler:
            with Client(args.scheduler) as client:
                yield sum(client.nthreads().values()), client
            return
        for n in [int(x) for x in args.workers.split(",")]:
            with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
                yield n, client

    for n, client in clusters():
        load = os.getloadavg()[0]
        t = time.perf_counter()
        res = cpd.evaluate(cov, targets, sites, client=client, tile_deg=args.tile_deg, npartitions=max(8, 4 * n))
        dt = time.perf_counter() - t
        links = res.attrs["coverage_stats"]["links_evaluated"]
        tiles = res.attrs["tiles"]
        same = "not checked"
        if reference is not None:
            res.attrs = {k: v for k, v in res.attrs.items() if k in reference.attrs}
            pd.testing.assert_frame_equal(res, reference, check_exact=True)
            same = "identical to the single process"
        rows.append((f"{n} worker(s)", n, dt, len(targets) / dt, len(targets) / dt / n, links / dt))
        print(f"{n} worker(s): {dt:.1f} s ({tiles} tiles, load average {load:.1f} at start), {same}")

    print()
    print("| run | workers | wall s | targets/s | targets/s per worker | links/s | speed-up vs 1 worker |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    base = next((r[2] for r in rows if r[0].startswith("1 worker")), None)
    for name, n, dt, tps, per, lps in rows:
        sp = f"{base / dt:.2f}×" if base and not name.startswith("1 process") else "–"
        print(f"| {name} | {n} | {dt:.1f} | {tps:,.0f} | {per:,.0f} | {lps / 1e6:.2f} M | {sp} |")
    print(f"\nload average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
