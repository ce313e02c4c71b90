"""safetensors files: a flat dict of tensors and a dict of text metadata, no code.

Reading and writing go through the maintained ``safetensors`` package (its NumPy API), the
``[safetensors]`` extra: ``pip install "svertka[safetensors]"``. ``svertka.save(sd,
"x.safetensors")`` and ``svertka.load("x.safetensors")`` use this module too (``load`` by
content: a safetensors file opens with its header's length and ``{``).

Files written by ``safetensors.torch`` load, of every dtype svertka has (float16, float32,
float64, int8, int16, int32, int64, uint8, bool) and bfloat16, which is widened to float32
(svertka has no bfloat16). Loaded tensors own their memory (no memory map); a load peaks
near three times the file's size (its bytes, the package's copy of each tensor, the tensors).

Examples::

    >>> import os, tempfile, svertka
    >>> from svertka import safetensors
    >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> safetensors.save_file({"w": svertka.ones(2)}, path, metadata={"epoch": "3"})
    >>> safetensors.load_file(path)
    {'w': tensor([1., 1.])}
    >>> with safetensors.safe_open(path) as f:
    ...     f.keys(), f.metadata()
    (['w'], {'epoch': '3'})
"""

from __future__ import annotations

import numpy as np

from svertka.tensor import Tensor

__all__ = ["save_file", "load_file", "safe_open", "save", "load"]

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


def save_file(tensors, filename, metadata=None):
    """Save ``tensors`` (a flat dict of str to Tensor) to the safetensors file ``filename``.

    Args:
        tensors: tensor names to svertka tensors (no nesting: a safetensors file is flat).
        filename: a path or a writable binary file; a path is written atomically (as
            :func:`svertka.save` does).
        metadata: a dict of str to str, kept in the file's header.
    """
    from svertka import serialization

    arrays = _arrays(tensors, "save_file")
    metadata = _checked_metadata(metadata, "save_file")
    st = _package("save_file")
    data = st.numpy.save(arrays, metadata=metadata)
    serialization._write(filename, lambda out: out.write(data))


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
    from svertka.serialization import CheckpointError

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


def load_file(filename):
    """The tensors of the safetensors file ``filename`` (a path or a seekable binary file), as
    a dict of str to svertka Tensor; bfloat16 is widened to float32. A file of another format
    or a corrupted one raises :class:`svertka.CheckpointError` naming it."""
    from svertka import serialization

    _package("load_file")
    return serialization._load(filename, expect="safetensors")


class safe_open:  # noqa: N801 - the safetensors package's name
    """A safetensors file's names, metadata and tensors, read one at a time.

    ``with safe_open(path) as f: f.keys(), f.metadata(), f.get_tensor(name)``, as in the
    safetensors package, with svertka tensors (bfloat16 widened to float32).
    """

    def __init__(self, filename, framework="svertka"):
        st = _package("safe_open")
        self.filename = filename
        try:
            self._file = st.safe_open(filename, framework="np")
        except Exception as e:  # noqa: BLE001 - SafetensorError, OSError
            from svertka.serialization import CheckpointError

            if isinstance(e, (FileNotFoundError, IsADirectoryError, PermissionError)):
                raise
            raise CheckpointError(f"safe_open: {str(filename)!r} is not a valid safetensors "
                                  f"file ({type(e).__name__}: {str(e):.120})") from None
        self._all = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.__exit__(*exc)
        return False

    def keys(self):
        return list(self._file.keys())

    def metadata(self):
        return self._file.metadata()

    def get_tensor(self, name):
        if self._file.get_slice(name).get_dtype() != "BF16":
            return Tensor._make(np.array(self._file.get_tensor(name), copy=True))
        if self._all is None:  # NumPy has no bfloat16: the whole file's bytes, once
            with open(self.filename, "rb") as fh:
                self._all = dict(_package("safe_open").deserialize(fh.read()))
        return _tensor(name, self._all[name], ValueError)
