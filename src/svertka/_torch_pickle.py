"""Reading PyTorch checkpoints (files written by ``torch.save``) without torch, running no code.

A ``torch.save`` file (PyTorch >= 1.6) is a zip archive of stored members under one folder:
``<name>/data.pkl``, a pickle of the saved object whose tensors are calls of
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``
and whose storages are persistent ids ``('storage', torch.FloatStorage, key, location,
numel)``; ``<name>/data/<key>``, each storage's raw bytes; ``<name>/byteorder``,
``little`` or ``big`` (absent in old files: little). The legacy format (before PyTorch 1.6,
or ``_use_new_zipfile_serialization=False``; :func:`read_legacy`) is a sequence of pickles
followed by the storages' bytes; its object pickle is read the same way.

The pickle goes through :mod:`svertka._safe_pickle` with the policy :data:`TORCH`: its
opcodes are simulated first (bounded work, no recursive structures), and only what a tensor
checkpoint needs is admitted, the rebuild functions of tensors and parameters, the storage
types of the dtypes svertka reads, the dtypes, ``torch.Size`` and ``collections.OrderedDict``,
each called only with the arguments torch writes. Any other global (``os.system``,
``builtins.eval``, a class of the user's code) is refused before anything runs.

Memory: every storage is read once, after its zip member's size was checked against the
declared element count, and all storages together may not declare more bytes than the file
holds; a tensor is then copied out of its storage (so views with offsets and strides, even
overlapping ones, become tensors that own their memory), and all tensors together may take at
most ``MAX_COPY_FACTOR`` times the file's size (bfloat16 widened to float32 doubles a storage;
views of one storage each count). A load thus peaks near ``1 + MAX_COPY_FACTOR`` times the file.

Writing (``svertka.save(obj, path, format='torch')``, :func:`write_archive`): the same zip
layout and a protocol-2 pickle of the same calls, every tensor with a storage of its own (views
are written as copies), so that ``torch.load(path, weights_only=True)`` reads it.
"""

from __future__ import annotations

import io
import math
import pickle
import pickletools
import re
import zipfile
from collections import OrderedDict

import numpy as np

from svertka import _dtype
from svertka._checkpoint_error import CheckpointError
from svertka._safe_pickle import (
    _OPAQUE,
    Policy,
    UnsafePickleError,
    _contain,
    _Obj,
    _value,
    check_pickle,
    safe_load,
)
from svertka.tensor import Size, Tensor

MAX_COPY_FACTOR = 4
"""All tensors of a checkpoint together may take at most this many times its size in bytes."""

_CHUNK = 1 << 18
_KEY = re.compile(r"[0-9A-Za-z_.]{1,64}")
_MAX_DIMS = 64  # NumPy's limit

# storage type -> the NumPy dtype of its bytes (bfloat16: its raw 16 bits)
_STORAGES = {"FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2",
             "BFloat16Storage": "u2", "LongStorage": "i8", "IntStorage": "i4",
             "ShortStorage": "i2", "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?"}
_DTYPES = {"float32": _dtype.float32, "float64": _dtype.float64, "float16": _dtype.float16,
           "bfloat16": _dtype.float32, "int64": _dtype.int64, "int32": _dtype.int32,
           "int16": _dtype.int16, "int8": _dtype.int8, "uint8": _dtype.uint8,
           "bool": _dtype.bool_}


class _Malformed(ValueError):
    """A call's arguments are of the admitted form but describe an impossible tensor."""


class _StorageType:
    """Stands for ``torch.FloatStorage`` and its kin: only a persistent id may hold it."""

    __slots__ = ("name", "dtype")

    def __init__(self, name, dtype):
        self.name, self.dtype = name, np.dtype(dtype)

    def __repr__(self):
        return f"torch.{self.name}"


class _Storage:
    """One storage's elements, read from its zip member (raw, in the file's byte order)."""

    __slots__ = ("array", "bfloat16")

    def __init__(self, array, bfloat16):
        self.array, self.bfloat16 = array, bfloat16


def _ints(v, what, rank=None):
    if not isinstance(v, tuple) or len(v) > _MAX_DIMS or \
            not all(type(n) is int and n >= 0 for n in v) or (rank is not None and len(v) != rank):
        raise UnsafePickleError(f"refusing a tensor {what} {v!r:.60}: a tensor's size and "
                                f"stride are tuples of at most {_MAX_DIMS} non-negative ints")
    return v


class _Unpickler(pickle.Unpickler):
    """The C unpickler resolving :data:`TORCH`'s globals only, each checking its arguments,
    and reading storages from the archive as their persistent ids come."""

    def __init__(self, data_file, reader):
        super().__init__(data_file, encoding="utf-8")
        self.reader = reader
        self.table = {
            ("collections", "OrderedDict"): self._ordered_dict,
            ("torch", "Size"): self._size,
            ("torch._utils", "_rebuild_tensor_v2"): self._rebuild_tensor_v2,
            ("torch._utils", "_rebuild_tensor"): self._rebuild_tensor,
            ("torch._utils", "_rebuild_parameter"): self._rebuild_parameter,
        }
        self.table.update({("torch", k): _StorageType(k, v) for k, v in _STORAGES.items()})
        self.table.update({("torch", k): v for k, v in _DTYPES.items()})

    def find_class(self, module, name):
        try:
            return self.table[(module, name)]
        except KeyError:
            raise TORCH.refuse_global(module, name) from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage" and
                pid[5:] in ((), (None,)) and
                isinstance(pid[1], _StorageType) and isinstance(pid[2], str) and
                isinstance(pid[3], str) and type(pid[4]) is int and pid[4] >= 0):
            raise UnsafePickleError(f"refusing the persistent id {pid!r:.80}")
        return self.reader.storage(pid[1], pid[2], pid[4])

    @staticmethod
    def _ordered_dict(*args):
        if args:
            raise UnsafePickleError("refusing OrderedDict arguments")
        return OrderedDict()

    @staticmethod
    def _size(dims=()):
        return Size(_ints(tuple(dims), "size"))

    def _rebuild_tensor(self, storage, offset, size, stride):
        return self._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())

    def _rebuild_tensor_v2(self, storage, offset, size, stride, requires_grad, hooks,
                           metadata=None):
        if not isinstance(storage, _Storage) or type(offset) is not int or offset < 0 or \
                not isinstance(requires_grad, bool) or not isinstance(hooks, dict) or \
                metadata not in (None, {}):
            raise UnsafePickleError("refusing _rebuild_tensor_v2 arguments other than "
                                    "(storage, offset, size, stride, requires_grad, hooks)")
        size = _ints(size, "size")
        stride = _ints(stride, "stride", len(size))
        elements = storage.array
        count = math.prod(size)
        if count and offset + sum((n - 1) * s for n, s in zip(size, stride)) >= len(elements):
            raise _Malformed(f"a tensor of size {size}, stride {stride} and offset {offset} "
                             f"reaches past its storage of {len(elements)} elements")
        itemsize = 4 if storage.bfloat16 else elements.dtype.itemsize
        self.reader.spend(count * itemsize)
        view = np.lib.stride_tricks.as_strided(
            elements[offset:] if count else elements[:0], size,
            tuple(s * elements.itemsize for s in stride), writeable=False)
        if storage.bfloat16:
            data = (view.astype(np.uint32) << 16).view(np.float32)
        else:
            data = np.array(view, dtype=elements.dtype.newbyteorder("="), order="C")
        t = Tensor._make(data)
        if requires_grad:
            if data.dtype.kind != "f":
                raise _Malformed(f"a tensor of dtype {data.dtype} is marked as requiring grad")
            t.requires_grad_(True)
        return t

    @staticmethod
    def _rebuild_parameter(data, requires_grad, hooks):
        from svertka.nn.parameter import Parameter

        if not isinstance(data, Tensor) or not isinstance(requires_grad, bool) or \
                not isinstance(hooks, dict):
            raise UnsafePickleError("refusing _rebuild_parameter arguments other than "
                                    "(tensor, requires_grad, hooks)")
        if requires_grad and data._data.dtype.kind != "f":
            raise _Malformed(f"a parameter of dtype {data._data.dtype} requires grad")
        return Parameter(data, requires_grad=requires_grad)


# ----------------------------------------------------------------- the opcode simulation
_STORAGE_GLOBALS = {("torch", k) for k in _STORAGES}
_CALLS = {("collections", "OrderedDict"): "OrderedDict", ("torch", "Size"): "Size",
          ("torch._utils", "_rebuild_tensor_v2"): "_rebuild_tensor_v2",
          ("torch._utils", "_rebuild_tensor"): "_rebuild_tensor",
          ("torch._utils", "_rebuild_parameter"): "_rebuild_parameter"}


def _is_int_tuple(o):
    v = _value(o)
    return o.kind == "tuple" and v is not _OPAQUE and all(type(n) is int for n in v)


def _reduce(func, args):
    if func.kind != "global" or func.value[1:] not in _CALLS:
        raise UnsafePickleError("refusing a call of anything but a tensor rebuild function, "
                                "OrderedDict or torch.Size")
    call = _CALLS[func.value[1:]]
    if args.kind != "tuple":
        raise UnsafePickleError(f"refusing {call} with arguments that are not a tuple")
    a = args.items
    made = _contain("made", [args])
    if call == "OrderedDict":
        if a:
            raise UnsafePickleError("refusing OrderedDict with arguments")
        made.kind = "dict"
    elif call == "Size":
        if len(a) != 1 or not _is_int_tuple(a[0]):
            raise UnsafePickleError("refusing torch.Size arguments other than a tuple of ints")
        made.kind, made.items = "tuple", a[0].items
    elif call == "_rebuild_parameter":
        if len(a) != 3 or a[0].kind != "tensor" or type(_value(a[1])) is not bool or \
                a[2].kind != "dict":
            raise UnsafePickleError("refusing _rebuild_parameter arguments other than "
                                    "(tensor, requires_grad, hooks)")
        made.kind = "tensor"
    else:
        n = 4 if call == "_rebuild_tensor" else len(a)
        if not (len(a) == n and 4 <= n <= 7 and n != 5) or a[0].kind != "storage" or \
                type(_value(a[1])) is not int or not _is_int_tuple(a[2]) or \
                not _is_int_tuple(a[3]) or \
                (n >= 6 and (type(_value(a[4])) is not bool or a[5].kind != "dict")) or \
                (n == 7 and _value(a[6]) is not None and a[6].kind != "dict"):
            raise UnsafePickleError(f"refusing {call} arguments other than (storage, offset, "
                                    f"size, stride, requires_grad, hooks)")
        made.kind = "tensor"
    return made


def _build(target, state):
    """``BUILD``: only an ``OrderedDict``'s attributes (a ``state_dict``'s ``_metadata``)."""
    if target.shared:
        raise UnsafePickleError("an object is changed after it was referenced again")
    if target.kind != "dict" or state.kind != "dict":
        raise UnsafePickleError(f"refusing to set the state of a {target.kind} to a "
                                f"{state.kind}: only an OrderedDict's attributes may be set")
    target.weight += state.weight


def _persistent(pid):
    v = pid.items if pid.kind == "tuple" else None
    if v is None or len(v) not in (5, 6) or _value(v[0]) != "storage" or \
            (len(v) == 6 and (v[5].kind != "scalar" or v[5].value is not None)) or \
            v[1].kind != "global" or \
            v[1].value[1:] not in _STORAGE_GLOBALS or v[2].kind != "str" or \
            v[3].kind != "str" or type(_value(v[4])) is not int:
        raise UnsafePickleError("refusing a persistent id other than ('storage', a storage "
                                "type, key, location, numel)")
    return _Obj("storage")


TORCH = Policy(set(_CALLS) | _STORAGE_GLOBALS | {("torch", k) for k in _DTYPES},
               _reduce, _build,
               "tensors (of the dtypes svertka reads), parameters, dtypes, torch.Size, "
               "OrderedDicts and plain data (a model saved whole? torch.save its "
               "state_dict() instead)", _persistent)


# ----------------------------------------------------------------- the archive
class _Storages:
    """A checkpoint's storages, each read once, bounding the bytes read and copied."""

    def __init__(self, fail, file_size, big_endian):
        self.fail = fail
        self.budget = file_size
        self.copy_budget = MAX_COPY_FACTOR * file_size
        self.order = ">" if big_endian else "<"
        self.storages = {}

    def storage(self, stype, key, numel):
        if not _KEY.fullmatch(key):
            raise _Malformed(f"invalid storage key {key!r:.40}")
        nbytes = numel * stype.dtype.itemsize
        raw = self.storages.get(key)
        if raw is None:
            if nbytes > self.budget:
                raise self.fail(f"storage {key!r} declares {numel} elements ({nbytes} bytes), "
                                f"more than the file holds")
            raw = self.storages[key] = self.raw(key, nbytes)
        elif raw.nbytes != nbytes:  # one storage viewed as two dtypes: same bytes
            raise _Malformed(f"storage {key!r} is declared with {raw.nbytes} and {nbytes} "
                             f"bytes")
        return _Storage(raw.view(stype.dtype.newbyteorder(self.order)),
                        stype.name == "BFloat16Storage")

    def spend(self, nbytes):
        if nbytes > self.copy_budget:
            raise self.fail(f"its tensors take more than {MAX_COPY_FACTOR} times the file's "
                            f"size (views repeating a storage's elements?)")
        self.copy_budget -= nbytes

    @staticmethod
    def fill(m, out, what):
        """Read exactly ``out.nbytes`` bytes of the binary file ``m`` into ``out``."""
        view, pos = memoryview(out), 0
        while pos < out.nbytes:
            got = m.readinto(view[pos:pos + _CHUNK])
            if not got:
                raise EOFError(f"{what} ends after {pos} of {out.nbytes} bytes")
            pos += got
        return out


class _ArchiveReader(_Storages):
    """The storages of a torch zip archive: members ``<prefix>data/<key>``."""

    def __init__(self, archive, prefix, fail, file_size, big_endian):
        super().__init__(fail, file_size, big_endian)
        self.archive, self.prefix = archive, prefix

    def member(self, name):
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            return None
        if info.flag_bits & 0x61:
            raise self.fail(f"member {name!r} is encrypted or patched")
        if info.compress_type != zipfile.ZIP_STORED:
            raise self.fail(f"member {name!r} is compressed (method {info.compress_type}); "
                            f"torch.save stores its members uncompressed")
        if info.file_size != info.compress_size or info.file_size > self.budget:
            raise self.fail(f"member {name!r} declares {info.file_size} bytes "
                            f"({info.compress_size} stored), more than the file holds")
        return info

    def read(self, name, out):
        """Fill the uint8 array ``out`` with member ``name``'s bytes, which must fit exactly."""
        info = self.member(name)
        if info is None:
            raise self.fail(f"member {name!r} is missing")
        if info.file_size != out.nbytes:
            raise self.fail(f"member {name!r} stores {info.file_size} bytes, but its "
                            f"storage declares {out.nbytes}")
        self.budget -= out.nbytes
        with self.archive.open(info) as m:
            self.fill(m, out, f"member {name!r}")
            if m.read(1):  # also lets zipfile check the CRC
                raise ValueError(f"member {name!r} is longer than it declares")
        return out

    def raw(self, key, nbytes):
        return self.read(f"{self.prefix}data/{key}", np.empty(nbytes, np.uint8))


class _LegacyReader(_Storages):
    """The storages of a legacy file: after the pickles, each storage's element count (8
    bytes) and elements, in the order of the keys' list."""

    def __init__(self, fh, offsets, fail, file_size, big_endian):
        super().__init__(fail, file_size, big_endian)
        self.fh, self.offsets = fh, offsets

    def raw(self, key, nbytes):
        if key not in self.offsets or self.offsets[key][1] != nbytes:
            raise self.fail(f"storage {key!r} is not stored as its pickle declares it")
        self.budget -= nbytes
        self.fh.seek(self.offsets[key][0])
        return self.fill(self.fh, np.empty(nbytes, np.uint8), f"storage {key!r}")


def is_torch_archive(names):
    """The folder (``'archive/'``) of the ``data.pkl`` of a torch zip's members, or None."""
    found = [n[:-8] for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    return found[0] if len(found) == 1 else None


_ERRORS = (EOFError, OSError, zipfile.BadZipFile, ValueError, NotImplementedError,
           pickle.UnpicklingError, IndexError, KeyError, TypeError, AttributeError,
           RecursionError, OverflowError, MemoryError)


def _guarded(name, read):
    """``read(fail)``, every failure a ``CheckpointError`` naming the file ``name``."""
    def fail(why):
        return CheckpointError(f"load: {name} is not a valid PyTorch checkpoint ({why})")

    try:
        return read(fail)
    except _ERRORS as e:
        if isinstance(e, CheckpointError):
            raise
        if isinstance(e, UnsafePickleError):
            raise CheckpointError(f"load: {name}: {e}") from None
        raise fail(f"truncated or corrupted: {type(e).__name__}: {str(e):.120}") from None


def read_archive(archive, prefix, name, file_size):
    """The object that the torch zip ``archive`` (opened by the caller) holds."""
    def read(fail):
        reader = _ArchiveReader(archive, prefix, fail, file_size, False)
        info = reader.member(f"{prefix}byteorder")
        if info is not None:
            order = reader.read(info.filename, np.empty(info.file_size, np.uint8)).tobytes()
            if order not in (b"little", b"big"):
                raise fail(f"its byteorder record is {order[:20]!r}, not 'little' or 'big'")
            reader.order = ">" if order == b"big" else "<"
        info = reader.member(f"{prefix}data.pkl")
        data = reader.read(f"{prefix}data.pkl", np.empty(info.file_size, np.uint8)).tobytes()
        check_pickle(data, TORCH)
        return _Unpickler(io.BytesIO(data), reader).load()

    return _guarded(name, read)


LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


def _next_pickle(fh, end):
    """The bytes of the pickle that starts at ``fh``'s position (which moves past it)."""
    start = fh.tell()
    for _ in pickletools.genops(fh):  # stops after STOP; reads no more than the file holds
        if fh.tell() > end:
            raise EOFError("a pickle runs past the end of the file")
    stop = fh.tell()
    fh.seek(start)
    return fh.read(stop - start)


def read_legacy(fh, name, file_size):
    """The object that a file of the legacy format (``torch.save`` before PyTorch 1.6, or
    ``_use_new_zipfile_serialization=False``) holds, from ``fh``'s position: pickles of the
    magic number, the protocol version and the writer's byte order, the object (with the
    same restricted reader as the zip format), the list of storage keys; then each storage."""
    def read(fail):
        start = fh.tell()
        end = start + file_size
        magic, protocol, info = (safe_load(_next_pickle(fh, end)) for _ in range(3))
        if magic != LEGACY_MAGIC or protocol != _LEGACY_PROTOCOL or \
                not isinstance(info, dict) or not isinstance(info.get("little_endian"), bool):
            raise fail("not a legacy torch.save file (its magic number, protocol version or "
                       "system record is not torch's)")
        data = _next_pickle(fh, end)
        declared = {}

        def persistent(pid):  # the simulation records each storage's type and size
            made = _persistent(pid)
            v = pid.items
            declared[_value(v[2])] = (v[1].value[2], _value(v[4]))
            return made

        check_pickle(data, Policy(TORCH.globals, _reduce, _build, TORCH.holds, persistent))
        keys = safe_load(_next_pickle(fh, end))
        if not isinstance(keys, list) or len(set(map(str, keys))) != len(keys) or \
                not all(isinstance(k, str) and k in declared for k in keys):
            raise fail("its list of storages does not match the storages its object uses")
        little = info["little_endian"]
        offsets = {}
        for key in keys:  # each storage: its element count, then its elements
            count = int.from_bytes(_Storages.fill(fh, np.empty(8, np.uint8), "a storage"),
                                   "little" if little else "big", signed=True)
            stype, numel = declared[key]
            nbytes = numel * np.dtype(_STORAGES[stype]).itemsize
            if count != numel or fh.tell() + nbytes > end:
                raise fail(f"storage {key!r} stores {count} elements, its pickle declares "
                           f"{numel}, the file holds {end - fh.tell()} more bytes")
            offsets[key] = (fh.tell(), nbytes)
            fh.seek(nbytes, 1)
        reader = _LegacyReader(fh, offsets, fail, file_size, not little)
        return _Unpickler(io.BytesIO(data), reader).load()

    return _guarded(name, read)


# ----------------------------------------------------------------- writing
_STORAGE_OF = {np.dtype(v).newbyteorder("="): k for k, v in _STORAGES.items()
               if k != "BFloat16Storage"}


class _Writer:
    """Writes the pickle ``torch.save`` writes (protocol 2, no memo) for plain data and
    svertka tensors, collecting each tensor's bytes as a storage of its own."""

    def __init__(self):
        self.out, self.storages = [b"\x80\x02"], []

    def global_(self, module, name):
        self.out.append(f"c{module}\n{name}\n".encode())

    def ordered_dict(self):
        self.global_("collections", "OrderedDict")
        self.out.append(b")R")

    def tensor(self, t, where):
        from svertka.nn.parameter import Parameter

        data = np.asarray(t._data, order="C")
        storage = _STORAGE_OF[data.dtype.newbyteorder("=")]
        key = str(len(self.storages))
        self.storages.append(data.astype(data.dtype.newbyteorder("<"), copy=False))
        if isinstance(t, Parameter):
            self.global_("torch._utils", "_rebuild_parameter")
            self.out.append(b"(")
        self.global_("torch._utils", "_rebuild_tensor_v2")
        self.out.append(b"((")
        self.value("storage", where)
        self.global_("torch", storage)
        for v in (key, "cpu", data.size):
            self.value(v, where)
        self.out.append(b"tQ")
        for v in (0, tuple(data.shape), tuple(s // max(data.itemsize, 1) for s in
                                              data.strides),
                  bool(t.requires_grad) and not isinstance(t, Parameter)):
            self.value(v, where)
        self.ordered_dict()
        self.out.append(b"tR")
        if isinstance(t, Parameter):
            self.value(bool(t.requires_grad), where)
            self.ordered_dict()
            self.out.append(b"tR")

    def value(self, obj, where, depth=0):
        out = self.out
        if isinstance(obj, Tensor):
            return self.tensor(obj, where)
        if obj is None or isinstance(obj, bool):
            return out.append({None: b"N", True: b"\x88", False: b"\x89"}[obj])
        if isinstance(obj, (int, np.integer)):
            return out.append(b"\x8a" + bytes([len(b := pickle.encode_long(int(obj)))]) + b)
        if isinstance(obj, (float, np.floating)):
            return out.append(b"G" + np.array(float(obj), ">f8").tobytes())
        if isinstance(obj, str):
            b = obj.encode("utf-8", "surrogatepass")
            return out.append(b"X" + len(b).to_bytes(4, "little") + b)
        if isinstance(obj, (dict, list, tuple)) and depth >= 100:
            raise ValueError(f"save: containers may be nested at most 100 deep, got deeper "
                             f"at {where}")
        if isinstance(obj, dict):
            if isinstance(obj, OrderedDict):
                self.ordered_dict()
            else:
                out.append(b"}")
            out.append(b"(")
            for k, v in obj.items():
                if not (k is None or isinstance(k, (str, int, float, bool))):
                    raise TypeError(f"save: dict keys must be str, int, float, bool or None, "
                                    f"got {type(k).__name__} at {where}")
                self.value(k, where)
                self.value(v, f"{where}[{k!r}]", depth + 1)
            return out.append(b"u")
        if isinstance(obj, (list, tuple)):
            out.append(b"(" if isinstance(obj, tuple) else b"](")
            for i, v in enumerate(obj):
                self.value(v, f"{where}[{i}]", depth + 1)
            return out.append(b"t" if isinstance(obj, tuple) else b"e")
        raise TypeError(f"save: a PyTorch checkpoint holds svertka tensors, numbers, strings, "
                        f"None and dicts/lists/tuples of them, got {type(obj).__name__} at "
                        f"{where}")


def write_archive(obj, fh):
    """Write ``obj`` to the binary file ``fh`` as ``torch.save`` would (the zip format, every
    tensor with a storage of its own), for ``torch.load(path, weights_only=True)``."""
    writer = _Writer()
    writer.value(obj, "obj")
    writer.out.append(b".")
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", b"".join(writer.out))
        z.writestr("archive/byteorder", b"little")
        for key, data in enumerate(writer.storages):
            z.writestr(f"archive/data/{key}", data.tobytes())
        z.writestr("archive/version", b"3\n")
