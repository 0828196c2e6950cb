import torch
from helpers import ring_cameras

from engine.geometry import Cameras, epipolar_lines, pairwise_fundamental, point_line_distance


def test_corresponding_points_lie_on_their_epipolar_lines():
    cams = ring_cameras(4)
    pts = torch.randn(100, 3, dtype=torch.float64) * 0.4
    xy, _ = cams.project(pts)
    F = pairwise_fundamental(cams)
    for a in range(4):
        for b in range(4):
            if a == b:
                continue
            d = point_line_distance(F[b, a], xy[a], xy[b])  # (P, Q)
            assert d.diagonal().max() < 1e-8
            off = d[~torch.eye(100, dtype=torch.bool)]
            assert off.median() > 1.0  # other points are not on the line
            # and the transpose maps the other way
            torch.testing.assert_close(F[a, b], F[b, a].T / F[b, a].norm() * F[a, b].norm(), atol=1e-9, rtol=1e-6)


def test_lines_are_normalised():
    cams = ring_cameras(2)
    F = pairwise_fundamental(cams)
    lines = epipolar_lines(F[1, 0], torch.rand(10, 2, dtype=torch.float64) * 256)
    torch.testing.assert_close(lines[:, :2].norm(dim=-1), torch.ones(10, dtype=torch.float64))


def test_moving_a_camera_moves_the_epipolar_line_as_geometry_says():
    cams = ring_cameras(2)
    p = torch.tensor([[0.1, -0.2, 0.3]], dtype=torch.float64)
    q = torch.tensor([[0.1, -0.2, 0.3 + 0.25]], dtype=torch.float64)  # another point on... a different ray
    xy, _ = cams.project(torch.cat([p, q]))
    shifted = Cameras(cams.K, cams.R_cam_world, cams.t_cam_world + torch.tensor([[0, 0, 0], [0.3, 0, 0]],
                      dtype=torch.float64), 256, 256)
    F0, F1 = pairwise_fundamental(cams)[1, 0], pairwise_fundamental(shifted)[1, 0]
    xy1, _ = shifted.project(p)
    assert point_line_distance(F0, xy[0, :1], xy[1, :1]) < 1e-8
    assert point_line_distance(F1, xy1[0], xy1[1]) < 1e-8
    assert point_line_distance(F1, xy1[0], xy[1, :1]) > 1.0  # the old match is off the new line
