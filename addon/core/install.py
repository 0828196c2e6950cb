"""Installing the engine from Blender: a virtual environment with a Python 3.11, then
``pip install torch`` and ``pip install <the checkout the add-on was built from>``, as a
sequence of child processes (no shell) run one after another by :class:`StepJob`, which
reads like a :class:`~.job.Job` (``poll``, ``wait``, ``cancel``, ``lines``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from ..vendor.errors import InputError
from .job import Job

TORCH_REQUIREMENT = "torch==2.13.0"
PYTHON_VERSION = (3, 11)  # pyproject.toml: requires-python >=3.11,<3.12
_PROBE = "import sys\ntry:\n    import venv, ensurepip\nexcept ImportError as e:\n    print('missing', e.name)\n" \
         "print('%d.%d' % sys.version_info[:2])"


def venv_python(folder: str | Path) -> Path:
    """The interpreter inside a virtual environment folder."""
    return Path(folder) / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def engine_source(addon_dir: str | Path) -> Path:
    """The checkout the add-on was built from (``vendor/source.txt``, written by build.py)."""
    record = Path(addon_dir) / "vendor" / "source.txt"
    if not record.is_file():
        raise InputError(f"{record}: missing (the add-on was not built by addon/build.py): no engine source to "
                         f"install from")
    source = Path(record.read_text(encoding="utf-8").strip())
    if not (source / "pyproject.toml").is_file():
        raise InputError(f"engine source {source}: no pyproject.toml there (the checkout this add-on was built "
                         f"from has moved or is gone): install the engine by hand and set the interpreter")
    return source


def check_base_python(python: str | Path, what: str = "") -> Path:
    """A Python 3.11 with ``venv`` and ``ensurepip`` (Blender's bundled Python may lack them)."""
    path = Path(python)
    what = what or f"Python {path}"
    try:
        res = subprocess.run([str(path), "-c", _PROBE], capture_output=True, text=True, timeout=60,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise InputError(f"{what}: could not run it ({getattr(e, 'strerror', None) or e})") from None
    out = res.stdout.split()
    if res.returncode != 0 or not out:
        raise InputError(f"{what}: failed to start (exit {res.returncode}): {res.stderr.strip()[-300:]}")
    if out[0] == "missing":
        raise InputError(f"{what} has no {out[1]} module (Blender's bundled Python and some system Pythons ship "
                         f"without venv/ensurepip): install Python 3.11 (python.org, or python3.11-venv) and name "
                         f"it in the add-on preferences")
    if out[-1] != "%d.%d" % PYTHON_VERSION:
        raise InputError(f"{what} is Python {out[-1]}: the engine needs Python 3.11")
    return path


def find_base_python(named: str = "") -> Path:
    """The Python the environment is made with: ``named`` when given, else ``python3.11`` on
    PATH, else the one running this code (Blender's, if it has venv and ensurepip)."""
    if named.strip():
        return check_base_python(named.strip())
    found = shutil.which("python3.11")
    if found:
        return check_base_python(found, f"python3.11 on PATH ({found})")
    return check_base_python(sys.executable, f"no python3.11 on PATH; Blender's Python ({sys.executable})")


def install_steps(base_python: str | Path, folder: str | Path, source: str | Path,
                  torch: str = TORCH_REQUIREMENT) -> list[tuple[str, list[str]]]:
    """(label, argument list) of each step: the environment, torch, the engine."""
    python = str(venv_python(folder))
    return [("create the virtual environment", [str(base_python), "-m", "venv", str(folder)]),
            (f"install {torch}", [python, "-m", "pip", "install", torch]),
            (f"install diffproxy from {source}", [python, "-m", "pip", "install", str(source)])]


class StepJob:
    """Steps run one after another, each a :class:`Job`; stops at the first failure.
    ``index`` is the step running (or that failed), ``poll()`` the last exit code once all
    ran or one failed, else None."""

    def __init__(self, steps: list[tuple[str, list[str]]]):
        if not steps:
            raise InputError("no install steps")
        self.steps = steps
        self.index = 0
        self.cancelled = False
        self.job = Job(steps[0][1])
        self.returncode: int | None = None

    @property
    def label(self) -> str:
        return self.steps[self.index][0]

    @property
    def lines(self) -> list[str]:
        return self.job.lines

    @property
    def last_line(self) -> str:
        return self.job.last_line

    @property
    def process(self):
        return self.job.process

    def status(self) -> str:
        """``step i/n label: <the step's last output line>``."""
        text = f"step {self.index + 1}/{len(self.steps)} {self.label}"
        return f"{text}: {self.last_line}" if self.last_line else text

    def fraction(self) -> float:
        return (self.index + (1.0 if self.returncode == 0 else 0.0)) / len(self.steps)

    def poll(self) -> int | None:
        if self.returncode is not None:
            return self.returncode
        rc = self.job.poll()
        if rc is None:
            return None
        if rc != 0 or self.cancelled or self.index + 1 == len(self.steps):
            self.returncode = rc
            return rc
        self.index += 1
        try:
            self.job = Job(self.steps[self.index][1])
        except InputError as e:
            self.job.lines = [str(e)]
            self.returncode = 127
            return self.returncode
        return None

    def wait(self) -> int:
        while True:
            self.job.process.wait()
            rc = self.poll()
            if rc is not None:
                return rc

    def cancel(self, grace_s: float = 3.0) -> None:
        self.cancelled = True
        self.job.cancel(grace_s)
        self.poll()

    def error_text(self) -> str:
        """The failed step, its exit code and its last output lines."""
        tail = " | ".join(ln.strip() for ln in self.job.lines[-6:]) or "no output"
        return (f"step {self.index + 1}/{len(self.steps)} ({self.label}) failed (exit {self.returncode}): "
                f"{tail} [command: {' '.join(self.steps[self.index][1])}]")
