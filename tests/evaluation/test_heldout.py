"""The held-out camera score (engine.evaluation.heldout) on the bundled capture's OpenPose
detections: the triangulation baseline lines up in the camera left out, and moves when that
camera's calibration is wrong; a fit's landmarks are scored the same way."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import roma
import torch

from engine.evaluation.heldout import SCORED, body_errors, triangulation_errors
from engine.io.calibration import Calibration, read_calibration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pose2sim_balancing"
OPENPOSE = EXAMPLE / "pose2d_openpose_body25b"


@pytest.fixture(scope="module")
def sized():
    from engine.evaluation.demo import video_sized

    return video_sized(read_calibration(EXAMPLE / "calibration" / "Calib.toml"), EXAMPLE / "videos")


def test_triangulation_baseline_lines_up_in_the_camera_left_out(sized):
    rows = {c: triangulation_errors([0, 40], c, sized, OPENPOSE) for c in sized.names()}
    for cam, r in rows.items():
        assert [x["frame"] for x in r] == [0, 40] and all(x["joints"] >= 6 for x in r), (cam, r)
        assert all(x["median_pct"] < 8 for x in r), (cam, r)  # on the person (about 700 px tall)
    assert np.median([x["median_px"] for r in rows.values() for x in r]) < 40


def test_a_wrong_calibration_of_the_camera_left_out_shows(sized):
    turn = roma.rotvec_to_rotmat(torch.tensor([0.0, np.radians(2.0), 0.0], dtype=torch.float64)).numpy()
    # cam02 turned by 2 degrees about its own centre
    bumped = Calibration([replace(c, R_cam_world=turn @ c.R_cam_world, t_cam_world=turn @ c.t_cam_world)
                          if c.name == "cam02" else c
                          for c in sized.cameras], sized.source, sized.format)
    good = np.median([x["median_px"] for x in triangulation_errors([0, 40], "cam02", sized, OPENPOSE)])
    bad = np.median([x["median_px"] for x in triangulation_errors([0, 40], "cam02", bumped, OPENPOSE)])
    assert bad > good + 30, (good, bad)  # 2 degrees at f ~1680 px: about 60 px


def test_a_fit_is_scored_like_the_baseline(tmp_path, sized):
    """A fit whose scored landmarks are the OpenPose joints triangulated from all four cameras
    scores below the baseline from three, in every camera."""
    from engine.detect.openpose import list_openpose_files, openpose_order, openpose_to_detection, read_openpose_json
    from engine.detect.types import BODY_INDEX, BODY_LANDMARKS
    from engine.geometry.triangulation import triangulate
    from engine.pipeline.keypoints import pick_consistent

    files = list_openpose_files(OPENPOSE)
    names = tuple(BODY_LANDMARKS)
    idx = [BODY_INDEX[n] for n in SCORED]
    keypoints = np.zeros((1, len(names), 3))
    people = [[openpose_to_detection(k, openpose_order(len(k), files[c][0].parent))
               for k in read_openpose_json(files[c][0])] for c in sized.names()]
    picked = pick_consistent(people, [sized[c].projection() for c in sized.names()])
    xy = np.stack([sized[c].undistort_points(d.body_xy[idx]) for c, d in zip(sized.names(), picked)])
    score = np.stack([d.body_score[idx] for d in picked])
    keypoints[0, [names.index(n) for n in SCORED]] = triangulate(xy, score, np.stack([sized[c].projection()
                                                                                     for c in sized.names()]))
    np.savez(tmp_path / "fit.npz", frames=np.array([0]), landmarks=keypoints)
    for cam in sized.names():
        (fitted,) = body_errors(tmp_path, cam, sized, names, OPENPOSE)
        (baseline,) = triangulation_errors([0], cam, sized, OPENPOSE)
        assert fitted["median_px"] < baseline["median_px"] + 1.0, (cam, fitted, baseline)
        assert fitted["height_px"] == baseline["height_px"]


@pytest.mark.slow
def test_the_demo_scores_each_camera_left_out_against_the_triangulation(tmp_path):
    """``engine.evaluation.demo.run_demo`` on one frame: a reconstruction with every camera and
    one without each, each camera scored on the body from the other three and on OpenPose's
    joints triangulated from them, medians summarised and written to demo.json."""
    import json

    import engine
    from engine.evaluation.demo import run_demo

    said = []
    summary = run_demo(EXAMPLE, tmp_path, "40:41", engine.ReconstructOptions(overlay_scale=0.25), say=said.append)
    cams = ["cam01", "cam02", "cam03", "cam04"]
    assert [r["camera"] for r in summary["heldout"]] == cams == [r["camera"] for r in summary["triangulation_heldout"]]
    assert all(r["frame"] == 40 for r in summary["heldout"])
    assert 0 < summary["heldout_camera_error_pct"] < 8 and 0 < summary["triangulation_heldout_error_pct"] < 8
    assert summary["heldout_camera_error_pct"] == pytest.approx(np.median([r["median_pct"] for r in summary["heldout"]]))
    assert set(summary["all_cameras_openpose_error_px_per_view"]) == set(cams)
    for cam in cams:
        with np.load(tmp_path / f"without_{cam}" / "fit.npz") as z:
            assert z["frames"].tolist() == [40]
        assert cam not in json.loads((tmp_path / f"without_{cam}" / "fit.json").read_text())["meta"]["cameras"]
    assert json.loads((tmp_path / "demo.json").read_text())["heldout_camera_error_pct"] == \
        summary["heldout_camera_error_pct"]
    assert len(said) == 5
