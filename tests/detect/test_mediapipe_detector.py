"""MediaPipeDetector on frame 0 of the 4 real videos, checked against the bundled OpenPose."""

import numpy as np
import pytest

from detect_support import CAMERAS
from engine.detect.openpose import openpose_people, openpose_to_detection
from engine.detect.types import BODY_INDEX
from engine.errors import InputError

JOINTS = [BODY_INDEX[f"{s}_{j}"] for j in ("shoulder", "hip", "knee", "ankle") for s in ("left", "right")]


def middle_person(example, cam, P):
    """The OpenPose person whose ankles are nearest the projected world origin (on the platform,
    in the middle of the capture volume): bystanders stand elsewhere."""
    origin = P[:, 3] / P[2, 3]
    people = [openpose_to_detection(p, "BODY_25B") for p in openpose_people(
        example / "pose2d_openpose_body25b", cam, 0)]
    ankles = [np.nanmean(d.body_xy[[BODY_INDEX["left_ankle"], BODY_INDEX["right_ankle"]]], axis=0)
              for d in people]
    return people[int(np.argmin([np.linalg.norm(a - origin[:2]) for a in ankles]))]


@pytest.mark.parametrize("view", range(4), ids=CAMERAS)
def test_detection_agrees_with_openpose(example, frames0, projections, detections0, view):
    det, img = detections0[view], frames0[view]
    assert det is not None
    assert det.body_xy.shape == (33, 2) and np.isfinite(det.body_xy).all()
    assert ((det.body_score >= 0) & (det.body_score <= 1)).all()
    ref = middle_person(example, CAMERAS[view], projections[view])
    assert (ref.body_score[JOINTS] > 0).all()
    height = ref.box[3] - ref.box[1]   # OpenPose's box: head top to toes
    err = np.linalg.norm(det.body_xy[JOINTS] - ref.body_xy[JOINTS], axis=1) / height
    print(f"{CAMERAS[view]}: errors / height {np.round(err, 3)}")
    assert err.max() < 0.045 and np.median(err) < 0.03
    # the mask: full resolution, foreground on the joints, background far from the person
    assert det.mask.shape == img.shape[:2] and det.mask.dtype == np.uint8
    px = np.round(det.body_xy[JOINTS]).astype(int)
    assert (det.mask[px[:, 1], px[:, 0]] > 127).sum() >= 7
    far = np.ones(det.mask.shape, bool)
    x0, y0, x1, y1 = np.round(ref.box + 0.2 * height * np.array([-1, -1, 1, 1])).astype(int)
    far[max(y0, 0):y1, max(x0, 0):x1] = False
    assert det.mask[far].mean() < 0.02 * 255


def test_hands_found_on_wrist_crops(detections0):
    found = [(d.hands_score[:, 0] > 0) for d in detections0]
    print("hands found (left, right) per view:", [tuple(map(bool, f)) for f in found])
    assert sum(f.any() for f in found) >= 3   # frame 0: 5 of 8 hands, at least one in every view
    for d, f in zip(detections0, found):
        for h in np.flatnonzero(f):
            wrist = d.body_xy[BODY_INDEX[("left_wrist", "right_wrist")[h]]]
            assert np.isfinite(d.hands_xy[h]).all()
            assert np.linalg.norm(d.hands_xy[h, 0] - wrist) < 0.05 * d.height
            assert 0.5 <= d.hands_score[h].min() <= 1
        assert np.isnan(d.hands_xy[~f]).all() and (d.hands_score[~f] == 0).all()


def test_roi_detects_inside_and_maps_back(detector, frames0, detections0):
    full = detections0[0]
    det = detector(frames0[0], roi=full.box)
    assert det is not None
    assert np.median(np.linalg.norm(det.body_xy[JOINTS] - full.body_xy[JOINTS], axis=1)) < 0.02 * full.height
    w, h = full.box[2:] - full.box[:2]
    assert det.mask[:, : max(int(full.box[0] - 0.11 * w), 0)].max() == 0   # nothing outside the roi + margin
    assert det.mask[int(full.box[3] + 0.11 * h):].max() == 0


def test_no_person_and_bad_input(detector):
    assert detector(np.full((480, 320, 3), 128, np.uint8)) is None
    with pytest.raises(InputError, match="image_rgb"):
        detector(np.zeros((480, 320), np.uint8))
    with pytest.raises(InputError, match="image_rgb"):
        detector(np.zeros((480, 320, 3), np.float32))
    with pytest.raises(InputError, match="roi"):
        detector(np.zeros((480, 320, 3), np.uint8), roi=np.array([100, 100, 50, 200]))
    with pytest.raises(InputError, match="roi"):
        detector(np.zeros((480, 320, 3), np.uint8), roi=np.array([1000, 1000, 1200, 1200]))
