"""Crops with their intrinsics, the proxy <-> image codec, the packed set and its batches."""

import numpy as np
import pytest
import torch
from helpers import ring_cameras, write_proxy_scene

from engine.diffusion.codec import PixelCodec, decode_proxy_images, proxy_images
from engine.diffusion.data import BatchSpec, TrainBatches
from engine.proxy.hands import hand_boxes
from engine.diffusion.packed import PackedScenes, pack_dataset
from engine.errors import InputError
from engine.geometry.crop import crop_cameras, crop_images
from engine.proxy.parts import NUM_PARTS, PART_ID
from engine.proxy.raycast import ProxyRenderer

SIZE, VIEWS = 48, 3


def test_a_crop_moves_pixels_where_its_intrinsics_say():
    cams = ring_cameras(2, 64)
    X = torch.rand(30, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 0.6 - 0.3
    boxes = torch.tensor([[10.0, 4.0, 42.0, 36.0], [-8.0, -8.0, 72.0, 72.0]])
    cropped = crop_cameras(cams, boxes, 40)
    px, _ = cams.project(X)
    qx, _ = cropped.project(X)
    scale = 40 / (boxes[:, 2] - boxes[:, 0])
    expect = (px + 0.5 - boxes[:, None, :2].double()) * scale[:, None, None].double() - 0.5
    assert torch.allclose(qx, expect, atol=1e-9)
    # resampling agrees with the intrinsics: a ramp image holding each pixel's own coordinates,
    # cropped bilinearly, holds at each crop pixel the source point the inverse mapping names
    ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    ramp = torch.stack([xs, ys])[None].expand(2, 2, 64, 64)
    inner = torch.tensor([[10.0, 4.0, 42.0, 36.0], [20.5, 8.25, 50.5, 38.25]])
    out = crop_images(ramp, inner, 40)
    j = torch.arange(40.0)
    for v in range(2):
        s = (inner[v, 2] - inner[v, 0]) / 40
        expect_x = (j + 0.5) * s + inner[v, 0] - 0.5
        expect_y = (j + 0.5) * s + inner[v, 1] - 0.5
        assert torch.allclose(out[v, 0], expect_x[None].expand(40, 40), atol=1e-4)
        assert torch.allclose(out[v, 1], expect_y[:, None].expand(40, 40), atol=1e-4)
    with pytest.raises(InputError, match="boxes"):
        crop_cameras(cams, torch.tensor([[0.0, 0.0, -1.0, 5.0]] * 2), 40)


def test_proxy_images_decode_exactly_and_pixels_fold_losslessly():
    g = torch.Generator().manual_seed(0)
    seg = torch.randint(0, NUM_PARTS, (2, 3, 16, 16), generator=g).to(torch.uint8)
    uv = torch.rand(2, 3, 16, 16, 2, generator=g) * (seg[..., None] > 0)
    images = proxy_images(seg, uv)
    assert images.shape == (2, 3, 2, 3, 16, 16) and images.min() >= -1 and images.max() <= 1
    seg2, uv2 = decode_proxy_images(images)
    assert torch.equal(seg2, seg) and torch.allclose(uv2, uv, atol=1e-6)
    codec = PixelCodec(4)
    flat = images.reshape(-1, 3, 16, 16)
    assert codec.encode(flat).shape == (12, 48, 4, 4)
    assert torch.equal(codec.decode(codec.encode(flat)), flat)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, anny32, anny_proxy):
    root = tmp_path_factory.mktemp("diffusion_data")
    for i in range(2):
        write_proxy_scene(root / f"scene_{i:06d}", i, anny32, anny_proxy, SIZE, VIEWS, images="palette")
    return root


def test_pack_once_then_reuse(dataset):
    packed = pack_dataset(dataset)
    p = PackedScenes.open(packed)
    assert len(p) == 2 and p.rgb.shape == (2 * VIEWS, SIZE, SIZE, 3) and p.uv.dtype == np.float16
    stamp = (packed / "rgb.npy").stat().st_mtime_ns
    assert pack_dataset(dataset) == packed and (packed / "rgb.npy").stat().st_mtime_ns == stamp
    assert not list(dataset.glob(".packed*"))


def test_batches_are_a_function_of_the_step_and_their_cameras_see_the_body(dataset, anny32, anny_proxy):
    packed = pack_dataset(dataset)
    spec = BatchSpec(image_size=32, batch_size=2, min_views=1, max_views=3, hand_crops=0, augment=True, seed=3)
    batches = TrainBatches(packed, [0, 1], spec, length=10)
    a, b = batches[4], batches[4]
    assert all(torch.equal(a[k], b[k]) for k in a)
    counts = {batches[s]["rgb"].shape[1] for s in range(10)}
    assert counts <= {1, 2, 3} and len(counts) > 1
    assert batches[0]["rgb"].min() >= -1 and batches[0]["rgb"].max() <= 1
    # each crop's parts are what an exact render with the crop's camera shows: identical for
    # the unaugmented full box; for zoomed and shifted crops, the same silhouette up to the
    # nearest-pixel resampling (these bodies are 30 px tall, with limbs 1-2 px wide)
    for augment, agree in ((False, 1.0), (True, 0.7)):
        crops = TrainBatches(packed, [0, 1], BatchSpec(SIZE, 2, 1, VIEWS, augment=augment, seed=5), length=3)
        for s in range(3):
            batch = crops[s]
            for i in range(2):
                X = np.load(dataset / crops.packed.name(int(batch["scene"][i])) / "gt.npz")["vertices"]
                renderer = ProxyRenderer(X, anny32.faces.numpy(), anny_proxy.part_table.face_part.numpy(),
                                         anny32.uv_coords.numpy(), anny32.uv_faces.numpy())
                for v in range(batch["K"].shape[1]):
                    exact = torch.as_tensor(renderer.render(batch["K"][i, v].numpy(), batch["R_cam_world"][i, v].numpy(),
                                                            batch["t_cam_world"][i, v].numpy(), SIZE, SIZE).seg)
                    crop = batch["seg"][i, v].long()
                    body = (exact > 0) | (crop > 0)
                    same = (exact == crop) if not augment else ((exact > 0) == (crop > 0))
                    assert (same & body).sum() / body.sum() >= agree - 1e-9


def test_hand_boxes_frame_each_hand():
    seg = torch.zeros(2, 64, 64, dtype=torch.uint8)
    seg[0, 10:14, 40:46] = PART_ID["leftHandIndexProximal"]
    seg[1, 50:53, 5:7] = PART_ID["rightHandPalmRadial"]
    seg[1, 30:40, 30:40] = PART_ID["hips"]
    found = hand_boxes(seg, min_area=6 / 64**2, margin=1.5, min_side=4 / 64)
    assert [(v, side) for v, side, _ in found] == [(0, "left"), (1, "right")]
    box = found[0][2]
    assert torch.allclose(box, torch.tensor([43 - 4.5, 12 - 4.5, 43 + 4.5, 12 + 4.5]))


def test_batches_with_hand_crops_add_views(dataset):
    packed = pack_dataset(dataset)
    spec = BatchSpec(image_size=32, batch_size=1, min_views=2, max_views=2, hand_crops=2, augment=False)
    batch = TrainBatches(packed, [0], spec, length=20)
    counts = {batch[s]["rgb"].shape[1] for s in range(20)}
    assert counts == {2, 3, 4}
