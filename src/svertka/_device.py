"""``svertka.device`` and ``svertka.cuda``: svertka computes on the CPU only.

They exist so that course code written for torch runs unchanged::

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device); x = x.to(device)

With ``import svertka as torch`` this picks ``'cpu'``, and ``.to(device)`` is then a no-op.
Asking for any other device is a clear error.
"""

from __future__ import annotations

import types

from svertka._validate import error, is_int


class device:
    """A compute device; only ``'cpu'`` (also ``'cpu:0'``, ``device('cpu', 0)``) exists.

    >>> import svertka
    >>> svertka.device("cpu")
    device(type='cpu')
    >>> svertka.device("cpu") == "cpu"
    True
    """

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):  # noqa: A002 - torch's argument name
        if isinstance(type, device):
            type, index = type.type, type.index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string like 'cpu', got {type!r}")
        spec = type
        if ":" in type:
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise error("device", f"invalid device string {spec!r}")
            index = int(idx)
        if type != "cpu":
            raise error("device", f"svertka runs on the CPU only, got {spec!r} (use 'cpu'; "
                                  f"svertka.cuda.is_available() is False)")
        if index is not None and (not is_int(index) or index != 0):
            raise error("device", f"the CPU has index 0 only, got index={index!r}")
        self.type = "cpu"
        self.index = index

    def __repr__(self):
        return "device(type='cpu')" if self.index is None else "device(type='cpu', index=0)"

    def __str__(self):
        return "cpu" if self.index is None else "cpu:0"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (ValueError, TypeError):
                return False
        return isinstance(other, device) and other.type == self.type

    def __hash__(self):
        return hash("cpu")


def check_device(value, fn):
    """Accept ``None``, ``'cpu'``/``'cpu:0'`` or a ``device``; anything else is an error that
    names ``fn``."""
    if value is None or isinstance(value, device):
        return value
    if isinstance(value, str):
        try:
            return device(value)
        except ValueError:
            pass
    raise error(fn, f"only the 'cpu' device is available, got device={value!r}")


def _is_available():
    """False: svertka has no GPU backend."""
    return False


def _device_count():
    return 0


cuda = types.SimpleNamespace(is_available=_is_available, device_count=_device_count)
cuda.__doc__ = "torch.cuda's availability queries; svertka has no GPU backend."
