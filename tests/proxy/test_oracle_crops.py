"""Exact hand crops (the oracle's hand refinement) of a scene written here by the synth
proxy pass (no Blender)."""

import pytest
import torch
from helpers import write_proxy_scene

from engine.evaluation.proxies import scene_cameras
from engine.geometry.crop import square_boxes
from engine.io.scene import read_scene
from engine.proxy.hands import HANDS
from engine.proxy.lookup import surface_points
from engine.proxy.oracle_crops import cast_crops, oracle_hand_crops
from engine.proxy.raycast import ProxyRenderer

SIZE = 96


@pytest.fixture(scope="module")
def scene(tmp_path_factory, anny32, anny_proxy):
    folder = tmp_path_factory.mktemp("crops") / "scene_000000"
    write_proxy_scene(folder, 0, anny32, anny_proxy, SIZE, 2)
    return read_scene(folder)


@pytest.fixture(scope="module")
def renderer(scene, anny32, anny_proxy):
    return ProxyRenderer(scene.gt["vertices"], anny32.faces.numpy(), anny_proxy.part_table.face_part.numpy(),
                         anny32.uv_coords.double().numpy(), anny32.uv_faces.numpy())


def _views(scene):
    return torch.as_tensor(scene.proxies["seg"]), torch.as_tensor(scene.proxies["uv"]), scene_cameras(scene, [0, 1])


def test_a_crop_of_the_whole_view_is_the_view(scene, renderer):
    seg, uv, cams = _views(scene)
    out = cast_crops(renderer, cams, seg, scene.proxies["depth"], [0, 1], square_boxes(2, SIZE, SIZE))
    assert torch.equal(out.seg, seg) and torch.allclose(out.uv, uv, atol=1e-6)
    assert torch.allclose(out.cameras.K, cams.K) and out.source == [0, 1]


def test_hand_crops_magnify_each_hand_and_stay_pixel_exact(scene, anny32, anny_proxy):
    seg, _, cams = _views(scene)
    crops = oracle_hand_crops(seg, scene.proxies["depth"], cams, scene.gt["vertices"], anny32,
                              anny_proxy.part_table.face_part, 4)
    assert crops is not None and len(crops.source) >= 2 and crops.cameras.width == SIZE
    hand_ids = torch.tensor(HANDS["left"] + HANDS["right"])
    verts = torch.as_tensor(scene.gt["vertices"])[None]
    for i, v in enumerate(crops.source):
        in_crop, in_view = torch.isin(crops.seg[i], hand_ids), torch.isin(seg[v], hand_ids)
        assert in_crop.sum() > 4 * in_view.sum()  # the hand seen at several times the view's resolution
        # every crop pixel's (part, u, v) names the body point whose projection is that pixel
        ys, xs = torch.nonzero(crops.seg[i] > 0, as_tuple=True)
        hit = anny_proxy.lookup.query(crops.seg[i][ys, xs].long(), crops.uv[i][ys, xs].double())
        assert hit.valid.float().mean() > 0.99
        points = surface_points(verts, anny32.faces, hit.face[hit.valid], hit.bary[hit.valid])[0]
        pixels, _ = crops.cameras.subset([i]).to(torch.float64).project(points)
        target = torch.stack([xs, ys], dim=-1)[hit.valid].double()
        assert (pixels[0] - target).norm(dim=-1).quantile(0.99) < 0.05


def test_an_occluder_in_the_view_hides_what_is_behind_it_in_the_crop(scene, renderer):
    seg, _, cams = _views(scene)
    depth = scene.proxies["depth"].copy()
    occluded_seg = seg.clone()
    occluded_seg[0, :, SIZE // 2:] = 0  # the right half of view 0: an object 10 cm from the camera
    depth[0, :, SIZE // 2:] = 0.1
    box = square_boxes(1, SIZE, SIZE)
    out = cast_crops(renderer, cams, occluded_seg, depth, [0], box)
    assert seg[0, :, SIZE // 2:].any() and not out.seg[0, :, SIZE // 2:].any()
    assert torch.equal(out.seg[0, :, : SIZE // 2], seg[0, :, : SIZE // 2])
    depth[0, :, SIZE // 2:] = 100.0  # the same object far behind the body hides nothing
    assert torch.equal(cast_crops(renderer, cams, occluded_seg, depth, [0], box).seg, seg[:1])
    # a crop that reaches past the view's edge is empty there
    half = cast_crops(renderer, cams, seg, scene.proxies["depth"], [0], box + torch.tensor([SIZE / 2, 0, SIZE / 2, 0]))
    assert not half.seg[0, :, SIZE // 2:].any()
