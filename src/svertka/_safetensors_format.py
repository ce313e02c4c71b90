"""The safetensors format's codec: bytes to svertka tensors and back, through the maintained
``safetensors`` package (its NumPy API). :mod:`svertka.safetensors` is the user's front and
:func:`svertka.load` dispatches here when a file opens like a safetensors file."""

from __future__ import annotations

import numpy as np

from svertka._checkpoint_error import CheckpointError
from svertka.tensor import Tensor

__all__ = ["save", "load", "read", "looks_like"]

# safetensors' dtype names -> NumPy's (little-endian, as the format is); BF16 is widened
_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
           "I8": "i1", "U8": "u1", "BOOL": "?", "BF16": "<u2"}


def _package(fn):
    try:
        import safetensors
        import safetensors.numpy
    except ImportError:
        raise ImportError(f'{fn}: reading and writing safetensors files needs the safetensors '
                          f'package: pip install "svertka[safetensors]"') from None
    return safetensors


def looks_like(head):
    """Whether the first bytes ``head`` of a file open a safetensors file."""
    if len(head) < 10:
        return False
    n = int.from_bytes(head[:8], "little")
    return 2 <= n <= 100_000_000 and head[8:9] == b"{" and head[9:10] in b'"}'


def _arrays(tensors, fn):
    if not isinstance(tensors, dict):
        raise TypeError(f"{fn}: a safetensors file holds a flat dict of tensors, got "
                        f"{type(tensors).__name__}")
    out = {}
    for k, v in tensors.items():
        if not isinstance(k, str):
            raise TypeError(f"{fn}: tensor names must be str, got {type(k).__name__} {k!r:.40}")
        if not isinstance(v, Tensor):
            raise TypeError(f"{fn}: a safetensors file holds a flat dict of tensors, got "
                            f"{type(v).__name__} at {k!r} (save nested objects with "
                            f"svertka.save to a checkpoint, or flatten them)")
        out[k] = np.asarray(v._data, order="C")  # ascontiguousarray would make 0-d 1-d
    return out


def _checked_metadata(metadata, fn):
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError(f"{fn}: metadata must be a dict of str to str, got {metadata!r:.80}")
    return dict(metadata)


def save(tensors, metadata=None):
    """The bytes of a safetensors file holding ``tensors`` (a dict of str to Tensor)."""
    arrays = _arrays(tensors, "save")
    metadata = _checked_metadata(metadata, "save")
    st = _package("save")
    return bytes(st.numpy.save(arrays, metadata=metadata))


def _tensor(name, info, fail):
    kind = info["dtype"]
    if kind not in _DTYPES:
        raise fail(f"tensor {name!r} has dtype {kind}, which svertka does not have (it reads "
                   f"{', '.join(_DTYPES)})")
    raw = np.frombuffer(info["data"], dtype=_DTYPES[kind])
    shape = tuple(info["shape"])
    if kind == "BF16":
        data = (raw.astype(np.uint32) << 16).view(np.float32)
    else:
        data = raw.astype(raw.dtype.newbyteorder("="), copy=True)
    return Tensor._make(data.reshape(shape))


def load(data, name="<bytes>"):
    """The tensors of the safetensors file whose bytes are ``data``, as svertka tensors."""
    def fail(why):
        return CheckpointError(f"load: {name} is not a valid safetensors file ({why})")

    st = _package("load")
    try:
        items = st.deserialize(bytes(data))
    except Exception as e:  # noqa: BLE001 - the Rust parser's SafetensorError and kin
        raise fail(f"{type(e).__name__}: {str(e):.120}") from None
    return {k: _tensor(k, info, fail) for k, info in items}


def read(fh, name, file_size):
    """:func:`load` of the rest of the open binary file ``fh`` (its size checked)."""
    data = fh.read(file_size)
    return load(data, name)


