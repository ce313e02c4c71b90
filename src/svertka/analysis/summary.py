"""``summary(model, input_size)``: a layer-by-layer table of shapes, parameters, MACs and
receptive fields, from one forward pass with hooks."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from svertka import _validate as V
from svertka.analysis.receptive_field import _check_input_size, _trace

__all__ = ["summary", "Summary", "LayerRow", "layer_macs"]


@dataclass
class LayerRow:
    """One module of a :class:`Summary`.

    Attributes:
        name: the module's name in ``model.named_modules()`` (``''`` for the model itself).
        type: the class name.
        depth: nesting depth (0 for the model's children).
        output_shape: the output's shape for a batch of one (``None`` if not called).
        params: parameters of the module and its submodules (trainable or not).
        trainable_params: those with ``requires_grad``.
        macs: multiply-accumulates for one sample, of this module and its submodules.
        receptive_field, jump, start: per spatial axis, for outputs of shape
            ``(N, C, *spatial)`` (``None`` otherwise).
        leaf: whether the module has no submodules.

    A module called several times (a shared ReLU) shows its last call's output and geometry
    and the sum of its calls' MACs.
    """

    name: str
    type: str
    depth: int
    output_shape: tuple | None
    params: int
    trainable_params: int
    macs: int
    receptive_field: tuple | None
    jump: tuple | None
    start: tuple | None
    leaf: bool


def _adaptive_reads(in_sp, out_sp):
    """Input elements read by adaptive pooling per channel: the product over axes of the
    summed bin lengths (bins ``[floor(o I / O), ceil((o + 1) I / O))``)."""
    total = 1
    for i, o in zip(in_sp, out_sp):
        ends = -(-(np.arange(1, o + 1) * i) // o)
        starts = (np.arange(o) * i) // o
        total *= int((ends - starts).sum())
    return total


def layer_macs(module, inputs, output):
    """Multiply-accumulates of one call of a (leaf) module, for the whole batch given.

    The rules (one MAC = one multiply and one add; bias additions are not counted):

    * convolution: output elements x ``in_channels / groups`` x kernel volume;
    * transposed convolution: input elements x ``out_channels / groups`` x kernel volume
      (each input element is scattered through every tap);
    * locally connected: output elements x ``in_channels`` x kernel volume;
    * linear: output elements x ``in_features``; bilinear: output elements x
      ``in1 * in2 + in1`` (``W x2`` then the dot product with ``x1``);
    * max/average/LP pooling: output elements x kernel volume (one comparison or addition per
      tap); adaptive pooling: the input elements its bins read (overlaps counted twice);
    * batch/instance/group/layer normalisation: one per element to normalise, one more per
      element with the affine weight and bias;
    * everything else (activations, dropout, reshapes, padding): 0.
    """
    from svertka import nn
    from svertka.nn.modules.conv import _ConvNd

    if not inputs or output is None:
        return 0
    x = inputs[0]
    name = type(module).__name__
    out_numel = int(output.numel())
    if isinstance(module, _ConvNd):
        kvol = int(np.prod(module.kernel_size))
        if module._transposed:
            return int(x.numel()) * (module.out_channels // module.groups) * kvol
        return out_numel * (module.in_channels // module.groups) * kvol
    if name == "LocallyConnected2d":
        return out_numel * module.in_channels * int(np.prod(module.kernel_size))
    if isinstance(module, nn.Linear):
        return out_numel * module.in_features
    if isinstance(module, nn.Bilinear):
        return out_numel * (module.in1_features * module.in2_features + module.in1_features)
    pools = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
             nn.LPPool1d, nn.LPPool2d)
    if isinstance(module, pools):
        n = output.ndim - 2 if output.ndim >= 3 else 1
        n = min(n, 3)
        k = module.kernel_size
        kvol = int(np.prod(V.ntuple(k, n, "kernel_size", "summary")))
        return out_numel * kvol
    if name.startswith("Adaptive") and "Pool" in name:
        n = len(getattr(module, "output_size", ())) if isinstance(
            getattr(module, "output_size", None), tuple) else int(name[-2])
        in_sp, out_sp = tuple(x.shape[-n:]), tuple(output.shape[-n:])
        lead = int(np.prod(x.shape[:-n]))
        return lead * _adaptive_reads(in_sp, out_sp)
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.InstanceNorm1d,
             nn.InstanceNorm2d, nn.InstanceNorm3d, nn.GroupNorm, nn.LayerNorm)
    if isinstance(module, norms):
        affine = getattr(module, "affine", getattr(module, "elementwise_affine", False))
        return out_numel * (2 if affine else 1)
    return 0


def _fmt_int(v):
    return f"{v:,}"


def _fmt_bytes(b):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if b < 1024 or unit == "GiB":
            return f"{b:.0f} {unit}" if unit == "B" else f"{b:.2f} {unit}"
        b /= 1024


def _fmt_axes(t):
    if t is None:
        return "-"
    return "x".join(f"{v:g}" if isinstance(v, float) else str(v) for v in t)


def _fmt_start(t):
    if t is None:
        return "-"
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in t)


class Summary:
    """What :func:`summary` returns: ``rows`` (one :class:`LayerRow` per module, in
    ``named_modules`` order, the model itself first), totals, and ``str()`` as a table."""

    def __init__(self, model_type, input_size, rows, total_params, trainable_params, total_macs,
                 activation_bytes, param_bytes, buffer_bytes, input_bytes):
        self.model_type = model_type
        self.input_size = input_size
        self.rows = rows
        self.total_params = total_params
        self.trainable_params = trainable_params
        self.total_macs = total_macs
        self.activation_bytes = activation_bytes
        self.param_bytes = param_bytes
        self.buffer_bytes = buffer_bytes
        self.input_bytes = input_bytes

    def to_dict(self):
        """Everything as plain data (lists, ints, floats, strings): JSON-ready."""
        def plain(v):
            if isinstance(v, tuple):
                return [plain(x) for x in v]
            return v
        return {
            "model": self.model_type,
            "input_size": list(self.input_size),
            "rows": [{k: plain(v) for k, v in asdict(r).items()} for r in self.rows],
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.total_params - self.trainable_params,
            "total_macs": self.total_macs,
            "activation_bytes": self.activation_bytes,
            "param_bytes": self.param_bytes,
            "buffer_bytes": self.buffer_bytes,
            "input_bytes": self.input_bytes,
        }

    def __repr__(self):
        return (f"Summary({self.model_type}, input_size={self.input_size}, "
                f"total_params={self.total_params:,}, total_macs={self.total_macs:,})")

    def __str__(self):
        head = ("Layer (type)", "Output shape", "Params", "MACs", "RF", "Jump", "Start")
        lines = []
        for r in self.rows[1:]:
            label = "  " * r.depth + (r.name.rsplit(".", 1)[-1] or r.name) + f" ({r.type})"
            shape = "-" if r.output_shape is None else str(list(r.output_shape))
            lines.append((label, shape, _fmt_int(r.params), _fmt_int(r.macs),
                          _fmt_axes(r.receptive_field), _fmt_axes(r.jump), _fmt_start(r.start)))
        top = self.rows[0]
        lines.append((f"(model output) ({top.type})",
                      "-" if top.output_shape is None else str(list(top.output_shape)),
                      _fmt_int(top.params), _fmt_int(top.macs), _fmt_axes(top.receptive_field),
                      _fmt_axes(top.jump), _fmt_start(top.start)))
        widths = [max(len(row[i]) for row in [head] + lines) for i in range(len(head))]
        def fmt(row):
            return "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(row, widths))).rstrip()
        rule = "=" * len(fmt(head))
        out = [rule, fmt(head), rule] + [fmt(r) for r in lines[:-1]] + ["-" * len(rule),
                                                                          fmt(lines[-1]), rule]
        out += [
            f"Input size (C, *spatial): {tuple(self.input_size)}",
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.total_params - self.trainable_params:,}",
            f"Total MACs (one sample): {self.total_macs:,}",
            f"Input memory: {_fmt_bytes(self.input_bytes)}",
            f"Activation memory (layer outputs, one sample): {_fmt_bytes(self.activation_bytes)}",
            f"Parameter memory: {_fmt_bytes(self.param_bytes)}"
            + (f" (+ buffers {_fmt_bytes(self.buffer_bytes)})" if self.buffer_bytes else ""),
            rule,
        ]
        return "\n".join(out)


def summary(model, input_size):
    """Summarise ``model`` layer by layer from one forward pass of a zero batch of one.

    The forward pass runs in eval mode (restored afterwards) with forward hooks
    (``register_forward_hook``) on every module; receptive fields follow the recurrence of
    :mod:`svertka.analysis.receptive_field` (branches merge by the largest field); MACs follow
    :func:`layer_macs` (per sample; ops outside modules, such as a residual ``+``, are not
    counted).

    Args:
        model (Module): the network.
        input_size (tuple): the sample shape ``(C, *spatial)`` (or ``(features,)``) without
            the batch dimension.

    Returns:
        :class:`Summary`: ``print()`` it for a table; ``.rows`` (fields ``name``, ``type``,
        ``output_shape``, ``params``, ``macs``, ``receptive_field``, ``jump``, ``start``, ...),
        ``.total_params``, ``.trainable_params``, ``.total_macs``, ``.activation_bytes``,
        ``.param_bytes`` and ``.to_dict()``.

    Examples::

        >>> from svertka import nn
        >>> from svertka.analysis import summary
        >>> net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        ...                     nn.Flatten(), nn.Linear(64, 10))
        >>> s = summary(net, (1, 8, 8))
        >>> s.total_params, s.total_macs
        (690, 3200)
        >>> s.rows[1].name, s.rows[1].output_shape, s.rows[1].macs, s.rows[1].receptive_field
        ('0', (1, 4, 8, 8), 2304, (3, 3))
        >>> s.rows[3].receptive_field, s.rows[3].jump
        ((4, 4), (2, 2))
    """
    from svertka.nn.modules.module import Module

    fn = "summary"
    if not isinstance(model, Module):
        raise V.type_error(fn, f"model must be a Module, got {type(model).__name__}")
    input_size = _check_input_size(fn, input_size)
    was = model.training
    model.eval()
    try:
        tracker, x, _ = _trace(model, input_size)
    finally:
        model.train(was)

    own_macs, last = {}, {}
    act_bytes = 0
    for name, module, ins, out, geo in tracker.calls:
        leaf = not any(True for _ in module.children())
        if leaf:
            own_macs[name] = own_macs.get(name, 0) + layer_macs(module, ins, out)
            act_bytes += int(out.numel()) * out.element_size()
        last[name] = (out, geo)

    modules = list(model.named_modules())
    rows = []
    for name, module in modules:
        depth = name.count(".") if name else -1
        params = list(module.parameters())
        n_params = sum(int(p.numel()) for p in params)
        n_train = sum(int(p.numel()) for p in params if p.requires_grad)
        prefix = name + "." if name else ""
        macs = sum(v for k, v in own_macs.items() if k == name or k.startswith(prefix))
        out, geo = last.get(name, (None, None))
        rows.append(LayerRow(
            name=name, type=type(module).__name__, depth=depth,
            output_shape=None if out is None else tuple(int(v) for v in out.shape),
            params=n_params, trainable_params=n_train, macs=int(macs),
            receptive_field=None if geo is None else geo.size,
            jump=None if geo is None else geo.jump,
            start=None if geo is None else geo.start,
            leaf=not any(True for _ in module.children())))
    params = list(model.parameters())
    return Summary(
        model_type=type(model).__name__, input_size=input_size, rows=rows,
        total_params=sum(int(p.numel()) for p in params),
        trainable_params=sum(int(p.numel()) for p in params if p.requires_grad),
        total_macs=int(sum(own_macs.values())),
        activation_bytes=act_bytes,
        param_bytes=sum(int(p.numel()) * p.element_size() for p in params),
        buffer_bytes=sum(int(b.numel()) * b.element_size() for b in model.buffers()),
        input_bytes=int(x.numel()) * x.element_size())
