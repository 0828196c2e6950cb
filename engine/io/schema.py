"""The fit on disk, ``fit.json`` + ``fit.npz``: one kind per layout, and the names its writers
and readers share. Standard library only: the Blender add-on reads fits with this module
(``addon/build.py`` vendors it), as the engine does.

Two layouts:

- :data:`RECONSTRUCTION`, kind ``diffproxy.fit``, version 2 (``diffproxy reconstruct``,
  written by ``engine.io.reconstruction``): a body per frame in the calibration's own world
  frame and units, its ``landmarks`` (the landmark table's points, ``engine.landmarks``), the
  cameras by name with their distortion, the ``world`` record (up axis, units), the frames and
  frame rate, the rig, the foot contacts and the floor (``engine.pipeline.contacts``);
  ``report.json`` and the overlays beside it.
- :data:`SCENE_FIT`, kind ``diffproxy.scene_fit``, version 1 (``diffproxy fit`` of one
  scene's proxies, written by ``engine.io.fit_result``): one body in the engine's frame
  (metres, Z up), its ``keypoints`` (the body model's 33 named surface points,
  ``BodyModel.keypoint_names``, which a scene's ground truth holds too), the cameras as
  fitted (refined when asked), the fit's correspondences, losses and timings; ``overlay.png``
  beside it.

Before, both layouts were kind ``diffproxy.fit`` version 1 (a reconstruction has a ``world``
record, a scene fit none), and a reconstruction called its landmarks ``keypoints`` and
``body.keypoint_names``: readers take such files through :func:`upgrade`.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import InputError

FIT_JSON = "fit.json"
FIT_NPZ = "fit.npz"
FIT_GLB = "fit.glb"

LANDMARKS = "landmarks"  # a reconstruction's fit.npz: (L, 3), (T, L, 3) in a sequence: the landmark table's points
LANDMARK_NAMES = "landmark_names"  # a reconstruction's fit.json body.landmark_names: their names, in order
KEYPOINTS = "keypoints"  # a scene fit's fit.npz: (33, 3) the body model's named surface points
KEYPOINT_NAMES = "keypoint_names"  # a scene fit's fit.json body.keypoint_names
PARAM_NAMES = ("global_orient", "transl", "body_pose", "shape", "scale")  # fit.json params, fit.npz params_<name>
PARAMS = tuple(f"params_{name}" for name in PARAM_NAMES)
CAMERA_ARRAYS = ("cameras_K", "cameras_R_cam_world", "cameras_t_cam_world")
RIG_ARRAYS = ("rig_bone_names", "rig_parents", "rig_rest", "rig_length", "rig_pose", "rig_vertex_error",
              "rest_vertices", "skin_index", "skin_weight")  # see engine.io.rig
CONTACT_POINTS = ("left_heel", "left_toe", "right_heel", "right_toe")  # engine.pipeline.contacts
CONTACTS = tuple(f"contact_{p}" for p in CONTACT_POINTS)  # a reconstruction's fit.npz: (T,) bool, in contact
FLOOR_HEIGHT = "floor_height"  # () the floor's height along fit.json's world.up_axis, user units


@dataclass(frozen=True)
class Layout:
    kind: str
    version: int
    what: str  # for messages: what writes it
    files: dict  # fit.json's "files": role -> file name, in the fit's folder
    fields: tuple[str, ...]  # fit.json's fields
    body_fields: tuple[str, ...]  # fit.json's body
    camera_fields: tuple[str, ...]  # each of fit.json's cameras
    view_fields: tuple[str, ...]  # each of fit.json's views
    arrays: tuple[str, ...]  # fit.npz's arrays, always there
    optional_arrays: tuple[str, ...] = ()  # there when the fit has them (a rig, foot contacts)
    per_frame: tuple[str, ...] = ()  # arrays with a leading frame axis in a sequence (more than one frame)


RECONSTRUCTION = Layout(
    kind="diffproxy.fit", version=2, what="diffproxy reconstruct",
    files={"json": FIT_JSON, "npz": FIT_NPZ, "glb": FIT_GLB, "report": "report.json"},
    fields=("schema_version", "kind", "body", "params", "cameras", "world", "frames", "fps", "rig", "views", "notes",
            "timings", "meta", "files"),
    body_fields=("model", "pose_joint_names", "shape_names", LANDMARK_NAMES, "part_names"),
    camera_fields=("name", "K", "dist", "R_cam_world", "t_cam_world", "width", "height"),
    view_fields=("name", "residual_px", "mask_iou"),
    arrays=("vertices", "joints", LANDMARKS, "faces", "vertex_part", "residual_px", "mask_iou", "frames", "fps",
            "uv_coords", "uv_faces", *PARAMS, *CAMERA_ARRAYS),
    optional_arrays=(*RIG_ARRAYS, *CONTACTS, FLOOR_HEIGHT),
    per_frame=("vertices", "joints", LANDMARKS, "residual_px", "mask_iou", *PARAMS, "rig_pose", "rig_vertex_error",
               *CONTACTS),
)
SCENE_FIT = Layout(
    kind="diffproxy.scene_fit", version=1, what="diffproxy fit",
    files={"json": FIT_JSON, "npz": FIT_NPZ, "glb": FIT_GLB, "overlay": "overlay.png"},
    fields=("schema_version", "kind", "body", "params", "cameras", "views", "correspondences", "init", "stage_losses",
            "timings", "meta", "files"),
    body_fields=("model", "pose_joint_names", "shape_names", KEYPOINT_NAMES),
    camera_fields=("K", "R_cam_world", "t_cam_world", "width", "height"),
    view_fields=("residual_px",),
    arrays=("vertices", "joints", KEYPOINTS, "faces", "vertex_part", "residual_px", *CAMERA_ARRAYS, *PARAMS),
)
LAYOUTS = (RECONSTRUCTION, SCENE_FIT)

# a reconstruction's pictures beside its files
CONTACT_SHEET = "contact_sheet.jpg"
PROXY_SHEET = "proxies.jpg"


def overlay_name(camera: str) -> str:
    """A reconstruction's overlay of one camera."""
    return f"overlay_{camera}.jpg"


# before (version 1 of kind "diffproxy.fit"): both layouts had this kind; a reconstruction's
# landmarks were "keypoints"
_OLD_KIND = "diffproxy.fit"
_OLD_RECONSTRUCTION_ARRAYS = {KEYPOINTS: LANDMARKS}
_OLD_RECONSTRUCTION_BODY = {KEYPOINT_NAMES: LANDMARK_NAMES}


def layout_of(record, path, accept: tuple[Layout, ...] = LAYOUTS) -> Layout:
    """The layout of the fit.json ``record`` read from ``path``, one of ``accept``; a record of
    another kind, of a version this reader does not know, or of a layout not accepted is an
    InputError naming the file, the field and what was found."""
    if not isinstance(record, dict):
        raise InputError(f"{path}: expected a fit record (a JSON object), got {type(record).__name__}")
    kind, version = record.get("kind"), record.get("schema_version")
    if _is_old(record):
        found = RECONSTRUCTION if "world" in record else SCENE_FIT
    else:
        found = next((layout for layout in LAYOUTS if layout.kind == kind), None)
        if found is None:
            raise InputError(f"{path}: field 'kind': expected {_kinds(accept)}, got {kind!r}")
        if version != found.version:
            known = f"{found.version} and 1" if found.kind == _OLD_KIND else str(found.version)
            raise InputError(f"{path}: field 'schema_version': this reader knows {known} of kind {found.kind!r}, "
                             f"got {version!r} (a fit written by a newer DiffProxy?)")
    if found not in accept:
        raise InputError(f"{path}: field 'kind': a fit written by `{found.what}` ({found.kind!r}); expected "
                         + " or ".join(f"one written by `{a.what}` ({a.kind!r})" for a in accept))
    return found


def upgrade(record: dict, arrays: dict | None, layout: Layout) -> tuple[dict, dict | None]:
    """``record`` (and the arrays of its fit.npz, when given), found by :func:`layout_of` to be
    ``layout``, in that layout's current version: an older file gets today's kind and names; a
    current one is returned as it is. The inputs are not changed."""
    if not _is_old(record):
        return record, arrays
    record = {**record, "kind": layout.kind, "schema_version": layout.version}
    if layout is RECONSTRUCTION:
        if isinstance(record.get("body"), dict):
            record["body"] = {_OLD_RECONSTRUCTION_BODY.get(k, k): v for k, v in record["body"].items()}
        if arrays is not None:
            arrays = {_OLD_RECONSTRUCTION_ARRAYS.get(k, k): v for k, v in arrays.items()}
    return record, arrays


def _is_old(record: dict) -> bool:
    return record.get("kind") == _OLD_KIND and record.get("schema_version") == 1


def _kinds(layouts: tuple[Layout, ...]) -> str:
    return " or ".join(repr(layout.kind) for layout in layouts)
