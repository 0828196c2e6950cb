"""BlazePose's landmark models, and how the one asked for reaches MediaPipe.

- ``full`` (MediaPipe's ``model_complexity=1``): ``pose_landmark_full.tflite``, in the mediapipe
  0.10.21 wheel.
- ``heavy`` (``model_complexity=2``): ``pose_landmark_heavy.tflite``, not in the wheel (mediapipe
  would download it from Google's storage on first use). DiffProxy ships it as package data
  (``engine/detect/models/``, from the npm package @mediapipe/pose 0.5.1675469404, Apache-2.0:
  see NOTICE there) so that it works offline.

mediapipe 0.10.21 looks for ``mediapipe/modules/pose_landmark/pose_landmark_heavy.tflite``
under its resource folder, which its solutions set to the installed package's parent folder.
``pose_model_resources("heavy")`` first puts the shipped file there (checked against its
sha256, written atomically: a temporary file beside it, then a rename). Where that folder is
not writable it builds, once, a resource folder of its own in the cache
(``<DIFFPROXY_CACHE_DIR>/mediapipe-resources/``): a ``mediapipe/`` tree of symbolic links to the
installed package with the heavy model added; ``mediapipe_resources(root)`` then points the
graphs built inside it at that folder. If neither can be written, an ``InputError`` names both.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.cache import cache_dir
from engine.errors import InputError
from engine.io.files import atomic_copy

POSE_MODELS = ("full", "heavy")
# the reconstruction's default (issue 25: the studio set's MPVPE 50.8 -> 43.5 mm at 4 views; the bundled
# capture's held-out error 3.47 -> 3.59%, within what another local minimum gives): docs/reconstruct.md
DEFAULT_POSE_MODEL = "heavy"
MODEL_COMPLEXITY = {"full": 1, "heavy": 2}   # MediaPipe Pose's model_complexity
HEAVY_FILE = "pose_landmark_heavy.tflite"
HEAVY_SHA256 = "59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe"
HEAVY_SIZE = 27_709_200
SHIPPED_HEAVY = Path(__file__).resolve().with_name("models") / HEAVY_FILE
_LANDMARK_DIR = ("modules", "pose_landmark")   # inside the mediapipe package


def check_pose_model(model: str, option: str = "--pose-model") -> str:
    if model not in POSE_MODELS:
        raise InputError(f"{option}: expected {' or '.join(POSE_MODELS)}, got {model!r}")
    return model


def mediapipe_package() -> Path:
    """The installed mediapipe package's folder."""
    import mediapipe

    return Path(mediapipe.__file__).resolve().parent


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _is_heavy(path: Path) -> bool:
    """``path`` holds the shipped heavy model (size, then sha256)."""
    try:
        return path.stat().st_size == HEAVY_SIZE and sha256_of(path) == HEAVY_SHA256
    except OSError:
        return False


def shipped_heavy() -> Path:
    """The heavy model shipped with DiffProxy, checked."""
    if not SHIPPED_HEAVY.is_file():
        raise InputError(f"{SHIPPED_HEAVY}: missing: BlazePose heavy ships with DiffProxy (reinstall it)")
    if not _is_heavy(SHIPPED_HEAVY):
        raise InputError(f"{SHIPPED_HEAVY}: not the shipped model (sha256 {sha256_of(SHIPPED_HEAVY)}, expected "
                         f"{HEAVY_SHA256}): reinstall DiffProxy")
    return SHIPPED_HEAVY


def pose_model_resources(model: str, package: Path | None = None, cache: Path | None = None) -> Path | None:
    """Make ``model``'s landmark file reachable by MediaPipe. None: it sits in the installed
    package (``package``, default: mediapipe's), where MediaPipe looks; otherwise the resource
    folder to build the graphs in (``mediapipe_resources``), under ``cache`` (default: the
    engine's cache folder). The installed copy is replaced when it is not the shipped file (a
    download of mediapipe's own that was cut off, or another version)."""
    check_pose_model(model, "model")
    if model == "full":
        return None
    package = package or mediapipe_package()
    target = package.joinpath(*_LANDMARK_DIR, HEAVY_FILE)
    if _is_heavy(target):
        return None
    source = shipped_heavy()
    try:
        atomic_copy(source, target)
        return None
    except OSError as e:
        first = e
    root = (cache or cache_dir()) / "mediapipe-resources" / _tree_name(package)
    try:
        _resource_tree(package, root, source)
    except OSError as e:
        raise InputError(f"BlazePose heavy: cannot write {target.parent} ({_reason(first)}) nor {root} "
                         f"({_reason(e)}): make one of them writable (or set DIFFPROXY_CACHE_DIR)") from e
    return root


@contextmanager
def mediapipe_resources(root: Path | None) -> Iterator[None]:
    """Graphs of ``mediapipe.solutions`` built (and first run) inside this read their models
    under ``root`` (None: no change). MediaPipe keeps the folder in one process-wide setting
    that each solution sets when it is built and a graph reads when it starts, so build and
    warm up the graphs inside; the setting is left at ``root`` afterwards (every file of the
    installed package is reachable there too). Not thread-safe."""
    if root is None:
        yield
        return
    from mediapipe.python import solution_base
    from mediapipe.python.solutions import pose

    real = solution_base.resource_util

    class _Resources:  # solution_base calls resource_util.set_resource_dir(<installed package's parent>)
        @staticmethod
        def set_resource_dir(_installed: str) -> None:
            real.set_resource_dir(str(root))

    download = pose._download_oss_pose_landmark_model   # would fetch the model into the package
    solution_base.resource_util, pose._download_oss_pose_landmark_model = _Resources, lambda complexity: None
    try:
        yield
    finally:
        solution_base.resource_util, pose._download_oss_pose_landmark_model = real, download


def _tree_name(package: Path) -> str:
    from mediapipe import __version__

    return f"{__version__}-{hashlib.sha256(str(package).encode()).hexdigest()[:12]}-{HEAVY_SHA256[:12]}"


def _reason(e: OSError) -> str:
    return e.strerror or type(e).__name__


def _resource_tree(package: Path, root: Path, model: Path) -> None:
    """``root/mediapipe``: links to every entry of ``package``, except modules/pose_landmark,
    a folder of links to its files plus a copy of ``model``. Built beside ``root`` and renamed
    into place; an existing tree is kept when it is whole (its links resolve, its model checks)."""
    if _tree_whole(package, root):
        return
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = root.with_name(f".tmp-{root.name}-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        levels = [(package, staging / "mediapipe")]
        for name in _LANDMARK_DIR:
            levels.append((levels[-1][0] / name, levels[-1][1] / name))
        for i, (src, dst) in enumerate(levels):
            dst.mkdir(parents=True)
            skip = levels[i + 1][0].name if i + 1 < len(levels) else HEAVY_FILE
            for entry in src.iterdir():
                if entry.name != skip:
                    (dst / entry.name).symlink_to(entry)
        shutil.copyfile(model, levels[-1][1] / HEAVY_FILE)
        if root.exists() or root.is_symlink():   # a broken tree (a moved environment): replaced
            shutil.rmtree(root)
        os.rename(staging, root)
    except OSError:
        if _tree_whole(package, root):   # another process built it meanwhile
            return
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _tree_whole(package: Path, root: Path) -> bool:
    tree = root / "mediapipe"
    landmark = tree.joinpath(*_LANDMARK_DIR)
    if not (_is_heavy(landmark / HEAVY_FILE) and tree.is_dir()):
        return False
    entries = [e for d in (tree, tree / _LANDMARK_DIR[0], landmark) for e in d.iterdir() if e.is_symlink()]
    wanted = {e.name for e in package.joinpath(*_LANDMARK_DIR).iterdir()} - {HEAVY_FILE}
    return all(e.exists() for e in entries) and wanted <= {e.name for e in landmark.iterdir()}
