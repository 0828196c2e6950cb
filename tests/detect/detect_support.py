"""Fixtures on the real 4-camera example (frame 0 of each video, its calibration, OpenPose)."""

import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

_ROOT = Path(__file__).resolve().parents[2]
_CANDIDATES = [_ROOT / "examples/pose2sim_balancing"] + [  # the bundled copy first
    shared / "examples/pose2sim_balancing" for shared in (_ROOT / "shared", _ROOT.parent / "shared")]
EXAMPLE = next((p for p in _CANDIDATES if (p / "videos").is_dir()), _CANDIDATES[0])
CAMERAS = ("cam01", "cam02", "cam03", "cam04")


def rodrigues(rotvec) -> np.ndarray:
    """(3,) axis * angle -> (3, 3) rotation (written here so the test does not lean on cv2)."""
    r = np.asarray(rotvec, np.float64)
    theta = np.linalg.norm(r)
    if theta < 1e-12:
        return np.eye(3)
    k = r / theta
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(theta) * K + (1 - math.cos(theta)) * K @ K


@pytest.fixture(scope="session")
def example():
    if not EXAMPLE.is_dir():
        pytest.skip(f"the real example is not here: {EXAMPLE}")
    return EXAMPLE


@pytest.fixture(scope="session")
def frames0(example):
    """Frame 0 of each camera, RGB uint8."""
    import cv2

    out = []
    for cam in CAMERAS:
        cap = cv2.VideoCapture(str(example / "videos" / f"{cam}.mp4"))
        ok, bgr = cap.read()
        cap.release()
        assert ok, f"cannot read {cam}.mp4"
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return out


@pytest.fixture(scope="session")
def projections(example, frames0):
    """P = K [R | t] per camera, K's first row scaled to the video's width (1080 vs 1088)."""
    calib = tomllib.loads((example / "calibration" / "Calib.toml").read_text())
    out = []
    for cam, img in zip(CAMERAS, frames0):
        c = calib[cam]
        K = np.array(c["matrix"], np.float64)
        K[0] *= img.shape[1] / c["size"][0]
        Rt = np.hstack([rodrigues(c["rotation"]), np.array(c["translation"])[:, None]])
        out.append(K @ Rt)
    return np.stack(out)


@pytest.fixture(scope="session")
def detector():
    from engine.detect import MediaPipeDetector

    with MediaPipeDetector() as det:
        yield det


@pytest.fixture(scope="session")
def detections0(detector, frames0):
    return [detector(img) for img in frames0]
