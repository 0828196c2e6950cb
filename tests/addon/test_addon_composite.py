"""Composite over Footage (issue 23): rendering through an imported camera gives the body over
that camera's footage, undistorted as OpenCV undistorts it with the calibration, so that a
point of the calibration's world lands on the footage where the calibration puts it."""

import json

import cv2
import numpy as np
import pytest
from addon_support import run_blender

from engine.io.calibration import Calibration, CameraCalibration, write_calibration_json

pytestmark = pytest.mark.blender
W, H = 200, 150
GREEN = np.array([0.0, 1.0, 0.0])  # the discs' emission, linear RGB
CAMERAS = {  # name: K, dist (k1 k2 p1 p2 k3), centre, target: strong distortion, off-centre, fx != fy
    "c1": ([[190.0, 0, 104.3], [0, 188.0, 71.6], [0, 0, 1]], [-0.22, 0.09, 0.004, -0.003, -0.01], [0.3, -3.0, 1.1],
           [0.0, 0.0, 1.0]),
    "c2": ([[170.0, 0, 97.2], [0, 171.0, 78.1], [0, 0, 1]], [-0.1, 0.03, -0.002, 0.005, 0.0], [3.0, 0.4, 1.3],
           [0.0, 0.0, 0.9]),
}
TARGETS = [(22.0, 18.0), (176.0, 131.0), (100.0, 76.0), (168.0, 24.0), (30.0, 128.0)]  # c1's (pinhole) pixels
DISC_PX = 4.0  # disc radius in c1's pixels


def look_at(centre, target):
    z = np.subtract(target, centre) / np.linalg.norm(np.subtract(target, centre))
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    R = np.stack([x, np.cross(z, x), z])
    return R, -R @ np.asarray(centre, np.float64)


def srgb_to_linear(c):
    c = c / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c):
    c = np.where(c <= 0.0031308, c * 12.92, 1.055 * np.clip(c, 0.0031308, None) ** (1 / 2.4) - 0.055)
    return np.clip(np.round(c * 255.0), 0, 255)


def capture(folder):
    """Two cameras, frame folders of two textured frames each (a ring in c1's footage around
    where each disc's centre is filmed, for the eye); -> (cameras, disc points, disc radii)."""
    cams = {}
    for name, (K, dist, centre, target) in CAMERAS.items():
        R, t = look_at(centre, target)
        cams[name] = CameraCalibration(name, np.array(K), np.array(dist), R, t, W, H)
    write_calibration_json(Calibration(list(cams.values()), folder / "cameras.json", "json"), folder / "cameras.json")
    c1 = cams["c1"]
    depth = 3.0
    rays = np.linalg.inv(c1.K) @ np.array([[u, v, 1.0] for u, v in TARGETS]).T
    points = (c1.R_cam_world.T @ (depth * rays - c1.t_cam_world[:, None])).T
    filmed = cv2.projectPoints(points, cv2.Rodrigues(c1.R_cam_world)[0], c1.t_cam_world, c1.K, c1.dist)[0][:, 0]
    rng = np.random.default_rng(7)
    for name in cams:
        (folder / "footage" / name).mkdir(parents=True)
        for frame in range(2):
            image = cv2.GaussianBlur(rng.uniform(0, 255, (H, W, 3)).astype(np.float32), (0, 0), 2.5)
            image = cv2.normalize(image, None, 40, 220, cv2.NORM_MINMAX).astype(np.uint8)
            if name == "c1":
                for u, v in filmed:
                    cv2.circle(image, (round(u * 16), round(v * 16)), round((DISC_PX + 3) * 16), (20, 20, 20), 1,
                               cv2.LINE_AA, shift=4)
            cv2.imwrite(str(folder / "footage" / name / f"frame_{frame:04d}.png"), image)
    return cams, points, [DISC_PX * depth / c1.K[0, 0]] * len(points)


def test_composite_over_footage_shows_the_body_on_the_undistorted_footage(blender_home, tmp_path):
    home, _ = blender_home
    cams, points, radii = capture(tmp_path)
    (tmp_path / "renders").mkdir()
    discs = [[*p, r] for p, r in zip(points.tolist(), radii)]
    report = run_blender("composite.py", tmp_path / "cameras.json", tmp_path / "footage", tmp_path / "renders",
                         json.dumps(discs), home=home, timeout=240)
    assert report["import"] == [["FINISHED"], None]
    assert report["refused"] == [None, "Error: camera plain: not an imported camera (Import Capture makes them)\n"]
    assert not report["refused_tree"]  # a refusal changes nothing
    assert report["composite"] == [["FINISHED"], None]
    assert report["film"] and report["view"] == "Standard"
    for name, cam in cams.items():
        render = report["renders"][name]
        assert render["size"] == [W, H] and render["clip"].startswith("frame_")
        got = cv2.imread(render["png"])
        frame = cv2.imread(str(tmp_path / "footage" / name / "frame_0001.png"))  # scene frame 2
        expected = cv2.undistort(frame, cam.K, cam.dist, None, cam.K)

        # (a) away from the discs, the render is the footage as OpenCV undistorts it
        mapx, mapy = cv2.initUndistortRectifyMap(cam.K, cam.dist, None, cam.K, (W, H), cv2.CV_32FC1)
        keep = (mapx >= 1) & (mapx <= W - 2) & (mapy >= 1) & (mapy <= H - 2)  # sampled inside the footage
        if name == "c1":
            yy, xx = np.mgrid[:H, :W]
            for u, v in TARGETS:
                keep &= np.hypot(xx - u, yy - v) > DISC_PX + 3
        diff = np.abs(got.astype(float) - expected)[keep]
        # Blender interpolates in linear light, cv2.undistort in the file's sRGB values: they part
        # on sharp edges only (the rings); the same map interpolated in linear light:
        linear = cv2.remap(srgb_to_linear(frame.astype(np.float32)).astype(np.float32), mapx, mapy, cv2.INTER_LINEAR)
        diff_linear = np.abs(got.astype(float) - linear_to_srgb(linear))[keep]
        shifted = cv2.remap(frame, mapx + 0.5, mapy, cv2.INTER_LINEAR)  # half a pixel off
        off_half = np.abs(shifted.astype(float) - expected)[keep].mean()
        raw = np.abs(frame.astype(float) - expected)[keep].mean()  # as filmed (not undistorted)
        print(f"{name}: footage vs cv2.undistort: mean {diff.mean():.3f}, max {diff.max():.0f} levels; interpolated "
              f"in linear light: mean {diff_linear.mean():.3f}, max {diff_linear.max():.0f} (half a pixel off: "
              f"{off_half:.2f}; not undistorted: {raw:.2f})")
        assert diff.mean() < 0.5 and diff_linear.max() <= 3, (name, diff.mean(), diff_linear.max())
        assert off_half > 5 * diff.mean() and raw > 20 * diff.mean()

        if name != "c1":
            # at 50 %: each render pixel is the footage at its centre (2i + 1/2 in footage pixels)
            half = cv2.imread(report["renders"]["half"]["png"])
            assert half.shape == (H // 2, W // 2, 3)
            centres = (np.mgrid[:H // 2, :W // 2][::-1] * 2 + 0.5).reshape(2, -1).T
            rays = cv2.undistortPoints(centres[:, None].astype(np.float64), cam.K, None)[:, 0]
            src = cv2.projectPoints(np.c_[rays, np.ones(len(rays))], np.zeros(3), np.zeros(3), cam.K, cam.dist)[0]
            src = src.reshape(H // 2, W // 2, 2).astype(np.float32)
            linear = cv2.remap(srgb_to_linear(frame.astype(np.float32)).astype(np.float32), src[..., 0], src[..., 1],
                               cv2.INTER_LINEAR)
            inside = ((src[..., 0] >= 1) & (src[..., 0] <= W - 2) & (src[..., 1] >= 1) & (src[..., 1] <= H - 2))
            diff_half = np.abs(half.astype(float) - linear_to_srgb(linear))[inside]
            print(f"{name} at 50 %: mean {diff_half.mean():.3f}, max {diff_half.max():.0f} levels")
            assert diff_half.mean() < 0.5 and diff_half.max() <= 3
            continue
        # (b) each disc lands where the calibration films its centre, undistorted
        rvec = cv2.Rodrigues(cam.R_cam_world)[0]
        filmed = cv2.projectPoints(points, rvec, cam.t_cam_world, cam.K, cam.dist)[0]
        pinhole = cv2.undistortPointsIter(filmed, cam.K, cam.dist, None, cam.K,
                                          (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12))[:, 0]
        assert np.abs(pinhole - TARGETS).max() < 1e-6
        lin, bg = srgb_to_linear(got[..., ::-1].astype(float)), srgb_to_linear(expected[..., ::-1].astype(float))
        alpha = np.clip(((lin - bg) * (GREEN - bg)).sum(-1) / ((GREEN - bg) ** 2).sum(-1), 0, 1)
        errors = []
        for u, v in pinhole:
            x0, y0, r = int(round(u)), int(round(v)), int(DISC_PX + 3)
            window = alpha[y0 - r:y0 + r + 1, x0 - r:x0 + r + 1]
            wy, wx = np.mgrid[y0 - r:y0 + r + 1, x0 - r:x0 + r + 1]
            centroid = np.array([(window * wx).sum(), (window * wy).sum()]) / window.sum()
            assert abs(window.sum() - np.pi * DISC_PX ** 2) < 0.15 * np.pi * DISC_PX ** 2  # the whole disc
            errors.append(np.hypot(*(centroid - (u, v))))
        print(f"{name}: disc centres vs the calibration's (undistorted) projection: "
              f"{', '.join(f'{e:.3f}' for e in errors)} px")
        assert max(errors) < 0.25
