"""triangulate on synthetic cameras; detect_views on the real 4 views, with a bystander forced in."""

import numpy as np
import pytest

from detect_support import CAMERAS, rodrigues
from engine.detect import detect_views, triangulate
from engine.detect.multiview import AGREE_FRACTION, consistent_views, view_error
from engine.detect.openpose import openpose_people, openpose_to_detection
from engine.errors import InputError
from engine.geometry.camera import project_matrix


def synthetic_cameras(n=4, seed=0):
    rng = np.random.default_rng(seed)
    K = np.array([[1500.0, 0, 960], [0, 1500, 540], [0, 0, 1]])
    Ps = []
    for i in range(n):
        R = rodrigues(np.array([0.0, 2 * np.pi * i / n, 0.0]) + 0.1 * rng.standard_normal(3))
        center = -R.T @ np.array([0.0, 0.0, 4.0])      # 4 m in front of every camera: the origin
        Ps.append(K @ np.hstack([R, (-R @ center)[:, None]]))
    return np.stack(Ps)


def test_triangulate_recovers_points():
    rng = np.random.default_rng(1)
    P = synthetic_cameras()
    X = rng.uniform(-0.8, 0.8, (33, 3))
    xy = np.stack([project_matrix(X, p, cull=True)[0] for p in P])
    scores = rng.uniform(0.2, 1.0, (4, 33))
    np.testing.assert_allclose(triangulate(xy, scores, P), X, rtol=0, atol=1e-6)
    # two views are enough; fewer, a zero score, or a NaN point leave NaN
    scores[2:, :5] = 0
    scores[1, 3:5] = 0
    xy[0, 4] = np.nan
    out = triangulate(xy, scores, P)
    np.testing.assert_allclose(out[:3], X[:3], rtol=0, atol=1e-6)
    assert np.isnan(out[3:5]).all() and np.isfinite(out[5:]).all()


def test_triangulate_bad_shapes():
    with pytest.raises(InputError, match="scores"):
        triangulate(np.zeros((3, 5, 2)), np.zeros((2, 5)), np.zeros((3, 3, 4)))
    with pytest.raises(InputError, match="projections"):
        triangulate(np.zeros((3, 5, 2)), np.zeros((3, 5)), np.zeros((3, 4, 4)))


def test_all_four_views_agree(detector, frames0, projections, detections0):
    views, X, agreed = consistent_views(detections0, projections)
    assert views == [0, 1, 2, 3]
    errs = [view_error(d, p, X) for d, p in zip(detections0, projections)]
    print("median reprojection error / box height per view:", np.round(errs, 3))
    assert max(errs) < AGREE_FRACTION
    assert all(a is d for a, d in zip(agreed, detections0))
    out = detect_views(detector, frames0, list(projections))
    assert all(o is not None for o in out)
    for o, d in zip(out, detections0):
        np.testing.assert_allclose(o.body_xy, d.body_xy)   # agreeing views are kept as detected
    with pytest.raises(InputError, match="projections"):
        detect_views(detector, frames0, list(projections[:3]))


@pytest.mark.parametrize("view", [1, 2], ids=CAMERAS[1:3])
def test_left_right_mixup_is_swapped_back(detector, frames0, projections, detections0, view):
    """A detector that takes the person's back for their front (seen on cam02, frame 50) swaps
    left and right; the view agrees once swapped back."""
    dets = list(detections0)
    dets[view] = detections0[view].swapped_sides()
    views, X, agreed = consistent_views(dets, projections)
    assert views == [0, 1, 2, 3]
    np.testing.assert_array_equal(agreed[view].body_xy, detections0[view].body_xy)
    np.testing.assert_array_equal(agreed[view].hands_xy, detections0[view].hands_xy)
    assert view_error(dets[view], projections[view], X) > AGREE_FRACTION   # as given it disagrees


def grey_out(img, det, margin=0.15):
    """``img`` with the person's box (widened by ``margin`` of its height, more above the head) grey."""
    out = img.copy()
    x0, y0, x1, y1 = det.box
    m = margin * det.height
    out[max(int(y0 - 2 * m), 0):int(y1 + m), max(int(x0 - m), 0):int(x1 + m)] = 128
    return out


@pytest.mark.parametrize("view", range(4), ids=CAMERAS)
def test_person_blacked_out_never_gives_a_bystander(detector, frames0, projections, detections0, view):
    images = list(frames0)
    images[view] = grey_out(frames0[view], detections0[view])
    out = detect_views(detector, images, list(projections))
    assert all(out[v] is not None for v in range(4) if v != view)
    if out[view] is not None:   # re-detected: then it must be the person of the other views
        _, X, _ = consistent_views([o if v != view else None for v, o in enumerate(out)], projections)
        assert view_error(out[view], projections[view], X) < AGREE_FRACTION
    print(f"{CAMERAS[view]} greyed out: {'re-detected' if out[view] is not None else 'None'}")


class PicksBystander:
    """The real detector, except that on the whole of ``image`` it returns ``bystander`` (a real
    MediaPipe detection of a bystander), as a detector that picked the wrong person would."""

    def __init__(self, detector, image, bystander):
        self.detector, self.image, self.bystander = detector, image, bystander

    def __call__(self, img, roi=None):
        if roi is None and img is self.image:
            return self.bystander
        return self.detector(img, roi=roi)


@pytest.mark.parametrize("view", [0, 1], ids=CAMERAS[:2])
def test_bystander_is_replaced_by_the_person(example, detector, frames0, projections, detections0, view):
    people = [openpose_to_detection(p, "BODY_25B")
              for p in openpose_people(example / "pose2d_openpose_body25b", CAMERAS[view], 0)]
    by = min(people, key=lambda d: d.height)   # cam01/cam02 frame 0: the far person
    picked = detector(frames0[view], roi=by.box)
    assert picked is not None and by.box[0] - 20 < picked.box[0] and picked.box[2] < by.box[2] + 20
    out = detect_views(PicksBystander(detector, frames0[view], picked), frames0, list(projections))
    assert out[view] is not None
    np.testing.assert_allclose(out[view].box, detections0[view].box, atol=0.02 * detections0[view].height)
    # with the person greyed out too, the view is given up rather than the bystander kept
    images = list(frames0)
    images[view] = grey_out(frames0[view], detections0[view])
    assert detect_views(PicksBystander(detector, images[view], picked), images, list(projections))[view] is None


def _turned_clockwise(image: np.ndarray, P: np.ndarray):
    """The image turned a quarter clockwise (a camera rolled on its axis) and its projection."""
    H = image.shape[0]
    A = np.array([[0.0, -1.0, H - 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # (x, y) -> (H-1-y, x)
    return np.ascontiguousarray(np.rot90(image, -1)), A @ P, A


def test_a_turned_crop_gives_landmarks_in_the_images_own_pixels(detector, frames0, detections0):
    """The person lying across the image (cam02 turned a quarter): shown to MediaPipe turned
    back upright, the landmarks come out where the upright image's detection puts them."""
    image, _, A = _turned_clockwise(frames0[1], np.eye(3, 4))
    det = detector(image, quarter_turns=1)
    expected = detections0[1].body_xy @ A[:2, :2].T + A[:2, 2]
    ok = detections0[1].body_score > 0.5
    err = np.linalg.norm(det.body_xy[ok] - expected[ok], axis=1)
    assert np.median(err) < 3.0, np.median(err)
    assert det.mask.shape == image.shape[:2] and det.mask[det.mask > 0].size > 0


def test_a_view_found_only_turned_is_redetected_turned(detector, frames0, projections, detections0):
    """A detector that finds the person only when the crop is turned (as MediaPipe misses a
    person bent over): the view is re-detected inside the box the other views give, turned."""
    images, P = list(frames0), np.array(projections)
    images[2], P[2], A = _turned_clockwise(frames0[2], projections[2])

    def upright_only(image, roi=None, quarter_turns=0):
        det = detector(image, roi=roi, quarter_turns=quarter_turns)
        lying = image is images[2] and quarter_turns == 0
        return None if lying else det

    out = detect_views(upright_only, images, list(P))
    assert out[2] is not None
    expected = detections0[2].body_xy @ A[:2, :2].T + A[:2, 2]
    ok = detections0[2].body_score > 0.5
    assert np.median(np.linalg.norm(out[2].body_xy[ok] - expected[ok], axis=1)) < 5.0


def test_a_view_the_detector_doubts_is_tried_again_at_low_confidence(example, detector, frames0, projections,
                                                                      detections0):
    """A detector that finds the person in cam01 only at its low confidence (as MediaPipe doubts
    a crouching person with hair over the face): the second try finds them and they agree with
    the other views; a second try that finds someone else (the bystander) is not kept."""
    def doubts(found_low):
        def detect(image, roi=None, quarter_turns=0, low_confidence=False):
            if image is frames0[0]:
                return found_low if low_confidence else None
            return detector(image, roi=roi, quarter_turns=quarter_turns)
        return detect

    out = detect_views(doubts(detector(frames0[0], low_confidence=True)), frames0, list(projections))
    assert out[0] is not None
    np.testing.assert_allclose(out[0].box, detections0[0].box, atol=0.02 * detections0[0].height)
    people = [openpose_to_detection(p, "BODY_25B")
              for p in openpose_people(example / "pose2d_openpose_body25b", CAMERAS[0], 0)]
    bystander = detector(frames0[0], roi=min(people, key=lambda d: d.height).box, low_confidence=True)
    assert bystander is not None
    assert detect_views(doubts(bystander), frames0, list(projections))[0] is None
