"""Composite over footage: the scene's compositor lays the render (a transparent film) over
the scene camera's footage, undistorted with the calibration so that it matches the camera's
pinhole.

Blender's cameras are pinholes and the footage is distorted (the calibration's OpenCV k1 k2
p1 p2 k3, kept on each imported camera). The undistortion is OpenCV's own map
(``cv2.undistort(frame, K, dist, None, K)``, K the camera's as imported: the one its Blender
camera renders with), written as compositor math: for each render pixel's centre, the footage
pixel it comes from, then the footage sampled there (Map UV, bilinear). So the footage needs no
copy on disk and the map holds at any render size (resolution percentage). Blender's Movie
Distortion node is not used: in Blender 5.0 its Undistort moves the image by a pixel even with no
distortion, and its Brown model's conventions (rows from the bottom, the principal point's
origin) would have to be matched to OpenCV's.

One compositor node group, ``DiffProxy over footage``, serves every camera: its Movie Clip node
and the lens of its ``DiffProxy undistort`` group follow the scene camera whenever Set Camera
(the panel's camera buttons) or this setup runs. A camera made the scene camera otherwise
(Blender's own UI, timeline markers) keeps the earlier camera's footage until one of them runs.
"""

from __future__ import annotations

import bpy
import numpy as np

from .core.job_folder import SAME_INTRINSICS_PX
from .scene_job import blender_settings
from .vendor.blender_camera import blender_to_opencv

TREE = "DiffProxy over footage"
UNDISTORT = "DiffProxy undistort"
LENS = ("fx", "fy", "cx", "cy", "width", "height", "k1", "k2", "p1", "p2", "k3")  # the group's inputs


def camera_lens(obj) -> tuple[dict[str, float], bpy.types.MovieClip]:
    """-> (the undistortion's inputs: OpenCV K as imported, the footage's size, k1 k2 p1 p2 k3;
    the camera's movie clip). Raises ValueError naming what is missing."""
    if obj.type != "CAMERA" or obj.data.type != "PERSP":
        raise ValueError(f"{obj.name}: not a perspective camera")
    props = obj.data.diffproxy
    if not props.imported or not props.intrinsics_K[8]:
        raise ValueError(f"camera {obj.name}: not an imported camera (Import Capture makes them)")
    clip = next((b.clip for b in obj.data.background_images if b.source == "MOVIE_CLIP" and b.clip), None)
    if clip is None:
        raise ValueError(f"camera {obj.name}: no footage (its movie clip background)")
    K = np.array(props.intrinsics_K, dtype=np.float64).reshape(3, 3)
    dist = [float(d) for d in props.distortion.split()] if props.distortion else []
    if len(dist) not in (0, 4, 5) and any(dist[5:]):
        raise ValueError(f"camera {obj.name}: distortion {props.distortion!r}: only k1 k2 p1 p2 [k3] "
                         f"(OpenCV's first five) can be undistorted here")
    k1, k2, p1, p2, k3 = (dist + [0.0] * 5)[:5]
    return ({"fx": K[0, 0], "fy": K[1, 1], "cx": K[0, 2], "cy": K[1, 2], "width": float(props.width),
             "height": float(props.height), "k1": k1, "k2": k2, "p1": p1, "p2": p2, "k3": k3}, clip)


def composite_over_footage(scene) -> list[str]:
    """Set the scene's compositor to lay the render over the scene camera's undistorted
    footage; -> notes for the user. Raises ValueError when the scene camera is not an imported
    camera with footage."""
    if scene.camera is None:
        raise ValueError("no scene camera: make an imported camera the scene camera (the panel's camera buttons)")
    lens, _ = camera_lens(scene.camera)  # refuse before anything changes
    notes = []
    K = blender_to_opencv(blender_settings(scene.camera))[0]
    imported = np.array([[lens["fx"], 0, lens["cx"]], [0, lens["fy"], lens["cy"]], [0, 0, 1]])
    if np.abs(K - imported).max() > SAME_INTRINSICS_PX:
        notes.append(f"camera {scene.camera.name}: focal length, sensor, shift or size changed since import: the "
                     f"footage is undistorted with the imported lens, so the render no longer lines up with it")
    current = scene.compositing_node_group
    if current is not None and current.name != TREE:
        current.use_fake_user = True
        notes.append(f"the scene's compositor node group {current.name!r} was replaced (kept, with a fake user)")
    tree = bpy.data.node_groups.get(TREE)
    if tree is not None and (tree.bl_idname != "CompositorNodeTree" or "Footage" not in tree.nodes
                             or "Undistort" not in tree.nodes):
        tree.name = f"{TREE} (edited)"  # the user's: kept, not reused
        tree.use_fake_user = True
        tree = None
    if tree is None:
        tree = _build_tree()
    scene.compositing_node_group = tree
    scene.render.use_compositing = True
    if not scene.render.film_transparent:
        scene.render.film_transparent = True
        notes.append("film set to transparent (the footage shows where nothing is rendered)")
    view = scene.view_settings
    if (view.view_transform, view.look, view.exposure, view.gamma) != ("Standard", "None", 0.0, 1.0):
        view.view_transform, view.look, view.exposure, view.gamma = "Standard", "None", 0.0, 1.0
        notes.append("view transform set to Standard (others change the footage's colours)")
    note = follow_camera(scene)
    return notes + ([note] if note else [])


def follow_camera(scene) -> str | None:
    """Point the scene's over-footage compositor at the scene camera's footage and lens; -> a
    note when it cannot (that camera has no footage or lens: the compositor then shows no
    footage rather than another camera's). Nothing to do without that compositor."""
    tree = scene.compositing_node_group
    if tree is None or tree.name != TREE or scene.camera is None:
        return None
    footage, group = tree.nodes.get("Footage"), tree.nodes.get("Undistort")
    if footage is None or group is None:
        return f"the compositor node group {TREE!r} was edited (no Footage or Undistort node): run Composite over " \
               f"Footage again"
    try:
        lens, clip = camera_lens(scene.camera)
    except ValueError as e:
        footage.clip = None
        return f"{e}: the render shows no footage"
    footage.clip = clip
    for name in LENS:
        group.inputs[name].default_value = lens[name]
    return None


def _build_tree() -> bpy.types.NodeTree:
    tree = bpy.data.node_groups.new(TREE, "CompositorNodeTree")
    tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
    nodes, links = tree.nodes, tree.links
    render = nodes.new("CompositorNodeRLayers")
    render.location = (-500, 200)
    footage = nodes.new("CompositorNodeMovieClip")
    footage.name = footage.label = "Footage"
    footage.location = (-500, -200)
    group = nodes.new("CompositorNodeGroup")
    group.node_tree = _undistort_group()
    group.name = group.label = "Undistort"
    group.location = (-200, -200)
    over = nodes.new("CompositorNodeAlphaOver")
    over.location = (100, 0)
    out = nodes.new("NodeGroupOutput")
    out.location = (300, 0)
    links.new(footage.outputs["Image"], group.inputs["Footage"])
    links.new(render.outputs["Image"], group.inputs["Render"])
    links.new(group.outputs["Image"], over.inputs["Background"])
    links.new(render.outputs["Image"], over.inputs["Foreground"])
    links.new(over.outputs["Image"], out.inputs[0])
    return tree


def _undistort_group() -> bpy.types.NodeTree:
    """Footage (distorted) -> the footage as the pinhole camera K sees it, on the Render's pixels.
    For a render pixel's centre at normalised (s, t) (t from the bottom): OpenCV's pixel
    u = s W - 1/2, v = (1 - t) H - 1/2 (centres at integers, rows from the top); x = (u - cx)/fx,
    y = (v - cy)/fy; OpenCV's distortion (xd, yd); the footage is sampled at
    ((fx xd + cx + 1/2) / W, 1 - (fy yd + cy + 1/2) / H)."""
    group = bpy.data.node_groups.new(UNDISTORT, "CompositorNodeTree")
    face = group.interface
    face.new_socket("Footage", in_out="INPUT", socket_type="NodeSocketColor")
    face.new_socket("Render", in_out="INPUT", socket_type="NodeSocketColor")
    for name in LENS:
        face.new_socket(name, in_out="INPUT", socket_type="NodeSocketFloat")
    face.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
    nodes, links = group.nodes, group.links
    inp, out = nodes.new("NodeGroupInput"), nodes.new("NodeGroupOutput")
    inp.location, out.location = (-1600, 0), (600, 0)
    p = {name: inp.outputs[name] for name in LENS}
    column = [0]

    def op(operation, a, b=None):
        node = nodes.new("ShaderNodeMath")
        node.operation = operation
        column[0] += 1
        node.location = (-1400 + 60 * column[0], -40 * column[0])
        for socket, value in zip(node.inputs, (a, b)):
            if value is None:
                continue
            if isinstance(value, (int, float)):
                socket.default_value = value
            else:
                links.new(value, socket)
        return node.outputs[0]

    coords = nodes.new("CompositorNodeImageCoordinates")
    links.new(inp.outputs["Render"], coords.inputs["Image"])
    st = nodes.new("ShaderNodeSeparateXYZ")
    links.new(coords.outputs["Normalized"], st.inputs[0])
    u = op("SUBTRACT", op("MULTIPLY", st.outputs["X"], p["width"]), 0.5)
    v = op("SUBTRACT", op("MULTIPLY", op("SUBTRACT", 1.0, st.outputs["Y"]), p["height"]), 0.5)
    x = op("DIVIDE", op("SUBTRACT", u, p["cx"]), p["fx"])
    y = op("DIVIDE", op("SUBTRACT", v, p["cy"]), p["fy"])
    xx, yy, xy = op("MULTIPLY", x, x), op("MULTIPLY", y, y), op("MULTIPLY", x, y)
    r2 = op("ADD", xx, yy)
    radial = op("ADD", 1.0, op("MULTIPLY", r2, op("ADD", p["k1"], op("MULTIPLY", r2, op(
        "ADD", p["k2"], op("MULTIPLY", r2, p["k3"]))))))
    two_xy = op("MULTIPLY", xy, 2.0)
    xd = op("ADD", op("ADD", op("MULTIPLY", x, radial), op("MULTIPLY", two_xy, p["p1"])),
            op("MULTIPLY", p["p2"], op("ADD", r2, op("MULTIPLY", xx, 2.0))))
    yd = op("ADD", op("ADD", op("MULTIPLY", y, radial), op("MULTIPLY", two_xy, p["p2"])),
            op("MULTIPLY", p["p1"], op("ADD", r2, op("MULTIPLY", yy, 2.0))))
    s_src = op("DIVIDE", op("ADD", op("ADD", op("MULTIPLY", xd, p["fx"]), p["cx"]), 0.5), p["width"])
    t_src = op("SUBTRACT", 1.0, op("DIVIDE", op("ADD", op("ADD", op("MULTIPLY", yd, p["fy"]), p["cy"]), 0.5),
                                   p["height"]))
    uv = nodes.new("ShaderNodeCombineXYZ")
    links.new(s_src, uv.inputs["X"])
    links.new(t_src, uv.inputs["Y"])
    uv.inputs["Z"].default_value = 1.0  # Map UV multiplies by it (a UV pass's coverage)
    remap = nodes.new("CompositorNodeMapUV")
    remap.location = (400, 0)
    links.new(inp.outputs["Footage"], remap.inputs["Image"])
    links.new(uv.outputs[0], remap.inputs["UV"])
    links.new(remap.outputs["Image"], out.inputs["Image"])
    return group
