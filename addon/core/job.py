"""The engine's commands as child processes (``diffproxy reconstruct``, ``calibrate``, ``render``):
their command lines (no shell), their progress read from what they write with ``--progress
jsonl`` (one JSON object per line on stderr: ``{"stage", "done", "total"}``, and ``{"error"}``
before a failed run exits; ``--json``'s summary is the last line on stdout), and cancelling one
with its whole process group."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from ..vendor.errors import InputError

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
           "--out", str(out), "--progress", "jsonl"]
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


def calibrate_command(python: str | Path, footage: str | Path, out: str | Path, board: str = "",
                      board_images: str | Path = "", sync: bool = False, height: float = 0.0) -> list[str]:
    """``diffproxy calibrate``: the cameras from the footage into ``out`` (calibration.toml,
    report.json, cameras_top.png). ``board`` and ``board_images`` go together (the engine says so
    when one is missing); ``height`` 0: an average person's scale."""
    python = check_python(python)
    if not str(footage).strip() or not Path(footage).is_dir():
        raise InputError(f"footage folder {str(footage)!r}: missing (one <camera>.mp4 or <camera>/ of frames per "
                         f"camera)")
    if not str(out).strip():
        raise InputError("calibration output folder: not set")
    cmd = [str(python), "-m", "engine.cli.main", "calibrate", str(footage), "--out", str(out), "--progress", "jsonl",
           "--json"]
    if str(board).strip():
        cmd += ["--board", str(board).strip()]
    if str(board_images).strip():
        cmd += ["--board-images", str(board_images)]
    if sync:
        cmd.append("--sync")
    if height:
        cmd += ["--height", f"{height:g}"]
    return cmd


def calibrate_notes(summary: dict | None) -> list[str]:
    """What the user must know from calibrate's ``--json`` summary: its notes, the cameras it
    could not place, and start frames that differ (the footage is imported as filmed)."""
    if not isinstance(summary, dict):
        return []
    notes = [str(n) for n in summary.get("notes") or []]
    if summary.get("not_placed"):
        notes.append(f"not placed (no camera made for them): {', '.join(map(str, summary['not_placed']))}")
    starts = summary.get("start_frame") if "sync" in summary else None  # "sync": how --sync found them
    if isinstance(starts, dict) and any(starts.values()):
        frames = ", ".join(f"{c} {f}" for c, f in starts.items())
        notes.append(f"the cameras started at different frames (start_frame {frames}, in report.json): the footage "
                     f"is shown as filmed, so one scene frame is not one instant in every camera; cut the videos to "
                     f"these frames before Reconstruct")
    return notes


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
           "--seed", str(int(seed)), "--progress", "jsonl", "--json"]
    for flag, value in (("--num-views", num_views), ("--resolution", resolution), ("--samples", samples)):
        if value:
            cmd += [flag, str(int(value))]
    return cmd


def render_report(result: dict | None, out: str | Path) -> str:
    """What a finished ``diffproxy render`` did, from its ``--json`` summary."""
    try:
        busy = f", being rendered by another process {result['busy']}" if result["busy"] else ""
        return (f"rendered {result['rendered']}, already done {result['skipped'] - result['busy']}{busy} of "
                f"{result['scenes']} scenes in {out}")
    except (KeyError, TypeError):  # no summary (or not render's)
        return f"rendered into {out}"


def read_record(line: str) -> dict | None:
    """A line that is one JSON object (the engine's progress, error or summary), else None."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def progress_of(record: dict) -> tuple[str, int, int] | None:
    """(stage, done, total) of a progress record, if it is one."""
    stage, done, total = (record.get(k) for k in ("stage", "done", "total"))
    if isinstance(stage, str) and type(done) is int and type(total) is int and 0 <= done <= total and total > 0:
        return stage, done, total
    return None


RUNNING: set["Job"] = set()  # every Job whose process has not been seen to end: stop_all() ends them


def stop_all(grace_s: float = 3.0) -> int:
    """End every running Job's process group (the add-on being disabled); -> how many."""
    jobs = list(RUNNING)
    for job in jobs:
        job.cancel(grace_s)
    return len(jobs)


class Job:
    """A running command: its stdout and stderr read by two threads, split into lines (at
    ``\\n``, and at ``\\r``, with which pip redraws its bars). ``poll()`` drains them and returns
    the exit code or None. Of the JSON lines, a progress record on stderr sets ``progress``
    ((done, total)) and ``stage``, an error record ``error``, an object on stdout ``result``
    (``--json``); other lines are text: ``lines`` (the last ones) and ``last_line``."""

    def __init__(self, cmd: list[str]):
        self.cmd = cmd
        self.lines: list[str] = []
        self.progress: tuple[int, int] | None = None
        self.stage = ""
        self.error: str | None = None
        self.result: dict | None = None
        self.last_line = ""  # the latest text, a line or a bar not yet ended
        self._queue: queue.Queue[tuple[str, bool, bool]] = queue.Queue()
        group = ({"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if sys.platform == "win32"
                 else {"start_new_session": True})
        try:
            self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            stdin=subprocess.DEVNULL, **group)
        except OSError as e:
            raise InputError(f"could not start {cmd[0]}: {e.strerror or e}") from None
        RUNNING.add(self)
        self._readers = [threading.Thread(target=self._read, args=(stream, stream is self.process.stdout),
                                          daemon=True) for stream in (self.process.stdout, self.process.stderr)]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, is_stdout: bool) -> None:
        """Queue (text, whole line?, from stdout?): a bar redrawn after a ``\\r`` is queued too
        before its line ends (for ``last_line``)."""
        buf = b""
        for chunk in iter(lambda: stream.read1(4096), b""):
            buf += chunk
            *done, buf = re.split(rb"[\r\n]", buf)
            for line in done:
                self._queue.put((line.decode("utf-8", "replace"), True, is_stdout))
            if buf:
                self._queue.put((buf.decode("utf-8", "replace"), False, is_stdout))
        if buf:
            self._queue.put((buf.decode("utf-8", "replace"), True, is_stdout))

    def poll(self) -> int | None:
        rc = self.process.poll()
        if rc is not None:
            RUNNING.discard(self)
            for reader in self._readers:
                reader.join(timeout=2)
        while True:
            try:
                line, whole, is_stdout = self._queue.get_nowait()
            except queue.Empty:
                break
            self._take(line, whole, is_stdout)
        return rc

    def _take(self, line: str, whole: bool, is_stdout: bool) -> None:
        if not whole and line.lstrip().startswith("{"):  # a JSON line not yet ended: taken whole
            return
        record = read_record(line) if whole else None
        if record is not None and is_stdout:
            self.result = record
        elif record is not None and progress_of(record):
            self.stage, done, total = progress_of(record)
            self.progress = (done, total)
        elif record is not None and isinstance(record.get("error"), str):
            self.error = record["error"]
        elif line.strip():
            self.last_line = line.strip()
            if whole:
                self.lines = (self.lines + [line])[-TAIL_LINES:]

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
        """Why a run failed: the error it reported (``{"error"}``), else its last lines."""
        return self.error or " | ".join(ln.strip() for ln in self.lines[-3:]) or "no output"
