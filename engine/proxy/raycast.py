"""The proxy pass: exact per-pixel part id, UV and depth of the body, cut by occluders.

Each pixel's value is that of the one surface point its centre ray hits first (OpenCV pixel
centres at integer coordinates, the same rays Blender's camera shoots through its pixel
centres). Nothing is filtered, anti-aliased or denoised, so every foreground pixel's
``(part, u, v)`` names a body surface point that projects exactly onto that pixel centre.
Cycles' own UV pass cannot give this: it is filtered over the pixel and jittered per sample.

Embree (through trimesh) finds the first triangle along each ray; the barycentric
coordinates are then recomputed in float64 on that triangle. The occluders are the same
world-space triangles Blender rendered (exported by the Blender worker). Hair and clothing
are not occluders: the proxy shows the body under them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from trimesh.ray.ray_pyembree import RayMeshIntersector


@dataclass
class ViewProxy:
    seg: np.ndarray  # (H, W) uint8 part ids, 0 = background or occluder
    uv: np.ndarray  # (H, W, 2) float32 in [0, 1], 0 where seg == 0
    depth: np.ndarray  # (H, W) float32 OpenCV z of the first hit (body or occluder), inf for none
    body_mask: np.ndarray  # (H, W) bool: the body without occluders
    occluded_fraction: float  # share of the body's pixels hidden by occluders


def pixel_rays(K: np.ndarray, R_cam_world: np.ndarray, t_cam_world: np.ndarray, width: int,
               height: int) -> tuple[np.ndarray, np.ndarray]:
    """World-space origins (H*W, 3) and unit directions (H*W, 3) through pixel centres."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    pix = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)], axis=1)
    d_cam = pix @ np.linalg.inv(K).T
    d_world = d_cam @ R_cam_world  # R^T applied to each row
    d_world /= np.linalg.norm(d_world, axis=1, keepdims=True)
    center = -R_cam_world.T @ t_cam_world
    return np.broadcast_to(center, d_world.shape).copy(), d_world


def ray_barycentrics(origins: np.ndarray, dirs: np.ndarray, tri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Möller-Trumbore on given triangles (N, 3, 3), float64: -> (bary (N, 3), distance (N,))."""
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    p = np.cross(dirs, e2)
    det = np.einsum("ij,ij->i", e1, p)
    inv = 1.0 / det
    s = origins - tri[:, 0]
    b1 = np.einsum("ij,ij->i", s, p) * inv
    q = np.cross(s, e1)
    b2 = np.einsum("ij,ij->i", dirs, q) * inv
    dist = np.einsum("ij,ij->i", e2, q) * inv
    bary = np.stack([1 - b1 - b2, b1, b2], axis=1)
    # Embree decides the hit in float32; at a silhouette edge the float64 solution may sit a
    # hair outside the triangle. Snap it back onto the triangle.
    bary = np.clip(bary, 0, None)
    return bary / bary.sum(axis=1, keepdims=True), dist


class ProxyRenderer:
    """Body (+ occluders) triangles -> per-view proxies. Build once per scene."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, face_part: np.ndarray, uv_coords: np.ndarray,
                 uv_faces: np.ndarray, occluder_triangles: np.ndarray | None = None):
        self.vertices = np.asarray(vertices, dtype=np.float64)
        self.faces = np.asarray(faces, dtype=np.int64)
        self.face_part = np.asarray(face_part)
        self.uv_tri = np.asarray(uv_coords, dtype=np.float64)[np.asarray(uv_faces, dtype=np.int64)]
        self.n_body = len(self.faces)
        body_mesh = trimesh.Trimesh(self.vertices, self.faces, process=False)
        self.body_only = RayMeshIntersector(body_mesh)
        occ = np.zeros((0, 3, 3)) if occluder_triangles is None else np.asarray(occluder_triangles, np.float64)
        if len(occ):
            all_v = np.concatenate([self.vertices, occ.reshape(-1, 3)])
            all_f = np.concatenate([self.faces, len(self.vertices) + np.arange(len(occ) * 3).reshape(-1, 3)])
            self.with_occluders = RayMeshIntersector(trimesh.Trimesh(all_v, all_f, process=False))
            self.all_tri = all_v[all_f]
        else:
            self.with_occluders = None
            self.all_tri = self.vertices[self.faces]

    def render(self, K: np.ndarray, R_cam_world: np.ndarray, t_cam_world: np.ndarray, width: int,
               height: int) -> ViewProxy:
        origins, dirs = pixel_rays(np.asarray(K, np.float64), np.asarray(R_cam_world, np.float64),
                                   np.asarray(t_cam_world, np.float64), width, height)
        body_hit = self.body_only.intersects_first(origins, dirs)
        hit = body_hit if self.with_occluders is None else self.with_occluders.intersects_first(origins, dirs)
        n = width * height
        seg = np.zeros(n, np.uint8)
        uv = np.zeros((n, 2), np.float32)
        depth = np.full(n, np.inf, np.float32)
        any_hit = np.flatnonzero(hit >= 0)
        bary, dist = ray_barycentrics(origins[any_hit], dirs[any_hit], self.all_tri[hit[any_hit]])
        # OpenCV depth z = distance along the ray times the ray's z component in the camera.
        z_dir = (dirs[any_hit] @ np.asarray(R_cam_world, np.float64).T)[:, 2]
        depth[any_hit] = (dist * z_dir).astype(np.float32)
        on_body = hit[any_hit] < self.n_body
        body_px, body_face, body_bary = any_hit[on_body], hit[any_hit][on_body], bary[on_body]
        seg[body_px] = self.face_part[body_face]
        uv[body_px] = np.einsum("nk,nkd->nd", body_bary, self.uv_tri[body_face]).astype(np.float32)
        # The two casts may disagree on a ray grazing a silhouette edge; a pixel that shows the
        # body with occluders present shows it without them too.
        body_mask = (body_hit >= 0) | (seg > 0)
        n_body = int(body_mask.sum())
        occluded = 0.0 if n_body == 0 else max(0.0, 1.0 - len(body_px) / n_body)
        return ViewProxy(seg.reshape(height, width), uv.reshape(height, width, 2), depth.reshape(height, width),
                         body_mask.reshape(height, width), float(occluded))


class SilhouetteCaster:
    """A mesh's silhouette in any number of views (the ray tree built once)."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray):
        mesh = trimesh.Trimesh(np.asarray(vertices, np.float64), np.asarray(faces, np.int64), process=False)
        self.intersector = RayMeshIntersector(mesh)

    def __call__(self, K: np.ndarray, R_cam_world: np.ndarray, t_cam_world: np.ndarray, width: int,
                 height: int) -> np.ndarray:
        """(H, W) bool: the pixels whose centre ray hits the mesh."""
        origins, dirs = pixel_rays(np.asarray(K, np.float64), np.asarray(R_cam_world, np.float64),
                                   np.asarray(t_cam_world, np.float64), width, height)
        return self.intersector.intersects_any(origins, dirs).reshape(height, width)
