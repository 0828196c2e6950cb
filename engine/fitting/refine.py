"""Levenberg-Marquardt stages of the fit: the robust, weighted reprojection residuals and
the priors (``priors.py``) stacked into one vector, the robust loss linearised as reweighted least squares
(Geman-McClure weights at each iterate; a step is taken when the true loss drops), the
Jacobian analytic (``jacobian.py``) for skinned bodies that expose their skinning,
forward-mode autodiff otherwise."""

from __future__ import annotations

import torch
from torch.func import jacfwd

from engine.body.base import BodyModel, BodyParams
from engine.fitting.correspondences import Correspondences
from engine.fitting.jacobian import SkinnedPoints
from engine.fitting.lm import levenberg_marquardt
from engine.fitting.objective import CameraDelta, gmof, project
from engine.fitting.priors import Priors
from engine.fitting.variables import Variables
from engine.geometry.camera import Cameras


class Problem:
    """x = [rot (3), transl (3), log scale (1), pose of ``bones`` (3 each), shape (S),
    and with cameras refined: camera rotations (3N), translations (3N), log focal (N)]."""

    def __init__(self, var: Variables, cam_delta: CameraDelta | None, corr: Correspondences, cams: Cameras,
                 body: BodyModel, priors: Priors, bones: torch.Tensor, sigma: float,
                 points: SkinnedPoints | None = None):
        self.sigma, self.priors = sigma, priors
        self.var, self.cam_delta, self.corr, self.cams, self.body = var, cam_delta, corr, cams, body
        self.bones = bones
        self.sizes = {"rot": 3, "transl": 3, "log_scale": 1, "pose": 3 * len(bones), "shape": var.shape_free.numel()}
        if cam_delta is not None:
            n = len(cams)
            self.sizes.update(cam_rot=3 * n, cam_trans=3 * n, cam_f=n)
        self.n_body = sum(v for k, v in self.sizes.items() if not k.startswith("cam"))
        # the correspondences' points: surface points, or given (e.g. landmarks as vertex sums)
        self.points = points or SkinnedPoints(body, corr.face, corr.bary)
        self.analytic = self.points.corner is not None  # the model exposes its skinning

    # -- packing ---------------------------------------------------------------------
    def pack(self) -> torch.Tensor:
        v = self.var
        parts = [v.rot, v.transl, v.log_scale.reshape(1), v.body_pose[self.bones].reshape(-1), v.shape_free]
        if self.cam_delta is not None:
            parts += [self.cam_delta.rot.reshape(-1), self.cam_delta.trans.reshape(-1), self.cam_delta.log_f]
        return torch.cat([p.detach().reshape(-1) for p in parts])

    def split(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out, i = {}, 0
        for k, n in self.sizes.items():
            out[k] = x[i:i + n]
            i += n
        return out

    def params(self, b: dict[str, torch.Tensor]) -> BodyParams:
        pose = self.var.body_pose.detach().index_put((self.bones,), b["pose"].reshape(-1, 3))
        return BodyParams(global_orient=b["rot"][None], transl=b["transl"][None], body_pose=pose[None],
                          shape=b["shape"][None], scale=b["log_scale"].exp())

    def cameras(self, b: dict[str, torch.Tensor]):
        K, R, t = self.cams.K, self.cams.R_cam_world, self.cams.t_cam_world
        if self.cam_delta is None:
            return K, R, t
        return CameraDelta.apply_to(b["cam_rot"].reshape(-1, 3), b["cam_trans"].reshape(-1, 3), b["cam_f"], K, R, t)

    def unpack(self, x: torch.Tensor) -> None:
        b = self.split(x)
        self.var.load_flat(b, self.params(b).body_pose[0])
        if self.cam_delta is not None:
            self.cam_delta.load_flat(b)

    # -- residuals -------------------------------------------------------------------
    def prior_residuals(self, x: torch.Tensor) -> torch.Tensor:
        b = self.split(x)
        return self.priors.residuals(b, self.params(b).body_pose[0], self.bones, self.var, len(self.corr))

    def _offsets(self, points: torch.Tensor, b: dict[str, torch.Tensor]) -> torch.Tensor:
        return project(points, self.corr.view, *self.cameras(b)) - self.corr.xy_px

    def _points(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.points(self.params(b))

    def cost(self, x: torch.Tensor) -> float:
        """The true objective: weighted mean Geman-McClure loss + the squared priors."""
        with torch.no_grad():
            b = self.split(x)
            sq = self._offsets(self._points(b), b).square().sum(-1)
            w = self.corr.weight
            return float((gmof(sq, self.sigma) * w).sum() / w.sum() + self.prior_residuals(x).square().sum())

    def _irls(self, offsets: torch.Tensor) -> torch.Tensor:
        """sqrt(w rho'(r^2) / sum w): the reweighted least squares whose gradient at the
        current x is the robust loss's."""
        s2, w = self.sigma ** 2, self.corr.weight
        sq = offsets.detach().square().sum(-1)
        return (w * s2 * s2 / (s2 + sq).square() / w.sum()).sqrt()

    def linearize(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = self.split(x)
        J_prior, r_prior = jacfwd(lambda x: (self.prior_residuals(x),) * 2, has_aux=True)(x)
        if not self.analytic:
            irls = self._irls(self._offsets(self._points(b), b))
            data = lambda x: (self._offsets(self._points(self.split(x)), self.split(x)) * irls[:, None]).reshape(-1)  # noqa: E731
            return torch.cat([data(x), r_prior]), torch.cat([jacfwd(data)(x), J_prior])
        corr = self.corr
        points, dP = self.points.jacobian(self.params(b), self.bones)
        K, R, t = self.cameras(b)
        cam = torch.einsum("mij,mj->mi", R[corr.view], points) + t[corr.view]
        z = cam[:, 2].clamp(min=1e-3)
        uv = torch.einsum("mij,mj->mi", K[corr.view], cam / z[:, None])[:, :2]
        irls = self._irls(uv - corr.xy_px)
        # d pixel / d camera point: (K[:2] - pixel * e_z) / z, then through R to the world.
        e_z = torch.zeros(3, dtype=x.dtype, device=x.device)
        e_z[2] = 1
        d_px = ((K[corr.view, :2] - uv[..., None] * e_z) / z[:, None, None]) @ R[corr.view]  # (M, 2, 3)
        blocks = [(torch.einsum("mij,mjn->min", d_px, dP) * irls[:, None, None]).reshape(-1, self.n_body)]
        if self.cam_delta is not None:
            def data_of_cameras(xc):
                return (self._offsets(points, self.split(torch.cat([x[:self.n_body], xc]))) * irls[:, None]).reshape(-1)
            blocks.append(jacfwd(data_of_cameras)(x[self.n_body:]))
        r_data = ((uv - corr.xy_px) * irls[:, None]).reshape(-1)
        return torch.cat([r_data, r_prior]), torch.cat([torch.cat(blocks, dim=1), J_prior])


def lm_stage(var: Variables, cam_delta: CameraDelta | None, corr: Correspondences, cams: Cameras,
             body: BodyModel, priors: Priors, bones: torch.Tensor, sigma: float, iters: int, rel_tol: float,
             points: SkinnedPoints | None = None) -> list[float]:
    """At most ``iters`` LM iterations on the placement, the pose of ``bones``, the shape
    (and the cameras when refined), at robust scale ``sigma``, under ``priors``; ends when the
    loss drops by less than ``rel_tol`` (relative); updates ``var``/``cam_delta``."""
    problem = Problem(var, cam_delta, corr, cams, body, priors, bones, sigma, points)
    x, history = levenberg_marquardt(problem.cost, problem.linearize, problem.pack(), iters=iters, rel_tol=rel_tol)
    problem.unpack(x)
    return history
