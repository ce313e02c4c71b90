"""`svertka.save` / `svertka.load`: checkpoints that execute no code and NumPy alone can read.

``load`` also reads the files of ``torch.save`` (:mod:`svertka._torch_pickle`) and safetensors
files (:mod:`svertka.safetensors`), told apart by content; ``save`` writes those formats too
(``format='torch'``, or ``'safetensors'`` / a ``.safetensors`` name). What follows describes
svertka's own format.

A checkpoint is a NumPy ``.npz`` archive (a zip of ``.npy`` files, stored, not compressed):

* ``t0``, ``t1``, ...: one array per tensor in the saved object;
* ``__svertka__``: a 0-d string array holding JSON that describes the object's structure: dicts
  (with str, int, float, bool or None keys, order kept), lists, tuples, numbers, strings,
  booleans, None, and references ``{"__tensor__": "t3", "requires_grad": false}`` to the arrays.

Loading never unpickles, so a checkpoint cannot run code.
Without svertka: ``z = np.load(path); json.loads(str(z["__svertka__"]))`` and ``z["t0"]``.

Loading a hostile file costs at most about its own size in memory: only regular files are
read; the zip is read lazily; compressed or encrypted members are refused; every array's
declared shape and dtype must match its member's stored size before anything is allocated, all
arrays together may not hold more bytes than the file, and each array is read straight into its
final buffer (a load peaks near 1x the file size). Limits, enforced by both ``save`` and
``load`` so that every saved file loads: containers nested at most ``MAX_DEPTH`` deep, at most
``MAX_ARRAYS`` arrays, a structure of at most ``MAX_STRUCTURE_CHARS`` characters of JSON (save
long lists of numbers as an array). Tensors have one of svertka's dtypes; NumPy arrays are
boolean, integer or floating point.

Saving to a path writes a temporary file ``.svertka-<host>-<pid>-<random>.tmp`` in the same
directory, then renames it over the target, so an interrupted save leaves the previous
checkpoint intact; each save removes the temporary files that writers killed earlier left in
that directory (see :func:`_remove_stale_temporaries`). A checkpoint gets the permissions of
any new file (``0666`` less the umask, as ``torch.save`` and ``open`` give), or keeps those of
the checkpoint it replaces, like a file rewritten in place.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import stat
import time
import zipfile

import numpy as np

from svertka import _dtype
from svertka._checkpoint_error import CheckpointError
from svertka.tensor import Tensor

FORMAT = "svertka-checkpoint"
VERSION = 1

MAX_DEPTH = 100
"""Dicts, lists and tuples nested deeper than this are refused by save and load."""
MAX_ARRAYS = 100_000
"""The most tensors and arrays one checkpoint may hold."""
MAX_STRUCTURE_CHARS = 2 ** 22
"""The most characters of JSON the ``__svertka__`` structure may have (4 Mi)."""

# numpy.savez writes one central-directory record of 46 bytes, a name like "t99999.npy" and at
# most 32 bytes of zip64 extra per member; a larger directory is refused before zipfile parses
# it (its Python objects take ~10x the bytes they are read from).
_MAX_DIRECTORY_BYTES = 128 * (MAX_ARRAYS + 1)
_MAX_NPY_HEADER = 10_000      # numpy's own default bound on a .npy header
_CHUNK = 1 << 18              # bytes read per call while filling an array
_KEY = re.compile(r"t[0-9]{1,9}")
_TENSOR_DTYPES = frozenset(_dtype._BY_NP)
# A JSON dict costs 3 levels ({"__dict__": [[k, v]]}), a tuple 2, a list 1, a leaf object 1.
_MAX_JSON_DEPTH = 3 * MAX_DEPTH + 2
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')

# the first bytes of a legacy torch.save file: pickle protocol 2, the long 0x1950a86a20f9469cfc6c
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
_HEAD = 512                   # bytes read to tell the formats apart

_TEMP_PREFIX = ".svertka-"
_TEMP_SUFFIX = ".tmp"
_TEMP_NAME = re.compile(r"\.svertka-(?P<host>.+)-(?P<pid>[0-9]+)-[0-9a-f]{12}\.tmp")
_OLD_TEMP_NAME = re.compile(r"\.svertka-[a-z0-9_]{8}\.tmp")  # tempfile.mkstemp's, before
_DEAD_WRITER_AGE = 60.0       # seconds: a temp file of a dead pid on this host, untouched since
_ABANDONED_AGE = 3600.0       # seconds: any svertka temp file untouched this long


def _encode(obj, arrays, where, depth=0):
    from svertka.nn.parameter import Parameter

    if isinstance(obj, (Tensor, np.ndarray)):
        if len(arrays) >= MAX_ARRAYS:
            raise ValueError(f"save: a checkpoint holds at most {MAX_ARRAYS} tensors and arrays, "
                             f"got more at {where}")
        key = f"t{len(arrays)}"
    if isinstance(obj, Tensor):
        arrays[key] = np.asarray(obj._data, order="C")
        ref = {"__tensor__": key, "requires_grad": bool(obj.requires_grad)}
        if isinstance(obj, Parameter):
            ref["parameter"] = True
        return ref
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise TypeError(f"save: cannot save an array of dtype {obj.dtype} at {where}")
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
    if isinstance(obj, (dict, tuple, list)) and depth >= MAX_DEPTH:
        raise ValueError(f"save: containers may be nested at most {MAX_DEPTH} deep, got deeper "
                         f"at {where}")
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not (k is None or isinstance(k, (str, int, float, bool))):
                raise TypeError(f"save: dict keys must be str, int, float, bool or None, got "
                                f"{type(k).__name__} at {where}")
            items.append([_encode(k, arrays, where),
                          _encode(v, arrays, f"{where}[{k!r}]", depth + 1)])
        return {"__dict__": items}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays, f"{where}[{i}]", depth + 1)
                              for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, arrays, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)]
    raise TypeError(f"save: cannot save an object of type {type(obj).__name__} at {where}; "
                    f"checkpoints hold tensors, arrays, numbers, strings, None and "
                    f"dicts/lists/tuples of them (save model.state_dict(), not the model)")


_TENSOR_KEYS = frozenset({"__tensor__", "requires_grad", "parameter"})


def _decode(node, read, fail, depth=0):
    """The object described by a structure ``node``; ``read(key, tensor)`` gives an array."""
    from svertka.nn.parameter import Parameter

    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    container = isinstance(node, list) or (
        isinstance(node, dict) and ("__tuple__" in node or "__dict__" in node))
    if container and depth >= MAX_DEPTH:
        raise fail(f"containers nested deeper than {MAX_DEPTH} levels")
    if isinstance(node, list):
        return [_decode(v, read, fail, depth + 1) for v in node]
    if not isinstance(node, dict) or len(node) == 0:
        raise fail(f"unexpected {type(node).__name__} {node!r:.40} in its structure")
    if "__tensor__" in node:
        if not set(node) <= _TENSOR_KEYS:
            raise fail(f"unknown keys {sorted(set(node) - _TENSOR_KEYS)} in a tensor reference")
        parameter = node.get("parameter", False)
        requires_grad = node.get("requires_grad", parameter)
        if not isinstance(parameter, bool) or not isinstance(requires_grad, bool):
            raise fail(f"a tensor reference's flags must be booleans, got {node!r:.80}")
        data = read(node["__tensor__"], True)
        if requires_grad and data.dtype.kind != "f":
            raise fail(f"tensor {node['__tensor__']!r} of dtype {data.dtype} is marked as "
                       f"requiring grad")
        if parameter:
            return Parameter(Tensor._make(data), requires_grad=requires_grad)
        t = Tensor._make(data)
        if requires_grad:
            t.requires_grad_(True)
        return t
    marker, value = next(iter(node.items())) if len(node) == 1 else (None, None)
    if marker == "__ndarray__":
        return read(value, False)
    if marker == "__float__":
        if isinstance(value, str) and value in ("inf", "-inf", "nan"):
            return float(value)
        raise fail(f"'__float__' must be 'inf', '-inf' or 'nan', got {value!r:.40}")
    if marker == "__tuple__" and isinstance(value, list):
        return tuple(_decode(v, read, fail, depth + 1) for v in value)
    if marker == "__dict__" and isinstance(value, list):
        out = {}
        for pair in value:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise fail(f"a '__dict__' item must be a [key, value] pair, got {pair!r:.40}")
            key = pair[0]
            if isinstance(key, dict) and list(key) == ["__float__"]:
                key = _decode(key, read, fail, depth + 1)
            if not (key is None or isinstance(key, (str, int, float, bool))):
                raise fail(f"a dict key must be a str, int, float, bool or None, got "
                           f"{key!r:.40}")
            out[key] = _decode(pair[1], read, fail, depth + 1)
        return out
    raise fail(f"unknown node {node!r:.60} in its structure")


def _host_tag():
    """This host's name as it appears in temporary file names."""
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "host"


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError, OSError):
        return True  # it exists (someone else's), or we cannot tell: keep its file
    return True


def _remove_stale_temporaries(directory):
    """Delete temporary files that killed svertka writers left in ``directory``.

    Only files named as :func:`save` names them are candidates, and only stale ones: untouched
    for ``_ABANDONED_AGE`` (a live writer writes continuously, then renames at once), or
    written by a process of this host that no longer runs and untouched for
    ``_DEAD_WRITER_AGE`` (the margin covers a writer of the same pid in another pid namespace).
    A live writer's file is never removed; errors (a file another process just removed, a
    read-only folder) are ignored: cleaning is a courtesy, not part of the save.
    """
    host, now = _host_tag(), time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if not (name.startswith(_TEMP_PREFIX) and name.endswith(_TEMP_SUFFIX)):
            continue
        ours = _TEMP_NAME.fullmatch(name)
        if ours is None and _OLD_TEMP_NAME.fullmatch(name) is None:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                continue
            age = now - st.st_mtime
            dead = (ours is not None and ours["host"] == host
                    and not _pid_alive(int(ours["pid"])))
            if age > _ABANDONED_AGE or (dead and age > _DEAD_WRITER_AGE):
                os.unlink(entry.path)
        except OSError:
            continue


def _create_temporary(directory):
    """Open a new temporary file next to the target: mode 0666 less the umask, never reused."""
    prefix = f"{_TEMP_PREFIX}{_host_tag()}-{os.getpid()}-"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f"{prefix}{os.urandom(6).hex()}{_TEMP_SUFFIX}")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"save: could not create a temporary file in {directory!r}")


def _format_of(f, format, fn):
    if format is None:
        name = f if isinstance(f, (str, os.PathLike)) else getattr(f, "name", "")
        name = os.fspath(name) if isinstance(name, (str, os.PathLike)) else ""
        return "safetensors" if str(name).endswith(".safetensors") else "svertka"
    if format not in ("svertka", "safetensors", "torch"):
        raise ValueError(f"{fn}: format must be 'svertka', 'safetensors' or 'torch', got "
                         f"format={format!r}")
    return format


def save(obj, f, format=None, metadata=None):
    """Save ``obj`` (typically a ``state_dict`` or a dict of them) to a path or a binary file.

    Args:
        obj: tensors, NumPy arrays, numbers, strings, None, and dicts/lists/tuples of them
            (nested at most ``MAX_DEPTH`` deep, at most ``MAX_ARRAYS`` tensors and arrays).
            For a safetensors file: a flat dict of str to tensors.
        f: a path (str or ``os.PathLike``) or a writable binary file object.
        format: ``'svertka'`` (this module's checkpoint), ``'safetensors'`` (see
            :mod:`svertka.safetensors`; needs ``pip install "svertka[safetensors]"``) or
            ``'torch'`` (the zip file of ``torch.save``, which ``torch.load(path,
            weights_only=True)`` reads: tensors, numbers, strings, None, dicts/lists/tuples;
            ``Parameter`` becomes ``torch.nn.Parameter``; views are saved as copies); by
            default ``'safetensors'`` when the file's name ends in ``.safetensors``.
        metadata: for a safetensors file only, a dict of str to str kept in its header.

    Saving to a path is atomic (a temporary file renamed over the target), removes temporary
    files that killed saves left in that directory, and gives the file the permissions of any
    new file (the umask's), or those of the checkpoint it replaces.

    Examples::

        >>> import io, svertka
        >>> buf = io.BytesIO()
        >>> svertka.save({"w": svertka.ones(2), "step": 3}, buf)
        >>> _ = buf.seek(0)
        >>> svertka.load(buf)
        {'w': tensor([1., 1.]), 'step': 3}
    """
    if _format_of(f, format, "save") == "safetensors":
        from svertka import _safetensors_format

        data = _safetensors_format.save(obj, metadata)
        _write(f, lambda out: out.write(data))
        return
    if metadata is None and _format_of(f, format, "save") == "torch":
        from svertka import _torch_pickle

        _write(f, lambda out: _torch_pickle.write_archive(obj, out))
        return
    if metadata is not None:
        raise ValueError("save: metadata is kept by safetensors files only (format="
                         "'safetensors' or a name ending in .safetensors), got metadata for "
                         "a svertka checkpoint")
    arrays = {}
    structure = {"format": FORMAT, "version": VERSION, "object": _encode(obj, arrays, "obj")}
    text = json.dumps(structure)
    if len(text) > MAX_STRUCTURE_CHARS:
        raise ValueError(f"save: the object's structure takes {len(text)} characters of JSON, "
                         f"more than {MAX_STRUCTURE_CHARS}; save long lists of numbers as a "
                         f"tensor or an array")
    payload = dict(arrays)
    payload["__svertka__"] = np.array(text)
    _write(f, lambda out: np.savez(out, **payload))


def _write(f, write):
    """Call ``write(file)`` on the binary file ``f``, or atomically on a new file at path
    ``f`` (a temporary file renamed over the target, keeping the target's permissions)."""
    if hasattr(f, "write"):
        write(f)
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    _remove_stale_temporaries(directory)
    fd, tmp = _create_temporary(directory)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        try:  # a replaced checkpoint keeps its permissions, as a file rewritten in place
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        except FileNotFoundError:
            pass
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _json_depth(text):
    """How deeply ``text``'s arrays and objects nest (strings skipped), without recursion."""
    brackets = _JSON_STRING.sub("", text).encode("ascii", "replace")
    b = np.frombuffer(brackets, dtype=np.uint8)
    step = (b == ord("[")).astype(np.int32) + (b == ord("{"))
    step -= (b == ord("]")) + (b == ord("}"))
    return int(np.cumsum(step).max(initial=0))


class _Reader:
    """Reads one checkpoint's members, refusing any before it allocates more than it should."""

    def __init__(self, archive, fail, file_size):
        self.archive, self.fail = archive, fail
        self.budget = file_size   # bytes all arrays together may still take
        self.used = set()

    def member(self, name):
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            return None
        if info.flag_bits & 0x61:  # encrypted, strongly encrypted, compressed patched data
            raise self.fail(f"member {name!r} is encrypted or patched (flags "
                            f"{info.flag_bits:#06x})")
        if info.compress_type != zipfile.ZIP_STORED:
            raise self.fail(f"member {name!r} is compressed (method {info.compress_type}); "
                            f"svertka checkpoints store their arrays uncompressed")
        if info.file_size != info.compress_size or info.file_size > self.budget:
            raise self.fail(f"member {name!r} declares {info.file_size} bytes "
                            f"({info.compress_size} stored), more than the file holds")
        return info

    def array(self, name, allowed, what):
        """Read member ``name`` as an array whose dtype passes ``allowed``, into its own buffer."""
        info = self.member(name)
        if info is None:
            return None
        fail = self.fail
        try:
            with self.archive.open(info) as m:
                try:
                    version = np.lib.format.read_magic(m)
                    if version == (1, 0):
                        header = np.lib.format.read_array_header_1_0(m, _MAX_NPY_HEADER)
                    elif version == (2, 0):
                        header = np.lib.format.read_array_header_2_0(m, _MAX_NPY_HEADER)
                    else:
                        raise ValueError(f".npy format version {version} is not supported")
                except Exception as e:  # numpy's header parser meets hostile text: any failure
                    raise fail(f"member {name!r} is not a valid .npy array: "
                               f"{type(e).__name__}: {str(e):.80}") from None
                shape, fortran, dtype = header
                if not allowed(dtype):
                    raise fail(f"{what} {name[:-4]!r} has dtype {dtype}, which it may not have")
                if not all(isinstance(n, int) and n >= 0 for n in shape):
                    raise fail(f"member {name!r} declares an invalid shape {shape}")
                nbytes = math.prod(shape) * dtype.itemsize
                stored = info.file_size - m.tell()
                if nbytes != stored:
                    raise fail(f"{what} {name[:-4]!r} declares shape {shape} and dtype {dtype} "
                               f"({nbytes} bytes), but its member stores {stored} bytes")
                if nbytes > self.budget:
                    raise fail("its arrays declare more bytes than the file holds")
                self.budget -= nbytes
                data = np.empty(shape[::-1] if fortran else shape, dtype=dtype)
                view = memoryview(data.reshape(-1).view(np.uint8))
                pos = 0
                while pos < nbytes:
                    got = m.readinto(view[pos:pos + _CHUNK])
                    if not got:
                        raise EOFError(f"member {name!r} ends after {pos} of {nbytes} bytes")
                    pos += got
                if m.read(1):  # also lets zipfile check the CRC if it has not yet
                    raise ValueError(f"member {name!r} is longer than it declares")
        except (EOFError, OSError, zipfile.BadZipFile, ValueError, NotImplementedError) as e:
            if isinstance(e, CheckpointError):
                raise
            raise fail(f"{what} {name[:-4]!r} is truncated or corrupted: {e}") from None
        if fortran:
            data = data.T
        if not dtype.isnative:
            data = data.byteswap(inplace=True).view(dtype.newbyteorder())
        return data


def _tensor_dtype(dtype):
    return dtype.newbyteorder("=") in _TENSOR_DTYPES


def _ndarray_dtype(dtype):
    return dtype.kind in "biuf" and dtype.fields is None and dtype.subdtype is None


def _structure_dtype(dtype):
    return dtype.kind == "U" and dtype.itemsize <= 4 * MAX_STRUCTURE_CHARS


def _central_directory_size(fh):
    """The size the end record gives the zip's central directory, or None if there is none.

    Uses the very function ``zipfile`` reads the end record with, so both see the same record.
    """
    end = zipfile._EndRecData(fh)
    return None if end is None else end[zipfile._ECD_SIZE]


def _read_checkpoint(fh, name, file_size, expect=None):
    def fail(why):
        return CheckpointError(f"load: {name} is not a valid svertka checkpoint ({why})")

    zip_errors = (zipfile.BadZipFile, OSError, EOFError, ValueError, OverflowError,
                  NotImplementedError, IndexError)
    start = fh.tell()
    head = fh.read(_HEAD)
    fh.seek(start)
    if head.startswith(b"\x93NUMPY"):
        raise fail("a single .npy array, not a checkpoint archive")
    from svertka import _safetensors_format, _torch_pickle

    if head.startswith(_TORCH_LEGACY_MAGIC):
        return _torch_pickle.read_legacy(fh, name, file_size)
    if head[257:262] == b"ustar":
        raise CheckpointError(
            f"load: {name} is a tar archive, perhaps a PyTorch checkpoint of the tar format "
            f"of torch.save before PyTorch 0.4, which svertka does not read; convert it with "
            f"torch: torch.save(torch.load(path, weights_only=True), new_path)")
    if _safetensors_format.looks_like(head):
        return _safetensors_format.read(fh, name, file_size)
    if expect == "safetensors":
        raise CheckpointError(f"load: {name} is not a valid safetensors file (it does not "
                              f"open with a safetensors header)")
    try:
        directory = _central_directory_size(fh)
        if directory is not None and directory > _MAX_DIRECTORY_BYTES:
            raise fail(f"its zip directory takes {directory} bytes, more than the "
                       f"{_MAX_DIRECTORY_BYTES} of {MAX_ARRAYS} arrays")
        fh.seek(start)
        archive = zipfile.ZipFile(fh)
    except zip_errors as e:
        if isinstance(e, CheckpointError):
            raise
        raise fail(f"not a NumPy .npz archive or truncated: {e}") from None
    with archive:
        names = archive.namelist()
        if len(names) > MAX_ARRAYS + 1:
            raise fail(f"{len(names)} members, more than {MAX_ARRAYS} arrays and a structure")
        if len(set(names)) != len(names):
            raise fail("a member name occurs twice")
        prefix = _torch_pickle.is_torch_archive(names)
        if prefix is not None and "__svertka__.npy" not in names:
            return _torch_pickle.read_archive(archive, prefix, name, file_size)
        reader = _Reader(archive, fail, file_size)
        meta = reader.array("__svertka__.npy", _structure_dtype, "structure entry")
        if meta is None:
            raise fail("no '__svertka__' structure entry; was it written by svertka.save?")
        if meta.shape != ():
            raise fail(f"the structure entry has shape {meta.shape}, not ()")
        text = str(meta[()])
        del meta
        if _json_depth(text) > _MAX_JSON_DEPTH:
            raise fail(f"containers nested deeper than {MAX_DEPTH} levels")
        try:
            meta = json.loads(text)
        except (ValueError, RecursionError) as e:
            raise fail(f"its structure entry is not valid JSON: {str(e):.80}") from None
        del text
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise fail("unknown format marker")
        version = meta.get("version")
        if type(version) is not int or not 1 <= version:
            raise fail(f"format version must be a positive int, got {version!r:.40}")
        if version > VERSION:
            raise fail(f"written by a newer svertka (format version {version}, this one reads "
                       f"up to {VERSION})")
        if "object" not in meta:
            raise fail("its structure has no 'object'")

        def read(key, tensor):
            if not isinstance(key, str) or not _KEY.fullmatch(key):
                raise fail(f"invalid array reference {key!r:.40}")
            if key in reader.used:
                raise fail(f"array {key!r} is referenced twice")
            reader.used.add(key)
            data = reader.array(f"{key}.npy", _tensor_dtype if tensor else _ndarray_dtype,
                                "tensor" if tensor else "array")
            if data is None:
                raise fail(f"array {key!r} is missing")
            return data

        return _decode(meta["object"], read, fail)


def load(f, map_location=None, weights_only=True):
    """Load a checkpoint from a path or a seekable binary file: one written by :func:`save`,
    by ``torch.save`` (a ``.pt``/``.pth`` file, no torch needed), or a safetensors file.

    The format is told by the file's content, not its name. svertka's own checkpoints are
    described in this module's docstring. PyTorch checkpoints (the zip format of PyTorch 1.6
    and later, and the legacy one) are read by a restricted unpickler
    (:mod:`svertka._torch_pickle`) that admits only tensors, parameters, ``OrderedDict``,
    dtypes, ``torch.Size`` and plain data; any other global (``os.system``, a class of the
    user's code) raises ``CheckpointError`` naming the file and the global, and nothing from
    the file runs. Their tensors come back as svertka tensors (``Parameter`` for
    ``torch.nn.Parameter``), with the file's ``requires_grad``; bfloat16 is widened to
    float32; views that shared a storage in the file become tensors that own their memory
    (torch keeps them sharing); big-endian files load. The tar format of PyTorch before 0.4
    is refused with a ``CheckpointError`` that says how to convert it. safetensors files:
    see :mod:`svertka.safetensors` (the ``[safetensors]`` extra).

    ``map_location`` and ``weights_only`` are accepted for torch compatibility (svertka has only
    the CPU, and never loads code). A truncated, corrupted, hostile or foreign file, or one that
    is not a regular file (a directory, a FIFO, a device), raises ``CheckpointError`` (a
    ``ValueError``) naming the file and what is wrong; a missing one ``FileNotFoundError``.
    Memory stays within a small multiple of the file's size whatever the file declares (see
    this module's docstring and :mod:`svertka._torch_pickle`).
    """
    return _load(f, map_location)


def _load(f, map_location=None, expect=None):
    if map_location not in (None, "cpu") and not callable(map_location) and not isinstance(
            map_location, dict):
        raise ValueError(f"load: only the 'cpu' device is available, got "
                         f"map_location={map_location!r}")
    if hasattr(f, "read"):
        name = repr(getattr(f, "name", "<file object>"))
        if not (hasattr(f, "seekable") and f.seekable()):
            raise ValueError(f"load: the file object {name} is not seekable; read it into an "
                             f"io.BytesIO first")
        start = f.tell()
        size = f.seek(0, os.SEEK_END) - start
        f.seek(start)
        return _read_checkpoint(f, name, size, expect)
    path = os.fspath(f)
    name = repr(path)
    # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a directory" if stat.S_ISDIR(st.st_mode) else
                    "a FIFO" if stat.S_ISFIFO(st.st_mode) else
                    "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
                    "a socket")
            raise CheckpointError(f"load: {name} is not a valid svertka checkpoint (not a "
                                  f"regular file but {kind})")
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        return _read_checkpoint(fh, name, st.st_size, expect)
