"""Unpickling plain data and NumPy arrays (or, with a :class:`Policy`, another narrow set of
objects such as PyTorch's tensor checkpoints) from untrusted files, with bounded work.

Unpickling an arbitrary file can run arbitrary code, and even a pickle that names only
harmless callables can make the unpickler (or whoever walks the result) do unbounded work:
memo references let a 500-byte pickle describe a list of a billion items ("billion laughs").
:func:`safe_load` therefore reads a pickle in two passes:

1. :func:`check_pickle` walks the opcodes (``pickletools.genops``, nothing is built) and
   simulates the unpickler's stack with a small record per object: its *weight* (how many
   items and bytes it holds once every shared reference is expanded), its nesting depth,
   and, for short literals and tuples, its value. It refuses

   * a copy of an object through the memo (``GET``, ``DUP``) beyond a budget: at most
     ``SMALL_DUP_FACTOR`` times the file size in total for objects of weight up to
     ``LARGE_WEIGHT``, and once the file size for heavier ones. Every other object's
     weight is paid for by its own bytes in the file, so the total weight of everything
     the unpickler builds (and the work of hashing, converting or printing it) stays
     within ``SMALL_DUP_FACTOR + 2`` times the file size;
   * a change to an object after it was copied (which would make its copies' weights
     stale; only recursive structures do that, and the CIFAR batches hold none);
   * nesting deeper than ``MAX_DEPTH``;
   * every global but the few a NumPy array, a NumPy scalar or Python 2-compatible bytes
     need, and every call of them whose arguments are not the exact form NumPy's and
     Python's own picklers write (an empty array made by ``_reconstruct`` and filled from
     bytes, a dtype whose state is the one NumPy gives that dtype, no object dtypes);
   * the opcodes that reach other code (``INST``, ``OBJ``, ``NEWOBJ``, extensions,
     persistent ids, out-of-band buffers).

2. :class:`RestrictedUnpickler` (the C unpickler) then builds the objects, resolving the
   same globals only, each wrapped in a check of its arguments, as a second line.

The dtype check matters for memory safety: NumPy trusts the flags in a dtype's pickled
state, and a ``uint8`` dtype whose state claims to hold Python objects makes an array
store object pointers in its bytes.
"""

from __future__ import annotations

import codecs
import io
import pickle
import pickletools

import numpy as np

try:  # NumPy 2
    from numpy._core.multiarray import _reconstruct, scalar
    from numpy._core.numeric import _frombuffer
except ImportError:  # pragma: no cover - NumPy 1
    from numpy.core.multiarray import _reconstruct, scalar
    from numpy.core.numeric import _frombuffer

SMALL_DUP_FACTOR = 32
LARGE_WEIGHT = 4096
MAX_DEPTH = 32
_SHORT = 64  # literals up to this length keep their value in the simulation


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a global, a call or an opcode outside what plain data and NumPy
    arrays need, or describes more work than its size allows."""


class _NdarrayToken:
    """Stands for ``numpy.ndarray`` in the unpickler: the first argument that
    ``_reconstruct`` expects, never callable itself (``ndarray(shape)`` would allocate any
    size)."""

    def __reduce__(self):  # pragma: no cover - never pickled
        raise TypeError("not picklable")


_NDARRAY = _NdarrayToken()
_LATIN1 = ("latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1")


def _dtype_args_ok(obj, align, copy):
    """The dtype NumPy's pickler writes as ``dtype(obj, align, copy)``, or None."""
    if isinstance(obj, bytes):  # Python 2's str, read with encoding='bytes'
        obj = obj.decode("latin1")
    if not isinstance(obj, str) or len(obj) > 16 or align not in (0, 1) or \
            copy not in (0, 1) or isinstance(align, float) or isinstance(copy, float):
        return None
    try:
        d = np.dtype(obj)
    except Exception:  # noqa: BLE001 - any spelling NumPy refuses
        return None
    if d.hasobject or d.names is not None or d.subdtype is not None or d.kind in "VMm":
        return None
    return d


def _checked_dtype(obj, align=False, copy=False):
    if _dtype_args_ok(obj, align, copy) is None:
        raise UnsafePickleError(f"refusing dtype({obj!r}, {align!r}, {copy!r}): only plain "
                                f"numeric, bool, bytes and str dtypes are allowed")
    return np.dtype(obj.decode("latin1") if isinstance(obj, bytes) else obj, bool(align),
                    bool(copy))


def _checked_reconstruct(subtype, shape, typecode):
    if subtype is not _NDARRAY or shape != (0,) or typecode not in (b"b", "b"):
        raise UnsafePickleError("refusing _reconstruct arguments other than (ndarray, (0,), "
                                "b'b')")
    return _reconstruct(np.ndarray, shape, typecode)


def _checked_frombuffer(buf, dtype, shape, order):
    if not isinstance(buf, (bytes, bytearray)) or not isinstance(dtype, np.dtype) or \
            dtype.hasobject or order not in ("C", "F") or not isinstance(shape, tuple):
        raise UnsafePickleError("refusing _frombuffer arguments other than (bytes, dtype, "
                                "shape, 'C' or 'F')")
    return _frombuffer(buf, dtype, shape, order)


def _checked_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.hasobject or \
            not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise UnsafePickleError("refusing scalar arguments other than (dtype, bytes of its "
                                "item size)")
    return scalar(dtype, data)


def _checked_encode(text, encoding="utf-8", errors="strict"):
    # Python 3 writes bytes for protocols 0-2 as _codecs.encode(text, 'latin1'): one byte
    # per character, so the result is no larger than its argument
    if not isinstance(text, str) or encoding not in _LATIN1 or errors != "strict":
        raise UnsafePickleError("refusing _codecs.encode arguments other than (str, 'latin1')")
    return codecs.encode(text, "latin1")


def _checked_bytes(*args):
    if args and not (len(args) == 1 and isinstance(args[0], (bytes, bytearray))):
        raise UnsafePickleError("refusing bytes() arguments other than none or bytes")
    return bytes(*args)


def _checked_bytearray(*args):
    if args and not (len(args) == 1 and isinstance(args[0], (bytes, bytearray))):
        raise UnsafePickleError("refusing bytearray() arguments other than none or bytes")
    return bytearray(*args)


_ALLOWED = {}
for _core in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_core}.multiarray", "_reconstruct")] = _checked_reconstruct
    _ALLOWED[(f"{_core}.multiarray", "scalar")] = _checked_scalar
    _ALLOWED[(f"{_core}.numeric", "_frombuffer")] = _checked_frombuffer
_ALLOWED.update({
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _checked_dtype,
    ("_codecs", "encode"): _checked_encode,
    ("__builtin__", "bytes"): _checked_bytes,
    ("builtins", "bytes"): _checked_bytes,
    ("__builtin__", "bytearray"): _checked_bytearray,
    ("builtins", "bytearray"): _checked_bytearray,
})
_CALLS = {key: fn.__name__ for key, fn in _ALLOWED.items() if key[1] != "ndarray"}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler for plain data and NumPy arrays: every other global is refused, and the
    allowed ones check their arguments. Use :func:`safe_load`, which bounds the work
    first."""

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise NUMPY.refuse_global(module, name) from None


# ----------------------------------------------------------------- the opcode simulation
class _Obj:
    """What the simulation knows of one object the unpickler would build."""

    __slots__ = ("kind", "weight", "depth", "shared", "value", "items")

    def __init__(self, kind, weight=1, depth=0, value=None, items=None):
        self.kind, self.weight, self.depth = kind, weight, depth
        self.shared, self.value, self.items = False, value, items


_OPAQUE = object()
_GLOBAL = object()  # tags a global's value, which no literal can equal
_SCALARS = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT",
            "BINFLOAT", "NONE", "NEWTRUE", "NEWFALSE"}
_STRINGS = {"STRING": "str2", "BINSTRING": "str2", "SHORT_BINSTRING": "str2",
            "UNICODE": "str", "BINUNICODE": "str", "SHORT_BINUNICODE": "str",
            "BINUNICODE8": "str", "BINBYTES": "bytes", "SHORT_BINBYTES": "bytes",
            "BINBYTES8": "bytes", "BYTEARRAY8": "bytes"}
_EMPTY = {"EMPTY_LIST": "list", "EMPTY_DICT": "dict", "EMPTY_SET": "set",
          "EMPTY_TUPLE": "tuple"}
_FROM_MARK = {"LIST": "list", "TUPLE": "tuple", "DICT": "dict", "FROZENSET": "set"}
_REFUSED = {"INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "EXT1", "EXT2", "EXT4", "PERSID",
            "BINPERSID", "NEXT_BUFFER", "READONLY_BUFFER"}
_DTYPES = ("dtype", "dtype_built")
_BYTESLIKE = ("bytes", "str2")  # str2: a Python 2 str, bytes under encoding='bytes'


def _value(o):
    """The Python value of a short literal or a tuple of them, else ``_OPAQUE``."""
    if o.kind == "tuple" and o.items is not None:
        vals = tuple(_value(i) for i in o.items)
        return _OPAQUE if any(v is _OPAQUE for v in vals) else vals
    return o.value if o.kind in ("scalar", "str", "str2", "bytes", "global") else _OPAQUE


def _contain(kind, items):
    depth = 1 + max((i.depth for i in items), default=0)
    if depth > MAX_DEPTH:
        raise UnsafePickleError(f"nesting deeper than {MAX_DEPTH} levels")
    return _Obj(kind, 1 + sum(i.weight for i in items), depth,
                items=list(items) if kind == "tuple" else None)


def _grow(target, items):
    if target.shared:
        raise UnsafePickleError("an object is changed after it was referenced again "
                                "(recursive or self-modifying structures are refused)")
    if target.kind not in ("list", "dict", "set"):
        raise UnsafePickleError(f"cannot add items to a {target.kind}")
    target.weight += sum(i.weight for i in items)
    target.depth = max(target.depth, 1 + max((i.depth for i in items), default=0))
    if target.depth > MAX_DEPTH:
        raise UnsafePickleError(f"nesting deeper than {MAX_DEPTH} levels")


def _reduce(func, args):
    """The object ``func(*args)`` makes, after checking that the call is one NumPy's or
    Python's own pickler writes."""
    if func.kind != "global" or func.value[1:] not in _CALLS:
        raise UnsafePickleError("refusing a call of anything but an allowed global")
    call = _CALLS[func.value[1:]]
    if args.kind != "tuple":
        raise UnsafePickleError(f"refusing {call} with arguments that are not a tuple")
    a = args.items
    v = _value(args)
    made = _contain("made", [args])
    if call == "_checked_dtype":
        d = None if v is _OPAQUE or not 1 <= len(v) <= 3 else _dtype_args_ok(*v)
        if d is None:
            raise UnsafePickleError(f"refusing dtype arguments {v if v is not _OPAQUE else ''}"
                                    f": only plain numeric, bool, bytes, str and datetime "
                                    f"dtypes are allowed")
        made.kind, made.value = "dtype", d
    elif call == "_checked_reconstruct":
        if v is _OPAQUE or len(v) != 3 or v[0] != (_GLOBAL, "numpy", "ndarray") or v[1] != (0,) or \
                v[2] not in (b"b", "b"):
            raise UnsafePickleError("refusing _reconstruct arguments other than (ndarray, "
                                    "(0,), b'b')")
        made.kind = "array"
    elif call == "_checked_frombuffer":
        if len(a) != 4 or a[0].kind not in _BYTESLIKE or a[1].kind not in _DTYPES or \
                _value(a[2]) is _OPAQUE or _value(a[3]) not in ("C", "F"):
            raise UnsafePickleError("refusing _frombuffer arguments other than (bytes, "
                                    "dtype, shape, 'C' or 'F')")
        made.kind = "array_built"
    elif call == "_checked_scalar":
        if len(a) != 2 or a[0].kind not in _DTYPES or a[1].kind not in _BYTESLIKE:
            raise UnsafePickleError("refusing scalar arguments other than (dtype, bytes)")
        made.kind = "scalar"
    elif call == "_checked_encode":
        if not 1 <= len(a) <= 2 or a[0].kind != "str" or \
                (len(a) == 2 and _value(a[1]) not in _LATIN1):
            raise UnsafePickleError("refusing _codecs.encode arguments other than (str, "
                                    "'latin1')")
        text = _value(a[0])
        made.kind = "bytes"
        made.value = None if text is _OPAQUE or text is None else text.encode("latin1")
    else:  # bytes(), bytearray()
        if len(a) > 1 or (a and a[0].kind not in _BYTESLIKE):
            raise UnsafePickleError(f"refusing {call[9:]}() arguments other than none or "
                                    f"bytes")
        made.kind = "bytes"
        made.value = b"" if not a else None
    return made


def _build(target, state):
    """``BUILD``: only NumPy's own states for an empty array or a dtype."""
    if target.shared:
        raise UnsafePickleError("an object is changed after it was referenced again")
    if target.kind == "dtype":
        v = _value(state)
        want = target.value.__reduce__()[2]
        orders = ("|",) if want[1] == "|" else ("<", ">", "=")
        if v is _OPAQUE or len(v) != len(want) or v[0] != want[0] or v[1] not in orders or \
                v[2:] != want[2:]:
            raise UnsafePickleError(f"refusing the dtype state {v if v is not _OPAQUE else ''}"
                                    f" (NumPy writes {want} for {target.value})")
        target.kind = "dtype_built"  # a dtype is built once
    elif target.kind == "array":
        s = state.items if state.kind == "tuple" else None
        if s is None or len(s) != 5 or _value(s[0]) != 1 or s[2].kind not in _DTYPES or \
                _value(s[3]) not in (0, 1) or s[4].kind not in _BYTESLIKE or \
                _value(s[1]) is _OPAQUE or not isinstance(_value(s[1]), tuple) or \
                not all(isinstance(n, int) and n >= 0 for n in _value(s[1])):
            raise UnsafePickleError("refusing an array state other than (1, shape, dtype, "
                                    "fortran, bytes)")
        target.kind = "array_built"
    else:
        raise UnsafePickleError(f"refusing to set the state of a {target.kind}")
    target.weight += state.weight


class Policy:
    """What one kind of file may hold: the globals it may name, the calls and ``BUILD`` states
    it may make, and its persistent ids. The default, :data:`NUMPY`, admits plain data and
    NumPy arrays; :mod:`svertka._torch_pickle` defines PyTorch's tensor checkpoints.

    ``globals`` is the set of ``(module, name)`` pairs the file may name; ``reduce(func,
    args)`` and ``build(target, state)`` check a call or a state on the simulation's
    records and return (``reduce``) or update (``build``) the record of the result;
    ``persistent(pid)`` checks a persistent id's record and returns the record of what it
    loads (None: persistent ids are refused). ``holds`` completes the refusal messages
    ("the file may hold only ...").
    """

    def __init__(self, globals, reduce, build, holds, persistent=None):
        self.globals, self.reduce, self.build = frozenset(globals), reduce, build
        self.holds, self.persistent = holds, persistent

    def refuse_global(self, module, attr):
        return UnsafePickleError(f"refusing to load global {module}.{attr}: the file may hold "
                                 f"only {self.holds}")


NUMPY = Policy(_ALLOWED, _reduce, _build,
               "dicts, lists, tuples, strings, bytes, numbers and NumPy arrays")


def check_pickle(data, policy=NUMPY):
    """Raise :class:`UnsafePickleError` (or another exception, for a malformed stream) when
    the pickle ``data`` does more than ``policy`` admits (by default plain data and NumPy
    arrays), or more work than its size allows (see the module's docstring)."""
    small_left = SMALL_DUP_FACTOR * len(data) + 65536
    large_left = len(data)
    stack, marks, memo = [], [], {}

    def pop_mark():
        start = marks.pop()
        items = stack[start:]
        del stack[start:]
        return items

    for op, arg, _pos in pickletools.genops(data):
        name = op.name
        if name in _SCALARS:
            value = {"NEWTRUE": True, "NEWFALSE": False}.get(name, arg)
            stack.append(_Obj("scalar", value=value))
        elif name in _STRINGS:
            kind = _STRINGS[name]
            stack.append(_Obj(kind, 1 + len(arg), value=arg if len(arg) <= _SHORT else None))
        elif name in _EMPTY:
            stack.append(_Obj(_EMPTY[name], items=[] if name == "EMPTY_TUPLE" else None))
        elif name == "MARK":
            marks.append(len(stack))
        elif name in _FROM_MARK:
            stack.append(_contain(_FROM_MARK[name], pop_mark()))
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            items = stack[-n:]
            if len(items) != n:
                raise pickle.UnpicklingError("stack underflow")
            del stack[-n:]
            stack.append(_contain("tuple", items))
        elif name == "APPEND":
            item = stack.pop()
            _grow(stack[-1], [item])
        elif name in ("APPENDS", "SETITEMS", "ADDITEMS"):
            items = pop_mark()
            _grow(stack[-1], items)
        elif name == "SETITEM":
            items = [stack.pop(), stack.pop()]
            _grow(stack[-1], items)
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = stack[-1]
        elif name == "MEMOIZE":
            memo[len(memo)] = stack[-1]
        elif name in ("GET", "BINGET", "LONG_BINGET", "DUP"):
            o = memo[arg] if name != "DUP" else stack[-1]
            if o.weight <= LARGE_WEIGHT:
                small_left -= o.weight
            else:
                large_left -= o.weight
            if small_left < 0 or large_left < 0:
                raise UnsafePickleError(
                    f"the pickle refers to its objects again and again, describing more "
                    f"than {SMALL_DUP_FACTOR + 2} times its {len(data)} bytes of data (a "
                    f"'billion laughs' file?)")
            o.shared = True
            stack.append(o)
        elif name == "POP":
            stack.pop()
        elif name == "POP_MARK":
            pop_mark()
        elif name == "GLOBAL":
            module, _, attr = arg.partition(" ")
            stack.append(_Obj("global", value=(_GLOBAL, module, attr)))
        elif name == "STACK_GLOBAL":
            attr, module = stack.pop(), stack.pop()
            stack.append(_Obj("global", value=(_GLOBAL, _value(module), _value(attr))))
        elif name == "REDUCE":
            args = stack.pop()
            stack.append(policy.reduce(stack.pop(), args))
        elif name == "BUILD":
            state = stack.pop()
            policy.build(stack[-1], state)
        elif name == "BINPERSID" and policy.persistent is not None:
            stack.append(policy.persistent(stack.pop()))
        elif name == "STOP":
            break
        elif name in ("PROTO", "FRAME"):
            pass
        elif name in _REFUSED:
            raise UnsafePickleError(f"refusing the opcode {name}: the file may hold only "
                                    f"{policy.holds}")
        else:  # pragma: no cover - an opcode newer than this code
            raise UnsafePickleError(f"unknown pickle opcode {name}")
        if name == "GLOBAL" or name == "STACK_GLOBAL":
            _, module, attr = stack[-1].value
            if (module, attr) not in policy.globals:
                raise policy.refuse_global(module, attr)


def safe_load(data, encoding="bytes"):
    """Unpickle ``data`` (bytes) holding plain data and NumPy arrays only, after
    :func:`check_pickle` has bounded its work. Raises :class:`UnsafePickleError` for what
    is refused, other exceptions for a malformed stream."""
    check_pickle(data)
    return RestrictedUnpickler(io.BytesIO(data), encoding=encoding).load()
