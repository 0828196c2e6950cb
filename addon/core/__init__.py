"""The add-on's logic without bpy: numpy, json and the standard library only, so it runs (and
is tested) outside Blender."""
