"""create_graph=True, gradgradcheck and autograd.functional, against torch in float64."""

import numpy as np
import pytest
import torch
import torch.autograd.functional as TF
from tests._oracle import assert_close

import svertka
from svertka.autograd import Function
from svertka.autograd import functional as F


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def cube(t):
    return t * t * t


def scalar2(x, y):
    return (x.exp() * x).sum() * y.sum() + (x * x * y.mean()).sum()


@pytest.mark.filterwarnings("ignore:Using backward")
def test_backward_create_graph_gives_grad_with_a_graph_and_hessian_vector_product():
    a, v = _r(4), _r(4, seed=1)
    x = svertka.tensor(a, requires_grad=True)
    (x * x * x.exp()).sum().backward(create_graph=True)
    assert x.grad.grad_fn is not None
    g = x.grad
    x.grad = None
    (g * svertka.tensor(v)).sum().backward()
    xt = torch.tensor(a, requires_grad=True)
    (xt * xt * xt.exp()).sum().backward(create_graph=True)
    gt = xt.grad
    xt.grad = None
    (gt * torch.tensor(v)).sum().backward()
    assert_close(g, gt, what="first gradient")
    assert_close(x.grad, xt.grad, what="Hessian-vector product")


def test_grad_create_graph_differentiates_the_upstream_gradient_too():
    a, v = _r(3), _r(3, seed=2)
    x = svertka.tensor(a, requires_grad=True)
    u = svertka.tensor(v, requires_grad=True)
    (g,) = svertka.autograd.grad(cube(x), x, u, create_graph=True)
    gx, gu = svertka.autograd.grad(g.sum(), (x, u))
    assert_close(gx, 6 * a * v, what="d/dx")
    assert_close(gu, 3 * a * a, what="d/du")


def test_tensor_hooks_and_retain_grad_see_graph_gradients_with_create_graph():
    results = []
    for lib in (svertka, torch):
        x = lib.tensor(_r(3), requires_grad=True)
        y = x * x
        y.retain_grad()
        seen = []
        y.register_hook(lambda g, seen=seen: seen.append(g.requires_grad) or g * 2)
        (g,) = lib.autograd.grad((y * y).sum(), x, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), x)
        results.append((g, h, seen, y.grad))
    (g, h, seen, yg), (gt, ht, seen_t, ygt) = results
    assert seen == seen_t
    assert_close(g, gt, what="hooked gradient")
    assert_close(h, ht, what="second derivative through the hooked node")
    assert_close(yg, ygt, what="retained gradient")


def test_create_graph_through_an_op_without_a_recorded_backward_names_the_op():
    class Twice(Function):
        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, gy):
            return 2 * gy

    x = svertka.tensor([1.0, 2.0], requires_grad=True)
    y = Twice.apply(x).sum()
    with pytest.raises(RuntimeError, match="TwiceBackward.*backward_graph"):
        svertka.autograd.grad(y, x, create_graph=True)
    (g,) = svertka.autograd.grad(Twice.apply(x).sum(), x)       # first order still works
    assert g.tolist() == [2.0, 2.0]


def test_create_graph_keeps_the_graph_for_a_second_backward():
    x = svertka.tensor(_r(3), requires_grad=True)
    y = (x.exp() * x).sum()
    svertka.autograd.grad(y, x, create_graph=True)
    (g,) = svertka.autograd.grad(y, x)                           # not freed
    assert_close(g, (np.exp(_r(3)) * (1 + _r(3))), what="second backward")


def test_grad_create_graph_only_runs_the_nodes_leading_to_the_inputs():
    x = svertka.tensor(_r(3), requires_grad=True)
    w = svertka.tensor(_r(3, seed=1), requires_grad=True)
    h = (w * w).exp()          # a branch that does not lead to x ...
    y = (h.detach() * x * x).sum() + h.sum()
    (g,) = svertka.autograd.grad(y, x, create_graph=True)
    assert_close(g, 2 * np.exp(_r(3, seed=1) ** 2) * _r(3), what="gradient")
    assert w.grad is None


def test_gradgradcheck_passes_on_recorded_ops_and_catches_a_wrong_second_derivative(
        monkeypatch):
    x = svertka.tensor(_r(4), requires_grad=True)
    f = lambda t: (t * t.exp()).sum(dim=0, keepdim=True) * t / (t * t + 1)  # noqa: E731
    assert svertka.autograd.gradgradcheck(f, (x,))
    from svertka.ops import elementwise as E

    def wrong(ctx, gy):
        (y,) = ctx.saved_graph()
        return gy * y * 1.001

    monkeypatch.setattr(E.Exp, "backward_graph", staticmethod(wrong))
    assert not svertka.autograd.gradgradcheck(f, (x,), raise_exception=False)
    with pytest.raises(RuntimeError, match="recorded backward"):
        svertka.autograd.gradgradcheck(f, (x,))


def test_gradgradcheck_with_given_grad_outputs_and_several_inputs():
    x = svertka.tensor(_r(3), requires_grad=True)
    y = svertka.tensor(_r(3, seed=1), requires_grad=True)
    go = svertka.tensor(_r(3, seed=2), requires_grad=True)
    assert svertka.autograd.gradgradcheck(lambda a, b: a * b * a / (b * b + 2), (x, y), (go,))


def test_jacobian_matches_torch_for_one_and_several_inputs_and_outputs():
    a, b = _r(3), _r(2, seed=1)
    assert_close(F.jacobian(cube, svertka.tensor(a)), TF.jacobian(cube, torch.tensor(a)))

    def two(x, y):
        return x * y.sum(), (x * x).sum() * y

    js = F.jacobian(two, (svertka.tensor(a), svertka.tensor(b)))
    jt = TF.jacobian(two, (torch.tensor(a), torch.tensor(b)))
    for i in range(2):
        for j in range(2):
            assert_close(js[i][j], jt[i][j], what=f"J[{i}][{j}]")


def test_jacobian_of_an_unused_input_is_zero_and_strict_refuses_it():
    a = _r(2)
    j = F.jacobian(lambda x, y: x * 2, (svertka.tensor(a), svertka.tensor(a)))
    assert j[1].shape == (2, 2) and not j[1].numpy().any()
    with pytest.raises(RuntimeError, match="independent of input 1"):
        F.jacobian(lambda x, y: x * 2, (svertka.tensor(a), svertka.tensor(a)), strict=True)


def test_hessian_matches_torch_for_one_and_two_inputs():
    a, b = _r(3), _r(2, seed=1)
    assert_close(F.hessian(lambda t: (t.exp() * t).sum(), svertka.tensor(a)),
                 TF.hessian(lambda t: (t.exp() * t).sum(), torch.tensor(a)))
    hs = F.hessian(scalar2, (svertka.tensor(a), svertka.tensor(b)))
    ht = TF.hessian(scalar2, (torch.tensor(a), torch.tensor(b)))
    for i in range(2):
        for j in range(2):
            assert_close(hs[i][j], ht[i][j], what=f"H[{i}][{j}]")


@pytest.mark.parametrize("name", ["vjp", "jvp", "hvp", "vhp"])
def test_products_match_torch(name):
    a, b = _r(3), _r(2, seed=1)
    if name in ("vjp", "jvp"):
        v = _r(3, seed=3)
        out, res = getattr(F, name)(cube, svertka.tensor(a), svertka.tensor(v))
        out_t, res_t = getattr(TF, name)(cube, torch.tensor(a), torch.tensor(v))
        assert_close(out, out_t, what="output")
        assert_close(res, res_t, what=name)
        return
    v = (svertka.tensor(_r(3, seed=4)), svertka.tensor(_r(2, seed=5)))
    vt = tuple(torch.tensor(t.numpy()) for t in v)
    out, res = getattr(F, name)(scalar2, (svertka.tensor(a), svertka.tensor(b)), v)
    out_t, res_t = getattr(TF, name)(scalar2, (torch.tensor(a), torch.tensor(b)), vt)
    assert_close(out, out_t, what="output")
    for k in range(2):
        assert_close(res[k], res_t[k], what=f"{name}[{k}]")


def test_functional_results_are_detached_unless_create_graph():
    x = svertka.tensor(_r(3), requires_grad=True)
    h = F.hessian(lambda t: (t * t * t).sum(), x)
    assert not h.requires_grad
    h = F.hessian(lambda t: (t * t * t).sum(), x, create_graph=True)
    (g,) = svertka.autograd.grad(h.sum(), x)          # d/dx sum(diag(6x)) = 6
    assert_close(g, np.full(3, 6.0), what="derivative of the Hessian")


def test_functional_refuses_vectorize_forward_mode_and_bad_v_with_clear_errors():
    x = svertka.tensor(_r(3))
    with pytest.raises(ValueError, match="jacobian: vectorize=True is not supported"):
        F.jacobian(cube, x, vectorize=True)
    with pytest.raises(ValueError, match="strategy='forward-mode' is not supported"):
        F.jacobian(cube, x, strategy="forward-mode")
    with pytest.raises(ValueError, match=r"vjp: v\[0\] has shape \(2,\), expected \(3,\)"):
        F.vjp(cube, x, svertka.tensor(_r(2)))
    with pytest.raises(ValueError, match="hessian: func must return a single-element"):
        F.hessian(cube, x)
    with pytest.raises(TypeError, match="vjp: inputs must be a Tensor or a tuple"):
        F.vjp(cube, [1.0, 2.0])


def test_backward_create_graph_keeps_the_graph_of_a_gradient_of_another_dtype():
    x = svertka.tensor(_r(3), requires_grad=True)                     # float64
    v = svertka.tensor(_r(3, seed=1).astype(np.float32), requires_grad=True)
    (x * x).backward(v, create_graph=True)
    (gv,) = svertka.autograd.grad(x.grad.sum(), v)                  # d(2 x v)/dv = 2 x
    assert_close(gv, 2 * _r(3), rtol=1e-6, what="gradient w.r.t. the upstream gradient")
