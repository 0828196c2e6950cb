"""The output folder of a run (``reconstruct --out``, the add-on's fit folder): who writes it,
what this run wrote, and how a new result replaces an old one.

- **A lock.** ``.diffproxy-lock.json`` (pid, host, command, start time) is created
  exclusively and whole (``engine.io.files.atomic_create``) when the run starts. A second run
  into the same folder is refused, naming the holder; a lock whose process is gone (a killed
  run) is taken over with a note.
- **Only this run's files.** On failure the run removes the files it created (which it
  tracks) and the folders it made that are left empty; never a file it did not make, so an
  interrupted run cannot delete another run's finished result. Detections cached by an
  interrupted run (Ctrl-C, Esc) stay, so the next run resumes from them.
- **Publishing.** New outputs are written into a hidden ``.tmp-<command>-<pid>/`` and moved in
  with ``publish``: ``fit.json`` (the marker of a complete fit) is removed first and moved in
  last, SIGINT/SIGTERM wait until the moves are done, and an earlier run's outputs that this
  one does not write again (``overlay_<camera>.jpg`` of a camera no longer used) are removed.
  A reader that finds ``fit.json`` finds the other files of the same run; a SIGKILL in the
  middle leaves no ``fit.json``, never the new npz beside the old json.
- **Leftovers.** ``.tmp-<command>-<pid>/`` folders of processes that are gone are removed at start.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import time
from contextlib import contextmanager
from pathlib import Path

from engine.errors import InputError
from engine.io.files import atomic_create, check_writable_folder

LOCK = ".diffproxy-lock.json"


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


class OutputFolder:
    """``with OutputFolder(out, "reconstruct") as folder:`` write through ``folder.tmp()``,
    ``folder.track(path)`` and ``folder.publish(...)``; ``folder.notes`` says what a user
    should know (a stale lock taken over, leftovers removed)."""

    def __init__(self, path: Path, command: str, option: str = "--out"):
        self.path, self.command, self.option = Path(path), command, option
        self.notes: list[str] = []
        self._made_dirs: list[Path] = []
        self._files: list[Path] = []
        self._locked = False
        self._tmp: Path | None = None

    # -- start and end -----------------------------------------------------------------
    def __enter__(self) -> "OutputFolder":
        if self.path.exists() and not self.path.is_dir():
            raise InputError(f"{self.option} {self.path}: exists and is not a folder")
        check_writable_folder(self.path, self.option)
        missing = []
        p = self.path
        while not p.exists():
            missing.append(p)
            p = p.parent
        for d in reversed(missing):
            try:
                d.mkdir()
            except OSError as e:
                raise InputError(f"{self.option} {self.path}: cannot create {d} ({e.strerror or e})") from None
            self._made_dirs.append(d)
        try:
            self._lock()
        except BaseException:
            self._remove_made_dirs()
            raise
        self._remove_leftovers()
        return self

    def __exit__(self, kind, value, tb) -> None:
        try:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
            if kind is not None:
                keep_cache = issubclass(kind, KeyboardInterrupt)
                for f in reversed(self._files):
                    if keep_cache and f.suffix == ".npz" and f.parent != self.path:
                        continue  # cached detections: the next run resumes from them
                    f.unlink(missing_ok=True)
                self._remove_empty_dirs()
        finally:
            self._unlock()
            if kind is not None:
                self._remove_made_dirs()

    # -- what this run writes ------------------------------------------------------------
    def track(self, path: Path) -> Path:
        """Record that this run created ``path`` (removed again if the run fails)."""
        path = Path(path)
        if path not in self._files:
            self._files.append(path)
        return path

    def tmp(self) -> Path:
        """This run's hidden staging folder inside the output folder (made afresh)."""
        if self._tmp is None:
            self._tmp = self.path / f".tmp-{self.command}-{os.getpid()}"
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp.mkdir()
        return self._tmp

    def publish(self, names: list[str], marker: str, replaced: list[str] = ()) -> dict[str, Path]:
        """Move ``names`` (files in ``tmp()``) into the folder, ``marker`` last (it must be among
        them); ``replaced``: an earlier run's files (by name) that this run does not write again,
        removed. Signals wait until it is done."""
        tmp = self.tmp()
        assert marker in names, marker
        order = [n for n in names if n != marker] + [marker]
        with _signals_deferred():
            (self.path / marker).unlink(missing_ok=True)  # from here on no reader takes the folder for a fit
            for name in sorted(set(replaced) - set(names)):
                (self.path / name).unlink(missing_ok=True)
            written = {}
            for name in order:
                os.replace(tmp / name, self.path / name)
                written[name] = self.path / name
            _fsync_dir(self.path)
        shutil.rmtree(tmp, ignore_errors=True)
        self._tmp = None
        return written

    # -- internals -----------------------------------------------------------------------
    def _lock(self) -> None:
        path = self.path / LOCK
        record = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                  "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(2):
            try:
                created = atomic_create(path, json.dumps(record).encode())
            except OSError as e:
                raise InputError(f"{self.option} {self.path}: cannot be written ({e.strerror or e})") from None
            if not created:
                holder = _read_lock(path)
                if holder and holder.get("host") == record["host"] and not pid_alive(int(holder.get("pid", -1))):
                    path.unlink(missing_ok=True)  # its process is gone (killed): take it over
                    self.notes.append(f"{self.option} {self.path}: an earlier run (pid {holder.get('pid')}) ended "
                                      f"without finishing; its lock was removed")
                    continue
                who = (f"pid {holder.get('pid')} on {holder.get('host')}, {holder.get('command')}, started "
                       f"{holder.get('started')}") if holder else "unknown"
                raise InputError(f"{self.option} {self.path}: another run is writing into this folder ({who}); wait "
                                 f"for it to finish or choose another folder (if that run is gone, delete {path})")
            self._locked = True
            return

    def _unlock(self) -> None:
        if not self._locked:
            return
        path = self.path / LOCK
        holder = _read_lock(path)
        if holder and holder.get("pid") == os.getpid():
            path.unlink(missing_ok=True)
        self._locked = False

    def _remove_leftovers(self) -> None:
        """This command's staging folders (``.tmp-<command>-<pid>``) of processes that are gone."""
        ours = re.compile(rf"^\.tmp-{re.escape(self.command)}-(\d+)$")
        for p in self.path.iterdir():
            m = ours.match(p.name)
            if m and p.is_dir() and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))):
                shutil.rmtree(p, ignore_errors=True)
                self.notes.append(f"removed {p.name}, left by an earlier run that was killed")

    def _remove_empty_dirs(self) -> None:
        for d in sorted({f.parent for f in self._files}, key=lambda p: -len(p.parts)):
            if d != self.path and d.is_dir() and not any(d.iterdir()):
                d.rmdir()

    def _remove_made_dirs(self) -> None:
        for d in reversed(self._made_dirs):  # the innermost was made last
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()


def _read_lock(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def _signals_deferred():
    """SIGINT and SIGTERM that arrive inside are raised again when it ends. Python-level
    handlers, not a signal mask: a mask covers one thread, and the kernel hands a signal to
    any thread that does not block it (torch's, MediaPipe's)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in old:
        signal.signal(s, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        if pending:
            signal.raise_signal(pending[0])
