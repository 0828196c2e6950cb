"""The Makefile installs only when the package's requirements changed: `make demo` and `make
test` on an installed tree go straight to their command (issue 23)."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def dry_run(tree: Path, target: str) -> str:
    res = subprocess.run(["make", "-n", target], cwd=tree, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout


@pytest.fixture
def tree(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy2(REPO / name, tmp_path / name)
    return tmp_path


def test_a_fresh_clone_creates_the_venv_and_installs_before_testing(tree):
    out = dry_run(tree, "test")
    assert out.index("-m venv .venv") < out.index("pip install -q -e") < out.index("-m pytest")


def test_the_quick_suite_skips_slow_tests_and_ci_runs_them_all(tree):
    assert 'pytest -n 2 --dist loadgroup -m "not slow"' in dry_run(tree, "test")
    full = dry_run(tree, "test-all")
    assert "-m pytest" in full and "not slow" not in full
    assert "make test-all" in (REPO / ".ci" / "run").read_text()


def test_an_installed_tree_does_not_reinstall_until_pyproject_changes(tree):
    (tree / ".venv/bin").mkdir(parents=True)
    (tree / ".venv/bin/python").touch()
    assert "pip install" in dry_run(tree, "demo")  # never installed
    (tree / ".venv/.installed").touch()  # what a finished install leaves
    for target in ("demo", "test", "test-all", "doctor", "install"):
        out = dry_run(tree, target)
        assert "pip install" not in out, (target, out)
    assert ".venv/bin/diffproxy demo" in dry_run(tree, "demo")
    later = time.time() + 10
    os.utime(tree / "pyproject.toml", (later, later))  # a dependency added
    out = dry_run(tree, "demo")
    assert out.index("pip install -q -e") < out.index("diffproxy demo")
