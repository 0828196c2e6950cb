"""The operators. Each checks its input and reports problems through ``self.report``; the work
is in ``scene_capture``, ``scene_body`` and ``core``."""

from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, StringProperty
from bpy_extras.io_utils import ExportHelper

from .core.export_path import check_export_path, exporter_message
from .core.fitfile import read_fit, read_fit_world
from .core.install import StepJob, engine_source, find_base_python, install_steps, venv_python
from .core.job import (Job, calibrate_command, calibrate_notes, check_device, check_python, reconstruct_command,
                       render_command, render_report, stop_all)
from .core.world import world_frame
from .props import UP_AXIS_ITEMS, default_install_folder, engine_python
from .scene_body import body_objects, import_body, is_body, remove_bodies_of
from .scene_capture import import_capture, set_active_camera
from .scene_compositor import composite_over_footage
from .scene_export import export_bvh
from .scene_job import write_scene_job
from .vendor.errors import InputError

USER_ERRORS = (InputError, OSError)
JOB_FOLDER = "job"  # under the fit folder: the cameras, footage links and frames reconstruct reads


def _abs(path: str) -> str:
    return bpy.path.abspath(path) if path else ""


class _PathFirst:
    """invoke: run at once when the path is given (the panel's buttons), else a file browser."""

    def invoke(self, context, event):
        if self.filepath:
            return self.execute(context)
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}


class DIFFPROXY_OT_import_capture(_PathFirst, bpy.types.Operator):
    """Create one camera per calibration entry, with its footage as background and movie clip"""

    bl_idname = "diffproxy.import_capture"
    bl_label = "Import Capture"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(name="Calibration", subtype="FILE_PATH",
                             description="Calibration file or folder (Pose2Sim TOML, EasyMocap, COLMAP, JSON)")
    footage_dir: StringProperty(name="Footage", subtype="DIR_PATH",
                                description="Folder of <camera>.mp4 videos or <camera>/ frame folders (optional)")
    up_axis: EnumProperty(name="Up axis", items=UP_AXIS_ITEMS, default="+Z")
    units_per_metre: FloatProperty(name="Units per metre", default=1.0, min=1e-9)
    fit_path: StringProperty(name="World from fit", subtype="FILE_PATH",
                             description="A fit.json (or its folder) whose world record sets the up axis and units "
                                         "(overrides the two above)")
    clean_scene: BoolProperty(name="Clean scene", default=True,
                              description="Remove Blender's default cube if it is untouched (named Cube, at the "
                                          "origin, unmoved, unedited): it stands where the body will and hides it")

    def execute(self, context):
        try:
            world = (read_fit_world(_abs(self.fit_path)) if self.fit_path
                     else world_frame(self.up_axis, self.units_per_metre))
            cameras, notes = import_capture(context, self.filepath, _abs(self.footage_dir), world,
                                            self.clean_scene)
        except USER_ERRORS as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        for note in notes:
            self.report({"WARNING"}, note)
        self.report({"INFO"}, f"{len(cameras)} camera(s) imported, world {world.up_axis} up, "
                              f"{world.units_per_metre:g} units per metre")
        return {"FINISHED"}


class DIFFPROXY_OT_import_fit(_PathFirst, bpy.types.Operator):
    """Import a reconstruction (fit.json + fit.npz): the body mesh, its armature, parts and motion"""

    bl_idname = "diffproxy.import_fit"
    bl_label = "Import Fit"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(name="Fit", subtype="FILE_PATH", description="fit.json or the folder holding it")

    def execute(self, context):
        try:
            obj = load_fit(self, context, _abs(self.filepath))
        except USER_ERRORS as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        self.report({"INFO"}, f"imported {obj.name}")
        return {"FINISHED"}


def load_fit(op, context, path: str) -> bpy.types.Object:
    fit = read_fit(path)
    world = f"{fit.world.up_axis} {fit.world.units_per_metre:g}"
    others = {c.diffproxy.world for c in bpy.data.cameras if c.diffproxy.imported} - {world}
    if others:
        op.report({"WARNING"}, f"the fit's world is {world} (up axis, units per metre) but cameras were imported "
                               f"with {', '.join(sorted(others))}: re-import the capture with the fit's world")
    for note in fit.notes:
        fps = context.scene.render.fps / context.scene.render.fps_base
        op.report({"WARNING"}, f"{note} ({fps:g} fps)")
    replaced = remove_bodies_of(fit.path)
    if replaced:
        op.report({"INFO"}, f"replaced the body imported earlier from {fit.path} ({', '.join(replaced)})")
    obj = import_body(context, fit, f"{fit.body_model} {fit.path.parent.name}")
    for other in context.view_layer.objects.selected:
        if other is not None:  # an entry of a body just replaced, until the view layer updates
            other.select_set(False)
    obj.select_set(True)
    context.view_layer.objects.active = obj
    return obj


class _ExportBody(ExportHelper):
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        return is_body(context.active_object)

    def execute(self, context):
        try:
            path = check_export_path(_abs(self.filepath), self.filename_ext)
        except InputError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        body = body_objects(context.active_object)  # the mesh and its armature
        selected = list(context.view_layer.objects.selected)
        for other in selected:
            other.select_set(False)
        for obj in body:
            obj.select_set(True)
        try:
            result = self.export(str(path))
        except RuntimeError as e:  # the exporter's traceback: its last line is the reason
            self.report({"ERROR"}, f"{path}: export failed: {exporter_message(e)}")
            return {"CANCELLED"}
        finally:
            for obj in body:
                obj.select_set(False)
            for other in selected:
                other.select_set(True)
        if "FINISHED" not in result:
            self.report({"ERROR"}, f"{path}: the exporter stopped without writing ({', '.join(sorted(result))})")
            return {"CANCELLED"}
        self.report({"INFO"}, f"wrote {path}")
        return {"FINISHED"}


class DIFFPROXY_OT_export_gltf(_ExportBody, bpy.types.Operator):
    """Export the active imported body to glTF binary (.glb) with its armature and animation"""

    bl_idname = "diffproxy.export_gltf"
    bl_label = "Export glTF"
    filename_ext = ".glb"
    filter_glob: StringProperty(default="*.glb", options={"HIDDEN"})
    all_influences: BoolProperty(
        name="All influences", default=False,
        description="Every bone weight of a vertex (Anny: up to 9, in JOINTS_1, WEIGHTS_1, ...): exact, but many "
                    "glTF viewers read only the first 4. Off: the 4 largest, renormalised (the bundled fit: at most "
                    "5.5 mm off, 0.07 mm on average)")

    def export(self, path: str) -> set:
        return bpy.ops.export_scene.gltf(filepath=path, export_format="GLB", use_selection=True,
                                         export_animations=True, export_morph=True, export_force_sampling=True,
                                         export_frame_range=True,  # the scene's range, as the FBX exporter bakes
                                         export_yup=True, export_all_influences=self.all_influences)


class DIFFPROXY_OT_export_fbx(_ExportBody, bpy.types.Operator):
    """Export the active imported body to FBX with baked animation"""

    bl_idname = "diffproxy.export_fbx"
    bl_label = "Export FBX"
    filename_ext = ".fbx"
    filter_glob: StringProperty(default="*.fbx", options={"HIDDEN"})

    def export(self, path: str) -> set:
        # one take of the scene's animation: "all actions" would try the shape keys' action on the object
        return bpy.ops.export_scene.fbx(filepath=path, use_selection=True, bake_anim=True,
                                        bake_anim_use_all_actions=False, bake_anim_use_nla_strips=False,
                                        bake_anim_simplify_factor=0.0,  # every frame as fitted (1.0: up to 9 mm off)
                                        add_leaf_bones=False, object_types={"MESH", "ARMATURE"})


class DIFFPROXY_OT_export_bvh(_ExportBody, bpy.types.Operator):
    """Export the active imported body's armature motion to BVH (Y up), over the scene's frame range"""

    bl_idname = "diffproxy.export_bvh"
    bl_label = "Export BVH"
    filename_ext = ".bvh"
    filter_glob: StringProperty(default="*.bvh", options={"HIDDEN"})
    global_scale: FloatProperty(name="Scale", default=1.0, min=1e-6,
                                description="Lengths in the file: metres times this (BVH has no units; 100: "
                                            "centimetres)")

    def export(self, path: str) -> set:
        arm = next((o for o in body_objects(bpy.context.active_object) if o.type == "ARMATURE"), None)
        if arm is None:
            raise RuntimeError("BVH needs the fit's rig: this body has none (shape keys only: an SMPL-X or older fit)")
        return export_bvh(bpy.context, arm, path, self.global_scale)


class DIFFPROXY_OT_set_camera(bpy.types.Operator):
    """Look through this camera: make it the scene camera with its own image size"""

    bl_idname = "diffproxy.set_camera"
    bl_label = "Set Camera"
    bl_options = {"REGISTER", "UNDO"}

    name: StringProperty(name="Camera object")

    def execute(self, context):
        obj = bpy.data.objects.get(self.name)
        if obj is None or obj.type != "CAMERA":
            self.report({"ERROR"}, f"no camera object named {self.name!r}")
            return {"CANCELLED"}
        note = set_active_camera(context.scene, obj)
        if note:
            self.report({"WARNING"}, note)
        return {"FINISHED"}


class DIFFPROXY_OT_composite_footage(bpy.types.Operator):
    """Set the compositor to lay the render over the scene camera's footage, undistorted to match the camera \
(transparent film, Standard view transform); Set Camera switches the footage with the camera"""

    bl_idname = "diffproxy.composite_footage"
    bl_label = "Composite over Footage"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        try:
            notes = composite_over_footage(context.scene)
        except ValueError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        for note in notes:
            self.report({"WARNING"}, note)
        self.report({"INFO"}, f"rendering through {context.scene.camera.name} now shows the body over its footage")
        return {"FINISHED"}


class _EngineCommand:
    """An engine command run as a child process from the panel's settings: synchronous when
    called from a script or in background Blender (``execute``); from the UI (``invoke``) a
    modal operator whose timer polls the process and shows its progress, Esc ends it.
    Subclasses give ``kind`` (the engine command), ``noun``, ``unit`` (of the progress count),
    ``_command`` and ``_done``."""

    kind = noun = unit = ""
    active: list = []  # the modal instances running now (shared): stop_jobs() ends them

    @classmethod
    def poll(cls, context):
        return not context.window_manager.diffproxy.running

    def _start(self, context) -> Job | None:
        try:
            return Job(self._command(context))
        except USER_ERRORS as e:
            self.report({"ERROR"}, str(e))
            return None

    def execute(self, context):  # synchronous: scripts and background Blender
        job = self._start(context)
        return {"CANCELLED"} if job is None else self._finish(context, job, job.wait())

    def invoke(self, context, event):
        if bpy.app.background:
            return self.execute(context)
        self._job = self._start(context)
        if self._job is None:
            return {"CANCELLED"}
        wm = context.window_manager
        wm.diffproxy.running, wm.diffproxy.progress, wm.diffproxy.status = True, 0.0, "starting"
        wm.diffproxy.kind = self.kind
        self._timer = wm.event_timer_add(0.5, window=context.window)
        wm.modal_handler_add(self)
        _EngineCommand.active.append(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if getattr(self, "_stopped", False):  # stopped from outside (stop_jobs: the add-on was disabled)
            return {"CANCELLED"}
        if event.type == "ESC":
            self.cancel(context)
            self.report({"WARNING"}, f"{self.noun} cancelled")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        rc = self._job.poll()
        state = context.window_manager.diffproxy
        shown = self._status(self._job)
        if shown:
            state.progress, state.status = shown
        _redraw(context)
        if rc is None:
            return {"PASS_THROUGH"}
        self._stop(context)
        return self._finish(context, self._job, rc)

    def _status(self, job) -> tuple[float, str] | None:
        """(fraction done, text) for the progress bar, once the engine has reported progress."""
        if not job.progress:
            return None
        done, total = job.progress
        return done / total, f"{done}/{total} {self.unit}"

    def cancel(self, context):
        self._job.cancel()
        self._stop(context)

    def _stop(self, context):
        if self in _EngineCommand.active:
            _EngineCommand.active.remove(self)
        wm = context.window_manager
        wm.event_timer_remove(self._timer)
        wm.diffproxy.running, wm.diffproxy.status, wm.diffproxy.kind = False, "", ""
        _redraw(context)

    def _finish(self, context, job: Job, rc: int):
        if rc != 0:
            self.report({"ERROR"}, f"diffproxy {self.kind} failed (exit {rc}): {job.error_text()}")
            return {"CANCELLED"}
        return self._done(context, job)


class DIFFPROXY_OT_reconstruct(_EngineCommand, bpy.types.Operator):
    """Run `diffproxy reconstruct` on the scene's cameras (as they are now) and their footage, then import the fit
    (Esc cancels)"""

    bl_idname = "diffproxy.reconstruct"
    bl_label = "Reconstruct"
    kind, noun, unit = "reconstruct", "reconstruction", "frames"

    def _command(self, context) -> list[str]:
        """Writes the job folder (``<fit>/job``: the scene's cameras and footage, see scene_job)."""
        s = context.scene.diffproxy
        prefs = context.preferences.addons[__package__].preferences
        python = engine_python(context)
        check_python(python)  # before anything is written
        check_device(python, prefs.device)
        if not s.fit.strip():
            raise InputError("fit folder: not set (where the reconstruction is written)")
        job, frames = write_scene_job(context, Path(_abs(s.fit)) / JOB_FOLDER)
        for note in job.notes:
            self.report({"WARNING"}, note)
        return reconstruct_command(python, job.footage, job.calibration, _abs(s.fit), frames, "", s.proxies,
                                   _abs(prefs.checkpoint), s.samples, s.steps, s.refine_cameras, s.body,
                                   _abs(prefs.smplx_model), prefs.device)

    def _done(self, context, job: Job):
        try:
            obj = load_fit(self, context, _abs(context.scene.diffproxy.fit))
        except USER_ERRORS as e:
            self.report({"ERROR"}, f"reconstruction finished but its fit could not be imported: {e}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"reconstructed and imported {obj.name}")
        return {"FINISHED"}


class DIFFPROXY_OT_calibrate(_EngineCommand, bpy.types.Operator):
    """Run `diffproxy calibrate` on the footage folder (the person gives the cameras' poses, a board the lenses),
    then import the capture with the calibration it found (Esc cancels)"""

    bl_idname = "diffproxy.calibrate"
    bl_label = "Calibrate from Footage"
    kind, noun, unit = "calibrate", "calibration", "frames"
    STAGES = {"board": ("board photos", "cameras"), "detect": ("landmarks", "frames")}

    def _command(self, context) -> list[str]:
        s = context.scene.diffproxy
        if not s.footage.strip():
            raise InputError("footage folder: not set (one <camera>.mp4 or <camera>/ of frames per camera)")
        self._out = calibrate_folder(s)
        return calibrate_command(engine_python(context), _abs(s.footage), self._out, s.board, _abs(s.board_images),
                                 s.sync, s.height)

    def _status(self, job) -> tuple[float, str] | None:
        if not job.progress:
            return None
        done, total = job.progress
        what, unit = DIFFPROXY_OT_calibrate.STAGES.get(job.stage, (job.stage, ""))
        if job.stage == "detect" and done == total:
            return 1.0, "solving the cameras"
        return done / total, f"{what}: {done}/{total} {unit}".strip()

    def _done(self, context, job: Job):
        s = context.scene.diffproxy
        toml = str(Path(self._out) / "calibration.toml")
        try:
            cameras, notes = import_capture(context, toml, _abs(s.footage), world_frame("+Z", 1.0), s.clean_scene)
        except USER_ERRORS as e:
            self.report({"ERROR"}, f"calibration finished but its cameras could not be imported: {e}")
            return {"CANCELLED"}
        s.calibration, s.up_axis, s.units_per_metre = toml, "+Z", 1.0  # calibrate writes metres, Z up
        for note in calibrate_notes(job.result) + notes:
            self.report({"WARNING"}, note)
        self.report({"INFO"}, f"calibrated and imported {len(cameras)} camera(s) from {toml} (the cameras from "
                              f"above: cameras_top.png beside it)")
        return {"FINISHED"}


def calibrate_folder(s) -> str:
    """Where calibrate writes: the panel's folder, else ``<footage>/calibration`` (the engine
    skips its own output folder when it reads the footage)."""
    return _abs(s.calibrate_out) if s.calibrate_out.strip() else str(Path(_abs(s.footage)) / "calibration")


class DIFFPROXY_OT_render_dataset(_EngineCommand, bpy.types.Operator):
    """Run `diffproxy render`: a synthetic multi-camera dataset (RGB, proxies, ground truth) with the panel's
    settings (Esc cancels; a rerun resumes the folder)"""

    bl_idname = "diffproxy.render_dataset"
    bl_label = "Render Synthetic Dataset"
    kind, noun, unit = "render", "dataset rendering", "scenes"

    def _command(self, context) -> list[str]:
        s = context.scene.diffproxy
        return render_command(engine_python(context), _abs(s.dataset), s.dataset_scenes, s.dataset_seed,
                              s.dataset_views, s.dataset_resolution, s.dataset_samples)

    def _done(self, context, job: Job):
        self.report({"INFO"}, render_report(job.result, _abs(context.scene.diffproxy.dataset)))
        return {"FINISHED"}


class DIFFPROXY_OT_install_engine(_EngineCommand, bpy.types.Operator):
    """Install the engine: a virtual environment with Python 3.11, then torch and diffproxy (from the checkout
    this add-on was built from) with pip; on success it becomes the engine interpreter (Esc cancels)"""

    bl_idname = "diffproxy.install_engine"
    bl_label = "Install Engine"
    kind, noun, unit = "install", "engine install", "steps"
    make_steps = staticmethod(install_steps)  # (base python, folder, source) -> [(label, argv)]; tests swap it

    def _start(self, context) -> StepJob | None:
        prefs = context.preferences.addons[__package__].preferences
        try:
            folder = Path(_abs(prefs.install_folder)) if prefs.install_folder.strip() else default_install_folder()
            source = engine_source(Path(__file__).parent)
            base = find_base_python(_abs(prefs.install_python))
            self._python = venv_python(folder)
            return StepJob(self.make_steps(base, folder, source))
        except USER_ERRORS as e:
            self.report({"ERROR"}, f"engine install: {e}")
            return None

    def _status(self, job: StepJob) -> tuple[float, str]:
        return job.fraction(), job.status()[:160]

    def _finish(self, context, job: StepJob, rc: int):
        if rc != 0:
            self.report({"ERROR"}, f"engine install failed at {job.error_text()}")
            return {"CANCELLED"}
        if not self._python.is_file():
            self.report({"ERROR"}, f"engine install: the steps ran but {self._python} is missing")
            return {"CANCELLED"}
        context.preferences.addons[__package__].preferences.engine_python = str(self._python)
        self.report({"INFO"}, f"engine installed: interpreter {self._python}")
        return {"FINISHED"}


def stop_jobs(context) -> int:
    """End every engine command still running (unregister: disabling the add-on must not leave the
    engine running until Blender exits): the modal operators' timers and state, then every
    process the add-on started; -> how many processes were ended."""
    for op in list(_EngineCommand.active):
        op._stopped = True
        try:
            op.cancel(context)
        except (AttributeError, ReferenceError, RuntimeError):  # its window is gone: the process still ends below
            pass
        if op in _EngineCommand.active:
            _EngineCommand.active.remove(op)
    return stop_all()


def _redraw(context) -> None:
    for area in getattr(context.screen, "areas", ()):
        if area.type in ("VIEW_3D", "PREFERENCES"):
            area.tag_redraw()


CLASSES = (DIFFPROXY_OT_import_capture, DIFFPROXY_OT_import_fit, DIFFPROXY_OT_export_gltf, DIFFPROXY_OT_export_fbx,
           DIFFPROXY_OT_export_bvh,
           DIFFPROXY_OT_set_camera, DIFFPROXY_OT_composite_footage, DIFFPROXY_OT_calibrate, DIFFPROXY_OT_reconstruct,
           DIFFPROXY_OT_render_dataset, DIFFPROXY_OT_install_engine)
