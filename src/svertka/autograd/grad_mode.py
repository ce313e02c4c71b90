"""`no_grad` and `enable_grad`: switch graph recording off and on (context managers, decorators)."""

from __future__ import annotations

import functools

_enabled = True


def is_grad_enabled():
    """Whether operations record the graph for backward now."""
    return _enabled


def set_grad_enabled(mode):
    """Turn gradient recording on (``True``) or off for the code that follows.

    Unlike torch's, it is a plain function, not also a context manager: use ``no_grad()`` /
    ``enable_grad()`` for a block.
    """
    global _enabled
    _enabled = bool(mode)


class _GradMode:
    mode = True

    def __enter__(self):
        self._prev = is_grad_enabled()
        set_grad_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Context manager and decorator: operations inside record no graph (inference, updates).

    Examples::

        >>> import svertka
        >>> x = svertka.ones(2, requires_grad=True)
        >>> with svertka.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """
    mode = False


class enable_grad(_GradMode):
    """Context manager and decorator: record the graph again inside a ``no_grad`` block."""
    mode = True


_inference = False


def is_inference_mode_enabled():
    """Whether an ``inference_mode`` block is in force."""
    return _inference


class inference_mode:
    """Context manager and decorator: ``no_grad`` for inference, as ``torch.inference_mode``.

    Inside, no graph is recorded and the tensors the operations make are marked as inference
    tensors (``Tensor.is_inference()``); as in torch, ``requires_grad_()`` on one of them
    outside the block raises (clone it first).

    Args:
        mode (bool): ``False`` makes the block do nothing (default ``True``).

    Departure from torch: torch also refuses to save an inference tensor for a later backward
    (an inference tensor used with a parameter in training); svertka records such an op, the
    tensor then being a constant, as any tensor that does not require grad.

    Examples::

        >>> import svertka
        >>> x = svertka.ones(2, requires_grad=True)
        >>> with svertka.inference_mode():
        ...     y = x * 2
        >>> y.requires_grad, y.is_inference()
        (False, True)
    """

    def __init__(self, mode=True):
        if callable(mode) and not isinstance(mode, bool):
            raise TypeError("inference_mode: use @inference_mode() (with parentheses) as a "
                            "decorator, got a function as the mode")
        self.mode = bool(mode)

    def __enter__(self):
        global _inference
        self._prev = (is_grad_enabled(), _inference)
        if self.mode:
            set_grad_enabled(False)
            _inference = True
        return self

    def __exit__(self, *exc):
        global _inference
        set_grad_enabled(self._prev[0])
        _inference = self._prev[1]
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(self.mode):
                return fn(*args, **kwargs)
        return wrapper
