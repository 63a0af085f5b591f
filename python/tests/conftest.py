"""Shared fixtures: the repository root and the release `planner` binary the CLI comparisons
run (built by scripts/test.sh before pytest; PLANNER_BIN overrides the path)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def planner_bin() -> Path:
    p = Path(os.environ.get("PLANNER_BIN", ROOT / "target" / "release" / "planner"))
    if not p.is_file():
        pytest.fail(f"{p} is missing: build it with `cargo build --release -p planner` (scripts/test.sh does)")
    return p


class Cli:
    """Runs the `planner` binary and returns (exit code, stdout, stderr)."""

    def __init__(self, binary: Path) -> None:
        self.binary = binary

    def run(self, *args: str, cwd: Path | None = None) -> tuple[int, str, str]:
        p = subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, cwd=cwd, timeout=600
        )
        return p.returncode, p.stdout, p.stderr

    def json(self, *args: str) -> dict:
        code, out, err = self.run(*args, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture(scope="session")
def cli(planner_bin: Path) -> Cli:
    return Cli(planner_bin)


# A small own-data area cut from the embedded dataset's files (the Tashkent area), so the CLI
# and the package read the very same files in well under a second each.
BBOX = (68.9, 40.9, 69.9, 41.6)
UZ = ROOT / "geodata" / "data" / "uz"


def _inside(lon: float, lat: float, bbox: tuple[float, float, float, float], pad: float = 0.0) -> bool:
    return bbox[0] - pad <= lon <= bbox[2] + pad and bbox[1] - pad <= lat <= bbox[3] + pad


def _cut_csv(src: Path, dst: Path, pad: float) -> None:
    """Copies the header and the rows inside the box, byte for byte."""
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].strip().split(",")
    ilon, ilat = header.index("lon"), header.index("lat")
    keep = [lines[0]]
    for line in lines[1:]:
        f = line.rstrip("\n").split(",")
        if _inside(float(f[ilon]), float(f[ilat]), BBOX, pad):
            keep.append(line)
    dst.write_text("".join(keep), encoding="utf-8")


@pytest.fixture(scope="session")
def area(tmp_path_factory) -> Path:
    """A folder with settlements.csv, sites.csv, roads.geojson and planner.toml (regions,
    routes and DEM from the embedded dataset's files); returns the config path."""
    d = tmp_path_factory.mktemp("area")
    _cut_csv(UZ / "settlements.csv", d / "settlements.csv", 0.0)
    _cut_csv(UZ / "sites_synthetic.csv", d / "sites.csv", 0.2)
    roads = json.loads((UZ / "roads.geojson").read_text(encoding="utf-8"))
    roads["features"] = [
        f for f in roads["features"]
        if any(_inside(x, y, BBOX) for x, y in f["geometry"]["coordinates"])
    ]
    (d / "roads.geojson").write_text(json.dumps(roads), encoding="utf-8")
    cfg = d / "planner.toml"
    cfg.write_text(
        f"""[inputs.sources]
name = "Tashkent test area"
settlements = {{ path = "settlements.csv" }}
sites = {{ path = "sites.csv" }}
roads = {{ path = "roads.geojson" }}
regions = {{ path = "{UZ / 'regions.geojson'}" }}
routes = "{UZ / 'routes.csv'}"
dem = "{UZ / 'dem.tif'}"

[analysis]
road_step_m = 500.0
max_range_m = 30000.0
""",
        encoding="utf-8",
    )
    return cfg


@pytest.fixture(scope="session")
def uz() -> Path:
    """The embedded dataset's source files."""
    return UZ
