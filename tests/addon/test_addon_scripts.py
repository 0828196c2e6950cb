"""The add-on's scripts (``addon/scripts/``, not shipped): run as a user runs them."""

import hashlib
import os
import subprocess
import sys

import pytest
from addon_support import ROOT, cube_fit

pytestmark = pytest.mark.blender


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_render_overlay_writes_into_the_fit_folder_and_cleans_up(tmp_path):
    """``render_overlay.py FIT`` writes its pictures into the fit's folder (the tracked
    docs/images stay as they are), ``--out`` elsewhere, and leaves no temporary folder."""
    pytest.importorskip("bpy")
    pytest.importorskip("cv2")
    fit, _ = cube_fit(tmp_path / "fit", frames=(0,), world={"up_axis": "+Z", "world_units_per_metre": 100.0})
    docs = _digests(ROOT / "docs/images")
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    script = ROOT / "addon/scripts/render_overlay.py"
    for extra in ([], ["--out", str(tmp_path / "elsewhere")]):
        res = subprocess.run([sys.executable, str(script), str(fit), "--scale", "5", "--samples", "1", *extra],
                             capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        assert list(temp.glob("diffproxy_overlay_*")) == []  # the staged extension and the renders: removed
    for folder in (fit, tmp_path / "elsewhere"):
        assert {"blender_cam01.jpg", "blender_cameras.jpg"} <= set(os.listdir(folder))
        assert (folder / "blender_cameras.jpg").stat().st_size > 1000
    assert _digests(ROOT / "docs/images") == docs
