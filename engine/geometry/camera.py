"""Pinhole cameras in the OpenCV convention, the only convention inside the engine.

``x_cam = R_cam_world @ x_world + t_cam_world``; the camera looks along +Z, x right, y down;
``pixel = (K @ x_cam)[:2] / z``, with pixel centres at integer coordinates (the top-left
pixel covers [-0.5, 0.5]^2). World: metres, Z up, right-handed, as in Blender.

The projections: ``project_points`` (torch, each point with its camera), ``project`` and
``Cameras.project`` (torch, every point in every camera), and for numpy arrays
``project_array`` (K, R, t) and ``project_matrix`` (a (3, 4) pixel projection ``K [R | t]``,
what triangulation and the detectors' view checks take). Lens distortion is the
calibration's (``engine.io.calibration``, below this layer): these are the pinhole part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.errors import InputError, check_finite, check_shape


@dataclass
class Cameras:
    """N cameras: K (N, 3, 3), R_cam_world (N, 3, 3), t_cam_world (N, 3), and each view's image
    size in pixels, ``widths`` and ``heights`` (N ints). One ``width`` and ``height`` given for
    all views (the common case: ``Cameras(K, R, t, 256, 256)``) is every view's; the properties
    ``width`` and ``height`` read it back, and name the views when they differ."""

    K: torch.Tensor
    R_cam_world: torch.Tensor
    t_cam_world: torch.Tensor
    widths: tuple[int, ...]
    heights: tuple[int, ...]

    def __post_init__(self):
        check_cameras(self.K, self.R_cam_world, self.t_cam_world)
        n = self.K.shape[0]
        self.widths = _per_view("width", self.widths, n)
        self.heights = _per_view("height", self.heights, n)
        bad = [i for i, (w, h) in enumerate(zip(self.widths, self.heights)) if w <= 0 or h <= 0]
        if bad:
            raise InputError(f"image size: width and height must be positive, got "
                             f"{', '.join(f'{self.widths[i]}x{self.heights[i]} (view {i})' for i in bad)}")

    def __len__(self) -> int:
        return self.K.shape[0]

    @property
    def sizes(self) -> list[tuple[int, int]]:
        """Each view's (width, height)."""
        return list(zip(self.widths, self.heights))

    @property
    def width(self) -> int:
        """The views' one width (InputError naming the views when they differ)."""
        return self._shared("width", self.widths)

    @property
    def height(self) -> int:
        """The views' one height (InputError naming the views when they differ)."""
        return self._shared("height", self.heights)

    def _shared(self, what: str, values: tuple[int, ...]) -> int:
        if len(set(values)) > 1:
            raise InputError(f"cameras: one image {what} needed for all views, got "
                             f"{', '.join(f'{w}x{h} (view {i})' for i, (w, h) in enumerate(self.sizes))}")
        if not values:
            raise InputError(f"cameras: no views, so no image {what}")
        return values[0]

    @property
    def centers_world(self) -> torch.Tensor:
        """(N, 3) camera centres: ``-R^T t``."""
        return -torch.einsum("nji,nj->ni", self.R_cam_world, self.t_cam_world)

    def project(self, points_world: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """points (P, 3) or (N, P, 3) -> pixels (N, P, 2) and depths (N, P)."""
        return project(points_world, self.K, self.R_cam_world, self.t_cam_world)

    def to(self, *args, **kwargs) -> "Cameras":
        return Cameras(self.K.to(*args, **kwargs), self.R_cam_world.to(*args, **kwargs),
                       self.t_cam_world.to(*args, **kwargs), self.widths, self.heights)

    def subset(self, index) -> "Cameras":
        rows = torch.arange(len(self))[index.cpu() if isinstance(index, torch.Tensor) else index].reshape(-1).tolist()
        return Cameras(self.K[index], self.R_cam_world[index], self.t_cam_world[index],
                       tuple(self.widths[i] for i in rows), tuple(self.heights[i] for i in rows))

    def extend(self, other: "Cameras") -> "Cameras":
        """These cameras followed by ``other`` (e.g. crops of the views), each keeping its size."""
        other = other.to(self.K.dtype)
        return Cameras(torch.cat([self.K, other.K]), torch.cat([self.R_cam_world, other.R_cam_world]),
                       torch.cat([self.t_cam_world, other.t_cam_world]), self.widths + other.widths,
                       self.heights + other.heights)


def _per_view(what: str, value, n: int) -> tuple[int, ...]:
    """One size for all ``n`` views, or one per view (a sequence, array or tensor) -> n ints."""
    if hasattr(value, "tolist"):  # a tensor or numpy array or scalar
        value = value.tolist()
    if isinstance(value, (int, float)):
        return (int(value),) * n
    values = tuple(int(v) for v in value)
    if len(values) != n:
        raise InputError(f"cameras.{what}s: expected one per view ({n}), got {len(values)}")
    return values


def check_cameras(K: torch.Tensor, R_cam_world: torch.Tensor, t_cam_world: torch.Tensor,
                  name: str = "cameras") -> None:
    """Shapes, finiteness, an invertible upper-triangular K with positive focal lengths and
    a proper rotation; the error names the field and the camera index."""
    check_shape(f"{name}.K", K, ("N", 3, 3))
    check_shape(f"{name}.R_cam_world", R_cam_world, (K.shape[0], 3, 3))
    check_shape(f"{name}.t_cam_world", t_cam_world, (K.shape[0], 3))
    for field, x in (("K", K), ("R_cam_world", R_cam_world), ("t_cam_world", t_cam_world)):
        check_finite(f"{name}.{field}", x)
    Kd, Rd = K.detach().double(), R_cam_world.detach().double()
    for i in range(K.shape[0]):
        if Kd[i, 0, 0] <= 0 or Kd[i, 1, 1] <= 0:
            raise InputError(f"{name}.K[{i}]: focal lengths must be positive, got fx={Kd[i, 0, 0]:.4g}, fy={Kd[i, 1, 1]:.4g}")
        if Kd[i, 1, 0] != 0 or Kd[i, 2, 0] != 0 or Kd[i, 2, 1] != 0 or Kd[i, 2, 2] != 1:
            raise InputError(f"{name}.K[{i}]: expected [[fx, s, cx], [0, fy, cy], [0, 0, 1]], got {Kd[i].tolist()}")
        if abs(torch.linalg.det(Kd[i])) < 1e-12:
            raise InputError(f"{name}.K[{i}]: singular matrix")
        err = (Rd[i] @ Rd[i].T - torch.eye(3, dtype=Rd.dtype)).abs().max()
        if err > 1e-4 or torch.linalg.det(Rd[i]) < 0:
            raise InputError(f"{name}.R_cam_world[{i}]: not a rotation (|R R^T - I| = {err:.2g}, det = {torch.linalg.det(Rd[i]):.3g})")


def project(points_world: torch.Tensor, K: torch.Tensor, R_cam_world: torch.Tensor,
            t_cam_world: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """points (P, 3) or (N, P, 3) in the world, seen by each of N cameras -> pixels (N, P, 2),
    depths (N, P)."""
    if points_world.dim() == 2:
        points_world = points_world.expand(K.shape[0], -1, -1)
    check_shape("points_world", points_world, (K.shape[0], None, 3))
    return project_points(points_world, K[:, None], R_cam_world[:, None], t_cam_world[:, None])


def project_points(points_world: torch.Tensor, K: torch.Tensor, R_cam_world: torch.Tensor, t_cam_world: torch.Tensor,
                   min_depth: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The one projection: points (..., 3), each with its camera's K, R (..., 3, 3) and t (..., 3)
    (broadcast) -> pixels (..., 2) and depths (...). ``min_depth``: depths clamped from below
    before the division (a fit's points behind a camera get a large, finite residual)."""
    points_cam = torch.einsum("...ij,...j->...i", R_cam_world, points_world) + t_cam_world
    z = points_cam[..., 2]
    w = z if min_depth is None else z.clamp(min=min_depth)
    uv = torch.einsum("...ij,...j->...i", K[..., :2, :], points_cam / w[..., None])
    return uv, z


def pixel_rays(K: torch.Tensor, R_cam_world: torch.Tensor, xy_px: torch.Tensor) -> torch.Tensor:
    """World directions (unit) of the rays through pixels xy_px (N, P, 2)."""
    ones = torch.ones_like(xy_px[..., :1])
    d_cam = torch.einsum("nij,npj->npi", torch.linalg.inv(K), torch.cat([xy_px, ones], dim=-1))
    d_world = torch.einsum("nji,npj->npi", R_cam_world, d_cam)
    return d_world / d_world.norm(dim=-1, keepdim=True)


def project_array(points_world: np.ndarray, K: np.ndarray, R_cam_world: np.ndarray,
                  t_cam_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """numpy: points (..., 3) in the world, one camera -> pixels (..., 2), depths (...). No
    culling: a point at or behind the camera (depth <= 0) gets a meaningless (or inf, NaN) pixel."""
    return _pixels((np.asarray(points_world) @ np.asarray(R_cam_world).T + t_cam_world) @ np.asarray(K).T)


def project_matrix(points_world: np.ndarray, P: np.ndarray, cull: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """numpy: points (..., 3), a (3, 4) pixel projection ``P = K [R | t]`` -> pixels (..., 2),
    depths (...); ``cull``: NaN pixels for points not in front of the camera (depth <= 0)."""
    P = np.asarray(P)
    xy, z = _pixels(np.asarray(points_world) @ P[:, :3].T + P[:, 3])
    if cull:
        xy[~(z > 0)] = np.nan
    return xy, z


def _pixels(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Homogeneous pixels (..., 3) -> pixels (..., 2) and depths (...) (K's last row is 0, 0, 1)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return h[..., :2] / h[..., 2:], h[..., 2]
