"""`Digits`: the UCI handwritten digits (1,797 images of 8x8), shipped inside svertka."""

from __future__ import annotations

import importlib.resources

import numpy as np

from svertka._validate import error
from svertka.data.datasets.base import ImageArrayDataset


def load_digits_arrays():
    """``(images, labels)``: uint8 ``(1797, 8, 8)`` pixel counts 0..16 and labels 0..9."""
    with importlib.resources.files("svertka.data.datasets").joinpath("digits.npz").open(
            "rb") as f:
        with np.load(f, allow_pickle=False) as z:
            return z["images"], z["labels"]


def stratified_split(labels, test_fraction, seed):
    """Indices ``(train, test)``: each class split with the same fraction, shuffled."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(len(idx) * test_fraction))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


class Digits(ImageArrayDataset):
    """The optical-recognition handwritten digits (UCI; Alpaydin & Kaynak, CC BY 4.0).

    1,797 grey images of 8x8 with 10 classes, embedded in the package so it works offline.
    The 0..16 pixel counts are scaled to 0..255 (``round(v * 255 / 16)``) so the images are
    ordinary uint8 images. ``train=True`` gives the training part of a stratified split that
    holds out ``test_fraction`` of every class with a fixed ``seed`` (the default split is
    the same on every machine).

    Args:
        root: ignored (the data is in the package); accepted for a uniform dataset signature.
        train: the training part (True) or the held-out test part (False).
        transform, target_transform: applied to each ``(8, 8, 1)`` uint8 image / label.
        test_fraction: the held-out share of each class (default 0.2: 359 test images).
        seed: the seed of the split.

    Examples::

        >>> from svertka.data.datasets import Digits
        >>> train, test = Digits(train=True), Digits(train=False)
        >>> len(train), len(test), train[0][0].shape
        (1438, 359, svertka.Size([1, 8, 8]))
    """

    def __init__(self, root=None, train=True, transform=None, target_transform=None,
                 download=False, test_fraction=0.2, seed=0):
        if not 0 < test_fraction < 1:
            raise error("Digits", f"test_fraction must be in (0, 1), got "
                                  f"test_fraction={test_fraction!r}")
        images, labels = load_digits_arrays()
        images = np.round(images.astype(np.float64) * (255 / 16)).astype(np.uint8)
        train_idx, test_idx = stratified_split(labels, test_fraction, seed)
        idx = train_idx if train else test_idx
        super().__init__(images[idx], labels[idx], [str(d) for d in range(10)], transform,
                         target_transform, name="Digits")
        self.train = train
