"""The fit of one scene's proxies on disk (``diffproxy fit``): readable with numpy + json alone
(the add-on and other tools). Its layout is ``engine.io.schema.SCENE_FIT``:

```
out/
  fit.json     schema_version 1, kind "diffproxy.scene_fit", body {model, pose_joint_names, shape_names,
               keypoint_names (the body model's named points)},
               params {global_orient (3,), transl (3,), body_pose (P, 3) axis-angle, shape (S,),
               scale}: the layout of a scene's body.params; cameras[i] {K, R_cam_world,
               t_cam_world, width, height} (OpenCV; refined ones when the fit refined them);
               views[i] {residual_px}; correspondences, init, stage_losses, timings, meta, files
  fit.npz      vertices (V,3), joints (J,3), keypoints (33,3) float64 world metres; faces (F,3)
               int32; vertex_part (V,) uint8; params_<name> as in fit.json; cameras_K (N,3,3),
               cameras_R_cam_world (N,3,3), cameras_t_cam_world (N,3); residual_px (N,)
  fit.glb      the fitted mesh, vertex colours from the part palette
  overlay.png  per view: the input proxy seg | the fitted parts over the image
```

The files are written into a hidden temporary folder beside them and moved into place,
``fit.json`` removed first and moved in last (``engine.io.outdir``): a reader that finds
``fit.json`` finds the rest of the same fit.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import roma
import torch

from engine.body.base import BodyModel, rotation_matrices
from engine.errors import InputError
from engine.fitting.types import FitResult
from engine.proxy.views import ProxyViews
from engine.io.files import read_json, read_npz, require_fields
from engine.io.outdir import OutputFolder
from engine.io.overlay import overlay_sheet
from engine.io.schema import KEYPOINT_NAMES, KEYPOINTS, PARAM_NAMES, SCENE_FIT, layout_of, upgrade
from engine.proxy.part_table import PartTable, build_part_table
from engine.proxy.raycast import ProxyRenderer
from engine.proxy.parts import PALETTE

FILES = SCENE_FIT.files


def params_arrays(result: FitResult) -> dict[str, np.ndarray]:
    """The fitted parameters of body 0, axis-angle, float64, without the batch dimension."""
    p = result.params.detach()

    def rotvec(name, x):
        return roma.rotmat_to_rotvec(rotation_matrices(name, x.double()))[0].cpu().numpy()

    scale = p.scale[0].item() if p.scale is not None else 1.0
    return {"global_orient": rotvec("global_orient", p.global_orient), "transl": p.transl[0].double().cpu().numpy(),
            "body_pose": rotvec("body_pose", p.body_pose), "shape": p.shape[0].double().cpu().numpy(),
            "scale": np.asarray(scale, dtype=np.float64)}


def write_fit(out_dir: Path, result: FitResult, body: BodyModel, views: ProxyViews, images: list[np.ndarray] | None,
              meta: dict | None = None, part_table: PartTable | None = None) -> dict[str, Path]:
    """Write fit.json, fit.npz, fit.glb and overlay.png into ``out_dir``; returns their paths.

    ``images``: the N RGB views (H, W, 3) for the overlay, or None (drawn over the input seg)."""
    out_dir = Path(out_dir)
    n = len(views)
    if images is not None and len(images) != n:
        raise InputError(f"images: {len(images)} images for {n} proxy views")
    part_table = part_table or build_part_table(body)
    arrays = _npz_arrays(result, body, part_table)
    if arrays["vertex_part"].shape[0] != arrays["vertices"].shape[0]:
        raise InputError(f"part_table: {arrays['vertex_part'].shape[0]} vertices, "
                         f"the fit has {arrays['vertices'].shape[0]}")
    record = _record(result, body, meta or {}, arrays)
    with OutputFolder(out_dir, "fit") as folder:
        tmp = folder.tmp()  # staged, then published: fit.json last
        np.savez_compressed(tmp / FILES["npz"], **arrays)
        write_glb(tmp / FILES["glb"], arrays)
        _write_overlay(tmp / FILES["overlay"], arrays, body, views, images, part_table, result.residual_px)
        (tmp / FILES["json"]).write_text(json.dumps(record, indent=1, allow_nan=False))
        folder.publish([FILES[key] for key in ("npz", "glb", "overlay", "json")], FILES["json"])
    return {key: out_dir / name for key, name in FILES.items()}


def _npz_arrays(result: FitResult, body: BodyModel, part_table: PartTable) -> dict[str, np.ndarray]:
    f64 = lambda x: x.detach().double().cpu().numpy()  # noqa: E731
    cams = result.cameras
    arrays = {"vertices": f64(result.vertices), "faces": body.faces.cpu().numpy().astype(np.int32),
              "joints": f64(result.joints), KEYPOINTS: f64(result.keypoints),
              "vertex_part": part_table.vertex_part.cpu().numpy().astype(np.uint8),
              "residual_px": f64(result.residual_px).reshape(-1),
              "cameras_K": f64(cams.K), "cameras_R_cam_world": f64(cams.R_cam_world),
              "cameras_t_cam_world": f64(cams.t_cam_world)}
    arrays.update({f"params_{k}": v for k, v in params_arrays(result).items()})
    for key, value in arrays.items():
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise InputError(f"result.{key}: non-finite values; nothing was written")
    return arrays


def _record(result: FitResult, body: BodyModel, meta: dict, arrays: dict) -> dict:
    cams = result.cameras
    cameras = [{"K": arrays["cameras_K"][i].tolist(), "R_cam_world": arrays["cameras_R_cam_world"][i].tolist(),
                "t_cam_world": arrays["cameras_t_cam_world"][i].tolist(), "width": cams.widths[i],
                "height": cams.heights[i]} for i in range(len(cams))]
    return {
        "schema_version": SCENE_FIT.version, "kind": SCENE_FIT.kind,
        "body": {"model": body.name, "pose_joint_names": list(body.pose_joint_names),
                 "shape_names": list(body.shape_names), KEYPOINT_NAMES: list(body.keypoint_names)},
        "params": {k: arrays[f"params_{k}"].tolist() for k in PARAM_NAMES},
        "cameras": cameras,
        "views": [{"residual_px": float(r)} for r in arrays["residual_px"]],
        "correspondences": int(result.correspondences), "init": result.init,
        "stage_losses": {k: [float(x) for x in v] for k, v in result.stage_losses.items()},
        "timings": {k: float(v) for k, v in result.timings.items()},
        "meta": meta, "files": dict(FILES),
    }


def write_glb(path: Path, arrays: dict) -> None:
    import trimesh

    rgb = PALETTE[arrays["vertex_part"]]
    colors = np.concatenate([rgb, np.full((len(rgb), 1), 255, np.uint8)], axis=1)
    mesh = trimesh.Trimesh(arrays["vertices"], arrays["faces"], vertex_colors=colors, process=False)
    path.write_bytes(mesh.export(file_type="glb"))


def _write_overlay(path: Path, arrays: dict, body: BodyModel, views: ProxyViews, images, part_table: PartTable,
                   residual_px: torch.Tensor) -> None:
    renderer = ProxyRenderer(arrays["vertices"], arrays["faces"], part_table.face_part.cpu().numpy(),
                             body.uv_coords.cpu().numpy(), body.uv_faces.cpu().numpy())
    fitted = np.stack([renderer.render(arrays["cameras_K"][v], arrays["cameras_R_cam_world"][v],
                                       arrays["cameras_t_cam_world"][v], *views.cameras.sizes[v]).seg
                        for v in range(len(views))])
    labels = [f"residual {float(r):.2f} px" for r in residual_px.reshape(-1)]
    overlay_sheet(views.seg.cpu().numpy().astype(np.int64), fitted, images, labels).save(path)


def read_fit(out_dir: Path) -> dict:
    """fit.json's record, with the arrays of fit.npz under ``"arrays"``, of a fit ``diffproxy
    fit`` wrote (an older one in today's names); errors name the file and field."""
    out_dir = Path(out_dir)
    path = out_dir / FILES["json"]
    record = read_json(path, missing=f"{path}: missing (no fit in {out_dir})")
    layout = layout_of(record, path, accept=(SCENE_FIT,))
    for key in ("body", "params", "cameras", "views"):
        if key not in record:
            raise InputError(f"{path}: field '{key}' missing")
    npz = out_dir / FILES["npz"]
    record, arrays = upgrade(record, read_npz(npz), layout)
    require_fields(npz, arrays, layout.arrays)
    n, v = len(record["cameras"]), arrays["vertices"].shape[0]
    checks = {"vertices": (v, 3), "vertex_part": (v,), "residual_px": (n,), "cameras_K": (n, 3, 3),
              "cameras_R_cam_world": (n, 3, 3), "cameras_t_cam_world": (n, 3)}
    for key, shape in checks.items():
        if arrays[key].shape != shape:
            raise InputError(f"{npz}: field '{key}' has shape {arrays[key].shape}, expected {shape} "
                             f"({n} cameras in {FILES['json']})")
    if len(record["views"]) != n:
        raise InputError(f"{path}: field 'views' has {len(record['views'])} entries for {n} cameras")
    return {**record, "arrays": arrays}
