"""Where the real 4-camera example is (the bundled copy first, then the shared examples folder,
which also holds the board photos the repository does not ship), and helpers the tests share."""

from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parents[2]
_CANDIDATES = [_ROOT / "examples/pose2sim_balancing"] + [
    shared / "examples/pose2sim_balancing" for shared in (_ROOT / "shared", _ROOT.parent / "shared")]
EXAMPLE = next((p for p in _CANDIDATES if (p / "videos").is_dir()), _CANDIDATES[0])
INTRINSICS = next((p / "calibration/intrinsics" for p in _CANDIDATES if (p / "calibration/intrinsics").is_dir()),
                  None)
CAMERAS = ("cam01", "cam02", "cam03", "cam04")


def reference_focals() -> dict[str, float]:
    import tomllib

    ref = tomllib.loads((EXAMPLE / "calibration" / "Calib.toml").read_text())
    return {c: float(np.mean([ref[c]["matrix"][0][0], ref[c]["matrix"][1][1]])) for c in CAMERAS}


# a standing person's 33 MediaPipe landmarks (metres, Z up, facing +Y), for synthetic captures
_HALF = {  # left side at -x; (x, y, z) of the left landmark, the right one mirrored
    "eye_inner": (0.02, 0.09, 1.66), "eye": (0.035, 0.085, 1.66), "eye_outer": (0.05, 0.08, 1.66),
    "ear": (0.08, 0.0, 1.63), "mouth": (0.03, 0.09, 1.56), "shoulder": (0.18, 0.0, 1.42),
    "elbow": (0.22, 0.0, 1.13), "wrist": (0.24, 0.04, 0.88), "pinky": (0.25, 0.05, 0.8),
    "index": (0.23, 0.07, 0.8), "thumb": (0.2, 0.07, 0.83), "hip": (0.1, 0.0, 0.95),
    "knee": (0.1, 0.03, 0.52), "ankle": (0.1, 0.0, 0.1), "heel": (0.1, -0.05, 0.05),
    "foot_index": (0.1, 0.16, 0.03)}


def standing_person() -> np.ndarray:
    """(33, 3) landmarks of a person standing at the origin, in MediaPipe's order."""
    from engine.detect.types import BODY_LANDMARKS

    out = np.zeros((33, 3))
    for i, name in enumerate(BODY_LANDMARKS):
        if name == "nose":
            out[i] = (0.0, 0.11, 1.6)
            continue
        side, part = name.split("_", 1) if not name.startswith("mouth") else name.split("_")[::-1]
        x, y, z = _HALF[part]
        out[i] = (-x if side == "left" else x, y, z)
    return out


def walking_person(frames: int, seed: int = 0) -> np.ndarray:
    """(frames, 33, 3): the standing person walking a circle of 1 m radius, swinging the arms."""
    rng = np.random.default_rng(seed)
    base = standing_person()
    out = []
    for f in range(frames):
        a = 2 * np.pi * f / frames
        body = base.copy()
        swing = 0.15 * np.sin(4 * a)
        body[[13, 15, 17, 19, 21], 1] += swing
        body[[14, 16, 18, 20, 22], 1] -= swing
        heading = a + np.pi / 2
        c, s = np.cos(heading), np.sin(heading)
        R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        out.append(body @ R.T + [np.cos(a), np.sin(a), 0] + rng.normal(0, 0.005, (33, 3)))
    return np.stack(out)


def ring_of_cameras(count: int, radius: float = 4.0, f: float = 900.0, size=(1000, 1000)):
    """``count`` cameras evenly on a circle, 1.2-1.8 m high, looking at (0, 0, 0.9); -> [(K, R, t)]."""
    cams = []
    for i in range(count):
        a = 2 * np.pi * i / count + 0.3
        centre = np.array([radius * np.cos(a), radius * np.sin(a), 1.2 + 0.6 * (i % 2)])
        z = np.array([0, 0, 0.9]) - centre
        z /= np.linalg.norm(z)
        x = np.cross(z, [0, 0, 1.0])
        x /= np.linalg.norm(x)
        R = np.stack([x, np.cross(z, x), z])
        K = np.array([[f, 0, (size[0] - 1) / 2], [0, f, (size[1] - 1) / 2], [0, 0, 1]])
        cams.append((K, R, -R @ centre))
    return cams


def project(points: np.ndarray, K, R, t) -> np.ndarray:
    x = points @ R.T + t
    return x[..., :2] / x[..., 2:] * np.diag(K)[:2] + K[:2, 2]


def umeyama(X: np.ndarray, Y: np.ndarray):
    """s, R, t minimising |s R X + t - Y|^2 (roma's least-squares similarity)."""
    import roma
    import torch

    R, t, s = roma.rigid_points_registration(torch.as_tensor(X), torch.as_tensor(Y), compute_scaling=True)
    return float(s), R.numpy(), t.numpy()