"""The model's proxies for the evaluation (``diffproxy evaluate --proxies model``): sample
each scene's views with a trained checkpoint, aggregate the K samples, and score the
aggregated proxies against the exact ones resampled to the same crops."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from engine.diffusion.packed import read_scene_evidence
from engine.diffusion.sample import SampleOptions, load_generator, sample_proxies
from engine.proxy.views import ProxyViews
from engine.geometry.camera import Cameras
from engine.geometry.crop import crop_proxies
from engine.io.files import read_rgb
from engine.io.scene import Scene
from engine.proxy import BodyProxy
from engine.proxy.quality import seg_miou, surface_error


def read_images(scene: Scene, index: list[int]) -> torch.Tensor:
    """(V, 3, H, W) in [0, 1] of the scene's views ``index``."""
    return torch.as_tensor(np.stack([read_rgb(scene.image_path(v)) for v in index])).permute(0, 3, 1, 2).float() / 255


class ModelProxies:
    """A checkpoint loaded once; ``views(scene, cameras)`` samples one scene."""

    def __init__(self, checkpoint: str | Path, options: SampleOptions, device: str | None = None):
        self.model, self.scheduler = load_generator(Path(checkpoint), device)
        self.options = options

    @property
    def device(self) -> torch.device:
        return self.model.device

    def views(self, scene: Scene, cameras: Cameras, body_vertices: torch.Tensor | None, faces: torch.Tensor | None,
              proxy: BodyProxy | None, seed: int | None = None) -> tuple[ProxyViews, dict]:
        """``seed``: this scene's noise (default: the options' seed)."""
        n = len(cameras)
        options = self.options if seed is None else replace(self.options, seed=seed)
        t0 = time.perf_counter()
        evidence = read_scene_evidence(scene, range(n)) if self.model.config.evidence_channels else None
        out = sample_proxies(self.model, self.scheduler, read_images(scene, list(range(n))), cameras, options, evidence)
        seconds = time.perf_counter() - t0
        agg = out.proxy
        views = ProxyViews(agg.seg.to(torch.uint8), agg.uv.float(), out.cameras, agg.weight.float(), out.hand_views)
        quality = {"sample_seconds": seconds, "hand_views": out.hand_views}
        if scene.proxies is not None:
            S = self.model.image_size
            boxes = out.boxes[:n]
            gt_seg, gt_uv = crop_proxies(torch.as_tensor(scene.proxies["seg"][:n]),
                                         torch.as_tensor(scene.proxies["uv"][:n]), boxes, S)
            quality["seg_miou"] = seg_miou(agg.seg[:n], gt_seg)
            if body_vertices is not None:
                err, valid = surface_error(agg.seg[:n], agg.uv[:n], gt_seg.to(torch.uint8), gt_uv, body_vertices,
                                           faces, proxy.lookup)
                quality.update(surface_error_mm=err, surface_valid=valid)
        return views, quality
