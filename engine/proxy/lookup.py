"""``(part, u, v) -> (face, barycentric)``: the precomputed inverse of a body's UV map.

A proxy pixel says which part it sees and where in the part's UV chart. To make that a
point on the body that moves with the pose, we find the face whose UV triangle contains
(u, v) and the barycentric coordinates there; ``surface_points`` then interpolates the
posed vertices, differentiably.

The lookup is a uniform grid over UV space: each cell lists every face whose UV bounding
box touches it (so a point always finds its face in its own cell). A query computes the
barycentric coordinates in each listed face of the requested part and keeps the face that
contains the point (the largest smallest-barycentric). Points just outside every triangle
of their part (island borders, noisy predictions) are clamped onto the nearest listed face
and flagged ``inside=False``; a cell with no face of the part gives ``valid=False``.
The grid is cached on disk under ``<cache>/uv_lookup/<hash>.npz``, keyed by the topology,
UVs, part table and grid size.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np
import torch

from engine.atomic import atomic_write_npz  # not engine.io.files: engine.io imports engine.proxy
from engine.cache import cache_dir
from engine.errors import InputError, check_finite, check_shape
from engine.proxy.parts import check_part_ids

log = logging.getLogger(__name__)
_VERSION = 1


@dataclass
class LookupResult:
    face: torch.Tensor  # (N,) long, -1 where not valid
    bary: torch.Tensor  # (N, 3), sums to 1, all >= 0
    valid: torch.Tensor  # (N,) bool: a face of the requested part was found in the cell
    inside: torch.Tensor  # (N,) bool: (u, v) lies inside that face's UV triangle


class UVLookup:
    def __init__(self, uv_tri: np.ndarray, face_part: np.ndarray, cell_start: np.ndarray,
                 cell_faces: np.ndarray, grid: int):
        self.grid = grid
        self.uv_tri = torch.as_tensor(uv_tri, dtype=torch.float64)  # (F, 3, 2)
        self.face_part = torch.as_tensor(face_part, dtype=torch.long)
        self.cell_start, self.cell_faces = cell_start, cell_faces  # the CSR form, as cached on disk
        counts = np.diff(cell_start)
        table = np.full((grid * grid, max(int(counts.max()), 1)), -1, dtype=np.int64)
        rows = np.repeat(np.arange(grid * grid), counts)
        cols = np.arange(len(cell_faces)) - np.repeat(cell_start[:-1], counts)
        table[rows, cols] = cell_faces
        self.table = torch.as_tensor(table)  # (G*G, K) candidate faces, -1 padded
        e1 = self.uv_tri[:, 1] - self.uv_tri[:, 0]
        e2 = self.uv_tri[:, 2] - self.uv_tri[:, 0]
        self._det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]

    @classmethod
    def build(cls, uv_coords: np.ndarray, uv_faces: np.ndarray, face_part: np.ndarray,
              grid: int = 512, name: str = "body model") -> "UVLookup":
        uv_tri = np.asarray(uv_coords, dtype=np.float64)[np.asarray(uv_faces)]
        if not np.isfinite(uv_tri).all() or uv_tri.min() < -1e-6 or uv_tri.max() > 1 + 1e-6:
            raise InputError(f"{name}: texture coordinates must be finite and inside [0, 1]")
        lo = np.clip(np.floor(uv_tri.min(axis=1) * grid).astype(np.int64), 0, grid - 1)
        hi = np.clip(np.floor(uv_tri.max(axis=1) * grid).astype(np.int64), 0, grid - 1)
        entries = int(((hi - lo + 1).prod(axis=1)).sum())
        if entries > 64 * grid * grid:  # a real atlas lists each cell a few times; Anny: ~5
            raise InputError(
                f"{name}: its UV triangles span {entries / grid**2:.0f} times the UV square; this is not a "
                "UV atlas of small, non-overlapping charts, so (part, u, v) cannot name a surface point")
        cells, faces = [], []
        for f in range(len(uv_tri)):
            xs, ys = np.meshgrid(np.arange(lo[f, 0], hi[f, 0] + 1), np.arange(lo[f, 1], hi[f, 1] + 1))
            cells.append((ys * grid + xs).ravel())
            faces.append(np.full(xs.size, f))
        cells, faces = np.concatenate(cells), np.concatenate(faces)
        order = np.argsort(cells, kind="stable")
        cell_start = np.searchsorted(cells[order], np.arange(grid * grid + 1))
        return cls(uv_tri, face_part, cell_start, faces[order], grid)

    @classmethod
    def for_body(cls, body, face_part: torch.Tensor, grid: int = 512) -> "UVLookup":
        """The lookup of a body model, from the disk cache or built and cached."""
        arrays = {"uv_coords": body.uv_coords.detach().cpu().double().numpy(),
                  "uv_faces": body.uv_faces.cpu().numpy(), "face_part": face_part.cpu().numpy()}
        h = hashlib.sha256(f"v{_VERSION} grid{grid}".encode())
        for a in arrays.values():
            h.update(np.ascontiguousarray(a).tobytes())
        path = cache_dir() / "uv_lookup" / f"{body.name}-{h.hexdigest()[:16]}.npz"
        if path.is_file():
            with np.load(path) as d:
                return cls(d["uv_tri"], d["face_part"], d["cell_start"], d["cell_faces"], int(d["grid"]))
        log.info("building the UV lookup of %s (grid %d) into %s", body.name, grid, path)
        lookup = cls.build(**arrays, grid=grid, name=body.name)
        try:
            atomic_write_npz(path, compressed=False, uv_tri=lookup.uv_tri.numpy(), face_part=arrays["face_part"],
                             grid=grid, cell_start=lookup.cell_start, cell_faces=lookup.cell_faces)
        except OSError as e:  # a read-only cache: use the lookup, build it again next time
            log.warning("cannot cache the UV lookup in %s (%s); it is built again by every process", path, e)
        return lookup

    def barycentric(self, face: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
        """Barycentric coordinates of ``uv`` (..., 2) in the UV triangles ``face`` (...)."""
        tri = self.uv_tri[face]
        d = uv - tri[..., 0, :]
        e1, e2 = tri[..., 1, :] - tri[..., 0, :], tri[..., 2, :] - tri[..., 0, :]
        det = self._det[face]
        det = torch.where(det.abs() < 1e-20, torch.full_like(det, 1e-20), det)
        b1 = (d[..., 0] * e2[..., 1] - d[..., 1] * e2[..., 0]) / det
        b2 = (e1[..., 0] * d[..., 1] - e1[..., 1] * d[..., 0]) / det
        return torch.stack([1 - b1 - b2, b1, b2], dim=-1)

    def query(self, part: torch.Tensor, uv: torch.Tensor) -> LookupResult:
        """part (N,) integer ids, uv (N, 2) in [0, 1] -> faces and barycentric coordinates."""
        check_shape("uv", uv, ("N", 2))
        check_shape("part", part, ("N",))
        check_part_ids("part", part)
        check_finite("uv", uv)
        uv64 = uv.detach().cpu().double()
        cell_xy = (uv64 * self.grid).floor().long().clamp(0, self.grid - 1)
        cand = self.table[cell_xy[:, 1] * self.grid + cell_xy[:, 0]]  # (N, K)
        usable = (cand >= 0) & (self.face_part[cand.clamp(min=0)] == part.cpu()[:, None])
        bary = self.barycentric(cand.clamp(min=0), uv64[:, None, :].expand(-1, cand.shape[1], -1))
        score = torch.where(usable, bary.min(dim=-1).values, torch.full_like(bary[..., 0], -torch.inf))
        best = score.argmax(dim=1)
        rows = torch.arange(len(best))
        valid = usable[rows, best]
        inside = valid & (score[rows, best] >= -1e-9)
        b = bary[rows, best].clamp(min=0)
        b = b / b.sum(dim=-1, keepdim=True).clamp(min=1e-12)
        face = torch.where(valid, cand[rows, best], torch.full_like(best, -1))
        return LookupResult(face=face.to(part.device), bary=b.to(uv.device, uv.dtype),
                            valid=valid.to(part.device), inside=inside.to(part.device))


def surface_points(vertices: torch.Tensor, faces: torch.Tensor, face: torch.Tensor,
                   bary: torch.Tensor) -> torch.Tensor:
    """Points on posed meshes: vertices (B, V, 3), faces (F, 3), face (N,), bary (N, 3)
    -> (B, N, 3). Differentiable in ``vertices`` (and ``bary``)."""
    check_shape("vertices", vertices, (None, None, 3))
    check_shape("bary", bary, ("N", 3))
    check_shape("face", face, ("N",))
    if face.numel() and (face.min() < 0 or face.max() >= faces.shape[0]):
        raise InputError(f"face: indices must lie in [0, {faces.shape[0]}); drop invalid lookups first")
    corners = vertices[:, faces[face]]  # (B, N, 3, 3)
    return torch.einsum("bnkd,nk->bnd", corners, bary.to(vertices.dtype))


def uv_of_surface_points(uv_coords: torch.Tensor, uv_faces: torch.Tensor, face: torch.Tensor,
                         bary: torch.Tensor) -> torch.Tensor:
    """The (u, v) of surface points (face, bary): the forward map the lookup inverts."""
    return torch.einsum("nkd,nk->nd", uv_coords[uv_faces[face]], bary.to(uv_coords.dtype))
