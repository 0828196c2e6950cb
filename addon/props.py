"""The add-on's properties, all under the name ``diffproxy``: the scene's inputs
(``Scene.diffproxy``), what an imported camera was built from (``Camera.diffproxy``), the
running reconstruction (``WindowManager.diffproxy``, not saved), and the preferences."""

import os
from pathlib import Path

import bpy
from bpy.props import (BoolProperty, EnumProperty, FloatProperty, FloatVectorProperty, IntProperty, PointerProperty,
                       StringProperty)

from .core.job import engine_python_candidates
from .core.world import UP_AXES

UP_AXIS_ITEMS = [(a, a, f"The calibration's world has {a} up") for a in UP_AXES]


class DIFFPROXY_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    engine_python: StringProperty(
        name="Engine interpreter", subtype="FILE_PATH",
        description="Python of an environment where diffproxy is installed (empty: the .venv of the checkout this "
                    "add-on came from, if there is one)")

    device: EnumProperty(name="Device", items=[("auto", "Auto", "The GPU when there is one"),
                                               ("cpu", "CPU", "The CPU"), ("cuda", "CUDA", "An NVIDIA GPU")],
                         default="auto", description="Where the engine runs")
    checkpoint: StringProperty(name="Checkpoint", subtype="DIR_PATH",
                               description="A proxy generator `diffproxy train` wrote, for proxies: model "
                                           "(empty: the one the engine ships)")
    smplx_model: StringProperty(name="SMPL-X model", subtype="FILE_PATH",
                                description="Your SMPL-X model file (.npz), for body: SMPL-X")

    install_folder: StringProperty(
        name="Install into", subtype="DIR_PATH",
        description="Folder of the virtual environment Install Engine creates (empty: diffproxy-engine in "
                    "Blender's extension data folder)")
    install_python: StringProperty(
        name="Python 3.11", subtype="FILE_PATH",
        description="The Python 3.11 the environment is made with (empty: python3.11 on PATH, else Blender's own "
                    "if it has venv and ensurepip)")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "engine_python")
        for name in ("device", "checkpoint", "smplx_model"):
            layout.prop(self, name)
        if not self.engine_python:
            found = default_engine_python()
            layout.label(text=f"Using {found}" if found else "No checkout .venv found: set the interpreter",
                         icon="INFO" if found else "ERROR")
        if _is_program(engine_python(context)):
            return
        box = layout.box()
        box.label(text="No engine interpreter: install the engine (torch and diffproxy, several GB)", icon="IMPORT")
        box.prop(self, "install_folder")
        if not self.install_folder:
            box.label(text=f"Default: {default_install_folder(create=False)}")
        box.prop(self, "install_python")
        job = context.window_manager.diffproxy
        if job.running and job.kind == "install":
            box.progress(factor=job.progress, text=job.status or "installing (Esc cancels)")
        else:
            box.operator("diffproxy.install_engine", icon="IMPORT")


def _is_program(path: str) -> bool:
    return bool(path) and Path(path).is_file() and os.access(path, os.X_OK)


def default_install_folder(create: bool = True) -> Path:
    """``diffproxy-engine`` in Blender's per-extension user data folder (a legacy add-on: in
    Blender's user data files)."""
    try:
        return Path(bpy.utils.extension_path_user(__package__, path="diffproxy-engine", create=create))
    except ValueError:  # not loaded as an extension
        return Path(bpy.utils.user_resource("DATAFILES", path="diffproxy-engine", create=create))


def default_engine_python() -> Path | None:
    return next((p for p in engine_python_candidates(Path(__file__).parent) if p.is_file()), None)


def engine_python(context) -> str:
    prefs = context.preferences.addons[__package__].preferences
    return prefs.engine_python or str(default_engine_python() or "")


class DIFFPROXY_SceneSettings(bpy.types.PropertyGroup):
    calibration: StringProperty(name="Calibration", subtype="FILE_PATH",
                                description="Calibration file or folder (Pose2Sim TOML, EasyMocap, COLMAP, JSON)")
    footage: StringProperty(name="Footage", subtype="DIR_PATH",
                            description="Folder of <camera>.mp4 videos or <camera>/ frame folders")
    # Calibrate from footage (diffproxy calibrate)
    calibrate_out: StringProperty(name="Calibrate into", subtype="DIR_PATH",
                                  description="Folder diffproxy calibrate writes (calibration.toml, report.json, "
                                              "cameras_top.png; empty: <footage>/calibration)")
    board: StringProperty(name="Board", description="The board in the photos (optional): checkerboard:COLSxROWS:"
                                                    "SQUARE_MM (inner corners, e.g. checkerboard:9x6:25) or charuco:"
                                                    "COLSxROWS:SQUARE_MM:MARKER_MM:DICT. Empty: focal lengths from "
                                                    "the person, no lens distortion")
    board_images: StringProperty(name="Board photos", subtype="DIR_PATH",
                                 description="One folder of photos (or one video) of the board per camera, whose "
                                             "name contains the camera's (Pose2Sim: int_cam01_img/)")
    sync: BoolProperty(name="Sync", default=False,
                       description="Find each camera's first frame of the common time from the person's motion "
                                   "(cameras started by hand); reported, the footage is not cut")
    height: FloatProperty(name="Height (m)", default=0.0, min=0.0, max=2.5, precision=2, step=1,
                          description="The person's height in metres (0: an average person's scale)")
    fit: StringProperty(name="Fit", subtype="DIR_PATH",
                        description="Reconstruction folder (fit.json + fit.npz); Reconstruct writes here")
    frames: StringProperty(name="Footage frames",
                           description="Footage frames to reconstruct, counted from 0 (footage frame 0 shows at scene "
                                       "frame 1: scene frame = footage frame + 1): START:STOP[:STEP] or N (empty: the "
                                       "scene's frame range)")
    views: StringProperty(name="Cameras", description="Comma-separated camera objects to reconstruct from, as they "
                                                       "are in the scene (empty: every visible camera with footage)")
    proxies: EnumProperty(name="Proxies", items=[("none", "None", "Landmarks and masks only"),
                                                 ("model", "Model", "Add a trained generator's dense proxies (the "
                                                                    "shipped one, or the preferences' checkpoint). "
                                                                    "Slow: about 48 s per frame on a CPU")],
                          default="none")
    samples: IntProperty(name="Samples", default=3, min=1, soft_max=16, description="Proxy samples per view (K)")
    steps: IntProperty(name="Steps", default=4, min=1, soft_max=50, description="Denoising steps")
    refine_cameras: BoolProperty(name="Refine cameras", default=False,
                                 description="Correct each camera's rotation, position and focal length with the body")
    body: EnumProperty(name="Body", items=[("anny", "Anny", "Anny (no download)"),
                                           ("smplx", "SMPL-X", "SMPL-X from your model file (preferences)")],
                       default="anny")
    clean_scene: BoolProperty(name="Clean scene", default=True,
                              description="Import Capture removes Blender's default cube if it is untouched (named "
                                          "Cube, at the origin, unedited): it stands where the body will and hides it")
    up_axis: EnumProperty(name="Up axis", items=UP_AXIS_ITEMS, default="+Z",
                          description="The calibration world's up axis, turned into Blender's +Z (a fit.json "
                                      "records its own)")
    units_per_metre: FloatProperty(name="Units per metre", default=1.0, min=1e-9, soft_max=1000.0,
                                   description="Calibration units in a metre (1: metres, 1000: millimetres)")
    # Render synthetic dataset (diffproxy render)
    dataset: StringProperty(name="Dataset", subtype="DIR_PATH",
                            description="Dataset folder diffproxy render writes (created; a rerun resumes it)")
    dataset_scenes: IntProperty(name="Scenes", default=10, min=1, description="Scenes in the dataset")
    dataset_views: IntProperty(name="Views", default=8, min=0, soft_max=64,
                               description="Cameras per scene (0: the engine's default)")
    dataset_resolution: IntProperty(name="Resolution", default=256, min=0, soft_max=4096,
                                    description="Square image size in pixels (0: the engine's default)")
    dataset_samples: IntProperty(name="Samples", default=16, min=0, soft_max=4096,
                                 description="Cycles samples of the RGB pass (0: the engine's default)")
    dataset_seed: IntProperty(name="Seed", default=0, min=0, description="Dataset seed")


class DIFFPROXY_CameraSettings(bpy.types.PropertyGroup):
    """An imported camera's image: Blender keeps one render size per scene, so each camera
    holds its own and ``diffproxy.set_camera`` applies it."""

    imported: BoolProperty(default=False)
    width: IntProperty(name="Width", min=0)
    height: IntProperty(name="Height", min=0)
    pixel_aspect_x: FloatProperty(default=1.0)
    pixel_aspect_y: FloatProperty(default=1.0)
    footage: StringProperty(name="Footage", subtype="FILE_PATH")
    distortion: StringProperty(name="Distortion", description="OpenCV coefficients k1 k2 p1 p2 [k3 ...] of the "
                                                            "calibration (Blender's camera has none)")
    intrinsics_K: FloatVectorProperty(size=9, description="K (row-major) as imported: while the camera's K stays so, "
                                                          "the distortion above still applies")
    world: StringProperty(description="Up axis and units the camera was imported with")


class DIFFPROXY_JobState(bpy.types.PropertyGroup):
    """The engine command running from the UI (one at a time)."""

    running: BoolProperty(default=False)
    kind: StringProperty(description="Which: reconstruct, calibrate, render or install")
    progress: FloatProperty(min=0.0, max=1.0, subtype="FACTOR")
    status: StringProperty()


CLASSES = (DIFFPROXY_AddonPreferences, DIFFPROXY_SceneSettings, DIFFPROXY_CameraSettings, DIFFPROXY_JobState)
POINTERS = ((bpy.types.Scene, DIFFPROXY_SceneSettings), (bpy.types.Camera, DIFFPROXY_CameraSettings),
            (bpy.types.WindowManager, DIFFPROXY_JobState))


def add_pointers():
    for owner, group in POINTERS:
        owner.diffproxy = PointerProperty(type=group)


def remove_pointers():
    for owner, _ in reversed(POINTERS):
        del owner.diffproxy
