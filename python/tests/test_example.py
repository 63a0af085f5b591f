"""The example script runs end to end (it is documentation, so it must keep working)."""

from __future__ import annotations

import subprocess
import sys


def test_quickstart_runs(root, tmp_path):
    p = subprocess.run(
        [sys.executable, str(root / "python" / "examples" / "quickstart.py"), str(tmp_path / "out")],
        capture_output=True, text=True, timeout=900,
    )
    assert p.returncode == 0, p.stderr
    assert "identical to the single process: True" in p.stdout
    assert "of international highway km has no mobile Internet" in p.stdout
    assert (tmp_path / "out" / "summary.json").is_file()
