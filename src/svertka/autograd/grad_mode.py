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
