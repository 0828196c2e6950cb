"""The engine's commands as child processes (``diffproxy reconstruct``, ``diffproxy render``):
their command lines (no shell), their progress read from their output (tqdm's ``12/100``), and
cancelling one with its whole process group."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from ..vendor.errors import InputError

_PROGRESS = re.compile(r"(\d+)/(\d+)")
TAIL_LINES = 20


def engine_python_candidates(addon_dir: Path) -> list[Path]:
    """Where the project's interpreter sits when the add-on runs from (or was built from) a
    checkout: ``<checkout>/.venv``."""
    here = Path(addon_dir).resolve()
    folders = [here.parent]
    source = here / "vendor" / "source.txt"  # written by build.py: the checkout the zip came from
    if source.is_file():
        folders.append(Path(source.read_text(encoding="utf-8").strip()))
    exe = ("Scripts", "python.exe") if sys.platform == "win32" else ("bin", "python")
    return [f / ".venv" / exe[0] / exe[1] for f in folders]


def check_python(python: str | Path) -> Path:
    path = Path(python) if python else None
    if path is None or not str(python).strip():
        raise InputError("engine interpreter: not set (add-on preferences: the Python of an environment where "
                         "diffproxy is installed)")
    if not path.is_file() or not os.access(path, os.X_OK):
        raise InputError(f"engine interpreter {path}: no executable file there (add-on preferences: the Python "
                         f"of an environment where diffproxy is installed)")
    return path


DEVICES = ("auto", "cpu", "cuda")
GPU_PROBE = "import torch; print('cuda', torch.cuda.is_available(), torch.cuda.device_count())"


def device_name(device: str) -> str:
    if device not in DEVICES:
        raise InputError(f"device {device!r}: expected one of {', '.join(DEVICES)} (add-on preferences)")
    return device


def check_device(python: str | Path, device: str, timeout_s: float = 120.0) -> str:
    """The engine's ``--device``: one of ``DEVICES``; ``cuda`` only when the engine interpreter's
    torch sees a GPU (asked in a child process: Blender has no torch), before anything runs."""
    if device_name(device) != "cuda":
        return device
    try:
        res = subprocess.run([str(python), "-c", GPU_PROBE], capture_output=True, text=True, timeout=timeout_s,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise InputError(f"device cuda: could not ask the engine interpreter {python} for a GPU: {e}") from None
    answer = res.stdout.split()
    if res.returncode != 0 or len(answer) != 3 or answer[0] != "cuda":
        last = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise InputError(f"device cuda: could not ask the engine interpreter {python} for a GPU (exit "
                         f"{res.returncode}): {last}")
    if answer[1] != "True":
        raise InputError(f"device cuda: the engine interpreter {python} sees no CUDA GPU (torch.cuda.is_available() "
                         f"is False): choose Auto or CPU in the add-on preferences")
    return device


def reconstruct_command(python: str | Path, footage: str | Path, calibration: str | Path, out: str | Path,
                        frames: str = "", cameras: str = "", proxies: str = "none", checkpoint: str = "",
                        samples: int = 3, steps: int = 4, refine_cameras: bool = False, body: str = "anny",
                        smplx_model: str = "", device: str = "auto") -> list[str]:
    """``diffproxy reconstruct`` as an argument list; the settings as its options of the same
    names (``--proxies model`` takes the preferences' checkpoint or the engine's shipped model,
    ``--body smplx`` needs a model file)."""
    python = check_python(python)
    for name, value in (("footage folder", footage), ("calibration", calibration)):
        if not str(value).strip() or not Path(value).exists():
            raise InputError(f"{name} {str(value)!r}: missing")
    if not str(out).strip():
        raise InputError("output folder: not set")
    cmd = [str(python), "-m", "engine.cli.main", "reconstruct", str(footage), "--calibration", str(calibration),
           "--out", str(out)]
    if frames.strip():
        cmd += ["--frames", frames.strip()]
    if cameras.strip():
        cmd += ["--cameras", ",".join(c.strip() for c in cameras.split(",") if c.strip())]
    if proxies == "model":
        cmd += ["--proxies", "model"]
        if str(checkpoint).strip():  # else the engine's shipped model
            if not Path(checkpoint).exists():
                raise InputError(f"checkpoint {str(checkpoint)!r}: no such folder (add-on preferences; leave it "
                                 f"empty for the shipped model)")
            cmd += ["--checkpoint", str(checkpoint)]
        cmd += ["--samples", str(int(samples)), "--steps", str(int(steps))]
    if body == "smplx":
        if not str(smplx_model).strip() or not Path(smplx_model).is_file():
            raise InputError(f"SMPL-X model file {str(smplx_model)!r}: missing (add-on preferences)")
        cmd += ["--body", "smplx", "--smplx-model", str(smplx_model)]
    if refine_cameras:
        cmd.append("--refine-cameras")
    if device_name(device) != "auto":  # whether cuda has a GPU: check_device, before the job is written
        cmd += ["--device", device]
    return cmd


def render_command(python: str | Path, out: str | Path, scenes: int, seed: int = 0, num_views: int = 0,
                   resolution: int = 0, samples: int = 0) -> list[str]:
    """``diffproxy render``: a synthetic dataset of ``scenes`` scenes into ``out`` (created; a
    rerun resumes it). ``num_views``, ``resolution``, ``samples`` at 0: the engine's defaults."""
    python = check_python(python)
    if not str(out).strip():
        raise InputError("dataset folder: not set")
    if scenes < 1:
        raise InputError(f"scenes: {scenes}, expected 1 or more")
    cmd = [str(python), "-m", "engine.cli.main", "render", "--out", str(out), "--scenes", str(int(scenes)),
           "--seed", str(int(seed))]
    for flag, value in (("--num-views", num_views), ("--resolution", resolution), ("--samples", samples)):
        if value:
            cmd += [flag, str(int(value))]
    return cmd


def parse_progress(line: str) -> tuple[int, int] | None:
    """The last ``done/total`` in a line of tqdm output, if any."""
    found = _PROGRESS.findall(line)
    if not found:
        return None
    done, total = map(int, found[-1])
    return (done, total) if total > 0 and done <= total else None


RUNNING: set["Job"] = set()  # every Job whose process has not been seen to end: stop_all() ends them


def stop_all(grace_s: float = 3.0) -> int:
    """End every running Job's process group (the add-on being disabled); -> how many."""
    jobs = list(RUNNING)
    for job in jobs:
        job.cancel(grace_s)
    return len(jobs)


class Job:
    """A running command: output lines (split at ``\\n`` and tqdm's ``\\r``) gathered by a
    thread; ``poll()`` drains them and returns the exit code or None."""

    def __init__(self, cmd: list[str]):
        self.cmd = cmd
        self.lines: list[str] = []
        self.progress: tuple[int, int] | None = None
        self.last_line = ""  # the latest output, a line or a bar not yet ended
        self._queue: queue.Queue[tuple[str, bool]] = queue.Queue()
        group = ({"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if sys.platform == "win32"
                 else {"start_new_session": True})
        try:
            self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, **group)
        except OSError as e:
            raise InputError(f"could not start {cmd[0]}: {e.strerror or e}") from None
        RUNNING.add(self)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        """Queue (text, whole line?): tqdm rewrites its bar after a ``\r``, so the text after
        the last one is queued too (for progress) before its line ends."""
        buf = b""
        for chunk in iter(lambda: self.process.stdout.read1(4096), b""):
            buf += chunk
            *done, buf = re.split(rb"[\r\n]", buf)
            for line in done:
                self._queue.put((line.decode("utf-8", "replace"), True))
            if buf:
                self._queue.put((buf.decode("utf-8", "replace"), False))
        if buf:
            self._queue.put((buf.decode("utf-8", "replace"), True))

    def poll(self) -> int | None:
        rc = self.process.poll()
        if rc is not None:
            RUNNING.discard(self)
            self._reader.join(timeout=2)
        while True:
            try:
                line, whole = self._queue.get_nowait()
            except queue.Empty:
                break
            self.progress = parse_progress(line) or self.progress
            self.last_line = line.strip() or self.last_line
            if whole and line.strip():
                self.lines = (self.lines + [line])[-TAIL_LINES:]
        return rc

    def wait(self) -> int:
        self.process.wait()
        return self.poll()

    def cancel(self, grace_s: float = 3.0) -> None:
        """Terminate the process and its children (its process group), then kill if it lingers."""
        if self.process.poll() is not None:
            RUNNING.discard(self)
            return
        self._end(kill=False)
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self._end(kill=True)
            self.process.wait()
        self.poll()

    def _end(self, kill: bool) -> None:
        try:
            if sys.platform == "win32":  # no process group to signal: the child itself
                (self.process.kill if kill else self.process.terminate)()
            else:
                os.killpg(self.process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        except ProcessLookupError:  # it ended meanwhile
            pass

    def error_text(self) -> str:
        """The most telling lines of a failed run: those saying error, else the last ones."""
        errors = [ln.strip() for ln in self.lines if "error" in ln.lower()]
        return " | ".join(errors[-3:] or [ln.strip() for ln in self.lines[-3:]]) or "no output"
