"""The proxy round trip: surface point -> (part, u, v) -> lookup -> surface point.

It checks that the part table, the UV map and the lookup of a body model agree: a proxy
pixel rendered from a body denotes the point it was rendered from. Failures come from UV
seams, faces degenerate in UV space, or parts whose UV charts overlap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from engine.proxy.lookup import surface_points, uv_of_surface_points


@dataclass
class RoundTripReport:
    samples: int
    within_1mm: float  # fraction of samples that land within 1 mm
    failures: int  # samples farther than 1 mm
    not_found: int  # samples whose lookup found no face of their part
    outside_face: int  # samples that fell outside every UV triangle of their part (clamped)
    max_error_mm: float
    median_error_mm: float

    def as_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def uv_roundtrip(body, proxy, samples: int = 100_000, seed: int = 0) -> RoundTripReport:
    """Random faces (uniform) and barycentric coordinates (uniform on the triangle) on the
    rest-pose body, in float64."""
    g = torch.Generator().manual_seed(seed)
    face = torch.randint(0, body.faces.shape[0], (samples,), generator=g)
    bary = -torch.log(torch.rand(samples, 3, generator=g, dtype=torch.float64))
    bary = bary / bary.sum(dim=1, keepdim=True)  # Dirichlet(1, 1, 1)
    vertices = body(body.neutral_params(1)).vertices.double().cpu()
    faces, uv_coords, uv_faces = body.faces.cpu(), body.uv_coords.double().cpu(), body.uv_faces.cpu()
    points = surface_points(vertices, faces, face, bary)[0]
    uv = uv_of_surface_points(uv_coords, uv_faces, face, bary)
    found = proxy.lookup.query(proxy.part_table.face_part[face], uv)
    back = surface_points(vertices, faces, found.face.clamp(min=0), found.bary)[0]
    err = torch.where(found.valid, (back - points).norm(dim=-1), torch.full_like(bary[:, 0], torch.inf))
    ok = err < 1e-3
    finite = err[torch.isfinite(err)]
    return RoundTripReport(
        samples=samples, within_1mm=ok.double().mean().item(), failures=int((~ok).sum()),
        not_found=int((~found.valid).sum()), outside_face=int((found.valid & ~found.inside).sum()),
        max_error_mm=float(err.max() * 1000), median_error_mm=float(finite.median() * 1000) if len(finite) else float("inf"),
    )
