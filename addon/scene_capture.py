"""A calibrated capture in the scene: one camera per calibration entry, set up for its
footage's size (the calibration rescaled as the engine does), the footage as its movie clip
and background, the scene's frame range and rate from the footage."""

from __future__ import annotations

from pathlib import Path

import bpy
from mathutils import Matrix

from .core.fitfile import CLIP_START
from .core.footage import find_footage
from .core.world import camera_to_blender
from .scene_clean import imported_cameras, remove_default_cube, remove_earlier_import
from .scene_compositor import follow_camera
from .vendor.blender_camera import blender_to_opencv
from .vendor.calibration import read_calibration
from .vendor.errors import InputError


def import_capture(context, calibration: str, footage: str, world,
                   clean_scene: bool = False) -> tuple[list[bpy.types.Object], list[str]]:
    """-> (camera objects, notes for the user). Everything is read and checked before the
    scene changes. An earlier import of cameras of the same names is replaced (noted); with
    ``clean_scene``, Blender's untouched default cube is removed."""
    calib = read_calibration(Path(bpy.path.abspath(calibration)))
    notes = []
    sources, missing = find_footage(Path(bpy.path.abspath(footage)), calib.names()) if footage else ({}, [])
    if missing:
        notes.append(f"no footage for {', '.join(missing)}")
    clips = {name: _load_clip(path, name) for name, path in sources.items()}
    cameras = []
    for cam in calib.cameras:
        clip = clips.get(cam.name)
        size = tuple(clip.size) if clip else None
        if size and cam.size_known and size != (cam.width, cam.height):
            notes.append(f"{cam.name}: footage {size[0]}x{size[1]}, calibrated at {cam.width}x{cam.height}: rescaled")
        cameras.append((cam, clip, camera_to_blender(world, cam, size)))

    replaced = remove_earlier_import(context.scene, calib.names())
    if replaced:
        notes.append(f"replaced the cameras of an earlier import: {', '.join(replaced)}")
    others = sorted(o.name for o in imported_cameras(context.scene))
    if others:
        notes.append(f"the scene also holds cameras of another capture ({', '.join(others)}): Reconstruct uses "
                     f"every visible camera with footage unless the panel's Cameras names some")
    if clean_scene and remove_default_cube(context.scene):
        notes.append("removed Blender's default cube (it hid the body)")
    collection = bpy.data.collections.new(f"DiffProxy {Path(calibration).stem or 'capture'}")
    context.scene.collection.children.link(collection)
    objects = [_camera_object(collection, cam, clip, settings, world) for cam, clip, settings in cameras]
    if clips:
        _frame_range(context.scene, list(clips.values()), notes)
        context.scene.active_clip = next(iter(clips.values()))
    set_active_camera(context.scene, objects[0])
    return objects, notes


def _camera_object(collection, cam, clip, settings, world) -> bpy.types.Object:
    data = bpy.data.cameras.new(cam.name)
    data.lens, data.sensor_width, data.sensor_height = settings.lens, settings.sensor_width, settings.sensor_height
    data.sensor_fit, data.shift_x, data.shift_y = settings.sensor_fit, settings.shift_x, settings.shift_y
    data.clip_start, data.clip_end = 0.01, 1000.0
    props = data.diffproxy
    props.imported = True
    props.width, props.height = settings.resolution_x, settings.resolution_y
    props.pixel_aspect_x, props.pixel_aspect_y = settings.pixel_aspect_x, settings.pixel_aspect_y
    props.distortion = " ".join(f"{d:.8g}" for d in cam.dist)
    props.intrinsics_K = blender_to_opencv(settings)[0].reshape(-1)
    props.world = f"{world.up_axis} {world.units_per_metre:g}"
    if clip:
        props.footage = clip.filepath
        _background(data, clip)
    obj = bpy.data.objects.new(cam.name, data)
    obj.matrix_world = Matrix(settings.matrix_world)
    collection.objects.link(obj)
    return obj


def _load_clip(path: Path, camera: str) -> bpy.types.MovieClip:
    try:
        clip = bpy.data.movieclips.load(str(path), check_existing=True)
    except RuntimeError as e:
        raise InputError(f"camera {camera}: Blender cannot open {path}: {e}") from None
    if clip.size[0] <= 0 or clip.size[1] <= 0 or clip.frame_duration <= 0:
        bpy.data.movieclips.remove(clip)
        raise InputError(f"camera {camera}: {path} has no readable frames")
    return clip


def _background(data: bpy.types.Camera, clip: bpy.types.MovieClip) -> None:
    data.show_background_images = True
    bg = data.background_images.new()
    bg.source = "MOVIE_CLIP"
    bg.clip = clip
    bg.use_camera_clip = False
    bg.frame_method = "STRETCH"  # the footage covers the camera frame exactly (pixel aspect included)
    bg.alpha = 1.0


def _frame_range(scene, clips, notes: list[str]) -> None:
    durations = [c.frame_duration for c in clips]
    if len(set(durations)) > 1:
        notes.append(f"frame counts differ ({min(durations)}..{max(durations)}): the scene keeps the common range")
    scene.frame_start, scene.frame_end = CLIP_START, CLIP_START + min(durations) - 1
    rates = {round(c.fps, 3) for c in clips if c.fps > 0}
    if len(rates) == 1:
        set_fps(scene, rates.pop())
    elif rates:
        notes.append(f"frame rates differ ({', '.join(map(str, sorted(rates)))}): scene rate unchanged")
    else:
        notes.append("footage gives no frame rate (image sequences): scene rate unchanged")


def set_fps(scene, fps: float) -> None:
    """Blender's rate is fps / fps_base with an integer fps (29.97 = 30 / 1.001)."""
    scene.render.fps = max(1, round(fps))
    scene.render.fps_base = scene.render.fps / fps


def set_active_camera(scene, obj: bpy.types.Object) -> str | None:
    """Make ``obj`` the scene camera with its own image size and pixel aspect (and, under
    Composite over Footage, its footage); -> a note when the compositor cannot follow it."""
    scene.camera = obj
    props = obj.data.diffproxy
    if props.imported:
        r = scene.render
        r.resolution_x, r.resolution_y, r.resolution_percentage = props.width, props.height, 100
        r.pixel_aspect_x, r.pixel_aspect_y = props.pixel_aspect_x, props.pixel_aspect_y
        clip = next((b.clip for b in obj.data.background_images if b.source == "MOVIE_CLIP" and b.clip), None)
        if clip:
            scene.active_clip = clip
    return follow_camera(scene)  # a "Composite over Footage" compositor takes this camera's footage and lens
