"""The model's proxies for the evaluation (``diffproxy evaluate --proxies model-only``): sample
each scene's views whole (``ProxySampler`` with ``Crop.WHOLE_IMAGE``, the renders being
framed on the person), aggregate the K samples, and score the aggregated proxies against the
exact ones resampled to the same crops."""

from __future__ import annotations

import time

import numpy as np
import torch

from engine.diffusion.packed import read_scene_evidence
from engine.diffusion.sample import Crop, ProxySampler
from engine.geometry.camera import Cameras
from engine.geometry.crop import crop_proxies
from engine.io.files import read_rgb
from engine.io.scene import Scene
from engine.proxy import BodyProxy
from engine.proxy.quality import seg_miou, surface_error
from engine.proxy.views import ProxyViews


def read_images(scene: Scene, index: list[int]) -> list[np.ndarray]:
    """The scene's views ``index``, (H, W, 3) uint8 RGB."""
    return [read_rgb(scene.image_path(v)) for v in index]


def model_views(sampler: ProxySampler, scene: Scene, cameras: Cameras, body_vertices: torch.Tensor | None,
                faces: torch.Tensor | None, proxy: BodyProxy | None, seed: int | None = None
                ) -> tuple[ProxyViews, dict]:
    """The first ``len(cameras)`` views of ``scene`` sampled whole, and the proxies' quality
    against the scene's exact ones; ``seed``: this scene's noise (default: the sampler's)."""
    n = len(cameras)
    t0 = time.perf_counter()
    evidence = read_scene_evidence(scene, range(n)) if sampler.model.config.evidence_channels else None
    out = sampler(read_images(scene, list(range(n))), cameras, Crop.WHOLE_IMAGE, evidence=evidence, seed=seed)
    seconds = time.perf_counter() - t0
    agg = out.proxy
    views = ProxyViews(agg.seg.to(torch.uint8), agg.uv.float(), out.cameras, agg.weight.float(), out.hand_views)
    quality = {"sample_seconds": seconds, "hand_views": out.hand_views}
    if scene.proxies is not None:
        S = sampler.image_size
        boxes = out.boxes[:n]
        gt_seg, gt_uv = crop_proxies(torch.as_tensor(scene.proxies["seg"][:n]),
                                     torch.as_tensor(scene.proxies["uv"][:n]), boxes, S)
        quality["seg_miou"] = seg_miou(agg.seg[:n], gt_seg)
        if body_vertices is not None:
            err, valid = surface_error(agg.seg[:n], agg.uv[:n], gt_seg.to(torch.uint8), gt_uv, body_vertices,
                                       faces, proxy.lookup)
            quality.update(surface_error_mm=err, surface_valid=valid)
    return views, quality
