"""MediaPipe's and TFLite's own log lines stay off the user's screen unless ``--verbose`` (issue
23): a real ``diffproxy reconstruct`` on frame 0 of the bundled capture (two cameras), once
plainly and once with ``--verbose``; and the capture around MediaPipe's calls gives back what
is not theirs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.detect.quiet import VERBOSE_ENV, is_native_log_line, native_logs_quieted

DIFFPROXY = Path(sys.executable).parent / "diffproxy"
NATIVE = ("Created TensorFlow Lite XNNPACK delegate", "inference_feedback_manager",
          "All log messages before absl::InitializeLog()")


def reconstruct(example, out, *global_options):
    env = {k: v for k, v in os.environ.items() if k != VERBOSE_ENV}
    return subprocess.run([str(DIFFPROXY), *global_options, "reconstruct", str(example / "videos"), "--calibration",
                           str(example / "calibration"), "--out", str(out), "--frames", "0",
                           "--cameras", "cam01,cam02"], capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.slow
def test_mediapipe_logs_are_hidden_unless_verbose(example, tmp_path, anny32):
    plain = reconstruct(example, tmp_path / "plain")
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert "wrote" in plain.stderr  # our own lines stay
    shown = [line for line in plain.stderr.splitlines() if any(n in line for n in NATIVE)]
    assert not shown, shown

    verbose = reconstruct(example, tmp_path / "verbose", "--verbose")
    assert verbose.returncode == 0, verbose.stderr[-3000:]
    assert "Created TensorFlow Lite XNNPACK delegate" in verbose.stderr
    assert "inference_feedback_manager" in verbose.stderr


def test_the_quiet_window_gives_back_what_is_not_mediapipes(capfd, monkeypatch):
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    with native_logs_quieted():
        os.write(2, b"W0000 00:00:1796666355.911529    6195 inference_feedback_manager.cc:114] Feedback\n")
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        print("note: ours, from Python", file=sys.stderr)
        os.write(2, b"ERROR: a native error\n")
    err = capfd.readouterr().err
    assert err == "note: ours, from Python\nERROR: a native error\n"

    with pytest.raises(RuntimeError), native_logs_quieted():  # a failed call: everything is shown
        os.write(2, b"E0000 00:00:1796666355.911529    6195 graph.cc:1] what went wrong\n")
        raise RuntimeError("graph failed")
    assert "what went wrong" in capfd.readouterr().err

    monkeypatch.setenv(VERBOSE_ENV, "1")
    with native_logs_quieted():
        os.write(2, b"I0000 00:00:1.0    1 x.cc:1] shown\n")
    assert "shown" in capfd.readouterr().err


def test_native_log_lines_are_told_from_others():
    assert is_native_log_line("W0000 00:00:1796666497.982300    9007 landmark_projection_calculator.cc:186] x")
    assert is_native_log_line("I1207 17:58:01.123456  123 gl_context.cc:369] GL version")  # glog's clock
    assert is_native_log_line("WARNING: All log messages before absl::InitializeLog() is called are written to "
                              "STDERR\n")
    assert not is_native_log_line("note: camera cam01: calibration rescaled")
    assert not is_native_log_line("Warning: something of ours")


def test_threads_share_one_window_and_stderr_comes_back(capfd, monkeypatch):
    """Windows that overlap without nesting (a in, b in, a out, b out): the first thread out
    must not give fd 2 back while the other is still inside, nor the last one give back a capture."""
    import threading

    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a():
        with native_logs_quieted():
            a_in.set()
            b_in.wait(10)
            os.write(2, b"I0000 00:00:1.0    1 a.cc:1] from a\n")
        a_out.set()

    t = threading.Thread(target=a)
    t.start()
    a_in.wait(10)
    with native_logs_quieted():
        b_in.set()
        a_out.wait(10)  # a has left; this window is still open
        os.write(2, b"note: kept\nW0000 00:00:1.0    1 b.cc:1] from b\n")
    t.join()
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "note: kept\nafter\n"
