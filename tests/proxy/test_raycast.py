import numpy as np
import pytest
import torch
from helpers import ring_cameras

from engine.proxy import surface_points
from engine.proxy.raycast import ProxyRenderer, ray_barycentrics


@pytest.fixture(scope="module")
def posed(anny64, anny_proxy):
    out = anny64(anny64.neutral_params(1))
    return out.vertices, anny64, anny_proxy


def _renderer(posed, occluders=None):
    vertices, body, proxy = posed
    return ProxyRenderer(vertices[0].numpy(), body.faces.numpy(), proxy.part_table.face_part.numpy(),
                         body.uv_coords.numpy(), body.uv_faces.numpy(), occluders)


def _box_triangles(lo, hi):
    import trimesh

    box = trimesh.creation.box(bounds=[lo, hi])
    return box.vertices[box.faces]


def test_every_proxy_pixel_reprojects_onto_its_centre(posed):
    vertices, body, proxy = posed
    cams = ring_cameras(3, 128)
    renderer = _renderer(posed)
    for v in range(3):
        view = renderer.render(cams.K[v].numpy(), cams.R_cam_world[v].numpy(), cams.t_cam_world[v].numpy(), 128, 128)
        ys, xs = np.nonzero(view.seg)
        assert len(ys) > 500 and view.occluded_fraction == 0.0
        hit = proxy.lookup.query(torch.as_tensor(view.seg[ys, xs]).long(), torch.as_tensor(view.uv[ys, xs]).double())
        assert hit.valid.all()
        xy, z = cams.subset([v]).project(surface_points(vertices, body.faces, hit.face, hit.bary))
        err = (xy[0].numpy() - np.stack([xs, ys], 1))
        assert np.abs(err).max() < 1e-3
        assert np.abs(z[0].numpy() - view.depth[ys, xs]).max() < 1e-5
        assert (view.body_mask == (view.seg > 0)).all()


def test_occluder_cuts_the_body_and_is_counted(posed):
    cams = ring_cameras(1, 128)
    center = -cams.R_cam_world[0].T @ cams.t_cam_world[0]
    # A wall halfway between the camera and the body, covering the lower half of the frame.
    mid = (center.numpy() * 0.5)
    wall = _box_triangles(mid - [0.6, 0.6, 5.0], mid + [0.6, 0.6, 0.0])
    free = _renderer(posed).render(cams.K[0].numpy(), cams.R_cam_world[0].numpy(), cams.t_cam_world[0].numpy(), 128, 128)
    cut = _renderer(posed, wall).render(cams.K[0].numpy(), cams.R_cam_world[0].numpy(), cams.t_cam_world[0].numpy(),
                                        128, 128)
    assert (cut.body_mask == free.body_mask).all()
    hidden = free.body_mask & (cut.seg == 0)
    assert 0.1 < cut.occluded_fraction < 0.9
    assert cut.occluded_fraction == pytest.approx(hidden.sum() / free.body_mask.sum())
    assert (cut.depth[hidden] < free.depth[hidden]).all()  # the wall is in front
    assert (cut.seg[~hidden] == free.seg[~hidden]).all()


def test_ray_barycentrics_float64():
    tri = np.array([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]])
    bary, dist = ray_barycentrics(np.array([[0.25, 0.25, 2.0]]), np.array([[0.0, 0, -1]]), tri)
    assert np.allclose(bary, [[0.5, 0.25, 0.25]]) and np.allclose(dist, [2.0])
