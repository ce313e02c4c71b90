"""The training pictures of svertka.viz write real PNG files."""

import numpy as np
import pytest

from svertka import nn, viz

pytest.importorskip("matplotlib")


def _is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_training_curves_confusion_and_filters_are_pngs(tmp_path):
    epochs = [{"epoch": i, "train_loss": 1 / i, "val_loss": 1.2 / i, "train_accuracy": 0.5,
               "val_accuracy": 0.4} for i in range(1, 4)]
    out = []
    out += viz.save_training_curves(epochs, str(tmp_path / "curves.png"))
    out += viz.save_confusion_matrix(np.eye(3, dtype=int) * 5, ["a", "b", "c"],
                                     str(tmp_path / "cm.png"))
    out += viz.save_first_layer_filters(nn.Sequential(nn.Conv2d(3, 8, 5)),
                                        str(tmp_path / "filters.png"))
    assert len(out) == 3 and all(_is_png(p) for p in out)


def test_filter_grid_tiles_each_filter_scaled_to_unit_range():
    w = np.arange(4 * 1 * 2 * 2, dtype=float).reshape(4, 1, 2, 2)
    grid = viz.filter_grid(w)
    assert grid.shape == (2 * 3 + 1, 2 * 3 + 1)
    np.testing.assert_array_equal(grid[1:3, 1:3], [[0, 1 / 3], [2 / 3, 1]])
    assert viz.filter_grid(np.zeros((2, 3, 3, 3))).shape == (5, 9, 3)
