"""Shared by the scripts run inside Blender (the bpy module) in a subprocess: enable the
installed extension and print one JSON line as the result."""

import json
import sys

import bpy  # noqa: F401  (first: addon_utils exists once bpy is loaded)
import addon_utils  # noqa: E402,I001

MODULE = "bl_ext.user_default.diffproxy"


def enable():
    addon_utils.enable(MODULE, default_set=True, handle_error=_raise)
    return sys.modules[MODULE]


def _raise(e):
    raise e


def run_op(op, **kwargs):
    """(result set or None, error text): an operator's ERROR report reaches Python as RuntimeError."""
    try:
        return sorted(op(**kwargs)), None
    except RuntimeError as e:
        return None, str(e)


def emit(result: dict):
    print(json.dumps(result))


def record_jobs() -> list:
    """A list that collects every engine Job the add-on starts from now on (to check their
    processes afterwards)."""
    jobs = []
    job_cls = sys.modules[MODULE + ".core.job"].Job
    job_init = job_cls.__init__

    def recording_init(self, cmd):
        job_init(self, cmd)
        jobs.append(self)

    job_cls.__init__ = recording_init
    return jobs
