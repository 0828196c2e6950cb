"""The extension staged (``addon/build.py``'s ``stage``) and registered in this process, for the
scripts here that drive Blender through the bpy module (not shipped: ``build.py`` leaves
``scripts/`` out)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def stage_addon(dest: Path):
    """Stage the extension into ``dest``/diffproxy, import it as ``diffproxy`` and register it;
    -> the package."""
    spec = importlib.util.spec_from_file_location("diffproxy_addon_build", ROOT / "addon/build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    build.stage(dest / "diffproxy")
    sys.path.insert(0, str(dest))
    import diffproxy  # noqa: PLC0415  (the staged package)

    diffproxy.register()
    return diffproxy
