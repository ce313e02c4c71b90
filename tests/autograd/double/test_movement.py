"""Second derivatives of the movement, indexing and padding ops against torch (float64).

These ops are linear, so each case squares the op's output (``y * y``): the first gradient
then depends on the input through the op itself and through its recorded backward, and the
second derivative (w.r.t. the input and the upstream gradient) checks both.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests._oracle import compare_double_backward

import svertka
import svertka.nn.functional as F


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _sq(op):
    def f(*xs):
        y = op(*xs)
        return y * y
    return f


_IDX = np.array([[0, 2, 2], [1, 0, 1]])

# (id, op on a svertka or torch tensor, input shape): one function that runs under both
_UNARY = [
    ("permute", lambda x: x.permute(2, 0, 1), (2, 3, 4)),
    ("transpose", lambda x: x.transpose(0, 2), (2, 3, 4)),
    ("repeat", lambda x: x.repeat(2, 1, 3), (3, 2)),
    ("flip", lambda x: x.flip(0, 2), (2, 3, 4)),
    ("getitem_basic", lambda x: x[1:, None, ::2, 1], (3, 4, 2)),
    ("getitem_ints_repeated", lambda x: x[[0, 2, 0, 0], 1:], (3, 4)),
    ("getitem_two_arrays", lambda x: x[[0, 2, 0], [1, 1, 1]], (3, 4)),
    ("getitem_bool_mask", lambda x: x[x > 0], (3, 4)),
    ("chunk", lambda x: x.chunk(2, dim=1)[1], (3, 4)),
    ("unbind", lambda x: x.unbind(1)[2], (3, 4)),
]


@pytest.mark.parametrize("op,shape", [c[1:] for c in _UNARY], ids=[c[0] for c in _UNARY])
def test_movement_op_second_derivatives_match_torch(op, shape):
    compare_double_backward(_sq(op), _sq(op), _r(*shape))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_stack_second_derivatives_match_torch(dim):
    a, b = _r(2, 3), _r(2, 3, seed=1)
    compare_double_backward(_sq(lambda x, y: svertka.cat([x, y, x], dim=dim)),
                            _sq(lambda x, y: torch.cat([x, y, x], dim=dim)), a, b)
    compare_double_backward(_sq(lambda x, y: svertka.stack([x, y], dim=dim)),
                            _sq(lambda x, y: torch.stack([x, y], dim=dim)), a, b)


def test_cat_second_derivatives_match_torch_with_a_constant_part():
    compare_double_backward(_sq(lambda x, y: svertka.cat([x, y], dim=1)),
                            _sq(lambda x, y: torch.cat([x, y], dim=1)),
                            _r(2, 3), _r(2, 2, seed=1), grad=[True, False])


@pytest.mark.parametrize("index", [(slice(None), 1), ([0, 2],), (np.array([[True, False],
                                                                        [False, True],
                                                                        [True, True]]),)],
                         ids=["basic", "ints", "mask"])
def test_setitem_second_derivatives_match_torch(index):
    index = index[0] if len(index) == 1 else index

    def sv(x, v):
        y = x * 1.0
        y[index] = v
        return y * y

    def th(x, v):
        y = x * 1.0
        y[torch.as_tensor(index) if isinstance(index, np.ndarray) else index] = v
        return y * y

    x = _r(3, 2)
    v = _r(*np.asarray(x[index]).shape[1:] or (1,), seed=1)   # broadcasts over the rows
    compare_double_backward(sv, th, x, v)


def test_gather_second_derivatives_match_torch():
    idx = _IDX
    compare_double_backward(
        _sq(lambda x: x.gather(1, svertka.tensor(idx))),
        _sq(lambda x: x.gather(1, torch.tensor(idx))), _r(2, 4))


@pytest.mark.parametrize("reduce", ["scatter", "scatter_add"])
@pytest.mark.parametrize("src", [(2, 2), (3, 3)], ids=["src_of_index_shape", "larger_src"])
def test_scatter_second_derivatives_match_torch(reduce, src):
    idx = np.array([[0, 2], [1, 3]])     # no repeats: scatter's result is then defined

    def sv(x, s):
        return getattr(x, reduce)(0, svertka.tensor(idx), s)

    def th(x, s):
        # torch's own double backward fails for a src larger than the index (a shape error
        # in ScatterBackward0): its used block is passed instead, the same function
        return getattr(x, reduce)(0, torch.tensor(idx), s[:2, :2])

    compare_double_backward(_sq(sv), _sq(th), _r(4, 4), _r(*src, seed=1))


def test_index_select_second_derivatives_match_torch():
    idx = np.array([2, 0, 2, 1])
    compare_double_backward(
        _sq(lambda x: x.index_select(1, svertka.tensor(idx))),
        _sq(lambda x: x.index_select(1, torch.tensor(idx))), _r(2, 3, 2))


@pytest.mark.parametrize("padding_idx", [None, 1, -3])
def test_embedding_second_derivatives_match_torch(padding_idx):
    idx = np.array([[1, 3, 1], [0, 1, 2]])
    compare_double_backward(
        _sq(lambda w: F.embedding(svertka.tensor(idx), w, padding_idx=padding_idx)),
        _sq(lambda w: torch.nn.functional.embedding(torch.tensor(idx), w,
                                                    padding_idx=padding_idx)), _r(4, 2))


_PADS = [(m, p) for m in ("constant", "reflect", "replicate", "circular")
         for p in ((2, 1), (1, 2, 2, 1), (1, -1, -1, 2))
         if not (m == "reflect" and min(p) < 0)]    # torch refuses a negative reflect pad


@pytest.mark.parametrize("mode,pad", _PADS, ids=[f"{m}-{p}" for m, p in _PADS])
def test_pad_second_derivatives_match_torch(mode, pad):
    x = _r(1, 2, 3, 4) if len(pad) == 4 else _r(2, 2, 4)
    value = 0.5 if mode == "constant" else None
    compare_double_backward(_sq(lambda a: F.pad(a, pad, mode=mode, value=value)),
                            _sq(lambda a: torch.nn.functional.pad(a, pad, mode=mode,
                                                                  value=value)), x)


def _third(mod, f, x):
    """``d/dx sum(h^2)`` with ``h = d/dx sum(g^2)``, ``g = d/dx sum(f(x)^3)``: the recorded
    backward of each op's backward op (IndexAccumulate, PadBackward) runs in the middle step."""
    y = f(x)
    (g,) = mod.autograd.grad((y * y * y).sum(), x, create_graph=True)
    (h,) = mod.autograd.grad((g * g).sum(), x, create_graph=True)
    return mod.autograd.grad((h * h).sum(), x)[0]


def _third_op(name, m):
    """The op ``name`` for the library ``m`` (svertka or torch)."""
    if name == "getitem_repeated":
        return lambda x: x[[0, 2, 0]]
    if name == "gather":
        return lambda x: x.gather(1, m.tensor(np.array([[0, 2], [1, 1], [2, 0]])))
    if name == "index_select":
        return lambda x: x.index_select(0, m.tensor(np.array([2, 0, 2])))
    pad = F.pad if m is svertka else TF.pad
    return lambda x: pad(x[None], (2, 1), mode=name[4:])[0]


@pytest.mark.parametrize("name", ["getitem_repeated", "gather", "index_select", "pad_constant",
                                  "pad_reflect", "pad_replicate", "pad_circular"])
def test_movement_third_derivatives_match_torch(name):
    x = _r(3, 3)
    a = _third(svertka, _third_op(name, svertka), svertka.tensor(x, requires_grad=True))
    b = _third(torch, _third_op(name, torch), torch.tensor(x, requires_grad=True))
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9)


def test_module_backward_hook_node_second_derivatives_match_torch():
    # a module's full backward hook puts identity nodes around it; they record their backward
    def run(mod, nn):
        class Square(nn.Module):
            def forward(self, x):
                return x * x

        seen = []
        m = Square()
        m.register_full_backward_hook(lambda mod_, gin, gout: seen.append(gout[0].shape))
        x = mod.tensor(_r(2, 3), requires_grad=True)
        y = m(x * 1.0)
        (g,) = mod.autograd.grad((y * y).sum(), x, create_graph=True)
        fired = len(seen)                     # the hook ran in the create_graph pass
        (h,) = mod.autograd.grad((g * g).sum(), x)
        return g.detach().numpy(), h.numpy(), fired

    ga, ha, na = run(svertka, svertka.nn)
    gb, hb, nb = run(torch, torch.nn)
    np.testing.assert_allclose(ga, gb, rtol=1e-12)
    np.testing.assert_allclose(ha, hb, rtol=1e-12)
    assert na == nb == 1
