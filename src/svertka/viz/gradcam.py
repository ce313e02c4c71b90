"""Grad-CAM (Selvaraju et al. 2017): where in the image a class's evidence lies, from the
activations of one layer and the gradient of the class score with respect to them.

Like the rest of :mod:`svertka.viz`, ``save_grad_cam`` writes a PNG file and returns the list
of written paths (empty when matplotlib is missing).
"""

from __future__ import annotations

import numpy as np

from svertka import _validate as V
from svertka.viz.activations import _backward_from_class_scores, _batch, _named, _unbatched_hint

__all__ = ["grad_cam", "save_grad_cam", "default_cam_layer"]

_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


def default_cam_layer(model):
    """The name of the last convolution in ``model`` (Grad-CAM's usual layer), or ``None``."""
    name = None
    for n, m in model.named_modules():
        if type(m).__name__ in ("Conv1d", "Conv2d", "Conv3d"):
            name = n
    return name


def grad_cam(model, x, layer_name, target=None):
    """The Grad-CAM heat map of ``x`` for class ``target``, at the input's resolution.

    With ``A`` the output of module ``layer_name`` (``(N, K, *spatial)``) and ``y`` the target
    class's score, the weight of map ``k`` is the spatial mean of ``dy/dA_k``; the map is
    ``ReLU(sum_k w_k A_k)``, upsampled (linear, bilinear or trilinear, ``align_corners=False``)
    to the input's spatial size and scaled to [0, 1] per sample (all zeros where it is
    constant). The model runs in eval mode; hooks on the layer collect ``A`` and its gradient.

    Args:
        model (Module): a classifier returning scores ``(N, classes)``.
        x (Tensor or ndarray): ``(C, *spatial)`` or a batch ``(N, C, *spatial)``.
        layer_name (str): a name of ``model.named_modules()`` whose output is
            ``(N, K, *spatial)``, usually the last convolution (:func:`default_cam_layer`).
        target (int or sequence of ints, optional): class per sample; default the predicted
            class.

    Returns:
        ndarray ``(*spatial)`` (or ``(N, *spatial)`` for a batch) with values in [0, 1].

    Examples::

        >>> import svertka
        >>> from svertka import nn
        >>> from svertka.viz import grad_cam
        >>> _ = svertka.manual_seed(0)
        >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        ...                     nn.Flatten(), nn.Linear(4, 3))
        >>> cam = grad_cam(net, svertka.randn(1, 8, 8), "0", target=2)
        >>> cam.shape, bool(cam.min() >= 0), bool(cam.max() <= 1)
        ((8, 8), True, True)
    """
    import svertka
    from svertka.autograd import grad_mode
    from svertka.nn import functional as F

    fn = "grad_cam"
    x = _batch(fn, x)
    module = _named(fn, model, layer_name)
    batched = x.ndim >= 3 and not (x.ndim == 3 and _unbatched_hint(model, x))
    xb = (x if batched else x.unsqueeze(0)).detach().requires_grad_(True)
    acts, grads = [], []

    def keep(m, args, out):
        out = out[0] if isinstance(out, (tuple, list)) else out
        acts.append(out)
        if out.requires_grad:
            out.register_hook(grads.append)

    handle = module.register_forward_hook(keep)
    was = model.training
    model.eval()
    try:
        with grad_mode.enable_grad():
            scores = model(xb)
            if not acts:
                raise V.error(fn, f"module {layer_name!r} was not called in the forward pass")
            _backward_from_class_scores(fn, scores, target)
            n = scores.shape[0]
    finally:
        handle.remove()
        model.train(was)
    a = acts[-1].detach().numpy()
    spatial = a.ndim - 2
    if spatial not in _MODES or a.shape[0] != n:
        raise V.error(fn, f"the output of module {layer_name!r} must be (N, K, *spatial) with "
                          f"1 to 3 spatial axes, got shape {a.shape}")
    g = grads[-1].numpy() if grads else np.zeros_like(a)
    w = g.mean(axis=tuple(range(2, a.ndim)), keepdims=True)       # (N, K, 1, ...)
    cam = np.maximum((w * a).sum(axis=1, keepdims=True), 0)      # (N, 1, *spatial)
    size = tuple(xb.shape[2:])
    if len(size) != spatial:
        raise V.error(fn, f"the layer's maps have {spatial} spatial axes but the input has "
                          f"{len(size)} (input shape {tuple(xb.shape)})")
    cam = F.interpolate(svertka.tensor(cam), size=size, mode=_MODES[spatial],
                        align_corners=False).numpy()[:, 0]       # (N, *spatial)
    flat = cam.reshape(n, -1)
    lo, hi = flat.min(axis=1), flat.max(axis=1)
    scale = np.where(hi > lo, hi - lo, 1.0)
    shape = (n,) + (1,) * spatial
    cam = np.where((hi > lo).reshape(shape), (cam - lo.reshape(shape)) / scale.reshape(shape),
                   0.0)
    return cam if batched else cam[0]


def save_grad_cam(model, x, layer_name, path, target=None):
    """The image and its Grad-CAM heat map (:func:`grad_cam`) laid over it, side by side,
    for one 2-D image ``(C, H, W)`` (or the first of a batch).

    Returns:
        ``[path]`` (``[]`` without matplotlib).
    """
    from svertka.viz import _backend as viz

    fn = "save_grad_cam"
    x = _batch(fn, x)
    if x.ndim == 4:
        x = x[0]
    if x.ndim != 3:
        raise V.error(fn, f"x must be an image (C, H, W) or a batch of them, got shape "
                          f"{tuple(x.shape)}")
    cam = grad_cam(model, x.unsqueeze(0), layer_name, target)[0]
    if not viz.available():
        return []
    plt = viz._plt()
    img = x.detach().numpy()
    img = (img - img.min()) / (img.max() - img.min() or 1)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(7, 3.6))
    for a in (a1, a2):
        if img.shape[0] == 3:
            a.imshow(img.transpose(1, 2, 0), interpolation="nearest")
        else:
            a.imshow(img[0], cmap="gray", interpolation="nearest")
        a.set_axis_off()
    im = a2.imshow(cam, cmap="jet", alpha=0.5, vmin=0, vmax=1, interpolation="bilinear")
    a1.set_title("input")
    a2.set_title(f"Grad-CAM at {layer_name!r}" if target is None
                 else f"Grad-CAM of class {target} at {layer_name!r}")
    fig.colorbar(im, ax=a2, fraction=0.046)
    return viz._save(fig, path)
