"""Shared by the worker and its engine-side driver (no bpy import here)."""

REPLY = "@@diffproxy-reply@@ "
