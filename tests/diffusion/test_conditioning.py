"""MediaPipe's evidence as the generator's input channels: rasterised in the frame of a crop
(the same convention as the crops' intrinsics), one channel per limb group and side, per
hand, and the mask."""

import numpy as np
import pytest
import torch

from engine.detect.types import BODY_INDEX, Detection, empty_hands
from engine.diffusion.conditioning import (EVIDENCE_CHANNELS, LIMB_GROUPS, ViewEvidence, evidence_maps, to_crop)
from engine.errors import InputError
from engine.geometry.crop import crop_images, crop_intrinsics

CHANNEL = {name: i for i, name in enumerate(LIMB_GROUPS)}


def _detection(H=200, W=300, score=0.9) -> Detection:
    rng = np.random.default_rng(0)
    body = rng.uniform([40, 30], [260, 180], (33, 2))
    body[BODY_INDEX["left_shoulder"]] = [100, 60]
    body[BODY_INDEX["left_elbow"]] = [100, 120]
    hands_xy, hands_score = empty_hands()
    hands_xy[1] = rng.uniform([150, 100], [170, 120], (21, 2))
    hands_score[1] = 0.8
    mask = np.zeros((H, W), np.uint8)
    mask[50:150, 80:120] = 255
    return Detection(body, np.full(33, score), hands_xy, hands_score, mask, np.array([40, 30, 260, 180.0]))


def test_landmarks_land_where_the_crop_puts_their_pixels():
    """to_crop is the crop's intrinsics applied to pixels: a ray's pixel maps the same way."""
    boxes = torch.tensor([[20.0, -30.0, 260.0, 210.0], [90.0, 40.0, 130.0, 80.0]], dtype=torch.float64)
    K = torch.tensor([[500.0, 0, 150], [0, 500, 100], [0, 0, 1]], dtype=torch.float64).expand(2, 3, 3)
    Kc = crop_intrinsics(K, boxes, 64)
    ray = torch.tensor([0.05, -0.03, 1.0], dtype=torch.float64)
    px = (K @ ray)[:, :2] / (K @ ray)[:, 2:]
    pc = (Kc @ ray)[:, :2] / (Kc @ ray)[:, 2:]
    assert torch.allclose(to_crop(px[:, None], boxes, 64)[:, 0], pc, atol=1e-9)


def test_a_limb_is_a_ridge_along_its_segment_in_its_own_channel():
    det = _detection()
    ev = ViewEvidence.from_detections([det, None], 200, 300)
    box = torch.tensor([[50.0, 0.0, 250.0, 200.0], [0.0, 0.0, 300.0, 300.0]])
    maps = evidence_maps(ev, box, 100)
    assert maps.shape == (2, EVIDENCE_CHANNELS, 100, 100) and maps.min() >= 0 and maps.max() <= 1
    assert maps[1, :-1].max() == 0 and maps[1, -1].max() == 0  # nothing detected: empty channels
    arm = maps[0, CHANNEL["upper_arm_left"]]
    # the shoulder (100, 60) and elbow (100, 120) land at x = (100.5 - 50) / 2 - 0.5 = 24.75, y = 29.75..59.75
    col = arm[45].argmax().item()
    assert abs(col - 24.75) <= 1 and arm[45, col] > 0.85
    assert arm[45, 40] < 1e-3 and arm[80, 25] < 1e-3  # off the segment: dark
    assert maps[0, CHANNEL["upper_arm_right"]][45, 24:26].max() < 0.5  # the other side's channel elsewhere
    right_hand, left_hand = maps[0, len(LIMB_GROUPS) + 1], maps[0, len(LIMB_GROUPS)]
    assert right_hand.max() > 0.7 and left_hand.max() == 0  # only the right hand was found
    mask = maps[0, -1]
    assert mask[50, 25] > 0.9 and mask[10, 80] == 0


def test_scores_scale_the_ridges_and_swapped_sides_swap_channels():
    det = _detection(score=0.5)
    ev = ViewEvidence.from_detections([det, det.swapped_sides()], 200, 300)
    box = torch.tensor([[0.0, 0.0, 300.0, 300.0]] * 2)
    maps = evidence_maps(ev, box, 96)
    assert maps[0, CHANNEL["upper_arm_left"]].max() == pytest.approx(0.5, abs=0.05)
    for name in LIMB_GROUPS:
        mirror = name.replace("left", "@").replace("right", "left").replace("@", "right")
        assert torch.allclose(maps[0, CHANNEL[name]], maps[1, CHANNEL[mirror]], atol=1e-6)


def test_the_mask_is_cropped_like_the_image():
    det = _detection()
    ev = ViewEvidence.from_detections([det], 200, 300)
    box = torch.tensor([[70.0, 40.0, 170.0, 140.0]])
    expected = crop_images(torch.as_tensor(det.mask)[None, None].float() / 255, box, 50)[0, 0]
    assert torch.allclose(evidence_maps(ev, box, 50)[0, -1], expected)


def test_bad_evidence_is_named():
    with pytest.raises(InputError, match="ViewEvidence.body"):
        ViewEvidence(np.zeros((2, 30, 3)), np.zeros((2, 2, 21, 3)), np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(InputError, match="ViewEvidence.mask"):
        ViewEvidence(np.zeros((2, 33, 3)), np.zeros((2, 2, 21, 3)), np.zeros((2, 4, 4)))
    with pytest.raises(InputError, match="mask"):
        ViewEvidence.from_detections([_detection()], 100, 100)
    ev = ViewEvidence.from_detections([_detection()], 200, 300)
    with pytest.raises(InputError, match="boxes"):
        evidence_maps(ev, torch.zeros(2, 4), 32)


@pytest.mark.blender
@pytest.mark.slow
def test_packing_a_render_carries_mediapipes_evidence_aligned_with_its_crops(held_out, tmp_path, monkeypatch):
    """The pack runs the reconstruct pipeline's detector on the renders once (cached), and the
    training batches' evidence lies on the person: its mask channel covers the true part
    pixels of the same crop, its limbs sit inside them."""
    import shutil

    from engine.diffusion.data import BatchSpec, TrainBatches
    from engine.diffusion.packed import PackedScenes, pack_dataset

    shutil.copytree(held_out, tmp_path / "d", symlinks=True)
    packed = PackedScenes.open(pack_dataset(tmp_path / "d"))
    found = (packed.evidence.body[:, :, 2] > 0.5).sum(axis=1)
    assert (found >= 20).sum() >= 3, found  # a standing person, 4 views of 384 px
    assert (tmp_path / "d" / "packed_detections" / "scene_000000.npz").is_file()
    batches = TrainBatches(packed.folder, [0], BatchSpec(64, 1, 4, 4, 0, True, 7, evidence=True), 4)
    checked = 0
    for step in range(4):
        b = batches[step]
        assert b["evidence"].shape == (1, 4, EVIDENCE_CHANNELS, 64, 64)
        body = b["seg"][0] > 0
        for v in range(4):
            mask = b["evidence"][0, v, -1] > 0.5
            limbs = b["evidence"][0, v, :len(LIMB_GROUPS)].amax(0) > 0.5
            if body.sum() < 50 or mask.sum() < 50:
                continue
            iou = (mask & body[v]).sum() / (mask | body[v]).sum()
            assert iou > 0.6, (step, v, float(iou))
            assert (limbs & body[v]).sum() > 0.8 * limbs.sum(), (step, v)
            checked += 1
    assert checked >= 10, checked
    # packed again (the packed folder lost): the cached detections serve, MediaPipe never loads;
    # a scene whose scene.json changed is detected anew
    import engine.detect

    def no_detector(*args, **kwargs):
        raise AssertionError("MediaPipe was loaded")

    monkeypatch.setattr(engine.detect, "MediaPipeDetector", no_detector)
    shutil.rmtree(tmp_path / "d" / "packed")
    again = PackedScenes.open(pack_dataset(tmp_path / "d"))
    assert np.array_equal(again.evidence.body, packed.evidence.body)
    (tmp_path / "d" / "scene_000000" / "scene.json").touch()
    with pytest.raises(AssertionError, match="MediaPipe was loaded"):
        pack_dataset(tmp_path / "d")
