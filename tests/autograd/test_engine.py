"""The backward engine: accumulation, graph freeing, version counters, grad modes, deep graphs."""

import numpy as np
import pytest
import torch
from tests._oracle import assert_close

import svertka
from svertka.autograd import Function


def test_backward_accumulates_into_leaf_across_calls():
    x = svertka.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0, 9.0]


def test_backward_sums_gradients_of_a_reused_tensor():
    # micrograd's lesson: a tensor used twice receives both gradients
    x = svertka.tensor(3.0, requires_grad=True)
    y = x * x + x
    y.backward()
    assert x.grad.item() == 7.0


def test_backward_of_diamond_graph_matches_torch():
    a = np.random.default_rng(0).standard_normal((3, 4))
    xs, xt = svertka.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    for x, lib in ((xs, svertka), (xt, torch)):
        h = lib.tanh(x)
        (lib.exp(h) * h.sin() + h.sum(1, keepdim=True)).sum().backward()
    assert_close(xs.grad, xt.grad)


def test_backward_non_scalar_requires_gradient_argument():
    y = svertka.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"grad can be implicitly created only for scalar "
                                           r"outputs; this tensor has shape \(2, 3\)"):
        y.backward()


def test_backward_gradient_shape_mismatch_is_an_error():
    y = svertka.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\), but the tensor has "
                                           r"shape \(2, 3\)"):
        y.backward(svertka.ones(3))


def test_backward_on_tensor_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        svertka.ones(2).sum().backward()


def test_second_backward_through_freed_graph_is_an_error():
    x = svertka.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = svertka.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_thousand_layer_chain_does_not_hit_recursion_limit():
    x = svertka.tensor([0.5], requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0001 + 0.0
    y.sum().backward()
    assert abs(x.grad.item() - 1.0001 ** 3000) < 1e-3


def test_inplace_change_of_saved_input_is_detected():
    a = svertka.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = a * 2           # b is not a leaf
    c = b.exp()         # Exp saves its output, not b; Mul below saves b
    d = (b * b).sum()
    with svertka.no_grad():
        b.add_(1)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: it is at "
                                           r"version 1; expected version 0"):
        d.backward()
    c.sum().backward()  # Exp did not save b: still fine


def test_inplace_change_of_saved_output_is_detected():
    a = svertka.tensor([1.0, 2.0], requires_grad=True)
    y = a.exp()
    with svertka.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_inplace_change_through_a_view_is_detected():
    a = svertka.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = a * 1
    d = (b * b).sum()
    with svertka.no_grad():
        b[0].zero_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        d.backward()


def test_inplace_on_leaf_requiring_grad_needs_no_grad():
    w = svertka.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w.add_(1)
    with svertka.no_grad():
        w.add_(1)
        w.mul_(2)
    assert w.tolist() == [4.0, 4.0, 4.0]
    assert w.requires_grad and w.is_leaf


def test_inplace_ops_record_gradients_like_torch():
    a = np.random.default_rng(1).standard_normal(4)
    grads = []
    for lib in (svertka, torch):
        x = lib.tensor(a, requires_grad=True)
        y = x * 2
        y.mul_(x)
        y.add_(x, alpha=3)
        y.sum().backward()
        grads.append(x.grad)
    assert_close(grads[0], grads[1])


def test_no_grad_context_and_decorator():
    x = svertka.ones(2, requires_grad=True)
    with svertka.no_grad():
        assert not (x * 2).requires_grad
        with svertka.enable_grad():
            assert (x * 2).requires_grad

    @svertka.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert svertka.is_grad_enabled()


def test_no_grad_restores_mode_after_exception():
    with pytest.raises(KeyError):
        with svertka.no_grad():
            raise KeyError
    assert svertka.is_grad_enabled()


def test_detach_shares_memory_and_stops_gradient():
    x = svertka.ones(3, requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    with svertka.no_grad():
        x.mul_(3)
    assert d.tolist() == [3.0, 3.0, 3.0]
    y = (x * d).sum()
    y.backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0]


def test_is_leaf_grad_fn_and_requires_grad_flags():
    x = svertka.ones(2, requires_grad=True)
    c = svertka.ones(2)
    y = x * c
    assert x.is_leaf and c.is_leaf and not y.is_leaf
    assert x.grad_fn is None and y.grad_fn is not None
    assert "MulBackward" in repr(y.grad_fn)
    assert not (c * 2).requires_grad
    with pytest.raises(RuntimeError, match="only tensors of floating point dtype"):
        svertka.tensor([1, 2]).requires_grad_()


def test_non_leaf_grad_is_none_unless_retained():
    x = svertka.ones(2, requires_grad=True)
    h = x * 2
    k = x * 3
    k.retain_grad()
    (h * k).sum().backward()
    assert h.grad is None
    assert k.grad.tolist() == [2.0, 2.0]


def test_leaf_grad_owns_its_memory():
    x = svertka.ones(3, requires_grad=True)
    y = svertka.ones(3, requires_grad=True)
    (x + y).sum().backward()
    x.grad.zero_()
    assert y.grad.tolist() == [1.0, 1.0, 1.0]


def test_autograd_grad_returns_without_touching_dot_grad():
    a = np.random.default_rng(2).standard_normal((2, 3))
    xs, xt = svertka.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    gy = np.random.default_rng(3).standard_normal((2, 3))
    (gs,) = svertka.autograd.grad(xs.sin() * xs, xs, grad_outputs=svertka.tensor(gy))
    (gt,) = torch.autograd.grad(xt.sin() * xt, xt, grad_outputs=torch.tensor(gy))
    assert_close(gs, gt)
    assert xs.grad is None


def test_autograd_grad_of_intermediate_and_several_inputs():
    x = svertka.tensor([1.0, 2.0], requires_grad=True)
    w = svertka.tensor([3.0, 4.0], requires_grad=True)
    h = x * w
    y = (h * h).sum()
    gh, gx, gw = svertka.autograd.grad(y, (h, x, w))
    assert gh.tolist() == [6.0, 16.0]
    assert gx.tolist() == [18.0, 64.0]
    assert gw.tolist() == [6.0, 32.0]


def test_autograd_grad_unused_input_needs_allow_unused():
    x = svertka.ones(2, requires_grad=True)
    z = svertka.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        svertka.autograd.grad((x * 2).sum(), (x, z))
    gx, gz = svertka.autograd.grad((x * 2).sum(), (x, z), allow_unused=True)
    assert gz is None and gx.tolist() == [2.0, 2.0]


def test_gradcheck_accepts_correct_and_rejects_wrong_backward():
    class GoodSquare(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, gy):
            (x,) = ctx.saved_tensors
            return 2 * x * gy

    class BadSquare(GoodSquare):
        @staticmethod
        def backward(ctx, gy):
            (x,) = ctx.saved_tensors
            return 2.01 * x * gy

    x = svertka.randn(3, 2, dtype=svertka.float64, requires_grad=True)
    assert svertka.autograd.gradcheck(GoodSquare.apply, (x,))
    with pytest.raises(RuntimeError, match="Jacobian mismatch for input 0"):
        svertka.autograd.gradcheck(BadSquare.apply, (x,))
    assert not svertka.autograd.gradcheck(BadSquare.apply, (x,), raise_exception=False)


def test_gradcheck_on_composites():
    svertka.manual_seed(0)
    a = svertka.randn(3, 4, dtype=svertka.float64, requires_grad=True)
    b = svertka.randn(4, 2, dtype=svertka.float64, requires_grad=True)
    c = svertka.rand(3, 1, dtype=svertka.float64, requires_grad=True)

    def softmax_mlp(a, b, c):
        h = (a @ b).tanh() * (c + 1).sqrt()
        e = (h - h.amax(dim=1, keepdim=True)).exp()
        return (e / e.sum(dim=1, keepdim=True)).log()

    def indexing_mix(a, b, c):
        return svertka.cat([a[:, ::2] * b[1:3].sum(0), c.expand(3, 2)], dim=1)[[0, 2, 2]].var(dim=0)

    assert svertka.autograd.gradcheck(softmax_mlp, (a, b, c))
    assert svertka.autograd.gradcheck(indexing_mix, (a, b, c))


def test_gradcheck_refuses_float32_inputs():
    x = svertka.randn(2, requires_grad=True)
    with pytest.raises(ValueError, match="float64"):
        svertka.autograd.gradcheck(lambda t: t * 2, (x,))


def test_engine_rejects_gradient_of_wrong_shape_from_a_function():
    class Broken(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, gy):
            return np.ones(1)

    x = svertka.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"invalid gradient at index 0: got shape \(1,\), "
                                           r"expected \(3,\)"):
        Broken.apply(x).backward()


def test_custom_function_needs_input_grad_and_constants():
    seen = {}

    class Scale(Function):
        @staticmethod
        def forward(ctx, x, s, *, offset=0.0):
            ctx.save_for_backward(s)
            seen["needs"] = ctx.needs_input_grad
            return x * s + offset

        @staticmethod
        def backward(ctx, gy):
            (s,) = ctx.saved_tensors
            return gy * s, None

    x = svertka.ones(2, requires_grad=True)
    y = Scale.apply(x, np.array([2.0, 3.0], dtype=np.float32), offset=1.0)
    assert seen["needs"] == (True, False)
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 3.0] and y.tolist() == [3.0, 4.0]


def test_graph_frees_intermediate_results_the_backward_does_not_need():
    # ReLU's backward needs its output, not its input: the conv output under it must not be
    # kept alive by the graph (torch frees it too); gradients still reach the leaves
    import gc
    import weakref

    import svertka.nn.functional as F
    rng = np.random.default_rng(0)
    x = svertka.tensor(rng.standard_normal((2, 3, 6, 6)), requires_grad=True)
    w = svertka.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    h = F.conv2d(x, w)
    dead = weakref.ref(h._data)
    y = F.relu(h)
    del h
    gc.collect()
    assert dead() is None
    y.sum().backward()
    xt = torch.tensor(x.detach().numpy(), requires_grad=True)
    wt = torch.tensor(w.detach().numpy(), requires_grad=True)
    torch.relu(torch.nn.functional.conv2d(xt, wt)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=1e-10)


def test_training_step_leaves_no_cyclic_garbage():
    # The graph is a tree of Contexts pointing to their parents, never back: freeing the loss
    # frees it by reference counting, so the cyclic GC finds nothing to do during training.
    import gc

    from svertka import nn

    svertka.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(8, 3))
    opt = svertka.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = svertka.randn(4, 1, 6, 6)
    y = svertka.tensor([0, 1, 2, 0])
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(3):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        del loss
        assert gc.collect() == 0
    finally:
        if enabled:
            gc.enable()


def test_backward_through_a_shared_parent_matches_torch_order_independent():
    # one node feeding three consumers: the engine sums the three contributions
    a = np.random.default_rng(1).standard_normal(5)
    xs, xt = svertka.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    for x in (xs, xt):
        h = x.exp()
        (h * 2 + h.sin() + h * h).sum().backward()
    assert_close(xs.grad, xt.grad)
