"""The unpaired judges: the domain classifier learns an easy A/B split, the bundle says what it
is and what it learned from, a colour-coded label domain is decoded instead of segmented."""

import numpy as np
import pytest
import torch

from gan_pipelines.families.unpaired.config import TrainJudgeParams, judge_problems
from gan_pipelines.families.unpaired.judge import (
    DomainClassifier, check_label_colours, decode_label_colours, judge_from_bundle,
)
from gan_pipelines.families.unpaired.nodes.train_judge import train_unpaired_judge
from gan_pipelines.image_folders import content_hash
from gan_pipelines.params import ParameterError

SIZE = 16
COLOURS = [[0, 0, 0], [255, 0, 0], [0, 0, 255]]


def class_map(index: int) -> np.ndarray:
    labels = np.zeros((SIZE, SIZE), np.uint8)
    row, col = 2 + index % 3 * 3, 2 + index // 3 % 3 * 3
    labels[row:row + 4, col:col + 4] = 1
    labels[12:, :] = 2
    return labels


def model_input(*, counts=(20, 6, 6), labels=(), colour_coded_a=False, seed=0) -> dict:
    """Domain A dark, B bright (noisy), scenes with 3 classes; ``labels``: the domains whose
    pictures have class maps; ``colour_coded_a``: A pictures are the label colours."""
    rng = np.random.default_rng(seed)
    folder = {}
    for split, count in zip(("train", "val", "test"), counts):
        for domain in "AB":
            for i in range(count):
                name = f"t{i:02d}" if split == "test" else f"{domain.lower()}{i:02d}"
                index = i if split == "test" else i + (0 if domain == "A" else 50) + (100 if split == "val" else 0)
                labels_i = class_map(index)
                base = 50 if domain == "A" else 190
                picture = np.clip(base + 30 * labels_i[..., None] + rng.normal(0, 12, (SIZE, SIZE, 3)), 0, 255)
                picture = picture.astype(np.uint8)
                if domain == "A" and colour_coded_a:
                    picture = np.asarray(COLOURS, np.uint8)[labels_i]
                folder[f"{split}/{domain}/{name}.png"] = (lambda v=picture: v)
                if domain in labels:
                    folder[f"{split}/{domain}_labels/{name}.png"] = (lambda v=labels_i: v)
    return folder


def judge_params(classifier_epochs=6, segmenter_epochs=1, recolour_p=0.0) -> dict:
    # recolour_p 0 by default here: these domains differ ONLY in brightness, i.e. by a recolouring
    return {
        "classifier": {"channels": [8, 16], "lr": 3e-3, "batch_size": 8, "recolour_p": recolour_p,
                       "training": {"epochs": classifier_epochs, "progress": False, "seed": 0}},
        "segmenter": {"model": {"encoder": "mobilenet_v2", "encoder_depth": 3, "decoder_channels": [8, 8, 8]},
                      "batch_size": 8, "training": {"epochs": segmenter_epochs, "progress": False}},
    }


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    folder = model_input()
    bundle, history = train_unpaired_judge(folder, {"label_nc": None, "label_colours": None}, judge_params(),
                                           family="cyclegan")
    return folder, bundle, history


def test_classifier_learns_an_easy_split(trained):
    folder, bundle, history = trained
    assert bundle["meta"]["classifier_val_accuracy"] > 0.95
    judge = judge_from_bundle(bundle, device="cpu")
    test = {d: np.stack([folder[f"test/{d}/t{i:02d}.png"]() for i in range(6)]) for d in "AB"}
    assert (judge.domain_probabilities(test["A"]).argmax(axis=1) == 0).all()
    assert (judge.domain_probabilities(test["B"]).argmax(axis=1) == 1).all()
    probabilities, features = judge.probabilities_and_features(test["B"])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert features.shape == (6, 16)  # the last conv width: the KID feature space
    assert list(history["network"].unique()) == ["classifier"]
    assert len(history) == 6


def test_bundle_says_what_it_is_and_what_it_learned_from(trained):
    folder, bundle, _ = trained
    meta = bundle["meta"]
    assert meta["family"] == "cyclegan" and meta["network"] == "judge"
    assert meta["precision"] == "fp32" and meta["seed"] == 0
    assert meta["data_hash_kinds"] == ["A", "B"]
    assert meta["data_hash"] == content_hash(folder, ["A", "B"], ("train", "val"))
    assert meta["train_pictures"] == {"A": 20, "B": 20} and meta["val_pictures"] == {"A": 6, "B": 6}
    assert set(bundle["state_dicts"]) == {"classifier"}  # no class maps: no segmenters
    assert meta["class_maps"]["A"].startswith("no class maps")
    assert bundle["model_config"]["classifier"] == {"channels": [8, 16]}
    loaded = torch.load(_saved(bundle), weights_only=True)  # plain types: loads without pickled code
    assert judge_from_bundle(loaded, device="cpu").can_segment("B") is False


def _saved(bundle):
    import io

    stream = io.BytesIO()
    torch.save(bundle, stream)
    stream.seek(0)
    return stream


def test_label_domain_is_decoded_and_the_other_segmented():
    torch.set_num_threads(1)
    folder = model_input(counts=(10, 4, 4), labels=("A", "B"), colour_coded_a=True)
    summary = {"label_nc": 3, "label_colours": COLOURS}
    bundle, history = train_unpaired_judge(folder, summary, judge_params(classifier_epochs=2), family="cyclegan")
    assert set(bundle["state_dicts"]) == {"classifier", "segmenter_B"}  # A is decoded, not segmented
    assert bundle["model_config"]["colour_coded_domain"] == "A"
    assert bundle["model_config"]["label_colours"] == COLOURS
    assert bundle["meta"]["data_hash_kinds"] == ["A", "B", "B_labels"]
    assert set(history["network"]) == {"classifier", "segmenter_B"}
    judge = judge_from_bundle(bundle, device="cpu")
    a_pictures = np.stack([folder[f"test/A/t{i:02d}.png"]() for i in range(4)])
    expected = np.stack([folder[f"test/A_labels/t{i:02d}.png"]() for i in range(4)])
    np.testing.assert_array_equal(judge.class_maps("A", a_pictures), expected)
    b_maps = judge.class_maps("B", np.stack([folder[f"test/B/t{i:02d}.png"]() for i in range(4)]))
    assert b_maps.shape == (4, SIZE, SIZE) and b_maps.dtype == np.int64 and b_maps.max() < 3


def test_decode_label_colours_takes_the_nearest_colour():
    pictures = np.array([[[200, 30, 30], [10, 10, 100], [0, 0, 200], [128, 0, 128]]], np.uint8)
    # (10,10,100): black at 10^2+10^2+100^2 = 10200, blue at 10^2+10^2+155^2 = 24225 -> black
    # (128,0,128): red at 127^2+128^2, blue at 128^2+127^2: a tie -> the lower class, red
    np.testing.assert_array_equal(decode_label_colours(pictures, COLOURS), [[1, 0, 2, 1]])  # one (H, W, 3)
    np.testing.assert_array_equal(decode_label_colours(pictures[None], COLOURS), [[[1, 0, 2, 1]]])  # (N, H, W, 3)


def test_refusals():
    with pytest.raises(ValueError, match="label_nc is 4"):
        check_label_colours(COLOURS, 4)
    with pytest.raises(ValueError, match="same colour"):
        check_label_colours([[1, 2, 3], [1, 2, 3]])
    with pytest.raises(ValueError, match="0..255"):
        check_label_colours([[0, 0, 300]])
    params = judge_params()
    params["segmenter"]["training"]["precision"] = "bf16"
    with pytest.raises(ParameterError, match=r"cyclegan.train_judge.segmenter.training.precision .*fp32"):
        train_unpaired_judge(model_input(counts=(2, 1, 1)), {}, params, family="cyclegan")
    with pytest.raises(ValueError, match=r"cyclegan.ingest.*label_nc"):
        train_unpaired_judge(model_input(counts=(2, 1, 1), labels=("B",)), {"label_nc": None}, judge_params(),
                             family="cyclegan")
    with pytest.raises(ValueError, match="not an unpaired judge"):
        judge_from_bundle({"meta": {"network": "generator"}, "state_dicts": {"G_AB": {}}, "model_config": {}})
    with pytest.raises(ValueError, match="channels"):
        DomainClassifier([])


def test_judge_problems_name_the_resolution_and_the_judge_keys():
    judge = TrainJudgeParams.parse(judge_params(), "cyclegan.train_judge")  # encoder_depth 3, two conv layers
    assert judge_problems(judge, 64, "cyclegan") == []
    (problem,) = judge_problems(judge, 36, "cyclegan")
    assert "cyclegan.preprocess.resolution (36) is not a multiple of 8" in problem
    assert "cyclegan.train_judge.segmenter.model.encoder_depth" in problem
    assert judge_problems(judge, 36, "cyclegan", segmenters=False) == []  # no class maps: no segmenter
    (problem,) = judge_problems(judge, 2, "cyclegan", segmenters=False)
    assert "below the 4 px" in problem and "cyclegan.train_judge.classifier.channels" in problem


def _striped(count: int, vertical: bool, level: int, rng) -> np.ndarray:
    """``count`` pictures of stripes (period 4 px, random phase) around grey ``level``."""
    pictures = []
    for _ in range(count):
        coords = np.arange(SIZE)[None, :] if vertical else np.arange(SIZE)[:, None]
        stripes = ((coords + rng.integers(4)) // 2 % 2) * 60 - 30
        picture = level + np.broadcast_to(stripes, (SIZE, SIZE))[..., None] + rng.normal(0, 8, (SIZE, SIZE, 3))
        pictures.append(np.clip(picture, 0, 255).astype(np.uint8))
    return np.stack(pictures)


def _stripe_domains(recolour_p: float):
    """A = dark vertical stripes, B = bright horizontal ones; the classifier's call on A test
    pictures colour-transferred to B's statistics (share called B)."""
    from gan_pipelines.families.unpaired.baselines import colour_transfer, lab_statistics
    from gan_pipelines.families.unpaired.judge import fit_classifier
    from gan_pipelines.training import TrainerConfig

    rng = np.random.default_rng(0)
    split = {name: {"A": _striped(n, True, 70, rng), "B": _striped(n, False, 180, rng)}
             for name, n in (("train", 48), ("val", 12), ("test", 16))}

    def stacked(name):
        a, b = split[name]["A"], split[name]["B"]
        return {"image": np.concatenate([a, b]), "domain": np.repeat([0, 1], [len(a), len(b)])}

    settings = {"channels": [8, 16], "lr": 3e-3, "batch_size": 8, "num_workers": 0, "augmentation": None,
                "recolour_p": recolour_p}
    config = TrainerConfig(epochs=10, monitor="loss", scheduler="none", precision="fp32", device="cpu",
                           progress=False, seed=0)
    result = fit_classifier(stacked("train"), stacked("val"), settings, config)
    judge = DomainClassifier([8, 16])
    judge.load_state_dict(result.best_state_dicts["classifier"])
    judge.eval()

    def called_b(images):
        with torch.no_grad():
            tensor = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
            return float((judge(tensor).argmax(dim=1) == 1).float().mean())

    recoloured = colour_transfer(split["test"]["A"], *lab_statistics(split["train"]["B"]))
    return called_b(split["test"]["A"]), called_b(split["test"]["B"]), called_b(recoloured)


def test_recolouring_views_make_the_classifier_judge_structure():
    """Without recolouring views a bright picture is 'B' whatever its stripes; with them the
    colour-transferred A pictures stay A (the colour baselines do not fool the rate) while real
    pictures are still told apart."""
    torch.set_num_threads(1)
    a_blind, b_blind, recoloured_blind = _stripe_domains(0.5)
    assert a_blind <= 0.1 and b_blind >= 0.9
    assert recoloured_blind <= 0.2, recoloured_blind
    _, _, recoloured_plain = _stripe_domains(0.0)
    assert recoloured_plain > recoloured_blind


def test_recolouring_views_are_the_baselines_towards_the_other_domain():
    from gan_pipelines.families.unpaired.baselines import colour_transfer, histogram_matching, lab_statistics
    from gan_pipelines.families.unpaired.judge import recolouring_views

    rng = np.random.default_rng(1)
    images = np.concatenate([_striped(3, True, 70, rng), _striped(2, False, 180, rng)])
    domains = np.array([0, 0, 0, 1, 1])
    transferred, matched = recolouring_views(images, domains, seed=0)
    np.testing.assert_array_equal(transferred[:3], colour_transfer(images[:3], *lab_statistics(images[3:])))
    np.testing.assert_array_equal(transferred[3:], colour_transfer(images[3:], *lab_statistics(images[:3])))
    # each matched picture takes the histogram of one picture of the other domain
    assert any(np.array_equal(matched[0], histogram_matching(images[0], images[j])) for j in (3, 4))
    with pytest.raises(ValueError, match="both domains"):
        recolouring_views(images[:3], domains[:3])
