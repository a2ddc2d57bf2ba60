"""Checks that can fail on quality: pix2pix, pix2pixHD, SPADE and SPADE+VAE trained on the label ->
photo scenes at the size where pix2pix's verdict against the class-mean painter is stable (64 px,
330 train+val and 16 test scenes; the judge at 25 epochs), in one project, so the three and pix2pix share one judge (the
same scenes by content hash: it is trained once); then compare_label_to_photo scores the four on one
split. A constant-grey or mean-colour generator fails these checks: its pictures segment worse
than the nearest-neighbour retrieval's real photos of other scenes.

Why "beats nearest-neighbour retrieval and reaches a share of the real pictures' score" rather
than "beats the class-mean painter": on this synthetic set the painter's flat fills are the right
colours in the right places, and at the default size pix2pixHD and SPADE sit within its interval
(docs/results.md, 2026-12-06: SPADE 0.670 [0.611, 0.727], pix2pixHD 0.660 [0.620, 0.696], painter
0.636 [0.602, 0.671]); a test asserting a lead the intervals do not show would fail by chance.

slow: 18 minutes on 2 busy cores (2026-12-06; the figures measured at this size are beside SHARE_OF_REAL).
"""

import json
import time

import pytest

from .test_pipeline import _tiny as pix2pix_tiny

FAMILIES = ("pix2pixhd", "spade", "spade_vae")
# the share of the real pictures' score each model must reach; measured at this size on 2 cores
# (2026-12-06, one judge for pix2pix, pix2pixhd and spade: real 0.779 [0.707, 0.840], retrieval
# 0.312 [0.283, 0.343], painter 0.596 [0.507, 0.679]): pix2pixhd 0.608 [0.548, 0.653] = 0.78,
# spade 0.540 [0.471, 0.592] = 0.69; spade_vae at 30 epochs on its own random_objects data
# 0.578 [0.508, 0.653] = 0.78 of real 0.737 [0.637, 0.840], painter there 0.436 [0.386, 0.480],
# retrieval 0.300 [0.267, 0.338]
SHARE_OF_REAL = 0.6


def _params(family: str) -> dict:
    """pix2pix's end-to-end size with the family's own networks and losses at their defaults."""
    params = pix2pix_tiny("pix2pix", quality=True)["pix2pix"]
    # SPADE+VAE learns slowest (its default is 60 epochs): at 12 it scored 0.335 [0.288, 0.387]
    # against retrieval's 0.300 [0.267, 0.338] on its own data, not yet apart
    epochs = 30 if family == "spade_vae" else 12
    params["train"] = {"batch_size": 8, "training": {"progress": False, "cpu_threads": 1, "epochs": epochs,
                                                     "lr_constant_epochs": epochs // 2}}
    if family.startswith("spade"):
        params["evaluate"] = {"diversity_samples": 2}
    return {family: params}


@pytest.mark.slow
def test_label_to_photo_models_beat_retrieval_and_compare_agrees(tmp_path, kedro_run, one_thread):
    from conftest import copy_project

    project = copy_project(tmp_path / "quality")
    seconds = {}
    for family in ("pix2pix", *FAMILIES):
        started = time.perf_counter()
        kedro_run(project, family, pix2pix_tiny("pix2pix", quality=True) if family == "pix2pix" else _params(family))
        seconds[family] = time.perf_counter() - started
    scores = {}
    for family in ("pix2pix", *FAMILIES):
        metrics = json.loads((project / f"data/08_reporting/{family}_metrics.json").read_text())
        scores[family] = {method: (metrics[method]["seg_miou"], metrics[method]["seg_miou_ci95"])
                          for method in ("model", "class_mean_painter", "nearest_neighbour", "real")}
        print(family, f"{seconds[family]:.0f} s", json.dumps(scores[family]))
    judges = {json.loads((project / f"data/08_reporting/{family}_metrics.json").read_text())["meta"]["judge"]["trained_at"]
              for family in ("pix2pix", *FAMILIES) if family != "spade_vae"}
    assert len(judges) == 1  # one judge for the families that render the same scenes

    # pix2pix at this size (2026-12-06, before this check moved here from the end-to-end test:
    # model 0.74, painter 0.60, retrieval 0.31, real 0.77)
    pix2pix = {method: value for method, (value, _) in scores["pix2pix"].items()}
    assert pix2pix["model"] > pix2pix["nearest_neighbour"], pix2pix
    assert pix2pix["model"] > pix2pix["class_mean_painter"], pix2pix
    assert pix2pix["model"] > 0.7 * pix2pix["real"], pix2pix
    for family in FAMILIES:
        model, _ = scores[family]["model"]
        model_low = scores[family]["model"][1][0]
        nn_high = scores[family]["nearest_neighbour"][1][1]
        real = scores[family]["real"][0]
        assert model_low > nn_high, (family, scores[family])  # intervals apart
        assert model > SHARE_OF_REAL * real, (family, scores[family])
    # on its own data SPADE+VAE's lead over the painter is wide (0.578 vs 0.436)
    assert scores["spade_vae"]["model"][0] > scores["spade_vae"]["class_mean_painter"][0], scores["spade_vae"]

    kedro_run(project, "compare_label_to_photo", {"compare_label_to_photo": {"diversity_samples": 2, "num_examples": 2}})
    compare = json.loads((project / "data/08_reporting/compare_label_to_photo_metrics.json").read_text())
    print("compare", json.dumps({k: v.get("seg_miou") for k, v in compare.items() if k != "meta"}))
    for family in ("pix2pix", "pix2pixhd", "spade"):  # scored on the same split by the same judge
        assert compare[family]["seg_miou"] == pytest.approx(scores[family]["model"][0], abs=1e-6)
        assert compare[family]["seg_miou_ci95"][0] > compare["nearest_neighbour"]["seg_miou_ci95"][1], compare
