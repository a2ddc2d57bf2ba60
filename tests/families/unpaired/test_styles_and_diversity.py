"""What U-GAT-IT and MUNIT add to the unpaired family's use: diversity measured one way (a
deterministic model measures exactly 0, known features give hand-worked distances), MUNIT's style
codes through inference and predict (same code, same output; example-guided), a full U-GAT-IT
generator on pictures of another size, and the comparison's paired differences."""

import numpy as np
import pandas as pd
import pytest
import torch

from gan_pipelines.families.unpaired.evaluation import DomainPictures, translation_diversity

SIZE = 16


class FeatureJudge:
    """A judge whose features are the mean colour of a picture (0..255): distances by hand."""

    device = torch.device("cpu")

    def features(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(images, np.float64).mean(axis=(1, 2))


def _domains(count: int = 4) -> dict[str, DomainPictures]:
    names = [f"t{i}" for i in range(count)]
    return {d: DomainPictures(names, np.stack([np.full((SIZE, SIZE, 3), 10 * i + (0 if d == "A" else 100), np.uint8)
                                               for i in range(count)])) for d in "AB"}


def test_a_deterministic_translator_measures_exactly_zero_and_real_pictures_give_the_scale():
    test = _domains()

    def same(direction, images, count):
        return np.repeat(images[:, None], count, axis=1)

    metrics, meta, unavailable = translation_diversity(test, same, FeatureJudge(), samples=3, lpips=None,
                                                       lpips_weights_path="/nonexistent/lpips.pt")
    assert metrics["model"]["diversity_a2b"] == 0.0 and metrics["model"]["diversity_b2a"] == 0.0
    # real B pictures: grey levels 100, 110, 120, 130; a feature is (g, g, g): pair distance sqrt(3) |gi - gj|
    pairs = [abs(i - j) * 10 for i in range(4) for j in range(i + 1, 4)]
    assert metrics["real"]["diversity_a2b"] == pytest.approx(np.sqrt(3) * np.mean(pairs))
    assert metrics["model"]["diversity_lpips_a2b"] is None
    assert "LPIPS" in unavailable["model.diversity_lpips_a2b"]
    assert "feature" in meta["space"]


def test_outputs_at_known_colours_give_the_hand_worked_distance():
    test = _domains(2)

    def two_greys(direction, images, count):  # outputs 0 and 60 grey for every input
        return np.stack([np.stack([np.full((SIZE, SIZE, 3), 60 * k, np.uint8) for k in range(count)])
                         for _ in images])

    metrics, _, _ = translation_diversity(test, two_greys, FeatureJudge(), samples=2,
                                          lpips=lambda x, y: np.full(len(x), 0.5), bootstrap_resamples=200)
    assert metrics["model"]["diversity_a2b"] == pytest.approx(60 * np.sqrt(3))
    assert metrics["model"]["diversity_lpips_b2a"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="samples must be an integer >= 2"):
        translation_diversity(test, two_greys, FeatureJudge(), samples=1)


@pytest.fixture(scope="module")
def munit_translators():
    from gan_pipelines.families.unpaired.networks import build_munit, munit_generator_config, munit_translators

    torch.manual_seed(0)
    config = munit_generator_config({"dim": 4, "n_res": 1, "mlp_dim": 8}, 16)
    networks = build_munit(config)
    return munit_translators(networks["G_A"], networks["G_B"])


def test_munit_style_codes_same_code_same_output_other_code_other_output(munit_translators):
    from gan_pipelines.families.unpaired.inference import random_style_codes, style_codes, translate

    pictures = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    codes = random_style_codes(2, 8, [0, 1])
    assert np.array_equal(codes, random_style_codes(2, 8, [0, 1]))
    first = translate(munit_translators["a2b"], pictures, device="cpu", style=codes)
    assert np.array_equal(first, translate(munit_translators["a2b"], pictures, device="cpu", style=codes))
    other = translate(munit_translators["a2b"], pictures, device="cpu", style=codes[::-1].copy())
    assert not np.array_equal(first, other)
    zeros = translate(munit_translators["a2b"], pictures, device="cpu", style=np.zeros((2, 8), np.float32))
    assert np.array_equal(zeros, translate(munit_translators["a2b"], pictures, device="cpu"))  # None = the prior's mean
    # example-guided: the code of a target picture, then decoding with it
    guide = style_codes(munit_translators["a2b"], pictures[:1], device="cpu")
    assert guide.shape == (1, 8)
    with torch.no_grad():
        direct = munit_translators["a2b"](torch.from_numpy(pictures[:1]).permute(0, 3, 1, 2).float() / 127.5 - 1,
                                          torch.from_numpy(guide))
    guided = translate(munit_translators["a2b"], pictures[:1], device="cpu", style=guide)
    expected = ((direct.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    assert np.abs(guided.astype(int) - expected.astype(int)).max() <= 1
    with pytest.raises(ValueError, match="one code per picture"):
        translate(munit_translators["a2b"], pictures, device="cpu", style=codes[:1])


def test_a_full_ugatit_generator_translates_pictures_of_another_size():
    from gan_pipelines.families.unpaired.inference import translate
    from gan_pipelines.models.ugatit import UGATITGenerator

    torch.manual_seed(0)
    full = UGATITGenerator(ngf=4, n_blocks=1, image_size=16, light=False)
    assert full.input_size == 16 and UGATITGenerator(ngf=4, n_blocks=1, image_size=16, light=True).input_size is None
    odd = np.random.default_rng(1).integers(0, 256, (1, 21, 13, 3), dtype=np.uint8)
    assert translate(full, odd, device="cpu").shape == (1, 21, 13, 3)


def test_munit_predict_params_say_which_style_source():
    from gan_pipelines.families.unpaired.config import stage_model
    from gan_pipelines.params import ParameterError

    model = stage_model("munit", "predict")
    base = {"input_dir": "in", "output_dir": "out"}
    assert model.parse({**base, "random_style": True, "num_samples": 4}).num_samples == 4
    with pytest.raises(ParameterError, match="num_samples"):
        model.parse({**base, "num_samples": 3})
    with pytest.raises(ParameterError, match="style_image"):
        model.parse({**base, "style_image": "x.png", "random_style": True})
    with pytest.raises(ParameterError, match="random_style"):  # CycleGAN's predict has no styles
        stage_model("cyclegan", "predict").parse({**base, "random_style": True})


def test_munit_predict_folder_writes_one_file_per_style(munit_translators, tmp_path):
    from PIL import Image

    from gan_pipelines.families.unpaired.inference import random_style_codes
    from gan_pipelines.families.unpaired.predict import predict_folder

    class Predictor:  # the torch predictor's interface on the tiny translators
        family, trained_at, style_dim = "munit", "now", 8

        def translate(self, image, direction, style=None):
            from gan_pipelines.families.unpaired.inference import translate

            return translate(munit_translators[direction], image[None], device="cpu",
                             style=None if style is None else np.asarray(style)[None])[0]

    source = tmp_path / "in"
    source.mkdir()
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (18, 22, 3), dtype=np.uint8)).save(source / "p.png")
    summary = predict_folder(Predictor(), source, tmp_path / "out", "a2b",
                             styles=lambda index: random_style_codes(3, 8, [0, index]))
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["p_s0.png", "p_s1.png", "p_s2.png"] and summary["outputs"] == 3
    pixels = [np.asarray(Image.open(tmp_path / "out" / name)) for name in written]
    assert pixels[0].shape == (18, 22, 3) and not np.array_equal(pixels[0], pixels[1])


def test_paired_differences_by_hand():
    from gan_pipelines.families.unpaired.nodes.compare import paired_differences

    rows = []
    for i in range(6):
        rows += [{"name": f"t{i}", "direction": "a2b", "method": "cyclegan", "hidden_l1": 0.2 + 0.01 * i},
                 {"name": f"t{i}", "direction": "a2b", "method": "munit", "hidden_l1": 0.1 + 0.01 * i}]
    out = paired_differences(pd.DataFrame(rows), ["cyclegan", "munit"], resamples=200, seed=0)
    entry = out["hidden_l1_a2b"]["munit - cyclegan"]
    # every picture is 0.1 lower with munit: the difference and both interval ends are -0.1
    assert entry["mean"] == pytest.approx(-0.1) and entry["n"] == 6
    assert entry["ci95"] == pytest.approx([-0.1, -0.1])


def test_ugatit_attention_maps_are_the_heatmap_scaled_per_picture():
    import torch.nn.functional as F

    from gan_pipelines.families.unpaired.inference import attention_maps
    from gan_pipelines.models.ugatit import UGATITGenerator

    torch.manual_seed(0)
    generator = UGATITGenerator(ngf=4, n_blocks=1, image_size=16, light=True).eval()
    pictures = np.random.default_rng(3).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    maps = attention_maps(generator, pictures, device="cpu")
    assert maps.shape == (2, 16, 16) and maps.dtype == np.uint8
    assert maps.reshape(2, -1).min(axis=1).tolist() == [0, 0] and maps.reshape(2, -1).max(axis=1).tolist() == [255, 255]
    with torch.no_grad():  # the brightest pixel is where the upsampled heatmap peaks
        heat = generator.forward_with_attention(torch.from_numpy(pictures).permute(0, 3, 1, 2).float() / 127.5 - 1)[2]
        peak = F.interpolate(heat, size=(16, 16), mode="bilinear", align_corners=False)[0, 0].argmax().item()
    assert maps[0].reshape(-1)[peak] == 255
    with pytest.raises(ValueError, match="no attention map"):
        attention_maps(torch.nn.Identity(), pictures, device="cpu")
