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

from svertka import serialization
from svertka._checkpoint_error import CheckpointError
from svertka._safetensors_format import (
    _arrays,
    _checked_metadata,
    _package,
    _tensor,
    load,
    looks_like,
    save,
)
from svertka.tensor import Tensor

__all__ = ["save_file", "load_file", "safe_open", "save", "load", "looks_like"]


def save_file(tensors, filename, metadata=None):
    """Save ``tensors`` (a flat dict of str to Tensor) to the safetensors file ``filename``.

    Args:
        tensors: tensor names to svertka tensors (no nesting: a safetensors file is flat).
        filename: a path or a writable binary file; a path is written atomically (as
            :func:`svertka.save` does).
        metadata: a dict of str to str, kept in the file's header.
    """
    arrays = _arrays(tensors, "save_file")
    metadata = _checked_metadata(metadata, "save_file")
    st = _package("save_file")
    data = st.numpy.save(arrays, metadata=metadata)
    serialization._write(filename, lambda out: out.write(data))


def load_file(filename):
    """The tensors of the safetensors file ``filename`` (a path or a seekable binary file), as
    a dict of str to svertka Tensor; bfloat16 is widened to float32. A file of another format
    or a corrupted one raises :class:`svertka.CheckpointError` naming it."""
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
        """The names of the tensors in the file, in its order."""
        return list(self._file.keys())

    def metadata(self):
        """The file's ``__metadata__`` dict of strings, or ``None``."""
        return self._file.metadata()

    def get_tensor(self, name):
        """Read the tensor ``name`` from the file."""
        if self._file.get_slice(name).get_dtype() != "BF16":
            return Tensor._make(np.array(self._file.get_tensor(name), copy=True))
        if self._all is None:  # NumPy has no bfloat16: the whole file's bytes, once
            with open(self.filename, "rb") as fh:
                self._all = dict(_package("safe_open").deserialize(fh.read()))
        return _tensor(name, self._all[name], ValueError)
