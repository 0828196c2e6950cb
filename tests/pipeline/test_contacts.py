"""engine.pipeline.contacts: heels and toes in contact with the floor, from height and speed with
hysteresis; written into fit.npz and summarised in report.json."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from helpers import write_body_fit

from engine.io.schema import CONTACTS, FLOOR_HEIGHT, RECONSTRUCTION
from engine.pipeline.contacts import (FOOT_LANDMARKS, ContactThresholds, detect_contacts, floor_height,
                                      foot_contacts, hysteresis)
from engine.pipeline.world import WorldFrame

FPS = 60.0


def planted_then_lifted(T=120, lift=(50, 80), floor=0.02, seed=0, noise=0.0):
    """(T, 1, 3): a heel resting at (0.3, 0.1, floor), lifted 15 cm and carried 30 cm forward
    over frames ``lift`` (a half sine up, steady forward), then resting again."""
    x = np.tile([0.3, 0.1, floor], (T, 1)).astype(np.float64)
    a, b = lift
    s = np.clip((np.arange(T) - a) / (b - a), 0, 1)
    x[:, 0] += 0.3 * s
    x[:, 2] += 0.15 * np.sin(np.pi * s)
    x += noise * np.random.default_rng(seed).standard_normal(x.shape)
    return x[:, None]


def runs(mask):
    """[(first, last)] of the True runs."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1))


def test_a_planted_foot_is_in_contact_and_not_while_lifted():
    contact, floor = detect_contacts(planted_then_lifted(), FPS)
    assert floor == pytest.approx(0.02)
    c = contact[:, 0]
    # the lift's first and last frames are still slow and low: contact ends just after 50 and
    # resumes around 80 (the speed spans 0.1 s), never in the middle of the swing
    (a0, a1), (b0, b1) = runs(c)
    assert (a0, b1) == (0, 119) and 48 <= a1 <= 53 and 77 <= b0 <= 83
    assert not c[55:76].any()


def test_noise_does_not_make_contacts_flicker():
    """5 mm noise per frame (a jittery fit): one contact before the lift, one after."""
    for seed in range(5):
        contact, _ = detect_contacts(planted_then_lifted(noise=0.005, seed=seed), FPS)
        assert len(runs(contact[:, 0])) == 2, seed


def test_hysteresis_holds_a_contact_between_the_thresholds():
    """A still heel whose height wavers between 3 and 7 cm over the floor (enter 5, leave 8)
    stays in contact once in; with enter and leave equal, the same heel flickers."""
    height = 0.05 + 0.02 * np.sign(np.sin(np.arange(60) * 0.7))
    height[0] = 0.0
    still = np.zeros(60)
    assert hysteresis(height, still, ContactThresholds()).all()
    assert len(runs(hysteresis(height, still, ContactThresholds(leave_height_m=0.05)))) > 5
    # and the same for the speed: it wavers between enter (0.4 m/s) and leave (0.8 m/s)
    speed = 0.6 + 0.3 * np.sign(np.sin(np.arange(60) * 0.7))
    speed[0] = 0.0
    assert hysteresis(np.zeros(60), speed, ContactThresholds(leave_speed_m_s=1.0)).all()
    assert len(runs(hysteresis(np.zeros(60), speed, ContactThresholds(leave_speed_m_s=0.4)))) > 5


def test_the_floor_is_a_low_percentile_of_the_lowest_foot_point():
    heights = np.full((100, 2), 0.5)
    heights[:, 0] = 0.10  # one foot on the floor, the other lifted
    heights[3, 0] = -0.4  # one frame fitted far too low does not sink the floor
    heights[7, 0] = np.nan
    assert floor_height(heights) == pytest.approx(0.10)
    assert np.isnan(floor_height(np.full((3, 2), np.nan)))


def test_one_frame_has_no_contacts_but_a_floor():
    x = planted_then_lifted()[:1]
    contact, floor = detect_contacts(x, FPS)
    assert contact.shape == (1, 1) and not contact.any() and floor == pytest.approx(0.02)
    contact, _ = detect_contacts(planted_then_lifted(), 0.0)  # no frame rate: no speed, no contact
    assert not contact.any()


def test_unknown_points_are_not_in_contact_and_bad_shapes_are_refused():
    x = planted_then_lifted()
    x[10:13] = np.nan
    c = detect_contacts(x, FPS)[0][:, 0]
    assert not c[10:13].any() and c[20:40].all()
    with pytest.raises(ValueError, match=r"expected points of shape \(T, P, 3\), got \(5, 3\)"):
        detect_contacts(np.zeros((5, 3)), FPS)


def test_foot_contacts_picks_the_heels_and_toes_by_name():
    names = ["nose", "left_heel", "left_foot_index", "right_heel", "right_foot_index"]
    T = 120
    landmarks = np.zeros((T, len(names), 3))
    landmarks[:, 0, 2] = 1.6
    landmarks[:, names.index("left_heel")] = planted_then_lifted(T)[:, 0]
    landmarks[:, names.index("left_foot_index")] = planted_then_lifted(T)[:, 0] + [0.2, 0, 0]
    landmarks[:, names.index("right_heel")] = planted_then_lifted(T, lift=(10, 40))[:, 0] + [0, -0.2, 0]
    landmarks[:, names.index("right_foot_index")] = np.array([0.5, -0.1, 0.5])  # held up the whole time
    c = foot_contacts(landmarks, names, FPS)
    assert list(c.contact) == ["left_heel", "left_toe", "right_heel", "right_toe"]
    assert c.floor == pytest.approx(0.02)
    assert c.contact["left_heel"][:50].all() and not c.contact["right_heel"][15:35].any()
    assert not c.contact["right_toe"].any()
    assert c.frames_in_contact()["right_toe"] == 0
    with pytest.raises(ValueError, match="the landmark table has no right_heel, right_foot_index or right_big_toe$"):
        foot_contacts(landmarks[:, :3], names[:3], FPS)
    # the body model's keypoints call the toe big_toe
    body_names = [n.replace("foot_index", "big_toe") for n in names]
    assert all((foot_contacts(landmarks, body_names, FPS).contact[k] == c.contact[k]).all() for k in c.contact)


@pytest.mark.parametrize("T", [3, 1])
def test_a_saved_reconstruction_carries_the_contacts(tmp_path, anny32, T):
    """A body standing still (millimetres, Y up): every heel and toe in contact in a sequence,
    none in one frame; the floor in the user's units along the up axis."""
    params = anny32.neutral_params(T)
    world = WorldFrame(1000.0, "mm", "+Y", 0.0)
    folder = write_body_fit(tmp_path / "rec", anny32, params, world, fps=FPS)
    with torch.no_grad():
        landmarks = anny32(params).keypoints.double().numpy()
    expected = foot_contacts(landmarks, anny32.keypoint_names, FPS)
    with np.load(folder / "fit.npz") as z:
        assert set(CONTACTS) | {FLOOR_HEIGHT} <= set(z.files) <= set(RECONSTRUCTION.arrays) | set(
            RECONSTRUCTION.optional_arrays)
        assert all(z[k].dtype == bool and z[k].shape == ((T,) if T > 1 else ()) for k in CONTACTS)
        assert all(z[k].all() == (T > 1) for k in CONTACTS)
        assert float(z[FLOOR_HEIGHT]) == pytest.approx(1000 * expected.floor)
        # the floor lies under the feet: in the user's frame (Y up) at the lowest foot point's y
        names = anny32.keypoint_names
        feet = z["landmarks"].reshape(-1, len(names), 3)[:, [names.index(a[-1]) for a in FOOT_LANDMARKS.values()]]
        assert float(z[FLOOR_HEIGHT]) == pytest.approx(feet[..., 1].min(), abs=1e-6)


def test_report_says_how_many_frames_each_point_is_in_contact():
    from engine.pipeline.report import summary

    names = ["left_heel", "left_foot_index", "right_heel", "right_foot_index"]
    c = foot_contacts(np.concatenate([planted_then_lifted()] * 4, axis=1), names, FPS)
    result = SimpleNamespace(frames=list(range(120)), cameras=["c"], fps=FPS,
                             landmark_reprojection_px=np.ones((120, 1)), mask_iou=np.ones((120, 1)), world=WorldFrame(100.0, "cm", "+Z", 0.0), notes=[],
                             timings={"seconds_detect": 0, "seconds_proxies": 0, "seconds_fit": 0}, contacts=c)
    s = json.loads(json.dumps(summary(result, 0.0)))
    assert s["floor_height"] == pytest.approx(2.0)  # centimetres
    assert s["frames_in_contact"] == c.frames_in_contact() and 90 < s["frames_in_contact"]["left_heel"] < 110
