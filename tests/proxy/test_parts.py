import numpy as np
import pytest

from engine.errors import InputError
from engine.proxy.parts import BODY_PARTS, HAND_PARTS, NUM_PARTS, PALETTE, PART_ID, rgb_to_seg, seg_to_rgb


def test_part_list():
    assert NUM_PARTS == 1 + 22 + 24
    assert PART_ID["background"] == 0
    for side in ("left", "right"):
        assert sum(p.startswith(f"{side}Hand") for p in HAND_PARTS) == 12
    assert {"head", "neck", "hips", "leftArm", "rightForeArm", "leftUpLeg", "rightToeBase"} <= set(BODY_PARTS)


def test_palette_is_fixed_distinct_and_black_for_background():
    assert PALETTE.shape == (NUM_PARTS, 3) and PALETTE.dtype == np.uint8
    assert (PALETTE[0] == 0).all()
    d = np.linalg.norm(PALETTE[:, None].astype(float) - PALETTE[None].astype(float), axis=-1)
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 85
    # ids are a contract with saved datasets: these never change
    assert PALETTE[1].tolist() == [255, 255, 255]
    assert PALETTE[PART_ID["leftHandIndexDistal"]].tolist() == PALETTE[28].tolist()


def test_rgb_round_trip_survives_noise():
    rng = np.random.default_rng(0)
    seg = rng.integers(0, NUM_PARTS, (64, 64)).astype(np.uint8)
    rgb = seg_to_rgb(seg).astype(int) + rng.integers(-20, 21, (64, 64, 3))
    decoded, valid = rgb_to_seg(np.clip(rgb, 0, 255))
    assert valid.all() and (decoded == seg).all()


def test_far_colours_are_flagged():
    rgb = np.full((2, 2, 3), 42, dtype=np.uint8)  # halfway between black and the nearest grid colours
    seg, valid = rgb_to_seg(rgb, max_distance=20)
    assert not valid.any() and (seg == 0).all()


def test_unknown_part_ids_are_named():
    with pytest.raises(InputError, match=r"unknown part id\(s\) \[47\]"):
        seg_to_rgb(np.array([[0, 47]]))
    with pytest.raises(InputError, match="integers"):
        seg_to_rgb(np.array([[0.5]]))
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        rgb_to_seg(np.zeros((4, 4)))
