"""What a fit sees of one person at one instant (``Observations``), in any mix:

- landmarks: the body model's landmark table's points (``engine.landmarks``) detected in N
  calibrated views, in ideal pinhole pixels (lens distortion removed), each with a score;
- masks: the person's mask in each of those views;
- dense proxies: part id and UV per pixel, either as images (``ProxyViews``: the fit samples
  correspondences from them through the body's UV lookup, ``BodyProxy``) or as correspondences
  already sampled, with the cameras of their pixels (a generator's crops).

``fit.py`` chooses its schedule by what they hold: landmarks (with masks and proxies when
given) or proxies alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from engine.errors import InputError, check_finite, check_shape
from engine.fitting.correspondences import Correspondences, proxy_correspondences
from engine.geometry.camera import Cameras
from engine.proxy import BodyProxy
from engine.proxy.views import ProxyViews


class LandmarkTable(Protocol):
    """What the fit reads of a body model's landmark table (``engine.landmarks.LandmarkTable``,
    which the caller loads and passes in: the fit sits below ``engine.landmarks``)."""

    names: tuple[str, ...]
    vertex_ids: np.ndarray  # (L, K) vertices each landmark mixes
    weights: np.ndarray  # (L, K) their weights

    def index(self, names) -> list[int]: ...

    def positions(self, vertices): ...


@dataclass
class Observations:
    """cameras: the N pinhole cameras of the landmarks and masks; landmarks (N, L, 2): the
    table's points in ideal pinhole pixels; scores (N, L) in [0, 1], 0 where not seen; table:
    the body model's landmark table; masks: per view (H, W) in [0, 1] at the cameras' aspect,
    or None. proxies: ``ProxyViews`` (with ``body_proxy``, the body's UV lookup) or
    ``Correspondences`` (with ``proxy_cameras``, the cameras of their pixels)."""

    cameras: Cameras | None = None
    landmarks: torch.Tensor | None = None
    scores: torch.Tensor | None = None
    table: LandmarkTable | None = None
    masks: list[torch.Tensor | None] | None = None
    proxies: ProxyViews | Correspondences | None = None
    body_proxy: BodyProxy | None = None
    proxy_cameras: Cameras | None = None

    def __post_init__(self):
        if self.landmarks is None and self.proxies is None:
            raise InputError("observations: neither landmarks nor proxies: nothing to fit")
        if self.landmarks is not None:
            self._check_landmarks()
        elif self.scores is not None or self.masks is not None:
            raise InputError("observations: scores and masks are fitted with landmarks; none given")
        if isinstance(self.proxies, ProxyViews):
            if self.body_proxy is None:
                raise InputError("observations: proxy views need body_proxy (the body's UV lookup) to sample them")
        elif isinstance(self.proxies, Correspondences):
            if self.proxy_cameras is None:
                raise InputError("observations: correspondences need proxy_cameras (the cameras of their pixels)")
            if len(self.proxies) and int(self.proxies.view.max()) >= len(self.proxy_cameras):
                raise InputError(f"observations: a correspondence of view {int(self.proxies.view.max())} for "
                                 f"{len(self.proxy_cameras)} proxy cameras")
        elif self.proxies is not None:
            raise InputError(f"observations.proxies: ProxyViews or Correspondences, got {type(self.proxies).__name__}")

    def _check_landmarks(self):
        if self.scores is None or self.cameras is None or self.table is None:
            raise InputError("observations: landmarks need their scores, cameras and landmark table")
        check_shape("observations.landmarks", self.landmarks, ("N", "L", 2))
        check_shape("observations.scores", self.scores, self.landmarks.shape[:2])
        n, count = self.landmarks.shape[:2]
        if len(self.cameras) != n:
            raise InputError(f"observations: {len(self.cameras)} cameras for {n} views of landmarks")
        if len(self.table.names) != count:
            raise InputError(f"observations: {count} landmarks per view, the table has {len(self.table.names)}")
        check_finite("observations.scores", self.scores)
        if (self.scores > 0).sum() == 0:
            raise InputError("observations: no landmark seen in any view")
        if not torch.isfinite(self.landmarks[self.scores > 0]).all():
            raise InputError("observations.landmarks: non-finite pixel of a landmark with a positive score")
        if self.masks is not None and len(self.masks) != n:
            raise InputError(f"observations: {len(self.masks)} masks for {n} views of landmarks")

    def proxy_correspondences(self, max_per_part: int, seed: int, dtype,
                              device) -> tuple[Correspondences, Cameras, int] | None:
        """The proxies as correspondences in ``dtype`` on ``device``, with their cameras and
        how many of those are whole-body views (the rest are hand crops), or None without
        proxies. Proxy images are sampled (at most ``max_per_part`` pixels per view and part)."""
        if self.proxies is None:
            return None
        if isinstance(self.proxies, ProxyViews):
            views = self.proxies
            corr = proxy_correspondences(views.seg.to(device), views.uv.to(device, dtype), self.body_proxy.lookup,
                                         None if views.weight is None else views.weight.to(device, dtype),
                                         max_per_part=max_per_part, seed=seed)
            return corr, views.cameras.to(dtype=dtype, device=device), views.body_views
        c = self.proxies
        corr = Correspondences(*(x.to(device) for x in (c.view, c.xy_px.to(dtype), c.part, c.face, c.bary.to(dtype),
                                                        c.weight.to(dtype))))
        return corr, self.proxy_cameras.to(dtype=dtype, device=device), len(self.proxy_cameras)
