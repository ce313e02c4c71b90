"""Linear algebra ops: ``einsum`` (which also gives ``dot`` and ``outer``), ``tril``/``triu``.

``mm``/``bmm`` use ``svertka.ops.matmul.MatMul``.
"""

from __future__ import annotations

import numpy as np

from svertka.autograd.function import Function


def parse_equation(equation, ndims):
    """Split an einsum equation into the operands' subscripts and the output's.

    Without ``->`` the output is the letters that occur exactly once, in alphabetical order
    (NumPy's and torch's rule). Raises ``ValueError`` (message without the function name) for
    ``...``, a wrong number of operands or a subscript count that differs from an operand's
    number of dimensions.
    """
    eq = equation.replace(" ", "")
    if "." in eq:
        raise ValueError("ellipsis ('...') in the equation is not supported, got "
                         f"equation={equation!r}")
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(ndims):
        raise ValueError(f"the equation has {len(ins)} operand(s) but {len(ndims)} were given, "
                         f"got equation={equation!r}")
    for k, (s, nd) in enumerate(zip(ins, ndims)):
        if not s.isalpha() and s:
            raise ValueError(f"subscripts must be letters, got equation={equation!r}")
        if len(s) != nd:
            raise ValueError(f"operand {k} has {nd} dimensions but the equation gives it "
                             f"{len(s)} subscripts ({s!r}), got equation={equation!r}")
    if not arrow:
        letters = "".join(ins)
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    else:
        if not out.isalpha() and out:
            raise ValueError(f"subscripts must be letters, got equation={equation!r}")
        if len(set(out)) != len(out):
            raise ValueError(f"output subscript repeated in equation={equation!r}")
        missing = set(out) - set("".join(ins))
        if missing:
            raise ValueError(f"output subscript {sorted(missing)[0]!r} does not appear in the "
                             f"operands, got equation={equation!r}")
    return ins, out


class Einsum(Function):
    """``np.einsum(equation, *operands)`` (equation already checked, explicit ``->``).

    The gradient of operand ``k`` is an einsum of ``gy`` with the other operands, producing
    ``k``'s subscripts: letters summed only inside operand ``k`` (absent from the output and
    the others) are broadcast back, and repeated letters (a diagonal) are written back onto the
    diagonal.
    """

    @staticmethod
    def forward(ctx, *operands, ins, out):
        ctx.ins, ctx.out = ins, out
        ctx.save_for_backward(*operands)
        return np.asarray(np.einsum(",".join(ins) + "->" + out, *operands, optimize=True))

    @staticmethod
    def backward(ctx, gy):
        ops = ctx.saved_tensors
        ins, out = ctx.ins, ctx.out
        sizes = {}
        for s, a in zip(ins, ops):
            sizes.update(zip(s, np.shape(a)))
        grads = []
        for k, (s, a) in enumerate(zip(ins, ops)):
            if not ctx.needs_input_grad[k]:
                grads.append(None)
                continue
            others = [(t, b) for j, (t, b) in enumerate(zip(ins, ops)) if j != k]
            avail = set(out).union(*(set(t) for t, _ in others))
            unique = "".join(dict.fromkeys(s))
            keep = "".join(c for c in unique if c in avail)
            eq = ",".join([out] + [t for t, _ in others]) + "->" + keep
            g = np.einsum(eq, gy, *(b for _, b in others), optimize=True)
            # letters summed only in this operand: broadcast back
            g = g.reshape([sizes[c] if c in keep else 1 for c in unique])
            g = np.broadcast_to(g, [sizes[c] for c in unique])
            if len(unique) != len(s):  # a repeated letter: the gradient lives on the diagonal
                full = np.zeros(np.shape(a), dtype=gy.dtype)
                ar = {}
                for q, c in enumerate(unique):
                    shape = [1] * len(unique)
                    shape[q] = sizes[c]
                    ar[c] = np.arange(sizes[c]).reshape(shape)
                full[tuple(ar[c] for c in s)] = g
                g = full
            grads.append(np.array(g, dtype=gy.dtype, order="C"))  # writable, keeps 0-d
        return tuple(grads) if len(grads) > 1 else grads[0]

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with Einsum nodes: the gradient of operand ``k`` is an einsum of
        ``gy`` and the other operands; a letter repeated in ``k`` (a diagonal) is written back
        by one more einsum with a constant 0/1 diagonal tensor."""
        from svertka.ops.movement import Expand, Reshape

        ops = ctx.saved_graph()
        ins, out = ctx.ins, ctx.out
        sizes = {}
        for s, a in zip(ins, ops):
            sizes.update(zip(s, a.shape))
        used = set(out).union(*(set(s) for s in ins))
        fresh = (c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used)
        grads = []
        for k, s in enumerate(ins):
            if not ctx.needs_input_grad[k]:
                grads.append(None)
                continue
            others = [(t, b) for j, (t, b) in enumerate(zip(ins, ops)) if j != k]
            avail = set(out).union(*(set(t) for t, _ in others))
            unique = "".join(dict.fromkeys(s))
            keep = "".join(c for c in unique if c in avail)
            g = Einsum.apply(gy, *(b for _, b in others), ins=[out] + [t for t, _ in others],
                             out=keep)
            g = Reshape.apply(g, shape=tuple(sizes[c] if c in keep else 1 for c in unique))
            g = Expand.apply(g, shape=tuple(sizes[c] for c in unique))
            if len(unique) != len(s):
                # s = "iji": write g[i, j] onto the diagonal as g[i, j] * delta[i, k], with a
                # fresh letter k for each repeat (einsum outputs distinct letters); the result
                # has the operand's shape, and its layout is the operand's
                seen, letters, delta_sub, delta_shape = set(), "", "", []
                for c in s:
                    if c in seen:
                        f = next(fresh)
                        letters += f
                        delta_sub += c + f
                        delta_shape.append(sizes[c])
                    else:
                        seen.add(c)
                        letters += c
                delta = np.ones((), dtype=bool)
                for q in range(0, len(delta_sub), 2):
                    n = sizes[delta_sub[q]]
                    delta = np.multiply.outer(delta, np.eye(n, dtype=bool))
                g = Einsum.apply(g, delta.astype(gy._data.dtype), ins=[unique, delta_sub],
                                 out=letters)
            grads.append(g)
        return tuple(grads) if len(grads) > 1 else grads[0]


class Tri(Function):
    """``np.tril(x, k)`` (``upper=False``) or ``np.triu(x, k)`` over the last two dims."""

    @staticmethod
    def forward(ctx, x, diagonal, upper):
        ctx.diagonal, ctx.upper = diagonal, upper
        return (np.triu if upper else np.tril)(x, diagonal)

    @staticmethod
    def backward(ctx, gy):
        return (np.triu if ctx.upper else np.tril)(gy, ctx.diagonal)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        return Tri.apply(gy, diagonal=ctx.diagonal, upper=ctx.upper)
