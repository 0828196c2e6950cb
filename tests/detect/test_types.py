"""Detection: names, shapes, the npz round trip."""

import numpy as np
import pytest

from engine.detect import BODY_LANDMARKS, HAND_LANDMARKS, Detection
from engine.errors import InputError


def test_names():
    assert len(BODY_LANDMARKS) == 33 and BODY_LANDMARKS[0] == "nose" and BODY_LANDMARKS[-1] == "right_foot_index"
    assert len(HAND_LANDMARKS) == 21 and HAND_LANDMARKS[0] == "wrist" and HAND_LANDMARKS[-1] == "pinky_tip"
    import mediapipe as mp

    assert BODY_LANDMARKS == tuple(n.lower() for n in mp.solutions.pose.PoseLandmark._member_names_)
    assert HAND_LANDMARKS == tuple(n.lower() for n in mp.solutions.hands.HandLandmark._member_names_)


@pytest.mark.parametrize("with_mask", [True, False])
def test_npz_round_trip(tmp_path, with_mask):
    rng = np.random.default_rng(0)
    hands = rng.random((2, 21, 2))
    hands[1] = np.nan
    det = Detection(rng.random((33, 2)), rng.random(33), hands, np.r_[[np.ones(21)], [np.zeros(21)]],
                    rng.integers(0, 256, (6, 5), dtype=np.uint8) if with_mask else None, np.array([1.0, 2, 3, 4]))
    np.savez(tmp_path / "d.npz", **det.to_npz_dict())
    back = Detection.from_npz_dict(np.load(tmp_path / "d.npz"))
    for k, v in det.to_npz_dict().items():
        np.testing.assert_array_equal(getattr(back, k) if k != "mask" or with_mask else np.zeros((0, 0)), v)
    assert (back.mask is None) == (not with_mask)


def test_bad_shapes_name_the_field():
    with pytest.raises(InputError, match="body_xy"):
        Detection(np.zeros((17, 2)), np.zeros(33), np.zeros((2, 21, 2)), np.zeros((2, 21)), None, np.zeros(4))
    with pytest.raises(InputError, match="mask"):
        Detection(np.zeros((33, 2)), np.zeros(33), np.zeros((2, 21, 2)), np.zeros((2, 21)), np.zeros((4, 4)),
                  np.zeros(4))
    with pytest.raises(InputError, match="cache.npz.*box"):
        Detection.from_npz_dict({"body_xy": np.zeros((33, 2))}, name="cache.npz")


def test_swapped_sides():
    rng = np.random.default_rng(2)
    det = Detection(rng.random((33, 2)), rng.random(33), rng.random((2, 21, 2)), rng.random((2, 21)), None,
                    np.zeros(4))
    sw = det.swapped_sides()
    i = {n: k for k, n in enumerate(BODY_LANDMARKS)}
    for a, b in (("left_shoulder", "right_shoulder"), ("mouth_left", "mouth_right"), ("nose", "nose"),
                 ("left_foot_index", "right_foot_index"), ("right_eye_outer", "left_eye_outer")):
        np.testing.assert_array_equal(sw.body_xy[i[a]], det.body_xy[i[b]])
        assert sw.body_score[i[a]] == det.body_score[i[b]]
    np.testing.assert_array_equal(sw.hands_xy[0], det.hands_xy[1])
    np.testing.assert_array_equal(sw.swapped_sides().body_xy, det.body_xy)
