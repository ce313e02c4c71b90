"""svertka: a convolutional-neural-network framework in readable NumPy with PyTorch's API.

``import svertka as torch``-style code works for the parts of torch svertka has: tensors with
autograd, ``svertka.nn`` layers and ``svertka.nn.functional``, optimizers, data loading.
"""

__version__ = "0.1.0"

from svertka import _malloc  # noqa: E402

_malloc.tune_at_import()     # keep freed activations in the heap (see svertka/_malloc.py)

from svertka import autograd, nn, optim  # noqa: E402
from svertka._creation import (  # noqa: E402
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from svertka._device import cuda, device  # noqa: E402
from svertka._dtype import (  # noqa: E402
    bool_,
    dtype,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from svertka._functions import *  # noqa: E402,F401,F403
from svertka._functions import __all__ as _function_names  # noqa: E402
from svertka._tensor_ops import cat, chunk, concat, concatenate, split, stack  # noqa: E402
from svertka._threads import get_num_threads, set_num_threads  # noqa: E402
from svertka.autograd.grad_mode import (  # noqa: E402
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from svertka.random import get_rng_state, initial_seed, manual_seed, set_rng_state  # noqa: E402
from svertka.serialization import CheckpointError, load, save  # noqa: E402
from svertka.tensor import Size, Tensor, matmul, maximum, minimum, where  # noqa: E402

# torch's aliases; defined last because they shadow builtins inside this module
half = float16
float = float32  # noqa: A001
double = float64
short = int16
int = int32  # noqa: A001
long = int64
bool = bool_  # noqa: A001

__all__ = [
    "Tensor", "Size", "tensor", "as_tensor", "from_numpy", "zeros", "ones", "empty", "full",
    "arange", "linspace", "eye", "rand", "randn", "randint", "randperm", "zeros_like",
    "ones_like", "empty_like", "full_like", "rand_like", "randn_like", "dtype", "float16",
    "float32", "float64", "uint8", "int8", "int16", "int32", "int64", "bool", "half", "float",
    "double", "short", "int", "long", "get_default_dtype", "set_default_dtype", "no_grad",
    "enable_grad", "is_grad_enabled", "set_grad_enabled", "manual_seed", "initial_seed",
    "get_rng_state", "set_rng_state", "cat", "concat", "concatenate", "stack", "split", "chunk",
    "where", "maximum", "minimum", "matmul", "autograd", "nn", "optim", "save", "load", "device",
    "cuda", "inference_mode", "is_inference_mode_enabled", "set_num_threads", "get_num_threads",
    "CheckpointError", *_function_names,
]

_LAZY = ("data", "models", "analysis", "vision", "viz", "train", "backends", "utils",
         "safetensors")


def __getattr__(name):
    # the larger subpackages load on first use: ``svertka.models.resnet18()`` works after a plain
    # ``import svertka`` without making every import pay for them
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"svertka.{name}")
    raise AttributeError(f"module 'svertka' has no attribute {name!r}")
