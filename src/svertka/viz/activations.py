"""Pictures of what a trained network computes: activation maps of a layer, saliency maps.

Like the rest of :mod:`svertka.viz`, the ``save_*`` functions write PNG files and return the
list of written paths (empty when matplotlib is missing).
"""

from __future__ import annotations

import numpy as np

from svertka import _validate as V

__all__ = ["activation_maps", "save_activation_maps", "saliency_map", "save_saliency"]


def _batch(fn, x):
    """A float Tensor ``(N, C, *spatial)`` from a Tensor or an array, batched if needed."""
    import svertka
    from svertka.tensor import Tensor

    if not isinstance(x, Tensor):
        if not isinstance(x, np.ndarray):
            raise V.type_error(fn, f"x must be a Tensor or an ndarray, got {type(x).__name__}")
        x = svertka.tensor(x if x.dtype.kind == "f" else x.astype(np.float32))
    return x


def _named(fn, model, layer_name):
    modules = dict(model.named_modules())
    if layer_name not in modules:
        some = ", ".join(repr(n) for n in list(modules)[1:16])
        raise V.error(fn, f"model has no module named {layer_name!r} (modules: {some}, ...)",
                      f"got layer_name={layer_name!r}")
    return modules[layer_name]


def activation_maps(model, x, layer_name):
    """The output of module ``layer_name`` for the batch ``x`` (eval mode, no gradients), as an
    ndarray ``(N, C, *spatial)``.

    Examples::

        >>> import svertka
        >>> from svertka import nn
        >>> from svertka.viz.activations import activation_maps
        >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
        >>> activation_maps(net, svertka.zeros(2, 1, 8, 8), "1").shape
        (2, 4, 6, 6)
    """
    import svertka

    fn = "activation_maps"
    x = _batch(fn, x)
    module = _named(fn, model, layer_name)
    seen = []
    handle = module.register_forward_hook(lambda m, i, o: seen.append(o))
    was = model.training
    model.eval()
    try:
        with svertka.no_grad():
            model(x)
    finally:
        handle.remove()
        model.train(was)
    if not seen:
        raise V.error(fn, f"module {layer_name!r} was not called in the forward pass")
    out = seen[-1]
    out = out[0] if isinstance(out, (tuple, list)) else out
    return out.detach().numpy()


def _tile(maps):
    """``(C, H, W)`` maps, each scaled to [0, 1], arranged in a near-square grid with 1-pixel
    gaps (NaN, drawn as the background)."""
    c, h, w = maps.shape
    lo = maps.reshape(c, -1).min(axis=1)[:, None, None]
    hi = maps.reshape(c, -1).max(axis=1)[:, None, None]
    maps = (maps - lo) / np.where(hi > lo, hi - lo, 1)
    cols = int(np.ceil(np.sqrt(c)))
    rows = int(np.ceil(c / cols))
    grid = np.full((rows, cols, h + 1, w + 1), np.nan)
    flat = grid.reshape(rows * cols, h + 1, w + 1)
    flat[:c, :h, :w] = maps
    return grid.transpose(0, 2, 1, 3).reshape(rows * (h + 1), cols * (w + 1))[:-1, :-1]


def save_activation_maps(model, x, layer_name, path, max_maps=64):
    """The activation maps of ``layer_name`` for the first sample of ``x`` as an image grid.

    Args:
        model (Module): the network.
        x (Tensor or ndarray): ``(N, C, *spatial)`` inputs (the first sample is shown).
        layer_name (str): a name of ``model.named_modules()``.
        path (str): the PNG file to write.
        max_maps (int): at most this many channels are drawn. Default 64.

    Returns:
        ``[path]``, or ``[]`` without matplotlib. 2-D maps are drawn as images (each scaled to
        its own range), 1-D maps as the rows of one image, a flat output as a bar chart.
    """
    from svertka.viz import _backend as viz

    fn = "save_activation_maps"
    if not V.is_int(max_maps) or max_maps <= 0:
        raise V.error(fn, f"max_maps must be a positive int, got max_maps={max_maps!r}")
    out = activation_maps(model, x, layer_name)[0]
    if not viz.available():
        return []
    plt = viz._plt()
    if out.ndim == 3:
        c = out.shape[0]
        grid = _tile(out[:max_maps])
        fig, ax = plt.subplots(figsize=(6, 6 * grid.shape[0] / max(grid.shape[1], 1) + 0.4))
        cmap = plt.get_cmap("viridis").with_extremes(bad="white")
        ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, interpolation="nearest")
        ax.set_axis_off()
        shown = f", first {max_maps}" if c > max_maps else ""
        ax.set_title(f"{layer_name}: {c} maps of {out.shape[1]}x{out.shape[2]}{shown}")
    elif out.ndim == 2:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.imshow(out[:max_maps], aspect="auto", cmap="viridis", interpolation="nearest")
        ax.set(xlabel="position", ylabel="channel", title=f"{layer_name}: {out.shape[0]} maps")
    else:
        flat = out.ravel()[:max_maps]
        fig, ax = plt.subplots(figsize=(7, 3))
        ax.bar(np.arange(flat.size), flat)
        ax.set(xlabel="unit", ylabel="activation", title=f"{layer_name}: {out.size} units")
    return viz._save(fig, path)


def _backward_from_class_scores(fn, scores, target):
    """Back-propagate one-hot gradients of the class scores ``(N, classes)`` from ``target``
    (class indices, one or one per image; default: each image's top class)."""
    import svertka

    if scores.ndim != 2:
        raise V.error(fn, f"the model must return class scores (N, classes), got shape "
                          f"{tuple(scores.shape)}")
    n, k = scores.shape
    s = scores.detach().numpy()
    if target is None:
        t = s.argmax(axis=1)
    else:
        t = np.broadcast_to(np.asarray(target), (n,))
        if t.dtype.kind not in "iu" or (t < 0).any() or (t >= k).any():
            raise V.error(fn, f"target must be class indices in [0, {k}), got "
                              f"target={target!r}")
    gy = np.zeros_like(s)
    gy[np.arange(n), t] = 1
    scores.backward(svertka.tensor(gy))


def saliency_map(model, x, target=None):
    """Gradient saliency (Simonyan et al. 2014): ``|d score_target / d x|``, the largest over
    the channels, per input pixel.

    Args:
        model (Module): a classifier (run in eval mode).
        x (Tensor or ndarray): ``(C, *spatial)`` or a batch ``(N, C, *spatial)``.
        target (int or sequence of ints, optional): class per sample; default the predicted
            class.

    Returns:
        ndarray ``(*spatial)`` (or ``(N, *spatial)`` for a batch).

    Examples::

        >>> import svertka
        >>> from svertka import nn
        >>> from svertka.viz.activations import saliency_map
        >>> _ = svertka.manual_seed(0)
        >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(72, 3))
        >>> s = saliency_map(net, svertka.randn(1, 8, 8), target=2)
        >>> s.shape, bool((s >= 0).all())
        ((8, 8), True)
    """
    from svertka.autograd import grad_mode

    fn = "saliency_map"
    x = _batch(fn, x)
    batched = x.ndim >= 3 and not (x.ndim == 3 and _unbatched_hint(model, x))
    xb = (x if batched else x.unsqueeze(0)).detach().requires_grad_(True)
    was = model.training
    model.eval()
    try:
        with grad_mode.enable_grad():
            scores = model(xb)
            _backward_from_class_scores(fn, scores, target)
    finally:
        model.train(was)
    sal = np.abs(xb.grad.numpy()).max(axis=1)
    return sal if batched else sal[0]


def _unbatched_hint(model, x):
    """A 3-D input is one image ``(C, H, W)`` unless the model's first convolution is 1-D."""
    for m in model.modules():
        name = type(m).__name__
        if name.startswith(("Conv1d", "ConvTranspose1d")):
            return False
        if name.startswith(("Conv2d", "ConvTranspose2d", "Conv3d")):
            return True
    return True


def save_saliency(model, x, path, target=None):
    """The image and its saliency map (:func:`saliency_map`) side by side, for one 2-D image
    ``(C, H, W)`` (or the first of a batch). Returns ``[path]`` (``[]`` without matplotlib)."""
    from svertka.viz import _backend as viz

    x = _batch("save_saliency", x)
    if x.ndim == 4:
        x = x[0]
    if x.ndim != 3:
        raise V.error("save_saliency", f"x must be an image (C, H, W) or a batch of them, got "
                                       f"shape {tuple(x.shape)}")
    sal = saliency_map(model, x, target)
    if not viz.available():
        return []
    plt = viz._plt()
    img = x.detach().numpy()
    img = (img - img.min()) / (img.max() - img.min() or 1)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(7, 3.6))
    if img.shape[0] == 3:
        a1.imshow(img.transpose(1, 2, 0), interpolation="nearest")
    else:
        a1.imshow(img[0], cmap="gray", interpolation="nearest")
    a1.set_title("input")
    im = a2.imshow(sal, cmap="hot", interpolation="nearest")
    a2.set_title("saliency |d score / d x|" if target is None
                 else f"saliency of class {target}")
    fig.colorbar(im, ax=a2, fraction=0.046)
    for a in (a1, a2):
        a.set_axis_off()
    return viz._save(fig, path)
