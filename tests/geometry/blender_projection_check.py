"""Run in its own process (imports bpy): compares engine.geometry.blender_camera with
Blender's own projection (bpy_extras.object_utils.world_to_camera_view) on random cameras.
Prints one JSON object: the largest pixel disagreements in both directions.

mathutils computes in float32, so Blender's own answer carries noise of about 4e-7 times the
focal length in pixels: the random cameras stay in a realistic range (fx up to ~10,000 px)
where that noise is well under the 0.01 px the test asks for."""

import json
import sys

import bpy
import numpy as np
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Matrix, Vector

from engine.geometry.blender_camera import BlenderCamera, blender_to_opencv, opencv_to_blender


def random_rotation(rng):
    q = rng.standard_normal(4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def blender_pixels(scene, cam, points):
    w = scene.render.resolution_x * scene.render.resolution_percentage // 100
    h = scene.render.resolution_y * scene.render.resolution_percentage // 100
    out = []
    for p in points:
        co = world_to_camera_view(scene, cam, Vector(p.tolist()))
        out.append([co.x * w - 0.5, (1 - co.y) * h - 0.5])
    return np.array(out)


def read_camera(scene, cam):
    d, r = cam.data, scene.render
    return BlenderCamera(
        lens=d.lens, sensor_width=d.sensor_width, sensor_height=d.sensor_height, sensor_fit=d.sensor_fit,
        shift_x=d.shift_x, shift_y=d.shift_y, resolution_x=r.resolution_x, resolution_y=r.resolution_y,
        resolution_percentage=r.resolution_percentage, pixel_aspect_x=r.pixel_aspect_x,
        pixel_aspect_y=r.pixel_aspect_y, matrix_world=tuple(map(tuple, np.array(cam.matrix_world))))


def write_camera(scene, cam, bc):
    d, r = cam.data, scene.render
    d.lens, d.sensor_width, d.sensor_height, d.sensor_fit = bc.lens, bc.sensor_width, bc.sensor_height, bc.sensor_fit
    d.shift_x, d.shift_y = bc.shift_x, bc.shift_y
    r.resolution_x, r.resolution_y, r.resolution_percentage = bc.resolution_x, bc.resolution_y, bc.resolution_percentage
    r.pixel_aspect_x, r.pixel_aspect_y = bc.pixel_aspect_x, bc.pixel_aspect_y
    cam.matrix_world = Matrix([list(row) for row in bc.matrix_world])
    bpy.context.view_layer.update()


def project(K, R, t, points):
    x = (R @ points.T).T + t
    uv = (K @ x.T).T
    return uv[:, :2] / uv[:, 2:3]


def points_in_front(rng, R_cam_world, t_cam_world, n=20):
    z = rng.uniform(0.5, 20, n)
    x_cam = np.stack([rng.uniform(-0.6, 0.6, n) * z, rng.uniform(-0.6, 0.6, n) * z, z], axis=1)
    return (R_cam_world.T @ (x_cam - t_cam_world).T).T


def main(seed, n):
    rng = np.random.default_rng(seed)
    scene = bpy.context.scene
    cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    scene.collection.objects.link(cam)
    scene.camera = cam
    err_b2o, err_o2b = 0.0, 0.0
    for _ in range(n):
        aspect = rng.uniform(1, 2)
        M = np.eye(4)
        M[:3, :3], M[:3, 3] = random_rotation(rng), rng.uniform(-5, 5, 3)
        bc = BlenderCamera(
            lens=rng.uniform(12, 120), sensor_width=rng.uniform(12, 50), sensor_height=rng.uniform(8, 50),
            sensor_fit=str(rng.choice(["AUTO", "HORIZONTAL", "VERTICAL"])), shift_x=rng.uniform(-0.4, 0.4),
            shift_y=rng.uniform(-0.4, 0.4), resolution_x=2 * int(rng.integers(32, 1000)),
            resolution_y=2 * int(rng.integers(32, 1000)), resolution_percentage=int(rng.choice([50, 100])),
            pixel_aspect_x=aspect if rng.random() < 0.3 else 1.0, pixel_aspect_y=aspect if rng.random() < 0.3 else 1.0,
            matrix_world=tuple(map(tuple, M)))
        write_camera(scene, cam, bc)
        K, R, t, _ = blender_to_opencv(read_camera(scene, cam))
        pts = points_in_front(rng, R, t)
        err_b2o = max(err_b2o, float(np.abs(project(K, R, t, pts) - blender_pixels(scene, cam, pts)).max()))

        # OpenCV -> Blender: an arbitrary pinhole (fx != fy, off-centre) set on the camera
        w, h = 2 * int(rng.integers(32, 1000)), 2 * int(rng.integers(32, 1000))
        f = rng.uniform(0.5, 3) * w
        K = np.array([[f, 0, rng.uniform(0.2, 0.8) * w], [0, f * rng.uniform(0.7, 1.4), rng.uniform(0.2, 0.8) * h],
                      [0, 0, 1]])
        R, t = random_rotation(rng), rng.uniform(-3, 3, 3)
        write_camera(scene, cam, opencv_to_blender(K, R, t, w, h))
        pts = points_in_front(rng, R, t)
        err_o2b = max(err_o2b, float(np.abs(project(K, R, t, pts) - blender_pixels(scene, cam, pts)).max()))
    print(json.dumps({"cameras": n, "max_px_blender_to_opencv": err_b2o, "max_px_opencv_to_blender": err_o2b}))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
