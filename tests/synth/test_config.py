import json

import pytest

from engine.errors import InputError
from synth.config import SynthConfig, load_config


def test_defaults_and_overrides(tmp_path):
    cfg = load_config(None, {"cameras": {"views": 3}, "seed": 7})
    assert cfg.cameras.views == 3 and cfg.seed == 7 and cfg.cameras.width == 256
    assert isinstance(load_config(), SynthConfig)


def test_toml_file_round_trips_through_json(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('seed = 3\n[cameras]\nviews = 4\nfocal_mm = [30, 50]\n[render]\nsamples = 8\n')
    cfg = load_config(path)
    assert cfg.cameras.focal_mm == (30.0, 50.0) and cfg.render.samples == 8
    saved = tmp_path / "c.json"
    saved.write_text(json.dumps(cfg.to_dict()))
    assert load_config(saved) == cfg


@pytest.mark.parametrize("text, field", [
    ("[cameras]\nfocal = [1, 2]\n", "cameras.focal"),
    ("[cameras]\nviews = 'eight'\n", "cameras.views"),
    ("[cameras]\nfocal_mm = [1, 2, 3]\n", "cameras.focal_mm"),
    ("[render]\ndenoise = 1\n", "render.denoise"),
])
def test_bad_fields_are_named(tmp_path, text, field):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=rf"bad.toml: .*'{field}'"):
        load_config(path)


def test_broken_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[cameras\n")
    with pytest.raises(InputError, match="broken.toml: not valid TOML"):
        load_config(path)
    with pytest.raises(InputError, match="not found"):
        load_config(tmp_path / "missing.json")
