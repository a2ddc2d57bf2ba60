import numpy as np
import pytest
import torch

from gan_pipelines.training.data import AugmentConfig, PairedImageDataset, make_loader, to_model_range

N, H, W = 6, 32, 32
NO_AUGMENT = dict(hflip_p=0.0, rotate_p=0.0, noise_p=0.0, color_p=0.0)


def _blocks(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """RGB images whose mask is a function of the image: mask = red channel is 255.

    8x8 blocks, so interpolation only touches block borders.
    """
    rng = np.random.default_rng(seed)
    on = rng.random((N, H // 8, W // 8)) > 0.5
    on = on.repeat(8, axis=1).repeat(8, axis=2)
    image = rng.integers(0, 120, (N, H, W, 3), dtype=np.uint8)
    image[..., 0] = np.where(on, 255, 0)
    return image, on.astype(np.uint8) * 255


def _dataset(augment=None, seed=0, **arrays):
    image, mask = _blocks()
    data = {"input": image, "target": image.copy(), "mask": mask, **arrays}
    return PairedImageDataset(
        data, image_keys=["input", "target"], mask_keys=["mask"], augment=augment, seed=seed
    )


def test_samples_are_compact_and_become_model_floats_exactly():
    image, mask = _blocks()
    image[0, 0, 0] = [0, 128, 255]
    dataset = _dataset()
    assert len(dataset) == N
    sample = dataset[0]
    assert set(sample) == {"input", "target", "mask"}
    # uint8 images and bool masks leave the loader: a quarter of float32's bytes
    assert sample["input"].shape == (3, H, W) and sample["input"].dtype == torch.uint8
    assert sample["mask"].shape == (1, H, W) and sample["mask"].dtype == torch.bool

    exact = PairedImageDataset({"rgb": image, "mask": mask}, image_keys=["rgb"], mask_keys=["mask"])[0]
    floats = to_model_range({**exact, "index": torch.tensor([3])})
    assert floats["rgb"].dtype == torch.float32 and floats["mask"].dtype == torch.float32
    assert floats["rgb"][:, 0, 0].tolist() == pytest.approx([-1.0, 128 / 127.5 - 1, 1.0], abs=1e-6)
    assert floats["rgb"].min() >= -1 and floats["rgb"].max() <= 1
    assert torch.equal(floats["mask"][0], torch.from_numpy(mask[0] >= 128).float())
    assert floats["index"].dtype == torch.int64  # other tensors pass through untouched


def test_bool_masks_are_accepted():
    image, mask = _blocks()
    dataset = PairedImageDataset({"rgb": image, "m": mask > 0}, image_keys=["rgb"], mask_keys=["m"])
    assert torch.equal(dataset[1]["m"][0], torch.from_numpy(mask[1] > 0))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(target=d["target"][:-1]), r"share N, H and W.*target: N=5"),
        (lambda d: d.update(mask=d["mask"][:, :-1]), r"share N, H and W"),
        (lambda d: d.update(target=d["target"].astype(np.float32)), r"'target' must be uint8"),
        (lambda d: d.update(target=d["target"][..., 0]), r"'target' must have shape \(N, H, W, 3\)"),
        (lambda d: d.update(mask=(d["mask"] > 0).astype(np.uint8)), r"'mask' holds values 0/1"),
        (lambda d: d.pop("mask"), r"Missing image array\(s\) \['mask'\]"),
    ],
)
def test_invalid_arrays_are_refused(change, message):
    image, mask = _blocks()
    data = {"input": image, "target": image.copy(), "mask": mask}
    change(data)
    with pytest.raises(ValueError, match=message):
        PairedImageDataset(data, image_keys=["input", "target"], mask_keys=["mask"])


def test_augment_config_validation():
    assert AugmentConfig.from_params({"hflip_p": 1, "rotate_limit": 5}).hflip_p == 1
    assert AugmentConfig.from_params(None) == AugmentConfig()
    with pytest.raises(ValueError, match=r"augmentation\.noise_p must be a probability"):
        AugmentConfig.from_params({"noise_p": 1.5})
    with pytest.raises(ValueError, match=r"augmentation\.color_p"):
        AugmentConfig.from_params({"color_p": "often"})
    with pytest.raises(ValueError, match=r"augmentation\.rotate_limit"):
        AugmentConfig.from_params({"rotate_limit": -1})
    with pytest.raises(ValueError, match=r"augmentation\.flip_prob"):
        AugmentConfig.from_params({"flip_prob": 0.5})


def _mask_matches_image(sample) -> float:
    """Share of pixels where the mask equals 'red channel is bright'."""
    sample = to_model_range(sample)
    red_on = sample["input"][0] > 0
    return (red_on == (sample["mask"][0] > 0.5)).float().mean().item()


def test_flip_is_applied_to_images_and_masks_together():
    image, mask = _blocks()
    dataset = _dataset(AugmentConfig(**{**NO_AUGMENT, "hflip_p": 1.0}))
    for index in range(N):
        sample = dataset[index]
        expected = torch.from_numpy(np.ascontiguousarray(mask[index][:, ::-1]) >= 128)
        assert torch.equal(sample["mask"][0], expected)
        assert _mask_matches_image(sample) == 1.0
        assert torch.equal(sample["input"], sample["target"])


def test_rotation_keeps_masks_aligned_and_binary():
    image, mask = _blocks()
    dataset = _dataset(AugmentConfig(**{**NO_AUGMENT, "rotate_p": 1.0, "rotate_limit": 10}))
    rotated = 0
    for index in range(N):
        sample = dataset[index]
        raw = dataset._augment({k: dataset._arrays[k][index] for k in ("input", "target", "mask")}, 0, index)
        assert set(np.unique(raw["mask"]).tolist()) <= {0, 255}  # nearest neighbour: no grey edges
        assert _mask_matches_image(sample) > 0.97  # only block borders may disagree
        rotated += not torch.equal(sample["mask"][0], torch.from_numpy(mask[index] >= 128))
        assert torch.equal(sample["input"], sample["target"])
    assert rotated >= N - 1


def test_photometric_changes_images_identically_and_never_masks():
    image, mask = _blocks()
    plain = _dataset()
    dataset = _dataset(AugmentConfig(**{**NO_AUGMENT, "noise_p": 1.0, "color_p": 1.0}))
    changed = 0
    for index in range(N):
        sample, reference = dataset[index], plain[index]
        assert torch.equal(sample["mask"], reference["mask"])
        # identical inputs stay identical: every RGB key got the same parameters (noise included)
        assert torch.equal(sample["input"], sample["target"])
        changed += not torch.equal(sample["input"], reference["input"])
    assert changed == N


def test_same_seed_epoch_index_gives_the_same_sample_in_any_order():
    config = AugmentConfig(hflip_p=0.5, rotate_p=0.5)
    first, second = _dataset(config, seed=3), _dataset(config, seed=3)
    forward = [first[i] for i in range(N)]
    backward = [second[i] for i in reversed(range(N))][::-1]
    for a, b in zip(forward, backward):
        for key in a:
            assert torch.equal(a[key], b[key])


def test_epoch_and_seed_change_the_augmentation():
    config = AugmentConfig()
    dataset = _dataset(config, seed=3)
    epoch0 = [dataset[i]["input"] for i in range(N)]
    dataset.set_epoch(1)
    epoch1 = [dataset[i]["input"] for i in range(N)]
    other_seed = [_dataset(config, seed=4)[i]["input"] for i in range(N)]
    assert sum(not torch.equal(a, b) for a, b in zip(epoch0, epoch1)) == N
    assert sum(not torch.equal(a, b) for a, b in zip(epoch0, other_seed)) == N
    dataset.set_epoch(0)
    assert all(torch.equal(a, dataset[i]["input"]) for i, a in enumerate(epoch0))


def test_loader_order_is_a_function_of_seed_and_epoch():
    dataset = PairedImageDataset(
        {"rgb": np.zeros((20, 4, 4, 3), np.uint8),
         "idx": np.stack([np.eye(20, dtype=np.uint8)[i][:16].reshape(4, 4) * 255 for i in range(20)])},
        image_keys=["rgb"],
        mask_keys=["idx"],
    )
    # sample i has one "on" mask pixel at position i (for i < 16): order is readable from masks
    def order(loader):
        return [int(batch["idx"].flatten(1).float().argmax(1)[j]) if batch["idx"][j].sum() else -1
                for batch in loader for j in range(len(batch["idx"]))]

    loader = make_loader(dataset, 4, shuffle=True, seed=5)
    loader.sampler.set_epoch(1)
    epoch1 = order(loader)
    assert order(loader) == epoch1
    loader.sampler.set_epoch(2)
    assert order(loader) != epoch1
    again = make_loader(dataset, 4, shuffle=True, seed=5)
    again.sampler.set_epoch(1)
    assert order(again) == epoch1
    fixed = make_loader(dataset, 4, shuffle=False, seed=5)
    assert order(fixed) == list(range(16)) + [-1] * 4
    assert len(make_loader(dataset, 6, shuffle=True, drop_last=True)) == 3


def test_worker_count_does_not_change_the_batches():
    def batches(workers):
        loader = make_loader(_dataset(AugmentConfig(), seed=1), 2, shuffle=True, seed=1, num_workers=workers)
        loader.sampler.set_epoch(3)
        loader.dataset.set_epoch(3)
        return [b["input"] for b in loader]

    for a, b in zip(batches(0), batches(2)):
        assert torch.equal(a, b)
