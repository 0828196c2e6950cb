"""DiffProxy for Blender: import a calibrated multi-view capture and a reconstructed body, run
the reconstruction, export the body. The engine runs outside Blender; this package imports
only bpy, numpy and the engine's numpy-only modules vendored by ``build.py``."""

import bpy

from . import operators, panel, props

CLASSES = (*props.CLASSES, *operators.CLASSES, *panel.CLASSES)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    props.add_pointers()


def unregister():
    operators.stop_jobs(bpy.context)  # no engine process outlives the add-on
    props.remove_pointers()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
