import json

import numpy as np
import pytest
import torch
from helpers import random_pose, ring_cameras
from PIL import Image

from engine.errors import InputError
from engine.fitting.types import FitResult
from engine.proxy.views import ProxyViews
from engine.io.fit_result import FILES, params_arrays, read_fit, write_fit
from engine.proxy.part_table import build_part_table
from engine.proxy.raycast import ProxyRenderer


@pytest.fixture(scope="module")
def posed(anny32):
    params = random_pose(anny32, 1, 0.2, seed=3)
    params.global_orient = torch.tensor([[0.0, 0.0, 0.4]])
    params.transl = torch.zeros(1, 3)
    params.scale = torch.ones(1)
    out = anny32(params)
    table = build_part_table(anny32)
    cams = ring_cameras(3, size=64, dtype=torch.float32)
    f64 = lambda x: x.double().numpy()  # noqa: E731
    renderer = ProxyRenderer(f64(out.vertices[0]), anny32.faces.numpy(), table.face_part.numpy(),
                             anny32.uv_coords.numpy(), anny32.uv_faces.numpy())
    segs = [renderer.render(f64(cams.K[v]), f64(cams.R_cam_world[v]), f64(cams.t_cam_world[v]), 64, 64).seg
            for v in range(3)]
    seg = torch.as_tensor(np.stack(segs)).to(torch.uint8)
    views = ProxyViews(seg, torch.full((*seg.shape, 2), 0.5), cams)
    result = FitResult(params=params, vertices=out.vertices[0], joints=out.joints[0], keypoints=out.keypoints[0],
                       cameras=cams, residual_px=torch.tensor([0.5, 0.25, 1.0]), correspondences=123, init="test",
                       stage_losses={"global": [3.0, 1.0]}, timings={"total_s": 0.5})
    return params, out, table, views, result


def test_cast_parts_cover_the_body_projection(posed):
    params, out, table, views, _ = posed
    assert all((views.seg[v] > 0).sum() > 50 for v in range(3))
    xy, _ = views.cameras.project(out.vertices[0])
    px = xy[0].round().long()
    inside = (px >= 0).all(1) & (px < 64).all(1)
    # nearly every projected vertex lands on (or next to) a covered pixel
    seg = torch.nn.functional.max_pool2d(views.seg[0][None, None].float(), 3, 1, 1)[0, 0]
    assert (seg[px[inside, 1], px[inside, 0]] > 0).float().mean() > 0.99


def test_write_and_read_roundtrip(tmp_path, anny32, posed):
    params, out, table, views, result = posed
    images = [np.full((64, 64, 3), 90, np.uint8)] * 3
    paths = write_fit(tmp_path / "fit", result, anny32, views, images, {"scene": "x"}, part_table=table)
    assert set(paths) == set(FILES) and all(p.is_file() for p in paths.values())
    assert not list((tmp_path / "fit").glob(".tmp-*"))
    fit = read_fit(tmp_path / "fit")
    a = fit["arrays"]
    assert fit["body"]["model"] == "anny" and fit["meta"] == {"scene": "x"} and fit["correspondences"] == 123
    np.testing.assert_allclose(a["vertices"], out.vertices[0].numpy(), atol=1e-6)
    assert a["faces"].shape == tuple(anny32.faces.shape) and a["keypoints"].shape == (33, 3)
    assert [v["residual_px"] for v in fit["views"]] == [0.5, 0.25, 1.0]
    assert np.allclose(fit["cameras"][1]["K"], views.cameras.K[1].numpy())
    # the stored axis-angle parameters rebuild the same body
    p = params_arrays(result)
    assert np.allclose(fit["params"]["body_pose"], p["body_pose"])
    assert np.array(fit["params"]["body_pose"]).shape[1] == 3
    rebuilt = anny32(type(params)(**{k: torch.as_tensor(np.asarray(fit["params"][k]), dtype=torch.float32)[None]
                                     for k in ("global_orient", "transl", "body_pose", "shape")},
                                  scale=torch.tensor([fit["params"]["scale"]], dtype=torch.float32)))
    assert (rebuilt.vertices[0] - out.vertices[0]).abs().max() < 1e-4
    sheet = Image.open(paths["overlay"])
    assert sheet.size == (128, 3 * 64)
    import trimesh

    mesh = trimesh.load(paths["glb"], force="mesh")
    assert len(mesh.vertices) == len(a["vertices"])


def test_write_without_images(tmp_path, anny32, posed):
    *_, table, views, result = posed
    write_fit(tmp_path, result, anny32, views, None, {}, part_table=table)
    assert (tmp_path / "overlay.png").is_file()


def test_bad_inputs(tmp_path, anny32, posed):
    *_, table, views, result = posed
    with pytest.raises(InputError, match="images"):
        write_fit(tmp_path, result, anny32, views, [np.zeros((64, 64, 3), np.uint8)], {}, part_table=table)
    bad = FitResult(**{**result.__dict__, "vertices": result.vertices * float("nan")})
    with pytest.raises(InputError, match="vertices"):
        write_fit(tmp_path / "nan", bad, anny32, views, None, {}, part_table=table)
    assert not (tmp_path / "nan" / "fit.json").exists()


def test_read_errors_name_the_file_and_field(tmp_path, anny32, posed):
    *_, table, views, result = posed
    with pytest.raises(InputError, match="fit.json: missing"):
        read_fit(tmp_path)
    write_fit(tmp_path, result, anny32, views, None, {}, part_table=table)
    record = json.loads((tmp_path / "fit.json").read_text())
    (tmp_path / "fit.json").write_text(json.dumps({**record, "schema_version": 99}))
    with pytest.raises(InputError, match="schema_version"):
        read_fit(tmp_path)
    (tmp_path / "fit.json").write_text(json.dumps(record))
    arrays = dict(np.load(tmp_path / "fit.npz"))
    np.savez(tmp_path / "fit.npz", **{**arrays, "residual_px": np.zeros(5)})
    with pytest.raises(InputError, match="fit.npz: field 'residual_px'"):
        read_fit(tmp_path)
    del arrays["vertices"]
    np.savez(tmp_path / "fit.npz", **arrays)
    with pytest.raises(InputError, match="fit.npz: field 'vertices' missing"):
        read_fit(tmp_path)


def test_the_fit_is_written_in_the_scene_fit_layout(tmp_path, anny32, posed):
    """Every field and array of ``engine.io.schema.SCENE_FIT``, and no other; a fit written
    before it had its own kind (kind 'diffproxy.fit', schema 1) reads the same; a
    reconstruction's fit.json is refused, naming the file."""
    from engine.io.schema import SCENE_FIT

    *_, table, views, result = posed
    write_fit(tmp_path, result, anny32, views, None, {}, part_table=table)
    record = json.loads((tmp_path / "fit.json").read_text())
    assert (record["kind"], record["schema_version"]) == ("diffproxy.scene_fit", 1)
    assert list(record) == list(SCENE_FIT.fields) and list(record["body"]) == list(SCENE_FIT.body_fields)
    assert [list(c) for c in record["cameras"]] == [list(SCENE_FIT.camera_fields)] * 3
    assert [list(v) for v in record["views"]] == [list(SCENE_FIT.view_fields)] * 3
    assert record["files"] == SCENE_FIT.files and all((tmp_path / f).is_file() for f in SCENE_FIT.files.values())
    assert set(np.load(tmp_path / "fit.npz").files) == set(SCENE_FIT.arrays)
    assert not list(tmp_path.glob(".*"))  # no staging folder, no lock left
    (tmp_path / "fit.json").write_text(json.dumps({**record, "kind": "diffproxy.fit", "schema_version": 1}))
    assert read_fit(tmp_path)["kind"] == "diffproxy.scene_fit"
    (tmp_path / "fit.json").write_text(json.dumps({**record, "kind": "diffproxy.fit", "schema_version": 2}))
    with pytest.raises(InputError, match=f"{tmp_path / 'fit.json'}: field 'kind': a fit written by `diffproxy "
                                         f"reconstruct`"):
        read_fit(tmp_path)
