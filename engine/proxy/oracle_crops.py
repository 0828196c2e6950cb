"""Exact proxies of hand crops: what the paper's hand refinement gives the fitting when the
proxies are perfect (``diffproxy evaluate --proxies gt --hand-crops N``).

Each hand found in a view's part map (``hand_boxes``, the sampler's own framing) becomes a
square crop of the view's size with adjusted intrinsics (``engine.geometry.crop``); the
true body is ray-cast into it by the synth proxy pass (``ProxyRenderer``), so the crop
shows the hand at up to 8x the view's resolution. A scene does not store its occluders;
a crop pixel counts as hidden where the view itself, at the pixel its ray passes through,
shows no body but something at least ``tolerance`` metres nearer than the body point (the
view's depth map), and as empty where its ray leaves the view's image (the sampler's crop
is padded there too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.errors import InputError
from engine.geometry.camera import Cameras
from engine.geometry.crop import crop_cameras
from engine.proxy.hands import hand_boxes
from engine.proxy.raycast import ProxyRenderer


@dataclass
class CropProxies:
    seg: torch.Tensor  # (n, S, S) uint8
    uv: torch.Tensor  # (n, S, S, 2) float32
    cameras: Cameras  # n crop cameras at S x S
    source: list[int]  # the view each crop was cut from


def cast_crops(renderer: ProxyRenderer, cameras: Cameras, seg: torch.Tensor, depth: np.ndarray, source: list[int],
               boxes: torch.Tensor, tolerance: float = 0.02) -> CropProxies:
    """Exact proxies of the crops ``boxes`` (n, 4) of views ``source`` (``seg`` (V, H, W) and
    ``depth`` (V, H, W), 0 where nothing was hit, of the views the cameras see)."""
    if cameras.width != cameras.height:
        raise InputError(f"hand crops: the oracle crops square views, got {cameras.width}x{cameras.height}")
    S = cameras.width
    crops = crop_cameras(cameras.to(torch.float64).subset(source), boxes.double(), S)
    centres = np.arange(S, dtype=np.float64) + 0.5
    segs, uvs = [], []
    for i, v in enumerate(source):
        p = renderer.render(crops.K[i].numpy(), crops.R_cam_world[i].numpy(), crops.t_cam_world[i].numpy(), S, S)
        x0, y0, x1, y1 = boxes[i].double().tolist()
        # the view's pixel each crop pixel's ray passes through (crop.py: the same rays, rescaled)
        xs = np.floor(x0 + centres * (x1 - x0) / S).astype(np.int64)
        ys = np.floor(y0 + centres * (y1 - y0) / S).astype(np.int64)
        inside = ((ys >= 0) & (ys < S))[:, None] & ((xs >= 0) & (xs < S))[None, :]
        yi, xi = np.clip(ys, 0, S - 1)[:, None], np.clip(xs, 0, S - 1)[None, :]
        seen_depth = depth[v][yi, xi]
        # same extrinsics: the crop's depth of a point is the view's
        hidden = (seg[v].numpy()[yi, xi] == 0) & (seen_depth > 0) & (seen_depth < p.depth - tolerance)
        keep = inside & ~hidden & (p.seg > 0)
        segs.append(np.where(keep, p.seg, 0).astype(np.uint8))
        uvs.append(np.where(keep[..., None], p.uv, 0).astype(np.float32))
    crops = crops.to(cameras.K.dtype)
    return CropProxies(torch.as_tensor(np.stack(segs)), torch.as_tensor(np.stack(uvs)), crops, list(source))


def oracle_hand_crops(seg: torch.Tensor, depth: np.ndarray, cameras: Cameras, vertices: np.ndarray, body,
                      face_part: torch.Tensor, count: int) -> CropProxies | None:
    """Up to ``count`` hand crops (largest hands first) of the views ``seg`` (V, H, W), with
    the exact proxies of the body ``vertices`` (world, the scene's ground truth); None when
    no hand is seen."""
    found = hand_boxes(seg)[:count]
    if not found:
        return None
    renderer = ProxyRenderer(np.asarray(vertices, np.float64), body.faces.cpu().numpy(), face_part.cpu().numpy(),
                             body.uv_coords.detach().cpu().double().numpy(), body.uv_faces.cpu().numpy())
    return cast_crops(renderer, cameras, seg, depth, [v for v, _, _ in found], torch.stack([b for _, _, b in found]))
