"""The extension's build: Blender's builder, a self-contained zip, vendored engine code that
imports nothing Blender lacks."""

import ast
import tomllib
import zipfile

import pytest
from addon_support import ROOT


def test_manifest_declares_an_offline_extension():
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    assert manifest["schema_version"] == "1.0.0" and manifest["id"] == "diffproxy"
    assert manifest["blender_version_min"] == "4.2.0" and manifest["type"] == "add-on"
    assert manifest["license"] and manifest["tagline"] and manifest["maintainer"]
    assert set(manifest["permissions"]) == {"files"}  # no network


def test_zip_is_self_contained(extension_zip):
    with zipfile.ZipFile(extension_zip) as z:
        names = set(z.namelist())
        sources = {n: z.read(n).decode() for n in names if n.endswith(".py")}
    assert {"blender_manifest.toml", "__init__.py", "operators.py", "vendor/calibration/__init__.py",
            "vendor/blender_camera.py", "vendor/world.py", "vendor/parts.py"} <= names
    assert "build.py" not in names and not any("__pycache__" in n for n in names)
    for name, text in sources.items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                assert node.module.split(".")[0] not in ("engine", "torch"), f"{name}: from {node.module} import"
            if isinstance(node, ast.Import):
                assert not {a.name.split(".")[0] for a in node.names} & {"engine"}, f"{name}: import engine"


def test_vendored_modules_use_relative_imports(staged):
    camera = (staged / "vendor/calibration/camera.py").read_text()
    assert "from ..errors import InputError" in camera and "from .distortion import distort, undistort" in camera
    assert "from .errors import InputError" in (staged / "vendor/blender_camera.py").read_text()
    assert "from . import checks" in (staged / "vendor/calibration/toml_format.py").read_text()


def test_build_refuses_vendored_torch(build_module, tmp_path):
    (tmp_path / "ok.py").write_text("from typing import TYPE_CHECKING\nimport numpy as np\nfrom .x import y\n"
                                    "if TYPE_CHECKING:\n    import torch\n")
    build_module.check_imports(tmp_path)
    (tmp_path / "bad.py").write_text("def f():\n    import torch\n")
    with pytest.raises(SystemExit, match=r"bad.py:2: import torch"):
        build_module.check_imports(tmp_path)


def test_unvendored_engine_import_is_an_error(build_module):
    with pytest.raises(SystemExit, match="engine.fitting.fit, which is not vendored"):
        build_module._relative("engine.fitting.fit", "vendor.calibration", "x.py")
