"""Receptive fields: the closed-form recurrence through a model, and a gradient measurement.

Per spatial axis, a feature map is described by three numbers (Araujo, Norris and Sim,
"Computing receptive fields of convolutional neural networks", Distill 2019):

* ``rf``: the receptive field size, how many input pixels one unit sees;
* ``jump``: the effective stride, the distance in input pixels between neighbouring units;
* ``start``: the centre of the receptive field of the first unit, in input pixel indices
  (pixel ``i`` has centre ``i``; negative where the field reaches into the padding).

A window layer with kernel ``k``, stride ``s``, dilation ``d`` and left padding ``p``
(convolution, pooling) maps them as, with ``k' = d (k - 1) + 1``::

    rf_out    = rf_in + (k' - 1) * jump_in
    jump_out  = jump_in * s
    start_out = start_in + ((k' - 1) / 2 - p) * jump_in

Unit ``o`` of the map sees the input pixels ``start + o * jump -+ (rf - 1) / 2``. Layers
that upsample (transposed convolutions, interpolation) make the jump fractional; there the
recurrence is a linear fit: exact for non-overlapping transposed convolutions (U-Net's 2x2,
stride 2), otherwise the true field varies with the unit's phase and may exceed it by an input
unit or two (a bilinear U-Net of depth 2: 50 by the formula, 52 measured). The model's
input has ``rf = 1``, ``jump = 1``, ``start = 0``. Through branches (residual blocks, Inception)
the geometry is tracked per tensor of the forward pass, and a merge (``+``, ``cat``) takes, per
axis, the union of its inputs' fields (the largest one when their centres agree).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from svertka import _validate as V
from svertka.kernels.conv import same_pads

__all__ = ["ReceptiveField", "receptive_field", "empirical_receptive_field", "layer_geometry"]

ReceptiveField = namedtuple("ReceptiveField", ["size", "jump", "start"])
ReceptiveField.__doc__ = """Receptive field size, jump (effective stride) and start offset, each a
tuple with one entry per spatial axis (see the module docstring)."""


def _num(v):
    """Keep integral floats as ints so tables print ``7`` and not ``7.0``."""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _make(rf, jump, start):
    return ReceptiveField(tuple(_num(float(v)) for v in rf), tuple(_num(float(v)) for v in jump),
                          tuple(_num(float(v)) for v in start))


def _window(g, kernel, stride, lo, dilation):
    rf, jump, start = [], [], []
    for r, j, s0, k, s, p, d in zip(g.size, g.jump, g.start, kernel, stride, lo, dilation):
        span = d * (k - 1)
        rf.append(r + span * j)
        jump.append(j * s)
        start.append(s0 + (span / 2 - p) * j)
    return _make(rf, jump, start)


def _transposed(g, kernel, stride, lo, dilation):
    """Transposed convolution: output ``y`` reads input ``i`` through tap ``t`` when
    ``y = i * s - p + t * d``. The field is the largest over the ``s`` output phases; the
    start is the linear fit ``(p - d (k - 1) / 2) / s`` (the true centres alternate around it
    by up to a quarter of the input jump, as the phases read different taps)."""
    rf, jump, start = [], [], []
    for r, j, s0, k, s, p, d in zip(g.size, g.jump, g.start, kernel, stride, lo, dilation):
        spread = 0
        for phase in range(s):  # s * k is tiny: geometry, not data
            taps = [t for t in range(k) if (phase + p - t * d) % s == 0]
            if taps:
                spread = max(spread, (max(taps) - min(taps)) * d // s)
        rf.append(r + spread * j)
        jump.append(j / s)
        start.append(s0 + (p - d * (k - 1) / 2) / s * j)
    return _make(rf, jump, start)


def _adaptive(g, in_sp, out_sp):
    """Adaptive pooling: bin ``o`` covers ``[floor(o I / O), ceil((o + 1) I / O))``. Exact when
    ``O`` divides ``I``; otherwise the largest bin and the mean stride ``I / O``."""
    kernel, stride = [], []
    first_centre = []
    for i, o in zip(in_sp, out_sp):
        ends = -(-(np.arange(1, o + 1) * i) // o)
        starts = (np.arange(o) * i) // o
        kernel.append(int((ends - starts).max()) if o else 1)
        stride.append(i // o if o and i % o == 0 else (i / o if o else 1))
        first_centre.append((ends[0] - 1) / 2 if o else 0)
    rf, jump, start = [], [], []
    for r, j, s0, k, s, c in zip(g.size, g.jump, g.start, kernel, stride, first_centre):
        rf.append(r + (k - 1) * j)
        jump.append(j * s)
        start.append(s0 + c * j)
    return _make(rf, jump, start)


def _resample(g, in_sp, out_sp):
    """A layer this module does not know that changes the spatial size (a strided slice, an
    upsampling): the jump scales by ``in / out``; the field size and start are kept."""
    jump = [j * (i / o if o else 1) for j, i, o in zip(g.jump, in_sp, out_sp)]
    return _make(g.size, jump, g.start)


def _upsample(g, in_sp, out_sp, mode, align_corners):
    """Interpolation: output ``y`` reads the source coordinate ``(y + 0.5) / r - 0.5``
    (``y (in - 1) / (out - 1)`` with ``align_corners``), ``r = out / in``; linear modes read the
    two neighbours of it (bicubic four), nearest modes one. For scales whose inverse is not an
    integer the field and jump are averages (fractional)."""
    extra = {"linear": 1, "bilinear": 1, "trilinear": 1, "bicubic": 3}.get(mode, 0)
    rf, jump, start = [], [], []
    for r0, j, s0, i, o in zip(g.size, g.jump, g.start, in_sp, out_sp):
        if align_corners and extra:
            step = (i - 1) / (o - 1) if o > 1 else 0.0
            first = 0.0
        else:
            step = i / o
            first = 0.5 * step - 0.5 if extra else (0.5 * step - 0.5 if mode == "nearest-exact"
                                                     else 0.0)
        rf.append(r0 + extra * j)
        jump.append(j * step)
        start.append(s0 + first * j)
    return _make(rf, jump, start)


def _conv_low_pads(conv):
    """The padding before each spatial axis, from torch's public ``padding`` attribute
    (``'valid'``, ``'same'`` or a tuple; ``'same'`` puts the odd pixel after, as torch)."""
    if conv.padding == "valid":
        return (0,) * len(conv.kernel_size)
    if conv.padding == "same":
        return tuple(lo for lo, _ in same_pads(conv.kernel_size, conv.dilation))
    return tuple(conv.padding)


def layer_geometry(module, geometry, in_spatial, out_spatial):
    """The output's :class:`ReceptiveField` of one (leaf) module, from its input's.

    Convolutions (also transposed), max/average/LP pooling and adaptive pooling follow their
    windows; upsampling layers scale the jump (linear modes widen the field by one input
    unit); padding layers shift ``start``; layers that keep the spatial size (activations,
    normalisation, dropout, 1x1 work) pass the geometry through; any other layer that changes
    the spatial size is taken as a resampling (jump scaled by ``in / out``).

    >>> from svertka import nn
    >>> g = ReceptiveField((1, 1), (1, 1), (0, 0))
    >>> layer_geometry(nn.Conv2d(1, 1, 3, stride=2, padding=1), g, (8, 8), (4, 4))
    ReceptiveField(size=(3, 3), jump=(2, 2), start=(0, 0))
    """
    from svertka import nn
    from svertka.nn.modules.conv import _ConvNd

    if geometry is None:
        return None
    n = len(in_spatial)
    name = type(module).__name__
    fn = "receptive_field"
    if isinstance(module, _ConvNd):
        if module._transposed:
            return _transposed(geometry, module.kernel_size, module.stride, module.padding,
                               module.dilation)
        return _window(geometry, module.kernel_size, module.stride,
                       _conv_low_pads(module), module.dilation)
    if name == "LocallyConnected2d":
        return _window(geometry, module.kernel_size, module.stride, module.padding, (1,) * n)
    pools = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
             nn.LPPool1d, nn.LPPool2d)
    if isinstance(module, pools):
        k = V.ntuple(module.kernel_size, n, "kernel_size", fn)
        s = V.ntuple(module.stride if module.stride is not None else module.kernel_size, n,
                     "stride", fn)
        p = V.ntuple(getattr(module, "padding", 0), n, "padding", fn, minimum=0)
        d = V.ntuple(getattr(module, "dilation", 1), n, "dilation", fn)
        return _window(geometry, k, s, p, d)
    if name.startswith("Adaptive") and "Pool" in name:
        return _adaptive(geometry, in_spatial, out_spatial)
    if name in ("Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"):
        return _upsample(geometry, in_spatial, out_spatial, module.mode,
                         bool(getattr(module, "align_corners", False)))
    if "Pad" in name and isinstance(getattr(module, "padding", None), tuple):
        # F.pad pads the last len(padding) // 2 axes, whatever the input's rank (a
        # ConstantPad1d given an image pads its width only): the others are not padded
        flat = module.padding
        lo = tuple(flat[2 * (n - 1 - i)] if 2 * (n - 1 - i) < len(flat) else 0
                   for i in range(n))
        start = [s0 - p * j for s0, p, j in zip(geometry.start, lo, geometry.jump)]
        return _make(geometry.size, geometry.jump, start)
    if tuple(in_spatial) == tuple(out_spatial):
        return geometry
    return _resample(geometry, in_spatial, out_spatial)


def merge(geometries):
    """The geometry of a merge (``+``, ``cat``) of feature maps, per axis: the union of the
    inputs' fields of unit 0 (the largest field when the centres agree; wider when branches
    are offset, as after an upsampling); the jump of the largest field. ``None`` entries
    (non-spatial or unknown inputs) are skipped."""
    gs = [g for g in geometries if g is not None]
    if not gs:
        return None
    if len(gs) == 1:
        return gs[0]
    rf, jump, start = [], [], []
    for axis in range(len(gs[0].size)):
        lo = min(g.start[axis] - (g.size[axis] - 1) / 2 for g in gs)
        hi = max(g.start[axis] + (g.size[axis] - 1) / 2 for g in gs)
        rf.append(hi - lo + 1)
        jump.append(max(gs, key=lambda g: (g.size[axis], g.jump[axis])).jump[axis])
        start.append((lo + hi) / 2)
    return _make(rf, jump, start)


def _tensors(value):
    from svertka.tensor import Tensor

    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [v for item in value for v in _tensors(item)]
    if isinstance(value, dict):
        return [v for item in value.values() for v in _tensors(item)]
    return []


class Tracker:
    """Forward hooks on every module of ``model`` that record, per call, the module's output
    and its receptive-field geometry (tracked per Tensor, so branches and merges work).

    ``calls`` lists ``(name, module, inputs, output, geometry)`` in completion order (a
    container completes after its children).
    """

    def __init__(self, model, n_spatial):
        self.n = n_spatial
        self._geo = {}       # id(tensor) -> (tensor, geometry); the tensor keeps the id alive
        self._geo_node = {}  # id(node) -> (node, geometry) for recorded non-leaf tensors
        self.calls = []
        self._handles = [m.register_forward_hook(self._hook(name, m))
                         for name, m in model.named_modules()]

    def remove(self):
        for h in self._handles:
            h.remove()
        self._handles = []

    def set(self, tensor, geometry):
        self._geo[id(tensor)] = (tensor, geometry)
        if tensor._ctx is not None:      # graph nodes keep only their leaf inputs: find the
            self._geo_node[id(tensor._ctx)] = (tensor._ctx, geometry)   # rest by their node

    def _spatial(self, t):
        return tuple(t.shape[2:]) if self.n and t.ndim == self.n + 2 else None

    def lookup(self, tensor):
        """The geometry of ``tensor``: recorded, or merged from the recorded tensors found by
        walking its autograd graph back (for ops outside modules: ``+``, ``cat``, slicing)."""
        hit = self._geo.get(id(tensor))
        if hit is not None and hit[0] is tensor:
            return hit[1]
        found, seen = [], set()
        stack = [tensor._ctx] if tensor._ctx is not None else []
        while stack:  # iterative: deep graphs exceed the recursion limit
            ctx = stack.pop()
            if id(ctx) in seen:
                continue
            seen.add(id(ctx))
            for t in getattr(ctx, "inputs", None) or ():        # leaves
                if t is None:
                    continue
                hit = self._geo.get(id(t))
                if hit is not None and hit[0] is t:
                    found.append(hit[1])
            for p in getattr(ctx, "parents", None) or ():       # results of other nodes
                if p is None:
                    continue
                hit = self._geo_node.get(id(p))
                if hit is not None and hit[0] is p:
                    found.append(hit[1])
                else:
                    stack.append(p)
        return merge(found)

    def _hook(self, name, module):
        def hook(mod, inputs, output):
            ins = _tensors(inputs)
            outs = _tensors(output)
            if not outs:
                return None
            out = outs[0]
            out_sp = self._spatial(out)
            if out_sp is None:
                geo = None
            elif any(True for _ in module.children()):
                geo = self.lookup(out)
            else:
                g_in = merge([self.lookup(t) for t in ins])
                in_sp = self._spatial(ins[0]) if ins else None
                geo = (layer_geometry(module, g_in, in_sp, out_sp)
                       if in_sp is not None else None)
            self.set(out, geo)
            self.calls.append((name, module, ins, out, geo))
            return None
        return hook


def _check_input_size(fn, input_size):
    if not isinstance(input_size, (tuple, list)) or not all(V.is_int(v) for v in input_size):
        raise V.type_error(fn, f"input_size must be a tuple of ints (C, *spatial) without the "
                               f"batch dimension, got input_size={V._fmt(input_size)}")
    if len(input_size) < 1 or any(v <= 0 for v in input_size):
        raise V.error(fn, f"input_size must be a non-empty tuple of positive ints (C, *spatial) "
                          f"without the batch dimension, got input_size={tuple(input_size)}")
    return tuple(int(v) for v in input_size)


def _trace(model, input_size, x=None):
    """One forward pass of a batch of one with the tracker; returns (tracker, input, output)."""
    import svertka
    from svertka.autograd import grad_mode

    n = len(input_size) - 1
    if x is None:
        dtype = next((p.dtype for p in model.parameters()), svertka.float32)
        x = svertka.zeros(1, *input_size, dtype=dtype)
    x = x.detach().requires_grad_(True)
    tracker = Tracker(model, n)
    tracker.set(x, _make((1,) * n, (1,) * n, (0,) * n))
    try:
        with grad_mode.enable_grad():
            y = model(x)
    finally:
        tracker.remove()
    return tracker, x, y


def _find_call(fn, tracker, layer):
    names = [c[0] for c in tracker.calls]
    if layer is None:
        spatial = [c for c in tracker.calls if c[4] is not None]
        if not spatial:
            raise V.error(fn, "the model has no spatial layer (no output of shape "
                              "(N, C, *spatial))")
        return spatial[-1]
    matches = [c for c in tracker.calls if c[0] == layer]
    if not matches:
        raise V.error(fn, f"no module named {layer!r} was called in the forward pass; called: "
                          f"{', '.join(repr(n) for n in names[:20])}", f"got layer={layer!r}")
    return matches[-1]


def receptive_field(model, input_size, layer=None):
    """Receptive field size, jump and start of a layer's output, by the closed-form recurrence.

    Args:
        model (Module): the network; one forward pass of a zero batch of one is run.
        input_size (tuple): the sample shape ``(C, *spatial)`` without the batch dimension.
        layer (str, optional): a module name of ``model.named_modules()``; default: the last
            module (in call order, the model itself included) whose output is spatial.

    Returns:
        :class:`ReceptiveField` with per-axis tuples ``size``, ``jump``, ``start``.

    Examples::

        >>> from svertka import nn
        >>> from svertka.analysis import receptive_field
        >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Conv2d(4, 4, 3), nn.Conv2d(4, 4, 3))
        >>> receptive_field(net, (1, 16, 16))         # three 3x3 convolutions see 7x7
        ReceptiveField(size=(7, 7), jump=(1, 1), start=(3, 3))
        >>> net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3))
        >>> receptive_field(net, (1, 16, 16)).size
        (8, 8)
    """
    fn = "receptive_field"
    input_size = _check_input_size(fn, input_size)
    was = model.training
    model.eval()
    try:
        tracker, _, _ = _trace(model, input_size)
    finally:
        model.train(was)
    return _find_call(fn, tracker, layer)[4]


def empirical_receptive_field(model, input_size, layer=None, unit=None):
    """Measure a unit's receptive field with gradients: which input pixels change it.

    One forward pass (in eval mode, so that batch statistics do not mix positions) of a batch
    of one; the output of ``layer`` at spatial position ``unit`` (default: the centre), summed
    over channels, is backpropagated, and the bounding box of the input pixels with a non-zero
    gradient gives the size. The input is all ones. Pixels can get a zero gradient by chance
    (a ReLU switched off, a max-pooling window's losers, zero weights): for a measurement that
    agrees with :func:`receptive_field`, set the weights to positive constants and use average
    pooling in place of max pooling; padding clips the box near the borders, so use an input
    large enough for the centre unit's field.

    Args:
        model (Module): the network.
        input_size (tuple): the sample shape ``(C, *spatial)``.
        layer (str, optional): module name; default as in :func:`receptive_field`.
        unit (tuple of ints, optional): spatial index of the output unit; default the centre.

    Returns:
        tuple of ints: the extent (``high - low + 1``) of the non-zero gradient per spatial axis.

    Examples::

        >>> from svertka import nn
        >>> from svertka.analysis import empirical_receptive_field
        >>> net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3, dilation=2))
        >>> for p in net.parameters():
        ...     _ = p.data.fill_(0.1)
        >>> empirical_receptive_field(net, (1, 15, 15))
        (7, 7)
    """
    import svertka

    fn = "empirical_receptive_field"
    input_size = _check_input_size(fn, input_size)
    n = len(input_size) - 1
    was = model.training
    model.eval()
    try:
        dtype = next((p.dtype for p in model.parameters()), svertka.float32)
        x = svertka.ones(1, *input_size, dtype=dtype)
        tracker, x, _ = _trace(model, input_size, x)
        call = _find_call(fn, tracker, layer)
        out = call[3]
        if out.ndim != n + 2:
            raise V.error(fn, f"the output of {call[0] or 'the model'!r} is not spatial, got "
                              f"shape {tuple(out.shape)}", f"input_size={input_size}")
        spatial = tuple(out.shape[2:])
        if unit is None:
            unit = tuple(s // 2 for s in spatial)
        unit = V.ntuple(unit, n, "unit", fn, minimum=0)
        if any(u >= s for u, s in zip(unit, spatial)):
            raise V.error(fn, f"unit {unit} is outside the output of spatial size {spatial}",
                          f"got unit={unit}")
        gy = np.zeros(tuple(out.shape), dtype=out._data.dtype)
        gy[(0, slice(None)) + unit] = 1
        out.backward(svertka.tensor(gy))
    finally:
        model.train(was)
    g = x.grad.numpy()[0]
    hit = np.abs(g).sum(axis=0) != 0
    extent = []
    for axis in range(n):
        other = tuple(a for a in range(n) if a != axis)
        idx = np.flatnonzero(hit.any(axis=other) if other else hit)
        extent.append(int(idx[-1] - idx[0] + 1) if idx.size else 0)
    return tuple(extent)

