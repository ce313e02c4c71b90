"""`svertka.save` / `svertka.load`: checkpoints that execute no code and NumPy alone can read.

A checkpoint is a NumPy ``.npz`` archive (a zip of ``.npy`` files):

* ``t0``, ``t1``, ...: one array per tensor in the saved object;
* ``__svertka__``: a 0-d string array holding JSON that describes the object's structure: dicts
  (with str, int, float, bool or None keys, order kept), lists, tuples, numbers, strings,
  booleans, None, and references ``{"__tensor__": "t3", "requires_grad": false}`` to the arrays.

Loading never unpickles (``np.load(..., allow_pickle=False)``), so a checkpoint cannot run code.
Without svertka: ``z = np.load(path); json.loads(str(z["__svertka__"]))`` and ``z["t0"]``.

Saving to a path writes a temporary file in the same directory, then renames it over the target,
so an interrupted save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import zipfile

import numpy as np

from svertka.tensor import Tensor

FORMAT = "svertka-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A file is not a valid svertka checkpoint (truncated, corrupted or of another format)."""


def _encode(obj, arrays, where):
    from svertka.nn.parameter import Parameter

    if isinstance(obj, Tensor):
        key = f"t{len(arrays)}"
        arrays[key] = np.asarray(obj._data, order="C")
        ref = {"__tensor__": key, "requires_grad": bool(obj.requires_grad)}
        if isinstance(obj, Parameter):
            ref["parameter"] = True
        return ref
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise TypeError(f"save: cannot save an array of dtype {obj.dtype} at {where}")
        key = f"t{len(arrays)}"
        arrays[key] = np.asarray(obj, order="C")
        return {"__ndarray__": key}
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        if math.isfinite(value):
            return value
        return {"__float__": repr(value)}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not (k is None or isinstance(k, (str, int, float, bool))):
                raise TypeError(f"save: dict keys must be str, int, float, bool or None, got "
                                f"{type(k).__name__} at {where}")
            items.append([_encode(k, arrays, where), _encode(v, arrays, f"{where}[{k!r}]")])
        return {"__dict__": items}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]
    raise TypeError(f"save: cannot save an object of type {type(obj).__name__} at {where}; "
                    f"checkpoints hold tensors, arrays, numbers, strings, None and "
                    f"dicts/lists/tuples of them (save model.state_dict(), not the model)")


def _decode(node, arrays, name):
    from svertka.nn.parameter import Parameter

    if isinstance(node, list):
        return [_decode(v, arrays, name) for v in node]
    if not isinstance(node, dict):
        return node
    if "__tensor__" in node:
        data = arrays(node["__tensor__"])
        if node.get("parameter"):
            return Parameter(Tensor._make(data), requires_grad=node.get("requires_grad", True))
        t = Tensor._make(data)
        if node.get("requires_grad"):
            t.requires_grad_(True)
        return t
    if "__ndarray__" in node:
        return arrays(node["__ndarray__"])
    if "__float__" in node:
        return float(node["__float__"])
    if "__tuple__" in node:
        return tuple(_decode(v, arrays, name) for v in node["__tuple__"])
    if "__dict__" in node:
        return {_decode(k, arrays, name): _decode(v, arrays, name) for k, v in node["__dict__"]}
    raise CheckpointError(f"load: {name} is not a valid svertka checkpoint: unknown node "
                          f"{sorted(node)} in its structure")


def save(obj, f):
    """Save ``obj`` (typically a ``state_dict`` or a dict of them) to a path or a binary file.

    Args:
        obj: tensors, NumPy arrays, numbers, strings, None, and dicts/lists/tuples of them.
        f: a path (str or ``os.PathLike``) or a writable binary file object.

    Examples::

        >>> import io, svertka
        >>> buf = io.BytesIO()
        >>> svertka.save({"w": svertka.ones(2), "step": 3}, buf)
        >>> _ = buf.seek(0)
        >>> svertka.load(buf)
        {'w': tensor([1., 1.]), 'step': 3}
    """
    arrays = {}
    structure = {"format": FORMAT, "version": VERSION, "object": _encode(obj, arrays, "obj")}
    payload = dict(arrays)
    payload["__svertka__"] = np.array(json.dumps(structure))
    if hasattr(f, "write"):
        np.savez(f, **payload)
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".svertka-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez(out, **payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(f, map_location=None, weights_only=True):
    """Load an object saved by :func:`save` from a path or a binary file.

    ``map_location`` and ``weights_only`` are accepted for torch compatibility (svertka has only
    the CPU, and never loads code). A truncated, corrupted or foreign file raises
    ``CheckpointError`` (a ``ValueError``) naming the file; a missing one ``FileNotFoundError``.
    """
    if map_location not in (None, "cpu") and not callable(map_location) and not isinstance(
            map_location, dict):
        raise ValueError(f"load: only the 'cpu' device is available, got "
                         f"map_location={map_location!r}")
    name = repr(getattr(f, "name", "<file object>")) if hasattr(f, "read") else repr(
        os.fspath(f))
    if not hasattr(f, "read"):
        with open(os.fspath(f), "rb") as fh:
            data = fh.read()
        f = io.BytesIO(data)

    def fail(why):
        return CheckpointError(f"load: {name} is not a valid svertka checkpoint ({why})")

    try:
        archive = np.load(f, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise fail(f"not a NumPy .npz archive or truncated: {e}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise fail("a single .npy array, not a checkpoint archive")
    with archive:
        try:
            meta = json.loads(str(archive["__svertka__"]))
        except KeyError:
            raise fail("no '__svertka__' structure entry; was it written by svertka.save?") \
                from None
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise fail(f"its structure entry is unreadable: {e}") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise fail("unknown format marker")
        if meta.get("version", 0) > VERSION:
            raise fail(f"written by a newer svertka (format version {meta.get('version')}, "
                       f"this one reads up to {VERSION})")

        def arrays(key):
            try:
                return np.array(archive[key])
            except KeyError:
                raise fail(f"array {key!r} is missing") from None
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
                raise fail(f"array {key!r} is corrupted: {e}") from None

        return _decode(meta["object"], arrays, name)
