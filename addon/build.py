"""Build the DiffProxy Blender extension: ``python addon/build.py [--out dist]``.

The extension must be self-contained and Blender runs no torch, so the build stages a folder
and zips it with Blender's own builder (``blender_ext.py build``, shipped with the bpy module):

- ``blender_manifest.toml`` from the repository root;
- the add-on package (this folder, less this script);
- ``vendor/``: the engine's numpy-only modules (the calibration readers and their atomic
  writes, the fit's schema, the Blender camera, the world frame), copied as they are, with their
  ``from engine.... import`` lines turned into relative imports (``VENDORED``), plus
  ``errors.py`` (the ``InputError`` they raise; the engine's module also holds torch helpers)
  and ``parts.py`` (the body-part names, read from ``engine.proxy.parts`` at build time), and
  ``source.txt`` (this checkout's path: the default engine interpreter is its ``.venv``).

The build fails when a vendored module imports anything but the standard library, numpy or
another vendored module, so engine code that gains a torch import cannot slip into Blender.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ADDON = Path(__file__).resolve().parent
ROOT = ADDON.parent
MANIFEST = ROOT / "blender_manifest.toml"
# engine module -> its place under vendor/ (a package maps its files one to one)
VENDORED = {
    "engine.atomic": "atomic",
    "engine.io.calibration": "calibration",
    "engine.io.schema": "schema",
    "engine.geometry.blender_camera": "blender_camera",
    "engine.pipeline.world": "world",
    "engine.errors": "errors",
}
ERRORS_PY = '''"""The error the vendored engine modules raise (the engine's ``engine.errors.InputError``)."""


class InputError(ValueError):
    """Bad input from a user or a file: the message names the input and what was expected."""
'''
ALLOWED_TOP = {"numpy", "__future__"}
_FROM_ENGINE = re.compile(r"^(\s*)from (engine(?:\.\w+)*) import ", re.M)


def stage(dest: Path) -> Path:
    """Lay out the extension's files in ``dest`` (made fresh); returns it."""
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(ADDON, dest, ignore=shutil.ignore_patterns("__pycache__", ".*", "build.py", "vendor", "scripts"))
    shutil.copy2(MANIFEST, dest / "blender_manifest.toml")
    vendor = dest / "vendor"
    vendor.mkdir()
    (vendor / "__init__.py").write_text('"""Engine modules copied by addon/build.py: do not edit here."""\n')
    (vendor / "errors.py").write_text(ERRORS_PY)
    (vendor / "parts.py").write_text(_parts_module())
    (vendor / "source.txt").write_text(str(ROOT))  # lets the add-on find this checkout's .venv
    for module, target in VENDORED.items():
        if module == "engine.errors":
            continue
        source = ROOT / Path(*module.split("."))
        if source.is_dir():
            (vendor / target).mkdir()
            for f in sorted(source.glob("*.py")):
                _copy_module(f, vendor / target / f.name, f"vendor.{target}")
        else:
            _copy_module(source.with_suffix(".py"), vendor / f"{target}.py", "vendor")
    check_imports(vendor)
    return dest


def _relative(module: str, package: str, where: str) -> str:
    """``engine.x.y`` imported from vendored ``package`` -> a relative module name."""
    for prefix, target in VENDORED.items():
        if module == prefix or module.startswith(prefix + "."):
            dotted = ("vendor." + target + module[len(prefix):]).split(".")
            break
    else:
        raise SystemExit(f"{where}: imports {module}, which is not vendored (see VENDORED in addon/build.py)")
    here = package.split(".")
    common = 0
    while common < min(len(here), len(dotted)) and here[common] == dotted[common]:
        common += 1
    return "." * (len(here) - common + 1) + ".".join(dotted[common:])


def _copy_module(source: Path, dest: Path, package: str) -> None:
    text = source.read_text(encoding="utf-8")
    text = _FROM_ENGINE.sub(lambda m: f"{m.group(1)}from {_relative(m.group(2), package, str(source))} import ", text)
    dest.write_text(text, encoding="utf-8")


def _parts_module() -> str:
    sys.path.insert(0, str(ROOT))
    try:
        from engine.proxy.parts import PART_NAMES
    finally:
        sys.path.remove(str(ROOT))
    return ('"""Body-part names by id (``engine.proxy.parts.PART_NAMES``; ids never change)."""\n\n'
            f"PART_NAMES = {tuple(PART_NAMES)!r}\n")


def check_imports(vendor: Path) -> None:
    """Every import in ``vendor`` is relative, numpy or the standard library (any depth, except
    under ``if TYPE_CHECKING:``)."""
    bad = []
    for f in sorted(vendor.rglob("*.py")):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        skip = {id(n) for node in ast.walk(tree)
                if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for name in names:
                top = name.split(".")[0]
                if top not in ALLOWED_TOP and top not in sys.stdlib_module_names:
                    bad.append(f"{f.relative_to(vendor)}:{node.lineno}: import {name}")
    if bad:
        raise SystemExit("vendored engine modules must import only numpy and the standard library:\n  "
                         + "\n  ".join(bad))


def blender_ext_script() -> Path:
    """Blender's extension builder, from the installed bpy module (not imported)."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the bpy module is not installed in this Python (pip install bpy): its extension builder "
                         "builds the zip")
    found = sorted(Path(spec.submodule_search_locations[0]).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not found:
        raise SystemExit(f"no blender_ext.py under {spec.submodule_search_locations[0]}")
    return found[-1]


def build(out: Path) -> Path:
    """Stage and zip; returns the zip's path."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="diffproxy-ext-") as tmp:
        src = stage(Path(tmp) / "diffproxy")
        before = set(out.glob("*.zip"))
        res = subprocess.run([sys.executable, str(blender_ext_script()), "build", "--source-dir", str(src),
                              "--output-dir", str(out)], capture_output=True, text=True)
        if res.returncode != 0:
            raise SystemExit(f"blender_ext.py build failed:\n{res.stdout}\n{res.stderr}")
    version = re.search(r'^version\s*=\s*"([^"]+)"', MANIFEST.read_text(), re.M).group(1)
    zip_path = out / f"diffproxy-{version}.zip"
    if not zip_path.is_file():
        raise SystemExit(f"the builder wrote no {zip_path.name} (new files: {sorted(set(out.glob('*.zip')) - before)})")
    return zip_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="folder for the zip (default: dist/)")
    parser.add_argument("--stage-only", type=Path, help="lay out the files in this folder, build no zip")
    args = parser.parse_args()
    print(stage(args.stage_only) if args.stage_only else build(args.out))


if __name__ == "__main__":
    main()
