"""The import layers of pyproject.toml's ``[tool.importlinter]`` hold (issue 24): engine's
packages import only downward, the engine never imports the add-on or Blender, synth.blender
imports only Blender and numpy, the add-on no torch, and no package has an import circle.
Imports inside functions count. A broken contract fails here with lint-imports' report."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed (pip install -e '.[dev]')")
def test_import_contracts_hold():
    # --no-cache: a stale cache in .import_linter_cache must not hide a new import
    run = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[report.find("Contracts"):] if "Contracts" in report else report
    assert "0 broken" in report


def test_blender_side_imports_only_bpy_numpy_and_its_own_package():
    """A forbidden contract lists what may not be imported; this says what may: Blender's
    modules, numpy, the standard library and synth.blender itself (lazy imports included)."""
    grimp = pytest.importorskip("grimp")
    sys.path.insert(0, str(REPO))
    try:
        graph = grimp.build_graph("synth", include_external_packages=True, cache_dir=None)
    finally:
        sys.path.remove(str(REPO))
    allowed = {"bpy", "bmesh", "mathutils", "numpy", "synth", *sys.stdlib_module_names}
    found = {}
    for module in graph.find_descendants("synth.blender") | {"synth.blender"}:
        for imported in graph.find_modules_directly_imported_by(module):
            if not (imported == "synth.blender" or imported.startswith("synth.blender.")
                    or imported.split(".")[0] in allowed and not imported.startswith("synth.")):
                found.setdefault(module, set()).add(imported)
    assert not found, found
