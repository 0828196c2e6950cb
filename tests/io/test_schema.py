"""engine.io.schema: one kind per layout of fit.json + fit.npz, the names the writers write
and the readers (the engine's, the add-on's) read; older files read in today's names."""

import json

import numpy as np
import pytest
from helpers import random_pose, write_body_fit

from engine.errors import InputError
from engine.io.schema import LANDMARKS, RECONSTRUCTION, SCENE_FIT, layout_of, upgrade
from engine.pipeline.world import WorldFrame


def test_a_reconstruction_is_written_in_its_layout(tmp_path, anny32):
    """Every field and array the layout names, and no other; the per-frame arrays of a sequence
    carry the frame axis; ``files`` names the files written."""
    params = random_pose(anny32, 2, 0.2, seed=1)
    folder = write_body_fit(tmp_path / "rec", anny32, params, WorldFrame(1000.0, "mm", "+Y", 0.0))
    record = json.loads((folder / "fit.json").read_text())
    assert layout_of(record, folder / "fit.json") is RECONSTRUCTION
    assert (record["kind"], record["schema_version"]) == ("diffproxy.fit", 2)
    assert list(record) == list(RECONSTRUCTION.fields)
    assert list(record["body"]) == list(RECONSTRUCTION.body_fields)
    assert [list(c) for c in record["cameras"]] == [list(RECONSTRUCTION.camera_fields)]
    assert [list(v) for v in record["views"]] == [list(RECONSTRUCTION.view_fields)]
    assert record["files"] == RECONSTRUCTION.files and all((folder / f).is_file() for f in record["files"].values())
    with np.load(folder / "fit.npz") as z:
        assert set(z.files) == set(RECONSTRUCTION.arrays) | set(RECONSTRUCTION.optional_arrays)  # Anny has a rig
        assert all(z[k].shape[0] == 2 for k in RECONSTRUCTION.per_frame)
        assert z[LANDMARKS].shape == (2, len(record["body"]["landmark_names"]), 3)


def test_layouts_are_told_apart_old_ones_included(tmp_path):
    path = tmp_path / "fit.json"
    assert layout_of({"kind": "diffproxy.fit", "schema_version": 2}, path) is RECONSTRUCTION
    assert layout_of({"kind": "diffproxy.scene_fit", "schema_version": 1}, path) is SCENE_FIT
    # before the scene fit had a kind of its own: told apart by the reconstruction's world record
    assert layout_of({"kind": "diffproxy.fit", "schema_version": 1, "world": {}}, path) is RECONSTRUCTION
    assert layout_of({"kind": "diffproxy.fit", "schema_version": 1}, path) is SCENE_FIT
    with pytest.raises(InputError, match=rf"^{path}: field 'kind': expected 'diffproxy.fit' or "
                                         r"'diffproxy.scene_fit', got 'diffproxy.cameras'$"):
        layout_of({"kind": "diffproxy.cameras", "schema_version": 1}, path)
    with pytest.raises(InputError, match=rf"^{path}: field 'schema_version': this reader knows 1 of kind "
                                         r"'diffproxy.scene_fit', got 2"):
        layout_of({"kind": "diffproxy.scene_fit", "schema_version": 2}, path)
    with pytest.raises(InputError, match=rf"^{path}: field 'kind': a fit written by `diffproxy reconstruct` "
                                         r"\('diffproxy.fit'\); expected one written by `diffproxy fit`"):
        layout_of({"kind": "diffproxy.fit", "schema_version": 2}, path, accept=(SCENE_FIT,))
    with pytest.raises(InputError, match=rf"^{path}: expected a fit record \(a JSON object\), got list$"):
        layout_of([], path)


def test_an_old_reconstruction_gets_todays_names():
    old = {"kind": "diffproxy.fit", "schema_version": 1, "world": {}, "body": {"keypoint_names": ["nose"]}}
    arrays = {"keypoints": np.zeros((1, 3)), "vertices": np.zeros((4, 3))}
    record, renamed = upgrade(old, arrays, layout_of(old, "fit.json"))
    assert (record["kind"], record["schema_version"], record["body"]) == ("diffproxy.fit", 2, {"landmark_names": ["nose"]})
    assert set(renamed) == {"landmarks", "vertices"} and renamed["landmarks"] is arrays["keypoints"]
    assert old["schema_version"] == 1 and "keypoints" in arrays  # the inputs are left as they were
    # an old scene fit's points are the body model's keypoints, as today: only its kind changes
    old_fit = {"kind": "diffproxy.fit", "schema_version": 1, "body": {"keypoint_names": ["nose"]}}
    record, same = upgrade(old_fit, arrays, SCENE_FIT)
    assert (record["kind"], record["schema_version"], record["body"]) == ("diffproxy.scene_fit", 1,
                                                                         {"keypoint_names": ["nose"]})
    assert same is arrays
    current = {"kind": "diffproxy.fit", "schema_version": 2}
    assert upgrade(current, arrays, RECONSTRUCTION) == (current, arrays)
