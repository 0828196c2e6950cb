"""argv: calibration, footage folder, output folder, discs JSON ([[x, y, z, radius], ...] in
the calibration's world, Z up, metres). Import the capture, put flat green emissive discs at the
given points facing the first camera, run Composite over Footage, render scene frame 2
(footage frame 1) through the first camera, then through the second after Set Camera
(without the discs), at full size and at 50 %."""

import json
import sys
from pathlib import Path

import bpy
from common import emit, enable, run_op

enable()
calibration, footage, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
discs = json.loads(sys.argv[4])
scene = bpy.context.scene
result, error = run_op(bpy.ops.diffproxy.import_capture, filepath=calibration, footage_dir=footage)
cameras = sorted(o.name for o in scene.objects if o.type == "CAMERA" and o.data.diffproxy.imported)
first = bpy.data.objects[cameras[0]]

green = bpy.data.materials.new("green")
green.use_nodes = True
nodes = green.node_tree.nodes
nodes.remove(nodes["Principled BSDF"])
emission = nodes.new("ShaderNodeEmission")
emission.inputs["Color"].default_value = (0.0, 1.0, 0.0, 1.0)
green.node_tree.links.new(emission.outputs[0], nodes["Material Output"].inputs["Surface"])
for i, (x, y, z, radius) in enumerate(discs):
    bpy.ops.mesh.primitive_circle_add(vertices=128, radius=radius, fill_type="NGON", location=(x, y, z))
    disc = bpy.context.active_object
    disc.name = f"disc{i}"
    disc.rotation_euler = first.matrix_world.to_euler()  # parallel to the first camera's image plane
    disc.data.materials.append(green)

scene.render.engine = "CYCLES"
scene.cycles.device, scene.cycles.samples, scene.cycles.use_denoising = "CPU", 16, False
scene.render.dither_intensity = 0.0
scene.render.image_settings.file_format, scene.render.image_settings.color_mode = "PNG", "RGB"
scene.frame_set(2)

plain = bpy.data.objects.new("plain", bpy.data.cameras.new("plain"))  # made in Blender: no footage, no lens
scene.collection.objects.link(plain)
scene.camera = plain
refused = run_op(bpy.ops.diffproxy.composite_footage)
refused_tree = scene.compositing_node_group is not None

renders = {}
set_first = run_op(bpy.ops.diffproxy.set_camera, name=first.name)
composite = run_op(bpy.ops.diffproxy.composite_footage)
for name in cameras:
    if name != first.name:
        run_op(bpy.ops.diffproxy.set_camera, name=name)  # the composite must follow the camera
        for i in range(len(discs)):
            bpy.data.objects[f"disc{i}"].hide_render = True  # seen edge on: the footage alone
    scene.render.filepath = str(out / f"{name}.png")
    bpy.ops.render.render(write_still=True)
    renders[name] = {"png": scene.render.filepath, "size": [scene.render.resolution_x, scene.render.resolution_y],
                     "clip": scene.compositing_node_group.nodes["Footage"].clip.name
                     if scene.compositing_node_group else None}
scene.render.resolution_percentage = 50  # a smaller render: the map holds at any size
scene.render.filepath = str(out / f"{cameras[-1]}_half.png")
bpy.ops.render.render(write_still=True)
renders["half"] = {"png": scene.render.filepath}
emit({"import": [result, error], "refused": refused, "refused_tree": refused_tree, "composite": composite,
      "renders": renders, "film": scene.render.film_transparent, "view": scene.view_settings.view_transform})
