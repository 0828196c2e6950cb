"""Part-local rest coordinates: exact round trip through (part, u, v), no seams inside a part,
and noisy coordinates still name a surface point of the pixel's part."""

import numpy as np
import pytest
import torch
from helpers import ring_cameras

from engine.errors import InputError
from engine.proxy.raycast import ProxyRenderer
from engine.proxy.rest_coords import RestCoords

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rest(anny64, anny_proxy):
    return RestCoords.for_body(anny64, anny_proxy)


@pytest.fixture(scope="module")
def views(anny64, anny_proxy):
    """Two views of the posed body, as the synth proxy pass casts them."""
    params = anny64.neutral_params(1)
    params.body_pose[0, anny64.pose_joint_names.index("lowerarm01.L")] = torch.tensor([0.0, 0.0, 0.9], dtype=torch.float64)
    out = anny64(params)
    cams = ring_cameras(2, 160, dtype=torch.float64)
    renderer = ProxyRenderer(out.vertices[0].numpy(), anny64.faces.numpy(), anny_proxy.part_table.face_part.numpy(),
                             anny64.uv_coords.numpy(), anny64.uv_faces.numpy())
    casts = [renderer.render(cams.K[i].numpy(), cams.R_cam_world[i].numpy(), cams.t_cam_world[i].numpy(), 160, 160)
             for i in range(2)]
    return torch.as_tensor(np.stack([c.seg for c in casts])), torch.as_tensor(np.stack([c.uv for c in casts]))


def _points(rest, seg, uv):
    point, valid = rest.points(seg[seg > 0].long(), uv[seg > 0])
    assert valid.all()
    return point


def test_coordinates_round_trip_to_the_same_surface_points(rest, views):
    seg, uv = views
    coords = rest.encode(seg, uv)
    assert coords.shape == (*seg.shape, 3) and (coords[seg == 0] == -1).all()
    assert coords[seg > 0].abs().max() <= 1 and coords[seg > 0].std(dim=0).min() > 0.2  # spread over the box
    error = (_points(rest, seg, rest.decode(seg, coords)) - _points(rest, seg, uv)).norm(dim=-1)
    assert error.quantile(0.99) < 1e-4 and error.max() < 5e-3  # metres


def test_the_two_sides_of_a_uv_seam_get_the_same_coordinates(rest, anny64):
    """A mesh edge inside one part whose two faces sit on different atlas islands: its
    midpoint has two (u, v), far apart, and one set of coordinates."""
    faces, uv_faces = anny64.faces.numpy(), anny64.uv_faces.numpy()
    part = rest.face_part.numpy()
    sides: dict[tuple[int, int], list[tuple[int, np.ndarray]]] = {}
    for f in range(len(faces)):
        for i, j in ((0, 1), (1, 2), (2, 0)):
            (a, ua), (b, ub) = sorted([(faces[f, i], uv_faces[f, i]), (faces[f, j], uv_faces[f, j])])
            sides.setdefault((a, b), []).append((f, np.array([ua, ub])))
    seams = [(s[0], s[1]) for s in sides.values()
             if len(s) == 2 and part[s[0][0]] == part[s[1][0]] > 0 and (s[0][1] != s[1][1]).any()]
    assert len(seams) > 100
    uv_coords = anny64.uv_coords.double()
    midpoint = [torch.stack([uv_coords[side[1]].mean(dim=0) for side in pair]) for pair in seams]
    uv = torch.stack(midpoint, dim=1)  # (2, N, 2): each seam's midpoint seen from either side
    seg = torch.as_tensor(np.array([part[pair[0][0]] for pair in seams]))[None].expand(2, -1)
    coords = rest.encode(seg, uv)
    assert (uv[0] - uv[1]).norm(dim=-1).median() > 0.05
    assert (coords[0] - coords[1]).norm(dim=-1).max() < 1e-3


def test_noisy_coordinates_decode_to_a_point_of_the_same_part(rest, views):
    seg, uv = views
    coords = rest.encode(seg, uv)
    noisy = coords + 0.05 * torch.randn(coords.shape, generator=torch.Generator().manual_seed(0))
    decoded = rest.decode(seg, noisy)
    q = rest.lookup.query(seg[seg > 0].long(), decoded[seg > 0].double())
    assert q.valid.all() and (rest.face_part[q.face] == seg[seg > 0].long()).all()
    moved = (_points(rest, seg, decoded) - _points(rest, seg, uv)).norm(dim=-1)
    assert moved.median() < 0.01  # 5% of a part's box is a few mm to a few cm


def test_part_ids_beyond_the_body_are_refused(rest, views):
    seg, uv = views
    with pytest.raises(InputError, match="seg: part id"):
        rest.encode(torch.full_like(seg, 200), uv)
