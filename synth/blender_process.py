"""The engine side of the Blender worker: start it, hand it jobs, read its replies.

The worker runs as a subprocess of the same Python (with the ``bpy`` module) or of a
Blender binary given by ``--blender`` / ``DIFFPROXY_BLENDER``. Its log goes to a file so a
full pipe can never stall it; a crash raises with the log's tail.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from engine.errors import InputError
from synth.blender.worker_protocol import REPLY

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]


def resolve_blender(blender: str | None) -> str | None:
    """The absolute path of the Blender binary given by ``--blender`` or ``DIFFPROXY_BLENDER``
    (a path or a name on PATH), or None for the bpy module. The worker starts in another
    folder, so a relative path would name another file there."""
    where = "--blender" if blender else "DIFFPROXY_BLENDER"
    blender = blender or os.environ.get("DIFFPROXY_BLENDER") or None
    if blender is None:
        return None
    found = shutil.which(blender) if os.sep not in blender else blender
    if found is None or not os.path.isfile(found) or not os.access(found, os.X_OK):
        raise InputError(f"{where}: {blender!r} is not an executable file (give the path of a Blender binary)")
    return str(Path(found).absolute())


class BlenderWorker:
    def __init__(self, log_path: Path, blender: str | None = None):
        blender = resolve_blender(blender)
        if blender:
            cmd = [blender, "-b", "--factory-startup", "-noaudio", "-P", str(REPO / "synth/blender/worker.py")]
        else:
            cmd = [sys.executable, "-m", "synth.blender.worker"]
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                     cwd=REPO, env=env, text=True, bufsize=1)

    def run(self, job_path: Path) -> dict:
        if self.proc.poll() is not None:
            raise RuntimeError(f"Blender worker exited ({self.proc.returncode}); log: {self.log_path}\n{self._tail()}")
        self.proc.stdin.write(f"{job_path}\n")
        self.proc.stdin.flush()
        for line in self.proc.stdout:
            if line.startswith(REPLY):
                reply = json.loads(line[len(REPLY):])
                if not reply["ok"]:
                    raise RuntimeError(f"Blender worker failed on {job_path}:\n{reply['error']}")
                return reply
            self._log.write(line.encode())
        self.proc.wait()
        raise RuntimeError(f"Blender worker died ({self.proc.returncode}) on {job_path}; log: {self.log_path}\n"
                           f"{self._tail()}")

    def _tail(self, n: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_bytes()[-n:].decode(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()
