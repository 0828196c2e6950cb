import pytest
import torch
from helpers import ring_cameras

from engine.errors import InputError
from engine.geometry import Cameras, pixel_centers, pixel_rays, plucker_rays, project


def test_projection_of_known_points():
    K = torch.tensor([[[100.0, 0, 63.5], [0, 100, 31.5], [0, 0, 1]]])
    R, t = torch.eye(3)[None], torch.tensor([[0.0, 0, 2]])
    xy, z = project(torch.tensor([[0.0, 0, 0], [0.2, -0.1, 0]]), K, R, t)
    torch.testing.assert_close(xy[0], torch.tensor([[63.5, 31.5], [73.5, 26.5]]))
    torch.testing.assert_close(z[0], torch.tensor([2.0, 2.0]))


def test_rays_hit_the_points_they_came_from():
    cams = ring_cameras(3)
    pts = torch.randn(50, 3, dtype=torch.float64) * 0.5
    xy, z = cams.project(pts)
    d = pixel_rays(cams.K, cams.R_cam_world, xy)
    o = cams.centers_world[:, None]
    torch.testing.assert_close(o + d * ((pts - o).norm(dim=-1, keepdim=True)), pts.expand(3, -1, -1))
    assert (z > 0).all()


def test_plucker_moment_is_the_same_for_any_point_on_the_ray():
    cams = ring_cameras(2, size=32)
    rays = plucker_rays(cams)  # (N, 6, H, W)
    assert rays.shape == (2, 6, 32, 32)
    d, m = rays[:, :3], rays[:, 3:]
    torch.testing.assert_close(d.norm(dim=1), torch.ones(2, 32, 32, dtype=torch.float64))
    p = cams.centers_world[:, :, None, None] + 2.7 * d  # another point on each ray
    torch.testing.assert_close(torch.cross(p, d, dim=1), m)
    assert torch.allclose((d * m).sum(dim=1), torch.zeros(1, dtype=torch.float64), atol=1e-12)


def test_strided_cells_see_their_centre_pixel():
    cams = ring_cameras(1, size=64)
    coarse = plucker_rays(cams, stride=8)
    fine = plucker_rays(cams, stride=1)
    assert coarse.shape == (1, 6, 8, 8)
    # the centre of cell (0, 0) of stride 8 is pixel 3.5: halfway between pixels 3 and 4
    torch.testing.assert_close(pixel_centers(64, 64, 8)[0, 0], torch.tensor([3.5, 3.5]))
    mid = (fine[..., 3, 3] + fine[..., 4, 4]) / 2
    assert (coarse[..., 0, 0] - mid).abs().max() < 1e-3


@pytest.mark.parametrize("mutate,message", [
    (lambda K, R, t: K.__setitem__((0, 0, 0), float("nan")), r"cameras.K: 1 non-finite"),
    (lambda K, R, t: K.__setitem__((1, 1, 1), 0.0), r"cameras.K\[1\]: focal lengths must be positive"),
    (lambda K, R, t: K.__setitem__((0, 2, 0), 0.5), r"cameras.K\[0\]: expected"),
    (lambda K, R, t: R.__setitem__((1, 0, 0), 2.0), r"cameras.R_cam_world\[1\]: not a rotation"),
    (lambda K, R, t: t.__setitem__((0, 2), float("inf")), r"cameras.t_cam_world: 1 non-finite"),
])
def test_bad_cameras_are_named(mutate, message):
    c = ring_cameras(2)
    K, R, t = c.K.clone(), c.R_cam_world.clone(), c.t_cam_world.clone()
    mutate(K, R, t)
    with pytest.raises(InputError, match=message):
        Cameras(K, R, t, 256, 256)


def test_singular_K_and_wrong_shapes():
    c = ring_cameras(2)
    K = c.K.clone()
    K[0, 0, 0] = 1e-14
    K[0, 1, 1] = 1e-14
    with pytest.raises(InputError, match="singular"):
        Cameras(K, c.R_cam_world, c.t_cam_world, 256, 256)
    with pytest.raises(InputError, match=r"R_cam_world: expected shape \(2, 3, 3\)"):
        Cameras(c.K, c.R_cam_world[:1], c.t_cam_world, 256, 256)
    with pytest.raises(InputError, match="image size"):
        Cameras(c.K, c.R_cam_world, c.t_cam_world, 0, 256)
    with pytest.raises(InputError, match="points_world"):
        c.project(torch.zeros(3, 5, 3, dtype=torch.float64))


def test_each_view_has_its_own_image_size():
    c = ring_cameras(3)
    mixed = Cameras(c.K, c.R_cam_world, c.t_cam_world, [1080, 1088, 1080], 1920)
    assert mixed.sizes == [(1080, 1920), (1088, 1920), (1080, 1920)] and mixed.height == 1920
    assert mixed.subset([2, 1]).sizes == [(1080, 1920), (1088, 1920)]
    assert mixed.subset(torch.tensor([True, False, True])).width == 1080
    assert mixed.to(torch.float32).sizes == mixed.sizes
    assert mixed.extend(c.subset([0])).sizes == mixed.sizes + [(256, 256)]  # e.g. a crop at another size
    assert c.sizes == [(256, 256)] * 3 and (c.width, c.height) == (256, 256)  # one size given: every view's
    with pytest.raises(InputError, match=r"one image width .* 1080x1920 \(view 0\), 1088x1920 \(view 1\)"):
        mixed.width
    with pytest.raises(InputError, match=r"cameras.widths: expected one per view \(3\), got 2"):
        Cameras(c.K, c.R_cam_world, c.t_cam_world, [1080, 1088], 1920)
    with pytest.raises(InputError, match=r"image size: .* 1088x0 \(view 1\)"):
        Cameras(c.K, c.R_cam_world, c.t_cam_world, [1080, 1088, 1080], [1920, 0, 1920])


def test_the_numpy_projections_are_the_ones_they_replace():
    """project_array (K, R, t) is synth's ground-truth projection and project_matrix (K [R | t])
    the detectors' view check, bit for bit (those formulas, as they were, are the references);
    both agree with the torch projection."""
    import numpy as np

    from engine.geometry.camera import project_array, project_matrix

    c = ring_cameras(3)
    rng = np.random.default_rng(0)
    X = rng.normal(0, 2.0, (200, 3))  # some behind a camera
    for v in range(3):
        K, R, t = c.K[v].numpy(), c.R_cam_world[v].numpy(), c.t_cam_world[v].numpy()
        cam = X @ R.T + t
        xy, z = project_array(X, K, R, t)
        np.testing.assert_array_equal(xy, (cam @ K.T)[:, :2] / cam[:, 2:])  # synth/render_scene.py's
        np.testing.assert_array_equal(z, cam[:, 2])
        P = K @ np.concatenate([R, t[:, None]], axis=1)
        h = X @ P[:, :3].T + P[:, 3]
        before = h[:, :2] / h[:, 2:]
        before[~(h[:, 2] > 0)] = np.nan  # engine/detect/multiview.py's
        culled, depth = project_matrix(X, P, cull=True)
        np.testing.assert_array_equal(culled, before)
        assert (depth <= 0).any() and np.isnan(culled[depth <= 0]).all() and np.isfinite(culled[depth > 0]).all()
        expected, _ = c.subset([v]).project(torch.as_tensor(X))
        np.testing.assert_allclose(xy, expected[0].numpy(), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(project_matrix(X, P)[0], xy, rtol=1e-9, atol=1e-9)
