"""svertka.viz: pictures of training and of what networks learn (matplotlib, optional).

Install with ``pip install "svertka[viz]"``. Every function writes a PNG file and returns the
list of paths it wrote (empty when matplotlib is missing, so callers need no checks).
"""

from __future__ import annotations

import numpy as np

from svertka.viz._backend import _plt, _save, available


def save_training_curves(epochs, path):
    """Loss and accuracy per epoch (train and validation) from ``fit``'s history records."""
    if not available() or not epochs:
        return []
    plt = _plt()
    x = [r["epoch"] for r in epochs]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        if key in epochs[0]:
            ax1.plot(x, [r[key] for r in epochs], marker="o", ms=3, label=label)
    for key, label in (("train_accuracy", "train"), ("val_accuracy", "validation")):
        if key in epochs[0]:
            ax2.plot(x, [r[key] for r in epochs], marker="o", ms=3, label=label)
    ax1.set(xlabel="epoch", ylabel="loss", title="loss")
    ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def save_confusion_matrix(cm, classes, path):
    """The confusion matrix as a heat map with counts (rows: true class)."""
    if not available():
        return []
    plt = _plt()
    cm = np.asarray(cm)
    n = cm.shape[0]
    fig, ax = plt.subplots(figsize=(1.0 + 0.45 * n, 0.8 + 0.45 * n))
    ax.imshow(cm, cmap="Blues")
    if n <= 30:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
        names = [str(c) for c in classes]
        ax.set_xticks(range(n), names, rotation=90 if max(map(len, names)) > 3 else 0)
        ax.set_yticks(range(n), names)
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix")
    return _save(fig, path)


def first_conv_weight(model):
    """The weight of the first convolution in ``model`` (None if there is none)."""
    for m in model.modules():
        if type(m).__name__ in ("Conv2d", "Conv1d", "Conv3d") and hasattr(m, "weight"):
            return m.weight
    return None


def filter_grid(weight):
    """Arrange conv filters ``(C_out, C_in, kH, kW)`` as one image: RGB when ``C_in == 3``,
    else the first input channel; each filter scaled to [0, 1]."""
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim == 3:
        w = w[:, :, None, :]
    c_out, c_in, kh, kw = w.shape
    if c_in == 3:
        tiles = w.transpose(0, 2, 3, 1)
    else:
        tiles = w[:, 0]
    lo = tiles.reshape(c_out, -1).min(axis=1)
    hi = tiles.reshape(c_out, -1).max(axis=1)
    scale = np.where(hi > lo, hi - lo, 1.0)
    shape = (c_out,) + (1,) * (tiles.ndim - 1)
    tiles = (tiles - lo.reshape(shape)) / scale.reshape(shape)
    cols = int(np.ceil(np.sqrt(c_out)))
    rows = int(np.ceil(c_out / cols))
    pad = 1
    grid_shape = (rows * (kh + pad) + pad, cols * (kw + pad) + pad) + tiles.shape[3:]
    grid = np.ones(grid_shape)
    for i in range(c_out):  # one tile per filter; at most a few hundred
        r, c = divmod(i, cols)
        grid[pad + r * (kh + pad):pad + r * (kh + pad) + kh,
             pad + c * (kw + pad):pad + c * (kw + pad) + kw] = tiles[i]
    return grid


def save_first_layer_filters(model, path):
    """The first convolution's filters as an image grid (RGB when it reads RGB images).

    The lecture picture of what AlexNet's first layer learned::

        from svertka import models, viz
        viz.save_first_layer_filters(models.get_model("alexnet", weights="DEFAULT"),
                                     "alexnet-filters.png")

    Returns the written paths (empty without matplotlib, or without a 2-D convolution).
    """
    if not available():
        return []
    w = first_conv_weight(model)
    if w is None or w.ndim != 4:
        return []
    plt = _plt()
    grid = filter_grid(w.detach().numpy())
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(grid, cmap=None if grid.ndim == 3 else "gray", interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"first-layer filters {tuple(w.shape)}")
    return _save(fig, path)


from svertka.viz.activations import (  # noqa: E402,F401
    activation_maps,
    saliency_map,
    save_activation_maps,
    save_saliency,
)
from svertka.viz.animation import animate_convolution  # noqa: E402,F401
from svertka.viz.gradcam import default_cam_layer, grad_cam, save_grad_cam  # noqa: E402,F401
