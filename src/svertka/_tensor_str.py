"""``repr(tensor)`` as torch prints it (torch/_tensor_str.py), with ``svertka.`` dtypes.

torch's print options: precision 4, threshold 1000 elements (above it the tensor is summarized
with ``...``), 3 edge items per dimension when summarized, 80 columns.
"""

from __future__ import annotations

import numpy as np

from svertka import _dtype

_PRECISION, _THRESHOLD, _EDGEITEMS, _LINEWIDTH = 4, 1000, 3, 80


class _Formatter:
    """Chooses one format for every element (integer-valued floats print as ``1.``, scientific
    notation when the values span more than 1000x or exceed 1e8 or go below 1e-4) and the
    common width, so that columns and signs align as in torch."""

    def __init__(self, a):
        self.floating = a.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = a.reshape(-1)
        if not self.floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(f"{v}"))
            return
        vals = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if vals.size == 0:
            return
        absv = np.abs(vals)
        lo, hi = absv.min(), absv.max()
        values = vals.tolist()
        self.int_mode = bool(np.all(vals == np.ceil(vals)))
        if self.int_mode:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8
            if not self.sci_mode:
                self.max_width = max(self.max_width, max(len(f"{v:.0f}") + 1 for v in values))
        else:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
            if not self.sci_mode:
                self.max_width = max(self.max_width,
                                     max(len(f"{v:.{_PRECISION}f}") for v in values))
        if self.sci_mode:
            self.max_width = max(self.max_width, max(len(f"{v:.{_PRECISION}e}") for v in values))

    def format(self, v):
        if self.floating:
            if self.sci_mode:
                r = f"{v:{self.max_width}.{_PRECISION}e}"
            elif self.int_mode:
                r = f"{v:.0f}"
                if np.isfinite(v):
                    r += "."
            else:
                r = f"{v:.{_PRECISION}f}"
        else:
            r = f"{v}"
        return " " * (self.max_width - len(r)) + r


def _summarized(a):
    """The elements that get printed when the tensor is summarized (edge items of each dim)."""
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        if a.shape[0] > 2 * _EDGEITEMS:
            return np.concatenate((a[:_EDGEITEMS], a[-_EDGEITEMS:]))
        return a
    rows = range(a.shape[0])
    if a.shape[0] > 2 * _EDGEITEMS:
        rows = list(range(_EDGEITEMS)) + list(range(a.shape[0] - _EDGEITEMS, a.shape[0]))
    return np.stack([_summarized(a[i]) for i in rows])


def _vector_str(a, indent, summarize, fmt):
    per_line = max(1, int(np.floor((_LINEWIDTH - indent) / (fmt.max_width + 2))))
    if summarize and a.shape[0] > 2 * _EDGEITEMS:
        data = ([fmt.format(v) for v in a[:_EDGEITEMS].tolist()] + [" ..."]
                + [fmt.format(v) for v in a[-_EDGEITEMS:].tolist()])
    else:
        data = [fmt.format(v) for v in a.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _array_str(a, indent, summarize, fmt):
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        return _vector_str(a, indent, summarize, fmt)
    if summarize and a.shape[0] > 2 * _EDGEITEMS:
        slices = ([_array_str(a[i], indent + 1, summarize, fmt) for i in range(_EDGEITEMS)]
                  + ["..."]
                  + [_array_str(a[i], indent + 1, summarize, fmt)
                     for i in range(a.shape[0] - _EDGEITEMS, a.shape[0])])
    else:
        slices = [_array_str(a[i], indent + 1, summarize, fmt) for i in range(a.shape[0])]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def format_tensor(t):
    """``repr(tensor)`` as torch writes it, with ``svertka.`` dtypes."""
    a = t._data
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    default = _dtype.get_default_dtype().np
    if a.size == 0:
        if a.ndim != 1:
            suffixes.append(f"size={tuple(a.shape)}")
        if a.dtype != default:
            suffixes.append(f"dtype=svertka.{t.dtype.name}")
        body = "[]"
    else:
        if a.dtype not in (default, np.dtype(np.int64), np.dtype(np.bool_)):
            suffixes.append(f"dtype=svertka.{t.dtype.name}")
        summarize = a.size > _THRESHOLD
        fmt = _Formatter(_summarized(a) if summarize else a)
        body = _array_str(a, indent, summarize, fmt)
    if t._ctx is not None:
        suffixes.append(f"grad_fn=<{t._ctx.name()}0>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    out = [prefix + body]
    last_len = len(out[0]) - out[0].rfind("\n") + 1
    for sfx in suffixes:
        if last_len + len(sfx) + 2 > _LINEWIDTH:
            out.append(",\n" + " " * indent + sfx)
            last_len = indent + len(sfx)
        else:
            out.append(", " + sfx)
            last_len += len(sfx) + 2
    return "".join(out) + ")"
