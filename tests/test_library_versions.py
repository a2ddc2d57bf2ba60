"""Library versions are recorded with every checkpoint and metrics file, and a checkpoint used
under other versions than it was made with is warned about, naming each difference."""

import importlib.metadata
import logging
import platform

import pandas as pd
import pytest

from gan_pipelines.library_versions import (
    RESULT_LIBRARIES, library_versions, version_differences, warn_if_versions_differ,
)


def test_every_result_library_is_recorded_at_its_installed_release():
    versions = library_versions()
    assert list(versions) == [name for name, _ in RESULT_LIBRARIES]
    assert versions["python"] == platform.python_version()
    for name in ("torch", "torchvision", "numpy", "albumentations", "scikit-image", "kedro", "dvc"):
        assert versions[name] == importlib.metadata.version(name)
    assert versions["pillow"] == importlib.metadata.version("pillow")
    import cv2

    # the distribution's build number is kept: 5.0.0.93 and 5.1.0.95 resample differently
    assert versions["opencv"].startswith(cv2.__version__ + ".")


def test_differences_name_only_what_changed_and_only_what_was_recorded():
    current = {"torch": "2.14.1", "numpy": "2.4.6", "opencv": "5.1.0.95", "dvc": None}
    recorded = {"torch": "2.14.1", "numpy": "2.3.0", "opencv": "5.0.0.93", "dvc": "3.67.1"}
    assert version_differences(recorded, current) == {
        "numpy": ("2.3.0", "2.4.6"), "opencv": ("5.0.0.93", "5.1.0.95"), "dvc": ("3.67.1", None),
    }
    assert version_differences({}, current) == {} and version_differences(None, current) == {}
    assert version_differences({"kedro": "1.7.0"}, current) == {"kedro": ("1.7.0", None)}


def test_a_checkpoint_made_under_other_versions_is_warned_about(caplog):
    meta = {"versions": {**library_versions(), "albumentations": "1.4.0"}}
    with caplog.at_level(logging.WARNING, logger="gan_pipelines.library_versions"):
        found = warn_if_versions_differ(meta, "the pix2pix generator checkpoint (trained X)")
    assert found == {"albumentations": ("1.4.0", importlib.metadata.version("albumentations"))}
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith(
        "Using the pix2pix generator checkpoint (trained X) under other library versions than it was made "
        f"with (albumentations 1.4.0 -> {importlib.metadata.version('albumentations')})")


def test_matching_or_missing_records_do_not_warn(caplog):
    with caplog.at_level(logging.INFO, logger="gan_pipelines.library_versions"):
        assert warn_if_versions_differ({"versions": library_versions()}, "a") == {}
        assert warn_if_versions_differ({"trained_at": "2024"}, "an old checkpoint") == {}
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "an old checkpoint records no library versions" in caplog.records[0].getMessage()


def test_checkpoint_bundles_record_the_versions():
    from types import SimpleNamespace

    import torch

    from gan_pipelines.stages.training_setup import checkpoint_bundle

    result = SimpleNamespace(
        best_state_dicts={"net": {"w": torch.zeros(1)}}, best_metrics={"val_loss": 1.0}, best_epoch=2,
        history=pd.DataFrame({"epoch": [1, 2]}), device="cpu", precision="fp32", resumed_from_epoch=None,
    )
    bundle = checkpoint_bundle(result, modules=("net",), model_config={}, meta={"family": "x"})
    assert bundle["meta"]["versions"] == library_versions()
    assert bundle["meta"]["family"] == "x"


def _old_versions():
    return {**library_versions(), "numpy": "1.0.0"}


def _shadow_attention_bundle():
    from gan_pipelines.families.shadow.networks import build_attention_net

    config = {"encoder_weights": None}
    return {"model_config": {"attention": config}, "state_dicts": {"attention": build_attention_net(config).state_dict()},
            "meta": {"trained_at": "T1", "versions": _old_versions()}}


def _paired_generator_bundle():
    from gan_pipelines.families.paired.config import input_config, network_configs
    from gan_pipelines.families.paired.layout import KIND_TYPES
    from gan_pipelines.models.generators import build_generator

    params = {"input_kind": "label_map", "target_kind": "picture", "label_nc": 6,
              "model": {"type": "unet", "num_downs": 6, "ngf": 8},
              "discriminator": {"type": "patchgan", "ndf": 8, "n_layers": 2}}
    generator, _ = network_configs(params, input_config(params, KIND_TYPES, "p"), "p")
    return {"state_dicts": {"generator": build_generator(generator).state_dict()},
            "model_config": {"generator": generator, "input": input_config(params, KIND_TYPES, "p")},
            "meta": {"family": "pix2pix", "network": "generator", "trained_at": "T1", "versions": _old_versions()}}


def _judge_bundle():
    from gan_pipelines.models.segmenter import JUDGE_FAMILY, build_segmenter

    config = {"encoder_weights": None, "num_classes": 3}
    return {"model_config": {"segmenter": config},
            "state_dicts": {"segmenter": build_segmenter({"encoder_weights": None}, 3).state_dict()},
            "meta": {"family": JUDGE_FAMILY, "trained_at": "T1", "versions": _old_versions()}}


@pytest.mark.parametrize("what", ["shadow attention", "pix2pix generator", "segmentation judge"])
def test_rebuilding_a_checkpoint_made_under_other_versions_warns(what, caplog):
    """Every way a trained network is rebuilt for evaluation or prediction checks the versions."""
    from gan_pipelines.families.paired.bundles import generator_from_bundle
    from gan_pipelines.families.shadow.bundles import attention_from_bundle
    from gan_pipelines.models.segmenter import segmentation_judge_from_bundle

    load = {
        "shadow attention": lambda: attention_from_bundle(_shadow_attention_bundle()),
        "pix2pix generator": lambda: generator_from_bundle(_paired_generator_bundle(), "pix2pix"),
        "segmentation judge": lambda: segmentation_judge_from_bundle(_judge_bundle(), device="cpu"),
    }[what]
    with caplog.at_level(logging.WARNING, logger="gan_pipelines.library_versions"):
        load()
    [record] = caplog.records
    assert record.getMessage().startswith(f"Using the {what} checkpoint (trained T1) under other library versions")
    assert f"numpy 1.0.0 -> {importlib.metadata.version('numpy')}" in record.getMessage()
