"""UnpairedPredictor(compile=True): the translator through torch.compile with freezing gives
the eager pictures (fp32 on a CPU), and says whether it compiled."""

import numpy as np
import pytest
import torch

from gan_pipelines.families.unpaired.predict import UnpairedPredictor
from gan_pipelines.models.generators import ResnetGenerator


def _generators():
    torch.manual_seed(0)
    return {name: ResnetGenerator(3, 3, ngf=8, n_blocks=2) for name in ("G_AB", "G_BA")}


def test_compiled_translator_gives_the_eager_picture(monkeypatch):
    from gan_pipelines.families.unpaired import bundles

    nets = _generators()
    monkeypatch.setattr(bundles, "generators_from_bundle",
                        lambda bundle, family: ({"a2b": nets["G_AB"], "b2a": nets["G_BA"]}, {"resolution": 32}))
    eager = UnpairedPredictor({}, "cyclegan", device="cpu")
    compiled = UnpairedPredictor({}, "cyclegan", device="cpu", compile=True)
    assert eager.compiled == "off" and compiled.compiled == "not compiled yet"
    picture = np.random.default_rng(0).integers(0, 256, (36, 44, 3), dtype=np.uint8)
    expected = eager.translate(picture, "a2b")
    assert expected.std() > 3, "the test needs a picture that is not flat"
    assert np.abs(compiled.translate(picture, "a2b").astype(int) - expected).max() <= 1
    from conftest import compile_status_is_right

    assert compile_status_is_right(compiled.compiled), compiled.compiled
    with pytest.raises(ValueError, match="compile must be true or false, got 'no'"):
        UnpairedPredictor({}, "cyclegan", device="cpu", compile="no")
