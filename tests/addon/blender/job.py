"""argv: calibration, footage folder, output folder. Write Reconstruct's job folder from the
scene's cameras (the function the operator calls) three times: the capture imported as is
(Z up, metres); imported as if +Y up in millimetres; then with cam01 moved, cam02's focal
length changed and a camera made in Blender (cam05, cam03's place and footage), three of them
chosen, frames 3:7. For the last, Blender's own projection of points through each chosen
camera is reported, for the test to compare with the written calibration."""

import sys
from pathlib import Path

import bpy
import numpy as np
from bpy_extras.object_utils import world_to_camera_view
from common import MODULE, emit, enable, run_op
from mathutils import Vector

enable()
write_scene_job = sys.modules[MODULE + ".scene_job"].write_scene_job
InputError = sys.modules[MODULE + ".vendor.errors"].InputError
calibration, footage, out = sys.argv[1:4]
out = Path(out)
scene, context = bpy.context.scene, bpy.context
result = {}


def clear_cameras():
    for obj in [o for o in bpy.data.objects if o.type == "CAMERA"]:
        data = obj.data
        bpy.data.objects.remove(obj)
        bpy.data.cameras.remove(data)


def write(label):
    try:
        job, frames = write_scene_job(context, out / label)
        result[label] = {"frames": frames, "notes": job.notes, "calibration": str(job.calibration),
                         "footage": sorted(p.name for p in job.footage.iterdir()),
                         "links": {p.name: str(p.resolve()) for p in job.footage.iterdir()}}
    except InputError as e:
        result[label] = {"error": str(e)}


result["no_cameras"] = None
write("no_cameras")
run_op(bpy.ops.diffproxy.import_capture, filepath=calibration, footage_dir=footage)
write("z_up_m")
clear_cameras()
run_op(bpy.ops.diffproxy.import_capture, filepath=calibration, footage_dir=footage, up_axis="+Y",
       units_per_metre=1000.0)
write("y_up_mm")

objs = bpy.data.objects
objs["cam01"].location += Vector((0.1, -0.05, 0.02))  # moved 10 cm (Blender: metres)
objs["cam01"].rotation_euler.z += 0.05
objs["cam02"].data.lens *= 1.1
made = bpy.data.objects.new("cam05", bpy.data.cameras.new("cam05"))
for attr in ("lens", "sensor_width", "sensor_height", "sensor_fit", "shift_x", "shift_y"):
    setattr(made.data, attr, getattr(objs["cam03"].data, attr))
made.matrix_world = objs["cam03"].matrix_world.copy()
bg = made.data.background_images.new()
bg.source, bg.clip = "MOVIE_CLIP", objs["cam03"].data.background_images[0].clip
scene.collection.objects.link(made)
scene.diffproxy.views, scene.diffproxy.frames = "cam01, cam02,cam05", "3:7"
write("edited")

points_user = np.random.default_rng(1).uniform([-1, -1, 0], [1, 1, 1.8], (30, 3))  # the file's numbers, "+Y up mm"
points_blender = np.stack([points_user[:, 0], -points_user[:, 2], points_user[:, 1]], 1) / 1000.0
pixels = {}
for name in ("cam01", "cam02", "cam05"):
    obj = objs[name]
    bpy.ops.diffproxy.set_camera(name=name if obj.data.diffproxy.imported else "cam03")
    if not obj.data.diffproxy.imported:  # made in Blender: its footage's size (cam03's), square pixels
        scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
    w, h = scene.render.resolution_x, scene.render.resolution_y
    uv = [world_to_camera_view(scene, obj, Vector(p)) for p in points_blender]
    pixels[name] = [[v.x * w - 0.5, (1 - v.y) * h - 0.5] for v in uv]
result["edited"].update(points_user=points_user.tolist(), blender_pixels=pixels)

scene.diffproxy.views = "cam01,nothere"
write("unknown_camera")
scene.diffproxy.views, scene.diffproxy.frames = "", ""
scene.frame_start, scene.frame_end = 200, 300
write("outside_footage")
emit(result)
