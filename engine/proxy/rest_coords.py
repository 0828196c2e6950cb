"""Part-local rest-pose coordinates: the seam-free stand-in for UV that the proxy generator
diffuses.

A body's UV atlas cuts most parts into islands (Anny's forearm fills 7% of its UV box, a
finger segment 2-6%) and spreads 1.6 m of surface over one UV unit. A network regressing
(u, v) smooths across the seams into empty atlas space, and its error is magnified into
centimetres. So the proxy generator's UV stream carries instead where the pixel's surface
point lies on the body in its rest pose, scaled to the bounding box of its part: continuous
inside every part, and a part's few centimetres span the whole [-1, 1]. ``encode`` maps
(part, u, v) there through the UV lookup; ``decode`` maps predicted coordinates back to the
nearest surface point of the same part and returns its (u, v), so the proxies keep their
contract (``seg`` + ``uv``). Measured against atlas UV in the README (proxy generator).
"""

from __future__ import annotations

import functools

import torch

from engine.errors import InputError, check_shape
from engine.proxy.lookup import UVLookup, surface_points, uv_of_surface_points

_CANDIDATES = 4  # nearest face centroids whose triangles a decoded point is projected onto
_CHUNK = 4096


class RestCoords:
    def __init__(self, rest_vertices: torch.Tensor, faces: torch.Tensor, face_part: torch.Tensor,
                 uv_coords: torch.Tensor, uv_faces: torch.Tensor, lookup: UVLookup):
        self.tri = rest_vertices.double()[faces]  # (F, 3, 3)
        self.face_part = face_part.long()
        self.faces, self.rest = faces, rest_vertices.double()
        self.uv_coords, self.uv_faces, self.lookup = uv_coords.double(), uv_faces, lookup
        parts = int(self.face_part.max()) + 1
        self.lo = torch.zeros(parts, 3, dtype=torch.float64)
        self.size = torch.ones(parts, 3, dtype=torch.float64)
        self.part_faces = [torch.nonzero(self.face_part == p).flatten() for p in range(parts)]
        for p, f in enumerate(self.part_faces):
            if p and len(f):
                corners = self.tri[f].reshape(-1, 3)
                self.lo[p] = corners.min(dim=0).values
                self.size[p] = (corners.max(dim=0).values - self.lo[p]).clamp(min=1e-4)
        self.centroid = self.tri.mean(dim=1)

    @classmethod
    def for_body(cls, body, proxy) -> "RestCoords":
        """The coordinates of ``body`` (neutral shape, rest pose) with its ``BodyProxy``."""
        with torch.no_grad():
            rest = body(body.neutral_params(1)).vertices[0].detach().cpu()
        return cls(rest, body.faces.cpu(), proxy.part_table.face_part.cpu(), body.uv_coords.detach().cpu(),
                   body.uv_faces.cpu(), proxy.lookup)

    def _check(self, seg: torch.Tensor) -> None:
        if seg.numel() and int(seg.max()) >= len(self.part_faces):
            raise InputError(f"seg: part id {int(seg.max())} is not a part of this body ({len(self.part_faces)} ids)")

    def encode(self, seg: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
        """seg (..., H, W) part ids, uv (..., H, W, 2) -> (..., H, W, 3) float32 in [-1, 1]:
        the part-local rest position of each body pixel; -1 on the background, 0 (the part's
        centre) where (part, u, v) names no surface point."""
        check_shape("uv", uv, (*seg.shape, 2))
        self._check(seg)
        out = torch.full((*seg.shape, 3), -1.0, dtype=torch.float32)
        body = seg > 0
        if not body.any():
            return out
        part = seg[body].long().cpu()
        point, valid = self.points(part, uv[body].cpu())
        local = torch.where(valid[:, None], (point - self.lo[part]) / self.size[part] * 2 - 1, 0.0)
        out[body.cpu()] = local.float()
        return out.to(uv.device)

    def points(self, part: torch.Tensor, uv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """part (N,), uv (N, 2) -> the rest-pose surface points they name (N, 3) float64 (0
        where none) and which name one (N,) bool."""
        q = self.lookup.query(part, uv.double())
        point = torch.zeros(len(part), 3, dtype=torch.float64)
        point[q.valid] = surface_points(self.rest[None], self.faces, q.face[q.valid], q.bary[q.valid])[0]
        return point, q.valid

    def decode(self, seg: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """seg (..., H, W), coords (..., H, W, 3) -> uv (..., H, W, 2): the (u, v) of the
        surface point of the pixel's part nearest to its (clamped) coordinates; 0 on the
        background."""
        check_shape("coords", coords, (*seg.shape, 3))
        self._check(seg)
        uv = torch.zeros(*seg.shape, 2, dtype=torch.float32)
        body = seg > 0
        part = seg[body].long().cpu()
        point = self.lo[part] + (coords[body].double().cpu().clamp(-1, 1) + 1) / 2 * self.size[part]
        face = torch.zeros(len(part), dtype=torch.long)
        bary = torch.zeros(len(part), 3, dtype=torch.float64)
        for p in part.unique().tolist():
            rows = torch.nonzero(part == p).flatten()
            for chunk in rows.split(_CHUNK):
                face[chunk], bary[chunk] = self._nearest(point[chunk], self.part_faces[p])
        if len(part):
            uv[body.cpu()] = uv_of_surface_points(self.uv_coords, self.uv_faces, face, bary).float()
        return uv.to(coords.device)

    def _nearest(self, point: torch.Tensor, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The nearest point on the triangles ``faces`` to each of ``point`` (N, 3), searched
        on the few whose centroids are nearest: -> face (N,), barycentric (N, 3)."""
        k = min(_CANDIDATES, len(faces))
        cand = faces[torch.cdist(point, self.centroid[faces]).topk(k, dim=1, largest=False).indices]  # (N, k)
        bary = _clamped_projection(point[:, None], self.tri[cand])  # (N, k, 3)
        on = torch.einsum("nkc,nkcd->nkd", bary, self.tri[cand])
        best = (on - point[:, None]).norm(dim=-1).argmin(dim=1)
        rows = torch.arange(len(point))
        return cand[rows, best], bary[rows, best]


@functools.lru_cache(maxsize=4)
def rest_coords_for(body_name: str) -> RestCoords:
    """The coordinates of a body model by name (``engine.body.load_body_model``), built once
    per process."""
    from engine.proxy import BodyCache

    return RestCoords.for_body(*BodyCache(dtype=torch.float64).get(body_name))


def _clamped_projection(p: torch.Tensor, tri: torch.Tensor) -> torch.Tensor:
    """Barycentric coordinates of ``p`` (..., 3) projected onto the planes of ``tri``
    (..., 3, 3), with negative weights clipped and the rest renormalised: the exact
    nearest point inside a triangle, a close one outside it."""
    a, e1, e2 = tri[..., 0, :], tri[..., 1, :] - tri[..., 0, :], tri[..., 2, :] - tri[..., 0, :]
    d = p - a
    d11, d12, d22 = (e1 * e1).sum(-1), (e1 * e2).sum(-1), (e2 * e2).sum(-1)
    r1, r2 = (d * e1).sum(-1), (d * e2).sum(-1)
    det = (d11 * d22 - d12 * d12).clamp(min=1e-30)
    b1, b2 = (d22 * r1 - d12 * r2) / det, (d11 * r2 - d12 * r1) / det
    bary = torch.stack([1 - b1 - b2, b1, b2], dim=-1).clamp(min=0)
    return bary / bary.sum(dim=-1, keepdim=True).clamp(min=1e-12)
