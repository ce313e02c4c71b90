"""The docstrings of Tensor's rarer methods, kept apart from tensor.py (torch's ``_tensor_docs``).

tensor.py's "more ops" section (``topk``, ``gather``, ``scatter``, ``unique``, ...) is one
delegating line per method; their documentation (Args, Shape, Examples) lives here, with the
long one of ``register_hook``, and :func:`attach` sets each as the method's ``__doc__`` when
tensor.py is imported. ``help(Tensor.topk)`` shows it as if it were written in place, and the
examples run as doctests of tensor.py. The strings keep the indentation they would have there.
This module imports nothing.
"""

from __future__ import annotations

DOCS = {
    "register_hook":
        """Register ``hook(grad) -> Tensor or None``, called with this tensor's gradient.

        The hook runs each time a gradient with respect to this tensor is computed (the sum
        of all contributions, before it is accumulated into a leaf's ``.grad`` or passed on);
        a non-None return replaces the gradient. Works on leaves and non-leaves.

        Returns:
            A handle whose ``remove()`` unregisters the hook (also a context manager).

        Examples::

            >>> import svertka
            >>> x = svertka.tensor([1.0, 2.0], requires_grad=True)
            >>> h = x.register_hook(lambda g: g * 2)
            >>> (x * 3).sum().backward()
            >>> x.grad
            tensor([6., 6.])
            >>> h.remove()
        """,
    "topk":
        """The ``k`` largest (or smallest) elements along ``dim``: ``(values, indices)``.

        Args:
            k: how many elements, ``0 <= k <= size of dim``.
            dim: the dimension (default the last).
            largest: the largest (default) or the smallest elements.
            sorted: ignored: the elements always come in sorted order.

        Shape:
            input ``(*, n, *)``, values and indices ``(*, k, *)``; the gradient of the values
            flows back to the picked positions.

        Examples::

            >>> import svertka
            >>> svertka.tensor([1., 5., 3., 4.]).topk(2)
            (tensor([5., 4.]), tensor([1, 3]))
        """,
    "sort":
        """Sorted values along ``dim`` and their positions: ``(values, indices)``.

        Args:
            dim: the dimension (default the last).
            descending: largest first.
            stable: ignored: the sort is always stable (equal values keep their order).

        NaN sorts as the largest value, as in torch.

        Examples::

            >>> import svertka
            >>> svertka.tensor([3., 1., 2.]).sort(descending=True)
            (tensor([3., 2., 1.]), tensor([0, 2, 1]))
        """,
    "argsort":
        """The indices that sort ``self`` along ``dim`` (``sort(...)[1]``).

        Examples::

            >>> import svertka
            >>> svertka.tensor([3., 1., 2.]).argsort()
            tensor([1, 2, 0])
        """,
    "gather":
        """``out[i][j] = self[i][index[i][j]]`` (``dim=1``), as ``torch.gather``.

        Args:
            dim: the dimension indexed by ``index``.
            index: an int tensor with as many dims as ``self``, no larger than ``self`` in the
                other dims, values in ``[0, self.size(dim))``.

        Shape:
            output: ``index``'s shape.

        Examples::

            >>> import svertka
            >>> x = svertka.tensor([[1., 2.], [3., 4.]])
            >>> x.gather(1, svertka.tensor([[1, 1], [0, 1]]))
            tensor([[2., 2.],
                    [3., 4.]])
        """,
    "scatter":
        """Out of place ``self[i][index[i][j]] = src[i][j]`` (``dim=1``).

        Args:
            dim, index: as in :meth:`gather`; ``index`` no larger than ``self`` and ``src``.
            src: a tensor or a number (``value=`` also accepted).
            reduce: ``None`` (replace) or ``'add'`` (as :meth:`scatter_add`).

        Duplicate indices: one of the values wins, unspecified (as in torch). Gradients flow to
        ``self`` (except the overwritten places) and to ``src``.

        Examples::

            >>> import svertka
            >>> svertka.zeros(2, 3).scatter(1, svertka.tensor([[2], [0]]), 1.0)
            tensor([[0., 0., 1.],
                    [1., 0., 0.]])
        """,
    "scatter_add":
        """Out of place ``self[i][index[i][j]] += src[i][j]`` (``dim=1``); duplicates add up.

        Examples::

            >>> import svertka
            >>> svertka.zeros(3).scatter_add(0, svertka.tensor([0, 2, 0]), svertka.ones(3))
            tensor([2., 0., 1.])
        """,
    "scatter_":
        """In-place :meth:`scatter` (``zeros.scatter_(1, labels[:, None], 1.0)`` one-hot).""",
    "scatter_add_":
        """In-place :meth:`scatter_add`.""",
    "index_select":
        """The slices ``index`` (a 0-D or 1-D int tensor) of ``self`` along ``dim``.

        Examples::

            >>> import svertka
            >>> svertka.arange(6.).reshape(2, 3).index_select(1, svertka.tensor([2, 0]))
            tensor([[2., 0.],
                    [5., 3.]])
        """,
    "masked_fill_":
        """In-place :meth:`masked_fill`; return self.""",
    "nonzero":
        """The indices of the non-zero elements: ``(n, ndim)`` int64, or one 1-D tensor per
        dim with ``as_tuple=True``. Not differentiable.

        Examples::

            >>> import svertka
            >>> svertka.tensor([[0, 1], [2, 0]]).nonzero()
            tensor([[0, 1],
                    [1, 0]])
        """,
    "cumsum":
        """Running sum along ``dim`` (integers and bools sum as int64, as in torch).

        Examples::

            >>> import svertka
            >>> svertka.tensor([1., 2., 3.]).cumsum(0)
            tensor([1., 3., 6.])
        """,
    "cumprod":
        """Running product along ``dim``; the gradient is exact with zeros in the input.

        Examples::

            >>> import svertka
            >>> svertka.tensor([1., 2., 0., 3.]).cumprod(0)
            tensor([1., 2., 0., 0.])
        """,
    "tril":
        """The lower triangle of the last two dims (elements with ``col - row <= diagonal``).

        Examples::

            >>> import svertka
            >>> svertka.ones(2, 3).tril()
            tensor([[1., 0., 0.],
                    [1., 1., 0.]])
        """,
    "triu":
        """The upper triangle of the last two dims (``col - row >= diagonal``).""",
    "mm":
        """Matrix product of 2-D tensors ``(n, m) @ (m, p)`` (no broadcasting).

        Examples::

            >>> import svertka
            >>> svertka.ones(2, 3).mm(svertka.ones(3, 4)).shape
            svertka.Size([2, 4])
        """,
    "bmm":
        """Batched matrix product ``(b, n, m) @ (b, m, p)`` (no broadcasting).""",
    "dot":
        """Inner product of two 1-D tensors of the same size.

        Examples::

            >>> import svertka
            >>> svertka.tensor([1., 2.]).dot(svertka.tensor([3., 4.]))
            tensor(11.)
        """,
    "outer":
        """Outer product of two 1-D tensors: ``out[i, j] = self[i] * vec2[j]``.""",
    "log1p":
        """``log(1 + x)``, accurate for small ``x``.""",
    "expm1":
        """``exp(x) - 1``, accurate for small ``x``.""",
    "erf":
        """The error function, elementwise.""",
    "atan2":
        """The angle of the point ``(other, self)``: ``atan(self / other)`` in its quadrant.""",
    "isclose":
        """A bool tensor, True where ``|self - other| <= atol + rtol * |other|``.""",
    "new_zeros":
        """A tensor of zeros of ``size``, with this tensor's dtype unless ``dtype`` is given.""",
    "new_ones":
        """A tensor of ones of ``size``, with this tensor's dtype unless ``dtype`` is given.""",
    "new_empty":
        """An uninitialised tensor of ``size``, with this tensor's dtype unless given.""",
    "new_full":
        """A tensor of ``size`` filled with ``fill_value``, with this tensor's dtype unless
        given.""",
    "new_tensor":
        """A new leaf tensor copying ``data``, with this tensor's dtype unless given.""",
    "unique":
        """The distinct values (always sorted), optionally the inverse indices and counts;
        with ``dim``, the distinct slices along it. Not differentiable.

        Examples::

            >>> import svertka
            >>> svertka.tensor([2, 1, 2]).unique(return_counts=True)
            (tensor([1, 2]), tensor([1, 2]))
        """,
    "bincount":
        """Counts of each value of a 1-D non-negative int tensor (sums of ``weights``).

        Examples::

            >>> import svertka
            >>> svertka.tensor([0, 2, 2]).bincount()
            tensor([1, 0, 2])
        """,
    "bernoulli":
        """0/1 draws with probabilities ``self`` (in [0, 1]), from ``svertka.random``.""",
    "multinomial":
        """Indices drawn from the rows of ``self`` (non-negative weights, not necessarily
        summing to 1), ``num_samples`` per row; without replacement each index at most once.

        Examples::

            >>> import svertka
            >>> svertka.tensor([0., 1., 0.]).multinomial(2, replacement=True)
            tensor([1, 1])
        """,
}


def attach(cls):
    """Set ``cls.<name>.__doc__`` for every entry of :data:`DOCS` (tensor.py calls it once, on
    Tensor); a method that has a docstring of its own already raises RuntimeError, so that one
    text never hides another."""
    for name, doc in DOCS.items():
        method = cls.__dict__[name]
        if method.__doc__ is not None:
            raise RuntimeError(f"_tensor_docs: Tensor.{name} is documented in tensor.py and "
                               f"in _tensor_docs.py; keep one")
        method.__doc__ = doc
