"""MediaPipe's and TFLite's own log lines ("INFO: Created TensorFlow Lite XNNPACK delegate for
CPU.", "W0000 ... inference_feedback_manager.cc:114] ...") kept off the user's screen unless
asked for (``diffproxy --verbose``, or ``DIFFPROXY_VERBOSE=1``).

mediapipe 0.10.21 logs through absl's C++ logging and TFLite's minimal logger straight to file
descriptor 2, from its graph threads, on a graph's first ``process()``; neither reads
GLOG_minloglevel, TF_CPP_MIN_LOG_LEVEL or ABSL_MIN_LOG_LEVEL (measured: all three leave every
line on the screen). So ``native_logs_quieted()`` points fd 2 at a temporary file around a
MediaPipe call and, afterwards, writes back to stderr every captured line that is not such a
log line (another thread's output, a warning of ours), or everything when the call failed.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

VERBOSE_ENV = "DIFFPROXY_VERBOSE"
# absl: "W0000 00:00:1796666355.911529    6195 file.cc:114] ..." (glog: "W1207 17:58:01.123 ...");
# TFLite's minimal logger: "INFO: ..." (its errors, "ERROR: ...", are kept); absl's note before InitializeLog
_NATIVE_LOG = re.compile(
    r"^([IWEF]\d{4} [\d:.]+ +\d+ [^ \]]+:\d+\] "
    r"|INFO: "
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR)")


def quiet_native_logs(verbose: bool) -> None:
    """Show (``verbose``) or hide MediaPipe's and TFLite's log lines in this process and the
    processes it starts (through ``DIFFPROXY_VERBOSE``). Hidden is the default."""
    os.environ[VERBOSE_ENV] = "1" if verbose else "0"


def native_logs_shown() -> bool:
    return os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def is_native_log_line(line: str) -> bool:
    return bool(_NATIVE_LOG.match(line))


@contextmanager
def native_logs_quieted() -> Iterator[None]:
    """Around a MediaPipe call (graph construction, ``process``, ``close``): its log lines are
    dropped unless ``native_logs_shown()``; whatever else reached stderr meanwhile is written
    back when the call returns, and everything when it raises. fd 2 belongs to the whole
    process: calls in several threads share one capture, which the last one out ends."""
    if native_logs_shown() or not _enter():
        yield
        return
    failed = True
    try:
        yield
        failed = False
    finally:
        _leave(failed)


class _Window:
    depth = 0
    saved: int | None = None
    capture = None
    failed = False


_window = _Window()
_window_lock = threading.Lock()


def _enter() -> bool:
    """Points fd 2 at the capture (the first caller in); False where there is no fd 2 at all."""
    with _window_lock:
        if _window.depth == 0:
            try:
                saved = os.dup(2)
            except OSError:  # a detached process: nothing to keep clean
                return False
            _flush()
            _window.saved, _window.capture, _window.failed = saved, tempfile.TemporaryFile(mode="w+b"), False
            os.dup2(_window.capture.fileno(), 2)
        _window.depth += 1
        return True


def _leave(failed: bool) -> None:
    with _window_lock:
        _window.failed |= failed
        _window.depth -= 1
        if _window.depth:
            return
        _flush()
        os.dup2(_window.saved, 2)
        os.close(_window.saved)
        capture, _window.saved, _window.capture = _window.capture, None, None
        with capture:
            capture.seek(0)
            _write_back(capture.read().decode("utf-8", "replace"), keep_all=_window.failed)


def _flush() -> None:
    for stream in (sys.stderr, sys.__stderr__):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass


def _write_back(text: str, keep_all: bool) -> None:
    if not text:
        return
    kept = text if keep_all else "".join(
        line for line in text.splitlines(keepends=True) if not is_native_log_line(line))
    data = kept.encode("utf-8")
    while data:
        data = data[os.write(2, data):]
