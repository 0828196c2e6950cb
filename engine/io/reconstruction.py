"""A reconstruction on disk, in the calibration's own world frame and units (so that it lines
up with the user's cameras), readable with numpy + json alone:

```
out/
  fit.json      schema_version 2, kind "diffproxy.fit" (``engine.io.schema.RECONSTRUCTION``), body {model,
                pose_joint_names, shape_names, landmark_names (the landmark table's), part_names
                (vertex_part's)}, params (user frame: a forward pass of the
                body model with them gives the vertices below), cameras[i] {name, K, dist,
                R_cam_world, t_cam_world, width, height} (the images' sizes), world
                {world_units_per_metre, unit, up_axis}, frames, fps, rig {rest_shape_frame,
                vertex_error_max (user units)} or null, views[i] {name, residual_px,
                mask_iou}, notes, timings, meta, files
  fit.npz       vertices (V,3), joints (J,3), landmarks (L,3): user frame; faces (F,3); vertex_part
                (V,); params_<name>; cameras_K/R_cam_world/t_cam_world; residual_px (N,), mask_iou
                (N,); frames (T,), fps; uv_coords (U,2), uv_faces (F,3). The rig (Anny; see
                ``engine.io.rig``): rig_bone_names (J,), rig_parents (J,) (-1: root), rig_rest
                (J,4,4), rig_length (J,), rest_vertices (V,3), skin_index/skin_weight (V,S),
                rig_pose (J,4,4) per frame, rig_vertex_error per frame: user frame, a posed
                vertex is sum_s skin_weight * rig_pose[i] @ inv(rig_rest[i]) @ rest vertex
                (i = skin_index). Foot contacts (``engine.pipeline.contacts``):
                contact_left_heel/left_toe/right_heel/right_toe bool per frame (one frame: False),
                floor_height () the floor's height along world.up_axis, user units. A sequence
                (T > 1) puts a leading frame axis on vertices, joints, landmarks, params_*,
                residual_px, mask_iou, rig_pose, rig_vertex_error, contact_*.
  fit.glb       the body of the first frame (user frame), coloured by part
  overlay_<camera>.jpg, contact_sheet.jpg   the fitted body over the (undistorted) footage
  report.json   the summary (the --json line) with the per-frame, per-view figures, floor_height and
                frames_in_contact per heel and toe
```
Files are written into a temporary folder and moved into place, ``fit.json`` removed first and
moved in last (``engine.io.outdir``): a folder with a ``fit.json`` holds one run's files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import roma
import torch

from engine.geometry.camera import project_array
from engine.io.files import strict_json
from engine.io.fit_result import write_glb
from engine.io.rig import rig_arrays
from engine.io.schema import (CONTACT_SHEET, CONTACTS, FLOOR_HEIGHT, LANDMARK_NAMES, LANDMARKS, PROXY_SHEET,
                              RECONSTRUCTION, overlay_name)
from engine.proxy.parts import PART_NAMES

PREVIEW_HEIGHT = 480  # the contact sheet's rows


def user_params(rec) -> dict[str, np.ndarray]:
    """The fitted parameters in the user's frame: x_user = s R^T x_engine, so the placement
    (R_b, t_b, scale_b) becomes (R^T R_b, s R^T t_b, s scale_b)."""
    p = rec.params
    R = torch.as_tensor(rec.world.R_engine_user, dtype=torch.float64)
    s = rec.world.units_per_metre
    orient = R.T @ roma.rotvec_to_rotmat(p.global_orient.double())
    return {"global_orient": roma.rotmat_to_rotvec(orient).numpy(), "transl": s * (p.transl.double() @ R).numpy(),
            "body_pose": p.body_pose.double().numpy(), "shape": p.shape.double().numpy(),
            "scale": s * p.scale.double().numpy()}


def contact_arrays(rec) -> dict[str, np.ndarray]:
    """The feet's contacts (``engine.pipeline.contacts``), when the reconstruction has them:
    ``contact_<point>`` (T,) bool and ``floor_height``, the floor's engine Z in the user's units:
    its height along the world's up axis (the plane up . x_user = floor_height)."""
    c = getattr(rec, "contacts", None)
    if c is None:
        return {}
    out = {name: np.asarray(c.contact[name[len("contact_"):]], bool) for name in CONTACTS}
    out[FLOOR_HEIGHT] = np.asarray(c.floor * rec.world.units_per_metre, np.float64)
    return out


def write_reconstruction(folder, rec, body, part_table, summary: dict, previews: dict | None = None,
                         overlay_scale: float = 1.0) -> dict:
    """Write the outputs into ``folder`` (an ``engine.io.outdir.OutputFolder``, or a path: then
    one is opened for this write): staged, then published with ``fit.json`` last."""
    from engine.io.outdir import OutputFolder

    if not isinstance(folder, OutputFolder):
        with OutputFolder(Path(folder), "write") as opened:
            return write_reconstruction(opened, rec, body, part_table, summary, previews, overlay_scale)
    w = rec.world
    seq = len(rec.frames) > 1
    layout = RECONSTRUCTION
    arrays = {"vertices": w.points_to_user(rec.vertices), "joints": w.points_to_user(rec.joints),
              LANDMARKS: w.points_to_user(rec.landmarks), "faces": body.faces.cpu().numpy().astype(np.int32),
              "vertex_part": part_table.vertex_part.cpu().numpy().astype(np.uint8),
              "residual_px": rec.landmark_reprojection_px, "mask_iou": rec.mask_iou,
              "frames": np.asarray(rec.frames, np.int64), "fps": np.asarray(rec.fps, np.float64),
              "uv_coords": body.uv_coords.cpu().numpy().astype(np.float32),
              "uv_faces": body.uv_faces.cpu().numpy().astype(np.int32)}
    arrays.update({f"params_{k}": v for k, v in user_params(rec).items()})
    rig = rig_arrays(body, rec.params, w, w.points_to_user(rec.vertices))
    arrays.update(rig)
    arrays.update(contact_arrays(rec))
    cams = rec.calibration.cameras
    arrays.update(cameras_K=np.stack([c.K for c in cams]), cameras_R_cam_world=np.stack([c.R_cam_world for c in cams]),
                  cameras_t_cam_world=np.stack([c.t_cam_world for c in cams]))
    if not seq:  # one frame: no frame axis
        arrays = {k: v[0] if k in layout.per_frame else v for k, v in arrays.items()}
    record = {
        "schema_version": layout.version, "kind": layout.kind,
        "body": {"model": body.name, "pose_joint_names": list(body.pose_joint_names),
                 "shape_names": list(body.shape_names), LANDMARK_NAMES: list(rec.landmark_names),
                 "part_names": list(PART_NAMES)},
        "params": {k[7:]: v.tolist() for k, v in arrays.items() if k.startswith("params_")},
        "cameras": [{"name": c.name, "K": c.K.tolist(), "dist": c.dist.tolist(), "R_cam_world": c.R_cam_world.tolist(),
                     "t_cam_world": c.t_cam_world.tolist(), "width": int(c.width), "height": int(c.height)}
                    for c in cams],
        "world": w.record(), "frames": list(rec.frames), "fps": rec.fps,
        "rig": ({"rest_shape_frame": rec.frames[0],
                 "vertex_error_max": float(rig["rig_vertex_error"].max())} if rig else None),
        "views": [{"name": n, "residual_px": _quiet(np.nanmedian, rec.landmark_reprojection_px[:, i]),
                   "mask_iou": _quiet(np.nanmean, rec.mask_iou[:, i])} for i, n in enumerate(rec.cameras)],
        "notes": rec.notes, "timings": rec.timings, "meta": summary, "files": dict(layout.files),
    }
    files = layout.files
    tmp = folder.tmp()  # staged, then published: fit.json last
    np.savez_compressed(tmp / files["npz"], **arrays)
    first = {k: (v[0] if seq and k in ("vertices",) else v) for k, v in arrays.items()}
    write_glb(tmp / files["glb"], first)
    names = _write_previews(tmp, rec, body, part_table, previews, overlay_scale) if previews else []
    (tmp / files["report"]).write_text(json.dumps(strict_json(summary), indent=1, allow_nan=False))
    (tmp / files["json"]).write_text(json.dumps(strict_json(record), indent=1, allow_nan=False))
    return folder.publish([files["npz"], files["glb"], files["report"], *names, files["json"]], files["json"],
                          replaced=_earlier_outputs(folder.path))


def _earlier_outputs(out: Path) -> list[str]:
    """The files an earlier reconstruction wrote into ``out``, known from its ``fit.json`` (its
    cameras' overlays): only those are removed when a new one does not write them again, never
    a user's file that happens to match a pattern."""
    try:
        record = json.loads((out / RECONSTRUCTION.files["json"]).read_text())
        cameras = [c["name"] for c in record["cameras"]] if record.get("kind") == RECONSTRUCTION.kind else []
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [overlay_name(c) for c in cameras if isinstance(c, str) and "/" not in c] + [PROXY_SHEET]


def _quiet(fn, x) -> float | None:
    """nanmedian / nanmean of x, None when all of it is NaN (a camera that never saw the person)."""
    x = np.asarray(x, dtype=np.float64)
    return float(fn(x)) if np.isfinite(x).any() else None


def _write_previews(folder: Path, rec, body, part_table, previews: dict, overlay_scale: float = 1.0) -> list[str]:
    """previews: frame -> {camera: RGB}. One overlay per camera (the first preview frame, at
    ``overlay_scale`` times the footage's size, to judge the fit to the pixel) and a contact
    sheet (rows: preview frames, columns: cameras, PREVIEW_HEIGHT px high)."""
    from PIL import Image

    rows, names = [], []
    for k, (frame, images) in enumerate(sorted(previews.items())):
        t = rec.frames.index(frame)
        tiles = [_overlay(rec, body, part_table, t, v, images[c]) for v, c in enumerate(rec.cameras) if c in images]
        if k == 0:
            for v, c in enumerate(rec.cameras):
                if c in images:
                    height = max(16, round(images[c].shape[0] * overlay_scale))
                    names.append(overlay_name(c))
                    Image.fromarray(_overlay(rec, body, part_table, t, v, images[c], height)).save(
                        folder / names[-1], quality=92)
        h = min(t.shape[0] for t in tiles)
        rows.append(np.concatenate([t[:h] for t in tiles], axis=1))
    width = min(r.shape[1] for r in rows)
    Image.fromarray(np.concatenate([r[:, :width] for r in rows], axis=0)).save(folder / CONTACT_SHEET, quality=88)
    names.append(CONTACT_SHEET)
    if rec.first_proxies is not None and rec.frames[0] in previews:
        Image.fromarray(proxy_sheet(rec, previews[rec.frames[0]])).save(folder / PROXY_SHEET, quality=90)
        names.append(PROXY_SHEET)
    return names


def proxy_sheet(rec, images: dict) -> np.ndarray:
    """The first frame's sampled proxies over the footage: per view that showed the person,
    its crop (lens distortion removed) beside the same crop with the aggregated parts painted
    on in the palette, and the parts where the K samples agree shown brighter (their weight)."""
    import cv2
    import torch

    from engine.geometry.crop import crop_images
    from engine.proxy.parts import PALETTE

    g, tiles = rec.first_proxies, []
    for k, v in enumerate(g.views):
        cam = rec.calibration.cameras[v]
        image = images[rec.cameras[v]]
        image = cv2.undistort(image, cam.K, cam.dist) if np.any(cam.dist) else image
        S = PREVIEW_HEIGHT // 2
        crop = crop_images(torch.tensor(image).permute(2, 0, 1)[None].float(), g.boxes[k:k + 1].float(), S)
        crop = crop[0].permute(1, 2, 0).numpy()
        seg = cv2.resize(g.proxy.seg[k].numpy().astype(np.uint8), (S, S), interpolation=cv2.INTER_NEAREST)
        weight = cv2.resize(g.proxy.weight[k].float().numpy(), (S, S), interpolation=cv2.INTER_NEAREST)
        painted = crop.copy()
        on = seg > 0
        alpha = (0.35 + 0.5 * weight[on])[:, None]
        painted[on] = (1 - alpha) * painted[on] + alpha * PALETTE[seg[on]]
        tiles.append(np.concatenate([crop, painted], axis=0).clip(0, 255).astype(np.uint8))
    return np.concatenate(tiles, axis=1)


def _body_seg(renderer, vertices: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray, width: int,
              height: int) -> np.ndarray:
    """(height, width) part ids of the body as the pinhole camera sees it, rays cast only inside
    the box its projected vertices span (a person fills a tenth of a full-size frame)."""
    seg = np.zeros((height, width), np.uint8)
    uv, depth = project_array(vertices, K, R, t)
    if not (depth > 1e-6).all():  # part of the body behind the camera: no box, cast everywhere
        return renderer.render(K, R, t, width, height).seg
    x0, y0 = np.floor(np.clip(uv.min(0) - 2, 0, [width, height])).astype(int)
    x1, y1 = np.ceil(np.clip(uv.max(0) + 3, 0, [width, height])).astype(int)
    if x1 <= x0 or y1 <= y0:
        return seg
    shifted = K.copy()
    shifted[0, 2] -= x0
    shifted[1, 2] -= y0
    seg[y0:y1, x0:x1] = renderer.render(shifted, R, t, x1 - x0, y1 - y0).seg
    return seg


def _overlay(rec, body, part_table, t: int, v: int, image: np.ndarray, height: int = PREVIEW_HEIGHT) -> np.ndarray:
    """The fitted body's parts over view v's footage (lens distortion removed), ``height`` px high."""
    import cv2
    from PIL import Image, ImageDraw, ImageFont

    from engine.proxy.parts import PALETTE
    from engine.proxy.raycast import ProxyRenderer

    f = height / image.shape[0]
    small = image if f == 1 else cv2.resize(image, (round(image.shape[1] * f), height), interpolation=cv2.INTER_AREA)
    cam = rec.calibration.cameras[v].scaled(small.shape[1], small.shape[0])
    if np.any(cam.dist):
        small = cv2.undistort(small, cam.K, cam.dist)
    R, tc = rec.world.camera_to_engine(cam.R_cam_world, cam.t_cam_world)
    renderer = ProxyRenderer(rec.vertices[t], body.faces.cpu().numpy(), part_table.face_part.cpu().numpy(),
                             body.uv_coords.cpu().numpy(), body.uv_faces.cpu().numpy())
    seg = _body_seg(renderer, rec.vertices[t], cam.K, R, tc, small.shape[1], small.shape[0])
    out = small.astype(np.float32)
    on = seg > 0
    out[on] = 0.45 * out[on] + 0.55 * PALETTE[seg[on]]
    img = Image.fromarray(out.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=max(11, height // 45))
    draw.text((4, 4), font=font,
              text=f"{rec.cameras[v]} frame {rec.frames[t]}  {rec.landmark_reprojection_px[t, v]:.1f} px  "
                   f"IoU {rec.mask_iou[t, v]:.2f}", fill=(255, 255, 255))
    return np.asarray(img)
