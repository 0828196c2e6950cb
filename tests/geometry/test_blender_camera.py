import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.errors import InputError
from engine.geometry import BlenderCamera, blender_to_opencv, opencv_to_blender

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.blender
def test_conversion_matches_blenders_projection():
    pytest.importorskip("bpy")
    res = subprocess.run([sys.executable, str(Path(__file__).parent / "blender_projection_check.py"), "0", "60"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout.strip().splitlines()[-1])
    print(report)
    assert report["max_px_blender_to_opencv"] < 0.01
    assert report["max_px_opencv_to_blender"] < 0.01


def test_opencv_blender_opencv_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(20):
        w, h = int(rng.integers(64, 2000)), int(rng.integers(64, 2000))
        K = np.array([[rng.uniform(100, 3000), 0, rng.uniform(0, w)], [0, rng.uniform(100, 3000), rng.uniform(0, h)],
                      [0, 0, 1]])
        q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
        R = q * np.sign(np.linalg.det(q))
        t = rng.standard_normal(3)
        K2, R2, t2, size = blender_to_opencv(opencv_to_blender(K, R, t, w, h))
        assert size == (w, h)
        np.testing.assert_allclose(K2, K, atol=1e-9)
        np.testing.assert_allclose(R2, R, atol=1e-12)
        np.testing.assert_allclose(t2, t, atol=1e-12)


def test_default_blender_camera_numbers():
    """Blender's default camera: 50 mm on a 36 mm sensor, 1920x1080: fx = 50/36*1920."""
    K, R, t, size = blender_to_opencv(BlenderCamera(lens=50))
    assert size == (1920, 1080)
    np.testing.assert_allclose(K, [[2666.6667, 0, 959.5], [0, 2666.6667, 539.5], [0, 0, 1]], atol=1e-3)
    np.testing.assert_allclose(R, np.diag([1, -1, -1]))  # identity Blender camera looks down -Z


def test_bad_blender_cameras():
    with pytest.raises(InputError, match="lens"):
        blender_to_opencv(BlenderCamera(lens=0))
    with pytest.raises(InputError, match="sensor_fit"):
        blender_to_opencv(BlenderCamera(lens=50, sensor_fit="DIAGONAL"))
    M = np.eye(4)
    M[0, 0] = -1
    with pytest.raises(InputError, match="mirrored"):
        blender_to_opencv(BlenderCamera(lens=50, matrix_world=tuple(map(tuple, M))))
    with pytest.raises(InputError, match="skew"):
        opencv_to_blender(np.array([[500, 3, 10], [0, 500, 10], [0, 0, 1.0]]), np.eye(3), np.zeros(3), 20, 20)
