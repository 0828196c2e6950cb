"""A start without a guess: the body's placement (rotation, translation, scale) from the
correspondences alone, before any pose.

The rest-pose template's torso points (whose shape changes least with the pose) are fitted
by a batch of rigid+scale starts: orientations with the body's up axis along each of
the 6 world axis directions and 8 turns about it (lying bodies included), plus, with two or
more views, the similarity (Procrustes) from the template to triangulated torso points. The
translation starts where the rays through each view's torso pixels meet (one view: along
that ray, at the depth that gives the torso its image size). All starts are refined together
(Adam, a robust loss annealed from wide to narrow) and the best one wins. With one view the
scale is held at 1 (it is not observable from a single image; the shape explains size).
"""

from __future__ import annotations

import math

import roma
import torch

from engine.fitting.correspondences import Correspondences
from engine.fitting.objective import gmof, project
from engine.geometry.camera import Cameras, pixel_rays

TORSO_PARTS = ("hips", "spine", "spine1", "spine2", "leftShoulder", "rightShoulder", "neck", "head",
               "leftUpLeg", "rightUpLeg")


def _start_rotations(dtype, device) -> torch.Tensor:
    """48 rotations: canonical +Z (the body's up) sent to +-X, +-Y, +-Z, times 8 turns about it."""
    ups = torch.eye(3, dtype=dtype, device=device)
    ups = torch.cat([ups, -ups])
    z = torch.tensor([0.0, 0.0, 1.0], dtype=dtype, device=device)
    out = []
    for up in ups:
        axis = torch.linalg.cross(z, up)
        if axis.norm() < 1e-6:
            base = torch.eye(3, dtype=dtype, device=device) if up[2] > 0 else \
                roma.rotvec_to_rotmat(torch.tensor([math.pi, 0, 0], dtype=dtype, device=device))
        else:
            base = roma.rotvec_to_rotmat(axis / axis.norm() * math.pi / 2)
        for k in range(8):
            turn = roma.rotvec_to_rotmat(up * (2 * math.pi * k / 8))
            out.append(turn @ base)
    return torch.stack(out)


def _ray_meeting_point(cameras: Cameras, xy: torch.Tensor) -> torch.Tensor:
    """Least-squares point closest to the rays through pixel ``xy[i]`` of camera i."""
    d = pixel_rays(cameras.K, cameras.R_cam_world, xy[:, None])[:, 0]
    d = d / d.norm(dim=-1, keepdim=True)
    c = cameras.centers_world
    P = torch.eye(3, dtype=d.dtype, device=d.device) - d[:, :, None] * d[:, None, :]
    return torch.linalg.lstsq(P.sum(0), torch.einsum("nij,nj->i", P, c)[:, None]).solution[:, 0]


def _triangulated_procrustes(template: torch.Tensor, corr: Correspondences, cameras: Cameras):
    """Faces seen in two or more views -> triangulated points (the least-squares meeting
    point of their pixels' rays) -> the similarity from the template onto them."""
    d = pixel_rays(cameras.K[corr.view], cameras.R_cam_world[corr.view], corr.xy_px[:, None])[:, 0]
    d = d / d.norm(dim=-1, keepdim=True)
    c = cameras.centers_world[corr.view]
    faces, slot = torch.unique(corr.face, return_inverse=True)
    n = len(faces)
    P = torch.eye(3, dtype=d.dtype, device=d.device) - d[:, :, None] * d[:, None, :]
    A = torch.zeros(n, 3, 3, dtype=d.dtype, device=d.device).index_add_(0, slot, P)
    b = torch.zeros(n, 3, dtype=d.dtype, device=d.device).index_add_(0, slot, torch.einsum("mij,mj->mi", P, c))
    seen = torch.zeros(n, cameras.K.shape[0], dtype=torch.bool, device=d.device)
    seen[slot, corr.view] = True
    ok = seen.sum(1) >= 2
    if ok.sum() < 6:
        return None
    world = torch.linalg.solve(A[ok], b[ok])
    count = torch.zeros(n, dtype=d.dtype, device=d.device).index_add_(0, slot, torch.ones_like(slot, dtype=d.dtype))
    tmpl = torch.zeros(n, 3, dtype=d.dtype, device=d.device).index_add_(0, slot, template) / count[:, None]
    R, t, s = roma.rigid_points_registration(tmpl[ok][None], world[None], compute_scaling=True)
    return R[0], t[0], s[0]


def _sample_per_view(view: torch.Tensor, sel: torch.Tensor, n: int) -> torch.Tensor:
    """Mask keeping ``n`` random selected entries of every view (seeded by the view): the
    placement needs a few hundred points, not thousands."""
    keep = torch.zeros_like(sel)
    for v in torch.unique(view[sel]):
        idx = torch.nonzero(sel & (view == v))[:, 0]
        keep[idx[torch.randperm(len(idx), generator=torch.Generator().manual_seed(int(v)))[:n]]] = True
    return keep


def initial_placement(template: torch.Tensor, corr: Correspondences, torso: torch.Tensor, cameras: Cameras,
                      iters: int = 80, max_per_view: int = 96) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, str]:
    """template: (M, 3) rest-pose surface points of the correspondences (model frame);
    torso: (M,) bool. -> rotation (3, 3), translation (3,), scale (), how it was found."""
    dtype, device = template.dtype, template.device
    sel = torso if torso.sum() >= 20 else torch.ones_like(torso)
    sel = sel & _sample_per_view(corr.view, sel, max_per_view)
    X, view, xy, w = template[sel], corr.view[sel], corr.xy_px[sel], corr.weight[sel]
    K, Rc, tc = cameras.K, cameras.R_cam_world, cameras.t_cam_world
    views = torch.unique(view)
    centroid_px = torch.stack([xy[view == v].mean(0) for v in views])
    one_view = len(views) == 1
    if one_view:
        v = int(views[0])
        extent_px = (xy[view == v].max(0).values - xy[view == v].min(0).values).norm()
        extent_m = (X.max(0).values - X.min(0).values).norm()
        depth = K[v, 0, 0] * extent_m / extent_px.clamp(min=1.0)
        ray = pixel_rays(K[v:v + 1], Rc[v:v + 1], centroid_px[:1, None])[0, 0]
        ray = ray / ray.norm()
        center = cameras.centers_world[v] + depth / (Rc[v] @ ray)[2] * ray
    else:
        center = _ray_meeting_point(cameras.subset(views), centroid_px)
    R0 = _start_rotations(dtype, device)
    s0 = torch.ones(len(R0), dtype=dtype, device=device)
    how = ["multi-start"] * len(R0)
    if not one_view:
        proc = _triangulated_procrustes(X, Correspondences(view, xy, corr.part[sel], corr.face[sel],
                                                           corr.bary[sel], w), cameras)
        if proc is not None:
            R0 = torch.cat([R0, proc[0][None]])
            s0 = torch.cat([s0, proc[2][None].clamp(0.5, 2.0)])
            how.append("triangulation+procrustes")
    B = len(R0)
    x_mean = X.mean(0)
    rot = torch.zeros(B, 3, dtype=dtype, device=device, requires_grad=True)
    trans = (center - s0[:, None] * torch.einsum("bij,j->bi", R0, x_mean)).clone().requires_grad_(True)
    log_s = s0.log().clone().requires_grad_(not one_view)
    params = [rot, trans] + ([log_s] if not one_view else [])
    opt = torch.optim.Adam(params, lr=0.03)
    wsum = w.sum()
    for i in range(iters):
        sigma = 40.0 * (1 - i / iters) + 6.0 * i / iters
        R = roma.rotvec_to_rotmat(rot) @ R0
        pts = log_s.exp()[:, None, None] * torch.einsum("bij,mj->bmi", R, X) + trans[:, None]
        sq = (project(pts, view, K, Rc, tc) - xy).square().sum(-1)
        loss = (gmof(sq, sigma) * w).sum(-1) / wsum
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
    best = int(loss.argmin())
    with torch.no_grad():
        R = roma.rotvec_to_rotmat(rot[best]) @ R0[best]
        return R, trans[best].detach(), log_s[best].exp().detach(), how[best]
