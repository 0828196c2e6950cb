"""argv: calibration, footage folder, a fit.json recording a +Y up, millimetre world. Import the
capture three times (Z up in metres; as if the calibration were +Y up in millimetres, chosen
explicitly, then from the fit.json) and project points with Blender's own cameras."""

import sys

import bpy
import numpy as np
from bpy_extras.object_utils import world_to_camera_view
from common import emit, enable, run_op
from mathutils import Vector

pkg = enable()
calib_path, footage, fit_json = sys.argv[1:4]
calib = sys.modules[pkg.__name__ + ".vendor.calibration"].read_calibration(calib_path)
scene = bpy.context.scene
points = np.random.default_rng(0).uniform([-1, -1, 0], [1, 1, 1.8], (40, 3))  # around the platform
out = {}


def blender_pixels(obj, points_blender):
    bpy.ops.diffproxy.set_camera(name=obj.name)
    w, h = scene.render.resolution_x, scene.render.resolution_y
    px = [world_to_camera_view(scene, obj, Vector(p)) for p in points_blender]
    return np.array([(v.x * w - 0.5, (1 - v.y) * h - 0.5) for v in px]), (w, h)


y_up_mm = lambda p: np.stack([p[:, 0], -p[:, 2], p[:, 1]], axis=1) / 1000.0  # noqa: E731
cube_at_start = "Cube" in bpy.data.objects  # Blender's startup cube, untouched
for label, kwargs, to_blender in (("z_up_m", {}, lambda p: p),
                                  ("y_up_mm", {"up_axis": "+Y", "units_per_metre": 1000.0}, y_up_mm),
                                  ("from_fit", {"fit_path": fit_json}, y_up_mm)):
    result, error = run_op(bpy.ops.diffproxy.import_capture, filepath=calib_path, footage_dir=footage, **kwargs)
    (collection,) = [c for c in bpy.data.collections if c.name.startswith("DiffProxy")]  # the earlier: replaced
    report = {"result": result, "error": error, "cameras": {}}
    user_points = points  # in the calibration's units, whatever they are named
    for cam in calib.cameras:
        obj = next(o for o in collection.objects if o.data.name.split(".")[0] == cam.name)
        got, (w, h) = blender_pixels(obj, to_blender(user_points))
        scaled = cam.scaled(w, h) if (w, h) != (cam.width, cam.height) else cam
        expected = scaled.project(user_points, distort=False)
        bg = obj.data.background_images
        report["cameras"][cam.name] = {
            "size": [w, h], "max_px": float(np.abs(got - expected).max()),
            "background": [b.source for b in bg], "clip_size": list(bg[0].clip.size) if len(bg) else None,
            "active_clip": scene.active_clip.name if scene.active_clip else None}
    out[label] = report
out["after_three"] = {"cube_at_start": cube_at_start, "cube": "Cube" in bpy.data.objects,
                      "cameras": sorted(o.name for o in scene.objects
                                        if o.type == "CAMERA" and o.data.diffproxy.imported),
                      "collections": sorted(c.name for c in bpy.data.collections if c.name.startswith("DiffProxy"))}
bpy.ops.mesh.primitive_cube_add(location=(0.0, 0.0, 0.5))  # a cube of the user's: moved
moved = bpy.context.active_object.name
import_capture = sys.modules[pkg.__name__ + ".scene_capture"].import_capture
world = sys.modules[pkg.__name__ + ".core.world"].world_frame()
cameras, notes = import_capture(bpy.context, calib_path, footage, world, clean_scene=True)
out["fourth"] = {"notes": notes, "moved_cube": moved, "kept": moved in bpy.data.objects,
                 "cameras": sorted(o.name for o in scene.objects if o.type == "CAMERA" and o.data.diffproxy.imported)}
out.update(frame_start=scene.frame_start, frame_end=scene.frame_end, fps=scene.render.fps / scene.render.fps_base,
           clips=len(bpy.data.movieclips))
emit(out)
