"""The scene's cameras and footage as a reconstruction job (``core.job_folder``): which cameras
(the panel's list, else every camera in the view layer with footage), each one's Blender
settings, footage and imported lens, the world they were imported in, and the frames."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from .core.fitfile import CLIP_START
from .core.job_folder import NO_CAMERAS, JobFiles, SceneCamera, frames_option, write_job
from .core.world import world_frame
from .vendor.blender_camera import BlenderCamera
from .vendor.errors import InputError


def camera_footage(obj: bpy.types.Object) -> tuple[Path, int, tuple[int, int]] | None:
    """(footage file, frame count, (width, height)) of a camera: its movie clip background,
    else an image background that is a movie or a sequence."""
    for bg in obj.data.background_images:
        if bg.source == "MOVIE_CLIP" and bg.clip:
            clip = bg.clip
            return Path(bpy.path.abspath(clip.filepath, library=clip.library)), clip.frame_duration, tuple(clip.size)
        if bg.source == "IMAGE" and bg.image and bg.image.source in ("MOVIE", "SEQUENCE"):
            image = bg.image
            return (Path(bpy.path.abspath(image.filepath, library=image.library)), image.frame_duration,
                    tuple(image.size))
    return None


def blender_settings(obj: bpy.types.Object) -> BlenderCamera:
    """The camera's projection settings: an imported camera keeps its own image size (Blender
    has one per scene), one made in Blender takes its footage's, with square pixels."""
    data, props = obj.data, obj.data.diffproxy
    if data.type != "PERSP":
        raise InputError(f"camera {obj.name}: a {data.type.lower()} camera; only perspective cameras can be "
                         f"reconstructed from")
    if props.imported:
        size = (props.width, props.height, 100, props.pixel_aspect_x, props.pixel_aspect_y)
    else:
        width, height = camera_footage(obj)[2]
        size = (width, height, 100, 1.0, 1.0)
    return BlenderCamera(lens=data.lens, sensor_width=data.sensor_width, sensor_height=data.sensor_height,
                         sensor_fit=data.sensor_fit, shift_x=data.shift_x, shift_y=data.shift_y,
                         resolution_x=size[0], resolution_y=size[1], resolution_percentage=size[2],
                         pixel_aspect_x=size[3], pixel_aspect_y=size[4],
                         matrix_world=tuple(map(tuple, obj.matrix_world)))


def chosen_cameras(context) -> list[bpy.types.Object]:
    """The panel's cameras (object names, comma-separated), else every visible camera with footage."""
    wanted = [n.strip() for n in context.scene.diffproxy.views.split(",") if n.strip()]
    if not wanted:
        return [o for o in context.view_layer.objects if o.type == "CAMERA" and o.visible_get()
                and camera_footage(o)]
    cameras = []
    for name in wanted:
        obj = context.scene.objects.get(name)
        if obj is None or obj.type != "CAMERA":
            raise InputError(f"cameras: no camera object named {name!r} in the scene")
        if camera_footage(obj) is None:
            raise InputError(f"camera {name}: no footage (a movie clip or image-sequence background)")
        cameras.append(obj)
    return cameras


def scene_world(cameras: list[bpy.types.Object]):
    """The world the imported cameras came from (up axis and units): the job's calibration is
    written back in it. Cameras made in Blender join it; none imported: Blender's own (+Z, m)."""
    worlds = {o.data.diffproxy.world for o in cameras if o.data.diffproxy.imported and o.data.diffproxy.world}
    if len(worlds) > 1:
        raise InputError(f"the chosen cameras were imported with different worlds (up axis, units per metre: "
                         f"{', '.join(sorted(worlds))}): choose cameras of one capture")
    if not worlds:
        return world_frame("+Z", 1.0)
    up, units = worlds.pop().split()
    return world_frame(up, float(units))


def scene_camera(obj: bpy.types.Object) -> SceneCamera:
    props = obj.data.diffproxy
    footage = camera_footage(obj)[0]
    dist = np.array([float(d) for d in props.distortion.split()]) if props.imported and props.distortion else None
    imported_K = np.array(props.intrinsics_K).reshape(3, 3) if props.imported and props.intrinsics_K[8] else None
    return SceneCamera(obj.name, blender_settings(obj), footage, dist, imported_K)


def write_scene_job(context, folder: str | Path) -> tuple[JobFiles, str]:
    """Write the job folder from the scene; -> (its files, the ``--frames`` option)."""
    context.view_layer.update()  # world matrices of cameras moved by a script since the last redraw
    cameras = chosen_cameras(context)
    if not cameras:
        raise InputError(NO_CAMERAS)
    scene = context.scene
    world = scene_world(cameras)
    counts = [camera_footage(o)[1] for o in cameras]
    frames = frames_option(scene.diffproxy.frames, scene.frame_start, scene.frame_end, CLIP_START,
                           min(counts))
    return write_job(folder, [scene_camera(o) for o in cameras], world, frames), frames
