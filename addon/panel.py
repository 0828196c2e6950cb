"""The sidebar panel (3D view, "DiffProxy" tab): inputs, imports, reconstruction, exports, synthetic dataset."""

from __future__ import annotations

from pathlib import Path

import bpy

from .scene_body import is_body


class DIFFPROXY_PT_main(bpy.types.Panel):
    bl_label = "DiffProxy"
    bl_idname = "DIFFPROXY_PT_main"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "DiffProxy"

    def draw(self, context):
        s, job, layout = context.scene.diffproxy, context.window_manager.diffproxy, self.layout
        box = layout.box()
        box.label(text="Capture", icon="CAMERA_DATA")
        box.prop(s, "calibration")
        box.prop(s, "footage")
        row = box.row(align=True)
        row.prop(s, "up_axis", text="Up")
        row.prop(s, "units_per_metre", text="Units/m")
        box.prop(s, "clean_scene")
        op = box.operator("diffproxy.import_capture", icon="IMPORT")
        op.filepath, op.footage_dir, op.clean_scene = s.calibration, s.footage, s.clean_scene
        op.up_axis, op.units_per_metre = s.up_axis, s.units_per_metre
        fit_json = Path(bpy.path.abspath(s.fit)) / "fit.json" if s.fit else None
        op.fit_path = str(fit_json) if fit_json and fit_json.is_file() else ""
        _calibrate_box(box.box(), s, job)
        cameras = [o for o in context.scene.objects if o.type == "CAMERA" and o.data.diffproxy.imported]
        if cameras:
            grid = box.grid_flow(columns=4, align=True)
            for cam in cameras:
                icon = "VIEW_CAMERA" if cam == context.scene.camera else "CAMERA_DATA"
                grid.operator("diffproxy.set_camera", text=cam.name, icon=icon).name = cam.name
            box.operator("diffproxy.composite_footage", icon="NODE_COMPOSITING")

        box = layout.box()
        box.label(text="Body", icon="ARMATURE_DATA")
        box.prop(s, "fit")
        box.prop(s, "frames", text="Footage frames (from 0)")
        box.prop(s, "views")
        row = box.row(align=True)
        row.prop(s, "body")
        row.prop(s, "proxies")
        if s.proxies == "model":
            row = box.row(align=True)
            row.prop(s, "samples")
            row.prop(s, "steps")
        box.prop(s, "refine_cameras")
        _run_button(box, job, "reconstruct", "diffproxy.reconstruct", "PLAY")
        box.operator("diffproxy.import_fit", icon="IMPORT").filepath = s.fit

        row = layout.row(align=True)
        row.enabled = is_body(context.active_object)
        row.operator("diffproxy.export_gltf", icon="EXPORT")
        row.operator("diffproxy.export_fbx", icon="EXPORT")
        row.operator("diffproxy.export_bvh", icon="EXPORT")

        box = layout.box()
        box.label(text="Synthetic dataset", icon="RENDER_RESULT")
        box.prop(s, "dataset")
        grid = box.grid_flow(columns=2, align=True)
        for name in ("dataset_scenes", "dataset_views", "dataset_resolution", "dataset_samples", "dataset_seed"):
            grid.prop(s, name)
        _run_button(box, job, "render", "diffproxy.render_dataset", "RENDER_STILL")


def _calibrate_box(box, s, job) -> None:
    """No calibration? The cameras from the footage (a board for the lenses, optional); the capture is
    imported with it afterwards."""
    box.label(text="Calibrate from footage", icon="CON_CAMERASOLVER")
    box.prop(s, "board")
    box.prop(s, "board_images")
    row = box.row(align=True)
    row.prop(s, "sync")
    row.prop(s, "height")
    box.prop(s, "calibrate_out")
    _run_button(box, job, "calibrate", "diffproxy.calibrate", "CON_CAMERASOLVER")


def _run_button(layout, job, kind: str, idname: str, icon: str) -> None:
    """The command's button, or its progress while it runs (one engine command at a time)."""
    if job.running and job.kind == kind:
        layout.progress(factor=job.progress, text=job.status or "running (Esc cancels)")
    else:
        layout.operator(idname, icon=icon)  # disabled (poll) while the other command runs


CLASSES = (DIFFPROXY_PT_main,)
