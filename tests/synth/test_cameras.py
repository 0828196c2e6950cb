import numpy as np
import pytest

from engine.errors import InputError
from engine.geometry.blender_camera import BlenderCamera, blender_to_opencv
from synth.cameras import CameraConfig, sample_cameras


def _project(cam, p):
    x = np.asarray(cam["R_cam_world"]) @ p + np.asarray(cam["t_cam_world"])
    return (np.asarray(cam["K"]) @ x)[:2] / x[2], x[2]


def test_cameras_aim_at_the_subject_and_are_deterministic():
    cfg = CameraConfig(views=8, width=320, height=240, out_of_frame_share=0.0)
    center = np.array([0.1, -0.2, 0.9])
    a = sample_cameras(np.random.default_rng(5), cfg, center, 1.7)
    b = sample_cameras(np.random.default_rng(5), cfg, center, 1.7)
    assert a == b and len(a) == 8
    for cam in a:
        xy, z = _project(cam, center)
        assert z > 0
        assert abs(xy[0] - 160) < 0.25 * 320 and abs(xy[1] - 120) < 0.25 * 240
        K, R, t, size = blender_to_opencv(BlenderCamera(**{**cam["blender"],
                                                          "matrix_world": tuple(map(tuple, cam["blender"]["matrix_world"]))}))
        assert size == (320, 240) and np.allclose(K, cam["K"]) and np.allclose(R, cam["R_cam_world"])
        assert 0.4 <= np.asarray(cam["blender"]["matrix_world"])[2][3] <= 2.4


def test_partly_out_of_frame_share():
    cfg = CameraConfig(views=200, out_of_frame_share=0.5)
    cams = sample_cameras(np.random.default_rng(0), cfg, np.array([0, 0, 0.9]), 1.7)
    assert 60 < sum(c["partly_out_of_frame"] for c in cams) < 140


def test_bad_config():
    with pytest.raises(InputError, match="cameras.views"):
        sample_cameras(np.random.default_rng(0), CameraConfig(views=0), np.zeros(3), 1.0)
    with pytest.raises(InputError, match="cameras.focal_mm"):
        sample_cameras(np.random.default_rng(0), CameraConfig(focal_mm=(50, 20)), np.zeros(3), 1.0)
