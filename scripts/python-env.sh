#!/usr/bin/env bash
# Creates the project's Python environment and installs coverage_planner into it:
#   1. a venv at target/python-venv (override: PYTHON_VENV) from the interpreter $PYTHON
#      (default python3: the machine's CPython 3.11 with pip; any CPython >= 3.10 works);
#   2. the pinned packages of python/requirements.txt (maturin, GeoPandas, Shapely, Dask, pytest);
#   3. `pip install ./python`, which builds the extension with maturin (cargo, release profile,
#      incremental in target/) and installs it.
# Debian's python3-geopandas (for /usr/bin/python3) is deliberately not used: GeoPandas 0.12 with
# Shapely 1.8 is too old for the package and for dask-geopandas, and a venv keeps the pinned
# PyPI set apart from Debian's dist-packages. Idempotent: the requirements are reinstalled only
# when python/requirements.txt changes.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${PYTHON_VENV:-target/python-venv}

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "python-env: $PYTHON is missing or older than 3.10; set PYTHON to a CPython >= 3.10" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.requirements.sha256"
want=$(sha256sum python/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # PyPI can fail transiently; a second attempt costs nothing when the first succeeded.
  for attempt in 1 2 3; do
    if "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r python/requirements.txt; then
      echo "$want" > "$stamp"
      break
    fi
    if [ "$attempt" = 3 ]; then
      echo "python-env: could not install python/requirements.txt" >&2
      exit 1
    fi
    sleep $((attempt * 5))
  done
fi
# The pinned maturin from the venv builds the package (no build isolation, so no download); the
# build backend runs the `maturin` executable, hence the venv on PATH.
PATH="$PWD/$VENV/bin:$PATH" "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-build-isolation --force-reinstall --no-deps ./python
