"""argv: calibration, footage folder (frame folders). Import the capture; report each camera's
image size and footage."""

import sys
from pathlib import Path

import bpy
from common import emit, enable, run_op

enable()
result, error = run_op(bpy.ops.diffproxy.import_capture, filepath=sys.argv[1], footage_dir=sys.argv[2])
scene, cameras = bpy.context.scene, {}
for obj in [o for o in scene.objects if o.type == "CAMERA"]:
    bpy.ops.diffproxy.set_camera(name=obj.name)
    clip = obj.data.background_images[0].clip if len(obj.data.background_images) else None
    cameras[obj.name] = {"size": [scene.render.resolution_x, scene.render.resolution_y],
                         "source": clip.source if clip else None, "footage": Path(obj.data.diffproxy.footage).name}
emit({"result": result, "error": error, "cameras": cameras, "frame_start": scene.frame_start,
      "frame_end": scene.frame_end})
