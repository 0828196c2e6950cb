"""argv: a Python 3.11, a work folder. Install Engine through its operator (synchronous: Blender
runs in the background) with its pip steps swapped for stand-ins: a step that fails (real pip,
a source that does not exist, offline) is reported with its name and leaves the interpreter
preference alone; a real `python -m venv` then trivial steps set the preference to the new
environment's Python. Also: the preferences' drawing (install box shown only when no
interpreter is found) and the default folder."""

import sys
from pathlib import Path
from types import SimpleNamespace

import bpy  # noqa: F401  (first: addon_utils exists once bpy is loaded)
from common import MODULE, emit, enable, run_op

base, work = sys.argv[1], Path(sys.argv[2])
enable()
ops, props = sys.modules[MODULE + ".operators"], sys.modules[MODULE + ".props"]
install = sys.modules[MODULE + ".core.install"]
cls = ops.DIFFPROXY_OT_install_engine
prefs = bpy.context.preferences.addons[MODULE].preferences
real_steps = cls.make_steps
seen = {}


def draw():
    log = []

    class Layout:
        def __getattr__(self, name):  # box, label, progress
            return lambda *a, **k: log.append([name, k.get("text", "")]) or self

        def prop(self, data, name, **k):
            log.append(["prop", name, name in prefs.bl_rna.properties])

        def operator(self, idname, **k):
            log.append(["operator", idname, idname.split(".")[1] in dir(bpy.ops.diffproxy)])

    me = SimpleNamespace(layout=Layout(), **{n: getattr(prefs, n) for n in
                                             ("engine_python", "install_folder", "install_python")})
    type(prefs).draw(me, bpy.context)
    return log


prefs.engine_python = "/keep/this/python"
prefs.install_python = base
runs = {"draw_missing": draw()}

prefs.install_folder = str(work / "failing")
fail_python = sys.executable  # a real pip, offline, on a source that does not exist: fails fast


def failing(base_python, folder, source):
    seen["failing"] = [base_python and str(base_python), str(folder), str(source)]
    return [("create the virtual environment", [str(base_python), "-m", "venv", "--without-pip", str(folder)]),
            ("install diffproxy from /nonexistent/diffproxy",
             [fail_python, "-m", "pip", "install", "--no-index", "--no-deps", "/nonexistent/diffproxy"]),
            ("never run", [fail_python, "-c", "open('%s', 'w')" % (work / "never")])]


cls.make_steps = staticmethod(failing)
runs["fails"] = [*run_op(bpy.ops.diffproxy.install_engine), prefs.engine_python]

prefs.install_python = "/nonexistent/python3.11"
runs["bad_python"] = [*run_op(bpy.ops.diffproxy.install_engine), prefs.engine_python]
prefs.install_python = base


def working(base_python, folder, source):
    steps = real_steps(base_python, folder, source)
    seen["working"] = steps
    python = str(install.venv_python(folder))
    return [steps[0]] + [(label, [python, "-c", f"print({label!r} + ' stand-in')"]) for label, _ in steps[1:]]


cls.make_steps = staticmethod(working)
prefs.install_folder = ""  # the default: diffproxy-engine in the extension's user folder
runs["works"] = [*run_op(bpy.ops.diffproxy.install_engine), prefs.engine_python]
runs["draw_found"] = draw()
emit({"runs": runs, "seen": seen, "default_folder": str(props.default_install_folder(create=False)),
      "never": (work / "never").exists(), "running": bpy.context.window_manager.diffproxy.running})
