"""The object bank, empty canvases and pasting on hand-built maps."""

import numpy as np
import pytest

from gan_pipelines.families.segsynth.masks import empty_canvas, instance_ids, object_bank, paste_objects


def _scene():
    labels = np.zeros((2, 16, 16), np.int64)
    labels[:, :4, :] = 5  # sky, a background class
    labels[0, 8:12, 2:6] = 1  # one box in the first picture
    labels[1, 6:10, 8:14] = 2  # a cylinder in the second ...
    labels[1, 12:15, 1:4] = 2  # ... and another, with no instance map: its own component
    pictures = np.zeros((2, 16, 16, 3), np.uint8)
    pictures[labels == 1] = (200, 0, 0)
    pictures[labels == 2] = (0, 200, 0)
    return labels, pictures


def test_bank_cuts_every_object_with_its_class_mask_and_pixels():
    labels, pictures = _scene()
    bank = object_bank(labels, pictures, None, (0, 5))
    assert sorted((o.class_id, o.mask.shape, o.source) for o in bank) == [(1, (4, 4), 0), (2, (3, 3), 1), (2, (4, 6), 1)]
    assert all(o.mask.all() for o in bank)
    assert all((o.picture[o.mask] == (200, 0, 0) if o.class_id == 1 else o.picture[o.mask] == (0, 200, 0)).all()
               for o in bank)


def test_instance_maps_split_touching_objects_and_ignore_background():
    labels = np.zeros((4, 6), np.int64)
    labels[:, 1:5] = 1
    instances = np.zeros((4, 6), np.int64)
    instances[:, 1:3], instances[:, 3:5] = 1, 2
    instances[:, 0] = 9  # an id on background pixels is not an object
    ids = instance_ids(labels, instances, (0,))
    assert sorted(np.unique(ids)) == [0, 1, 2]
    assert ids[0, 0] == 0
    assert len(np.unique(instance_ids(labels, None, (0,)))) == 2  # without instances: one component


def test_empty_canvas_fills_objects_with_the_nearest_background_class():
    labels, _ = _scene()
    canvas = empty_canvas(labels[1], (0, 5))
    assert set(np.unique(canvas)) == {0, 5}
    assert (canvas[:4] == 5).all() and (canvas[6:] == 0).all()
    assert (empty_canvas(np.ones((3, 3), np.int64), (0,)) == 0).all()


def test_paste_keeps_earlier_objects_mostly_visible_and_numbers_new_ones():
    labels, pictures = _scene()
    bank = object_bank(labels, pictures, None, (0, 5))
    rng = np.random.default_rng(0)
    for _ in range(30):
        canvas = empty_canvas(labels[0], (0, 5))
        out, ids, picture, pasted = paste_objects(canvas, bank, rng, count_range=(3, 3), max_hidden=0.5)
        assert picture is None and 0 <= pasted <= 3
        assert ids.max() == pasted and set(np.unique(out[ids > 0])) <= {1, 2}
        assert (out[ids == 0] == canvas[ids == 0]).all()


def test_copy_paste_updates_picture_labels_and_keeps_the_base_objects():
    labels, pictures = _scene()
    bank = object_bank(labels, pictures, None, (0, 5))
    base_ids = instance_ids(labels[0], None, (0, 5))
    out, ids, picture, pasted = paste_objects(labels[0], bank, np.random.default_rng(3), count_range=(2, 2),
                                              scale_range=(1.0, 1.0), canvas_instances=base_ids,
                                              canvas_picture=pictures[0], max_hidden=0.0)
    assert pasted >= 1
    new = ids > base_ids.max()
    assert (picture[new & (out == 1)] == (200, 0, 0)).all() and (picture[new & (out == 2)] == (0, 200, 0)).all()
    assert (ids[base_ids > 0] == 1).all()  # max_hidden 0: nothing may cover the base picture's box


def test_an_empty_bank_is_refused():
    with pytest.raises(ValueError, match="object bank is empty"):
        paste_objects(np.zeros((4, 4), np.int64), [], np.random.default_rng(0))
