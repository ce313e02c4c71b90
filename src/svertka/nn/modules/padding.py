"""Padding layers: ``ZeroPad2d``, ``ConstantPad*d``, ``ReflectionPad*d``, ``ReplicationPad*d``,
``CircularPad*d``; ``padding`` is an int or torch's flat (left, right, top, bottom, ...) tuple."""

from __future__ import annotations

from svertka import _validate as V
from svertka.nn import functional as F
from svertka.nn.modules.module import Module


class _PadNd(Module):
    _rank = 2
    _mode = "constant"

    def __init__(self, padding, value=None):
        super().__init__()
        n = 2 * self._rank
        name = type(self).__name__
        if V.is_int(padding):
            padding = (padding,) * n
        if not isinstance(padding, (tuple, list)) or not all(V.is_int(p) for p in padding):
            raise V.type_error(name, f"padding must be an int or a tuple of {n} ints, got "
                                     f"padding={V._fmt(padding)}")
        padding = tuple(int(p) for p in padding)
        if len(padding) != n:
            raise V.error(name, f"padding must be an int or a tuple of {n} ints, got "
                                f"padding={padding!r}")
        self.padding = padding
        self.value = value

    def forward(self, input):
        if self._mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self):
        if self._mode == "constant" and type(self).__name__.startswith("Constant"):
            return f"padding={self.padding}, value={self.value}"
        return f"{self.padding}"


def _make(name, rank, mode, constant=False, zero=False):
    if zero:
        def __init__(self, padding):
            _PadNd.__init__(self, padding, 0.0)
    elif constant:
        def __init__(self, padding, value):
            _PadNd.__init__(self, padding, value)
    else:
        def __init__(self, padding):
            _PadNd.__init__(self, padding)
    cls = type(name, (_PadNd,), {"_rank": rank, "_mode": mode, "__init__": __init__,
                                 "__doc__": f"Pads the last {rank} dims in {mode!r} mode.",
                                 "__module__": __name__})
    return cls


ZeroPad1d = _make("ZeroPad1d", 1, "constant", zero=True)
ZeroPad2d = _make("ZeroPad2d", 2, "constant", zero=True)
ZeroPad3d = _make("ZeroPad3d", 3, "constant", zero=True)
ConstantPad1d = _make("ConstantPad1d", 1, "constant", constant=True)
ConstantPad2d = _make("ConstantPad2d", 2, "constant", constant=True)
ConstantPad3d = _make("ConstantPad3d", 3, "constant", constant=True)
ReflectionPad1d = _make("ReflectionPad1d", 1, "reflect")
ReflectionPad2d = _make("ReflectionPad2d", 2, "reflect")
ReflectionPad3d = _make("ReflectionPad3d", 3, "reflect")
ReplicationPad1d = _make("ReplicationPad1d", 1, "replicate")
ReplicationPad2d = _make("ReplicationPad2d", 2, "replicate")
ReplicationPad3d = _make("ReplicationPad3d", 3, "replicate")
CircularPad1d = _make("CircularPad1d", 1, "circular")
CircularPad2d = _make("CircularPad2d", 2, "circular")
CircularPad3d = _make("CircularPad3d", 3, "circular")
