"""Files from users nested absurdly deep (issue 23: a cameras.json of 100000 nested lists gave
a RecursionError traceback): every JSON the engine reads through engine/io, and a TOML
calibration, give one line naming the file."""

from pathlib import Path

import pytest

from engine.errors import InputError
from engine.io.calibration import read_calibration
from engine.io.calibration.safe_json import MAX_DEPTH, nesting_depth
from engine.io.files import read_json

DEEP = 100_000


@pytest.mark.parametrize("text", ["[" * DEEP + "]" * DEEP, '{"cameras": ' + "[" * DEEP + "]" * DEEP + "}",
                                  '{"a": ' * DEEP + "1" + "}" * DEEP, '{"cameras": [' + "[" * 40 + "]" * 41 + "}"],
                         ids=["lists", "in cameras", "objects", "40 deep"])
def test_deeply_nested_cameras_json_is_one_line(tmp_path, text):
    (tmp_path / "cameras.json").write_text(text)
    for target in (tmp_path, tmp_path / "cameras.json"):
        with pytest.raises(InputError) as info:
            read_calibration(target)
        assert "cameras.json" in str(info.value) and "\n" not in str(info.value)


def test_deeply_nested_project_json_is_one_line(tmp_path):
    path = tmp_path / "fit.json"
    path.write_text('{"schema_version": 1, "x": ' + "[" * DEEP + "]" * DEEP + "}")
    with pytest.raises(InputError, match=r"fit\.json.*nest"):
        read_json(path)
    path.write_text('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "b": [[1]]}')
    assert read_json(path)["b"] == [[1]]  # brackets inside strings are text


def test_deeply_nested_toml_is_one_line(tmp_path):
    path = tmp_path / "calibration.toml"
    path.write_text("[cam01]\nmatrix = " + "[" * DEEP + "]" * DEEP + "\n")
    with pytest.raises(InputError, match=r"calibration\.toml"):
        read_calibration(path)


def test_scene_json_nested_deeply_is_one_line(tmp_path):
    Path(tmp_path / "scene.json").write_text('{"cameras": ' + "[" * DEEP + "]" * DEEP + "}")
    with pytest.raises(InputError, match=r"scene\.json"):
        read_calibration(tmp_path / "scene.json")


def test_nesting_depth_skips_strings_and_is_linear():
    assert nesting_depth('{"a": "[[[[", "b": [[1]], "c": "x\\"[[["}') == 3
    assert nesting_depth('["a\\\\", [1]]') == 2  # an escaped backslash ends the string
    assert nesting_depth("[" * (MAX_DEPTH + 1)) == MAX_DEPTH + 1
    assert nesting_depth('"' + '\\"' * 200_000) == 0  # an unclosed string full of escaped quotes: one pass
