import pytest
import torch
from helpers import random_pose, ring_cameras

from engine.errors import InputError
from engine.fitting import proxy_correspondences
from engine.proxy import surface_points, uv_of_surface_points


def splat_proxy(body, proxy, out, cams, n=60000, seed=0):
    """A proxy made by writing random surface points into the pixel they project to (no
    occlusion test: every pixel holds some point that projects inside it)."""
    g = torch.Generator().manual_seed(seed)
    face = torch.randint(0, body.faces.shape[0], (n,), generator=g)
    bary = torch.distributions.Dirichlet(torch.ones(3, dtype=torch.float64)).sample((n,))
    pts = surface_points(out.vertices, body.faces, face, bary)[0]
    uv_pts = uv_of_surface_points(body.uv_coords, body.uv_faces, face, bary)
    xy, _ = cams.project(pts)
    V, S = len(cams), cams.width
    seg = torch.zeros(V, S, S, dtype=torch.long)
    uv = torch.zeros(V, S, S, 2, dtype=torch.float64)
    for v in range(V):
        px = xy[v].round().long()
        idx = torch.nonzero(((px >= 0) & (px < S)).all(dim=1)).flatten()
        # one point per pixel (the first): seg and uv must come from the same point
        lin = px[idx, 1] * S + px[idx, 0]
        first = torch.full((S * S,), len(idx)).scatter_reduce(0, lin, torch.arange(len(idx)), "amin")
        idx = idx[first[first < len(idx)]]
        seg[v, px[idx, 1], px[idx, 0]] = proxy.part_table.face_part[face[idx]]
        uv[v, px[idx, 1], px[idx, 0]] = uv_pts[idx]
    return seg, uv


def test_correspondences_reproject_onto_their_pixels(anny64, anny_proxy):
    cams = ring_cameras(4, size=128)
    params = random_pose(anny64, 1, 0.3, seed=0)
    params.global_orient.zero_()
    params.transl.zero_()
    out = anny64(params)
    seg, uv = splat_proxy(anny64, anny_proxy, out, cams)
    corr = proxy_correspondences(seg, uv, anny_proxy.lookup, max_per_part=40)
    for v in range(4):  # every view contributes, across many parts
        assert (corr.view == v).sum() > 300 and len(torch.unique(corr.part[corr.view == v])) >= 20
    pts = surface_points(out.vertices, anny64.faces, corr.face, corr.bary)[0]
    xy, _ = cams.project(pts)
    err = (xy[corr.view, torch.arange(len(corr))] - corr.xy_px).abs()
    assert err.max() <= 0.5 + 1e-9  # the point projects inside its pixel
    counts = torch.bincount(corr.view * 47 + corr.part)
    assert counts.max() <= 40
    assert (corr.weight == 1).all()


def test_weights_subsampling_and_errors(anny64, anny_proxy):
    seg = torch.zeros(2, 8, 8, dtype=torch.long)
    uv = torch.zeros(2, 8, 8, 2)
    with pytest.raises(InputError, match="no foreground pixels"):
        proxy_correspondences(seg, uv, anny_proxy.lookup)
    with pytest.raises(InputError, match="weight: values must lie in"):
        proxy_correspondences(seg, uv, anny_proxy.lookup, weight=torch.full((2, 8, 8), 2.0))
    with pytest.raises(InputError, match=r"uv: expected shape \(2, 8, 8, 2\)"):
        proxy_correspondences(seg, uv[:1], anny_proxy.lookup)

    # one face centre per pixel; a zero weight drops its pixel; a seed fixes the subsample
    face = torch.arange(0, 27420, 400)
    bary = torch.full((len(face), 3), 1 / 3, dtype=torch.float64)
    seg = torch.zeros(1, 8, 9, dtype=torch.long)
    uv = torch.zeros(1, 8, 9, 2, dtype=torch.float64)
    seg.view(-1)[:len(face)] = anny_proxy.part_table.face_part[face]
    uv.view(-1, 2)[:len(face)] = uv_of_surface_points(anny64.uv_coords, anny64.uv_faces, face, bary)
    weight = torch.ones(1, 8, 9, dtype=torch.float64)
    weight[0, 0, 0] = 0
    a = proxy_correspondences(seg, uv, anny_proxy.lookup, weight=weight, max_per_part=1, seed=3)
    b = proxy_correspondences(seg, uv, anny_proxy.lookup, weight=weight, max_per_part=1, seed=3)
    assert torch.equal(a.face, b.face) and torch.equal(a.xy_px, b.xy_px)
    assert not (a.xy_px == 0).all(dim=1).any()  # the zero-weight pixel is gone
    assert len(a) == len(torch.unique(seg.view(-1)[1:len(face)]))  # one pixel per part
    full = proxy_correspondences(seg, uv, anny_proxy.lookup, max_per_part=1000)
    assert set(full.face.tolist()) == set(face.tolist())  # every face centre found again
