"""Second (and third) derivatives of the convolutions against torch in float64."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests._oracle import assert_close, compare_double_backward

import svertka
import svertka.nn.functional as F

# torch warns that 'same' padding with an even kernel copies the input; the case is on purpose
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# (id, function name, input shape, weight shape, kwargs); each case runs with and without bias
CASES = [
    ("1d", "conv1d", (2, 3, 7), (4, 3, 3), {}),
    ("1d_stride2_pad1", "conv1d", (2, 2, 8), (3, 2, 3), dict(stride=2, padding=1)),
    ("1d_same_even_kernel", "conv1d", (1, 2, 6), (2, 2, 4), dict(padding="same")),
    ("2d", "conv2d", (2, 2, 5, 5), (3, 2, 3, 3), {}),
    ("2d_stride2_pad", "conv2d", (2, 2, 6, 5), (3, 2, 3, 2), dict(stride=2, padding=(1, 0))),
    ("2d_dilation2", "conv2d", (1, 2, 7, 7), (2, 2, 3, 3), dict(dilation=2, padding=1)),
    ("2d_groups2", "conv2d", (2, 4, 5, 5), (6, 2, 3, 3), dict(groups=2, padding=1)),
    ("2d_depthwise", "conv2d", (2, 3, 6, 6), (3, 1, 3, 3), dict(groups=3, padding=1)),
    ("2d_depthwise_stride2", "conv2d", (1, 2, 7, 7), (4, 1, 3, 3), dict(groups=2, stride=2)),
    ("2d_pointwise", "conv2d", (2, 3, 4, 4), (2, 3, 1, 1), {}),
    ("3d", "conv3d", (1, 2, 4, 4, 4), (2, 2, 2, 3, 2), dict(stride=(1, 2, 1), padding=1)),
    ("t1d", "conv_transpose1d", (2, 3, 5), (3, 2, 3), {}),
    ("t1d_stride2_outpad", "conv_transpose1d", (2, 2, 4), (2, 3, 3),
     dict(stride=2, padding=1, output_padding=1)),
    ("t1d_outpad_dilation", "conv_transpose1d", (1, 2, 4), (2, 2, 3),
     dict(dilation=2, output_padding=1)),
    ("t2d_stride2_groups2", "conv_transpose2d", (2, 4, 3, 3), (4, 1, 3, 3),
     dict(stride=2, groups=2, padding=1, output_padding=(1, 0))),
    ("t2d_dilation2", "conv_transpose2d", (1, 2, 3, 4), (2, 3, 2, 2), dict(dilation=2)),
    ("t3d", "conv_transpose3d", (1, 2, 2, 3, 2), (2, 2, 2, 2, 2),
     dict(stride=(2, 1, 1), output_padding=(1, 0, 0))),
]


@pytest.mark.parametrize("with_bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("name,fn,xs,ws,kw", CASES, ids=[c[0] for c in CASES])
def test_conv_second_derivatives_match_torch(name, fn, xs, ws, kw, with_bias):
    c_out = ws[1] * kw.get("groups", 1) if fn.startswith("conv_t") else ws[0]
    arrays = [_r(*xs, seed=1), _r(*ws, seed=2)] + ([_r(c_out, seed=3)] if with_bias else [])
    sv, th = getattr(F, fn), getattr(TF, fn)
    compare_double_backward(lambda *a: sv(*a, **kw), lambda *a: th(*a, **kw), *arrays)


def test_conv_second_derivatives_match_torch_unbatched():
    compare_double_backward(lambda x, w: F.conv2d(x, w, padding=1),
                            lambda x, w: TF.conv2d(x, w, padding=1),
                            _r(2, 4, 4), _r(3, 2, 3, 3, seed=1))


@pytest.mark.parametrize("fn", ["conv2d", "conv_transpose2d"])
def test_conv_third_derivatives_match_torch(fn):
    """The weight gradient is an op with its own recorded backward: the family is closed."""
    kw = dict(stride=2, padding=1)
    x, w = _r(1, 2, 5, 5), _r(2, 2, 3, 3, seed=1)
    grads = []
    for lib, f in ((svertka, getattr(F, fn)), (torch, getattr(TF, fn))):
        xt = lib.tensor(x, requires_grad=True)
        wt = lib.tensor(w, requires_grad=True)
        y = f(xt, wt, **kw)
        loss = (y * y * y).sum()
        gx, gw = lib.autograd.grad(loss, [xt, wt], create_graph=True)
        s = (gx * gx).sum() + (gw * gw * gw).sum()
        hx, hw = lib.autograd.grad(s, [xt, wt], create_graph=True)
        t = (hx * hx).sum() + (hw * wt).sum()
        grads.append(lib.autograd.grad(t, [xt, wt]))
    for a, b in zip(*grads):
        assert_close(a, b, 1e-7, "third derivative")


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=(2, 3), stride=2,
                                                          padding=1, dilation=(1, 2))],
                         ids=["k2", "strided_padded_dilated"])
def test_unfold_fold_second_derivatives_match_torch(kw):
    x = _r(2, 2, 5, 6)
    compare_double_backward(lambda a: F.unfold(a, **kw) * F.unfold(a, **kw),
                            lambda a: TF.unfold(a, **kw) * TF.unfold(a, **kw), x)
    cols = TF.unfold(torch.tensor(x), **kw).numpy()
    compare_double_backward(lambda c: F.fold(c, (5, 6), **kw) * F.fold(c, (5, 6), **kw),
                            lambda c: TF.fold(c, (5, 6), **kw) * TF.fold(c, (5, 6), **kw),
                            _r(*cols.shape, seed=4))


def _torch_locally_connected2d(x, w, b, stride, padding):
    kernel = tuple(w.shape[4:])
    cols = TF.unfold(x, kernel, stride=stride, padding=padding)    # (N, C*K, L)
    L = cols.shape[2]
    wm = w.reshape(L, w.shape[2], -1)                                # (L, Co, C*K)
    y = torch.einsum("nkl,lok->nol", cols, wm)
    y = y.reshape(x.shape[0], w.shape[2], w.shape[0], w.shape[1])
    return y if b is None else y + b


@pytest.mark.parametrize("with_bias", [False, True], ids=["nobias", "bias"])
def test_locally_connected2d_second_derivatives_match_torch(with_bias):
    x, w = _r(2, 2, 5, 4), _r(3, 3, 3, 2, 2, 2, seed=1)              # stride 2, padding 1
    arrays = [x, w] + ([_r(3, 3, 3, seed=2)] if with_bias else [])

    def sv(x, w, b=None):
        y = F.locally_connected2d(x, w, b, stride=2, padding=1)
        return y * y

    def th(x, w, b=None):
        y = _torch_locally_connected2d(x, w, b, 2, 1)
        return y * y

    compare_double_backward(sv, th, *arrays)


def test_locally_connected2d_third_derivatives_match_torch():
    x, w = _r(1, 2, 4, 4), _r(3, 3, 2, 2, 2, 2, seed=1)
    grads = []
    for lib, f in ((svertka, lambda x, w: F.locally_connected2d(x, w)),
                   (torch, lambda x, w: _torch_locally_connected2d(x, w, None, 1, 0))):
        xt = lib.tensor(x, requires_grad=True)
        wt = lib.tensor(w, requires_grad=True)
        y = f(xt, wt)
        gx, gw = lib.autograd.grad((y * y * y).sum(), [xt, wt], create_graph=True)
        hx, hw = lib.autograd.grad((gx * gx).sum() + (gw * gw).sum(), [xt, wt],
                                   create_graph=True)
        grads.append(lib.autograd.grad((hx * xt).sum() + (hw * hw).sum(), [xt, wt]))
    for a, b in zip(*grads):
        assert_close(a, b, 1e-7, "third derivative")


def test_locally_connected2d_grads_with_retained_graph_twice_are_equal():
    x = svertka.tensor(_r(1, 2, 4, 4), requires_grad=True)
    w = svertka.tensor(_r(3, 3, 2, 2, 2, 2, seed=1), requires_grad=True)
    y = (F.locally_connected2d(x, w) ** 2).sum()
    first = svertka.autograd.grad(y, [x, w], retain_graph=True)
    second = svertka.autograd.grad(y, [x, w])
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


# --------------------------------------------------- Hessian-vector products of a small CNN

def _hvp(lib, loss_fn, params, vectors):
    """``H v`` of ``loss_fn(*params)`` w.r.t. the parameters (double backward)."""
    ps = [lib.tensor(p, requires_grad=True) for p in params]
    grads = lib.autograd.grad(loss_fn(*ps), ps, create_graph=True)
    dot = sum((g * lib.tensor(v)).sum() for g, v in zip(grads, vectors))
    return [g.detach().numpy() for g in grads], lib.autograd.grad(dot, ps)


def _compare_hvp(sv_loss, th_loss, params):
    vectors = [_r(*np.shape(p), seed=50 + i) for i, p in enumerate(params)]
    try:
        sv_g, sv_hv = _hvp(svertka, sv_loss, params, vectors)
    except RuntimeError as e:
        if "does not define (a Function's backward_graph)" not in str(e):
            raise
        pytest.skip(f"an op outside the conv/norm family has no double backward yet: {e}")
    th_g, th_hv = _hvp(torch, th_loss, params, vectors)
    for k, (a, b) in enumerate(zip(sv_g, th_g)):
        assert_close(a, b, 1e-7, f"gradient of parameter {k}")
    for k, (a, b) in enumerate(zip(sv_hv, th_hv)):
        assert_close(a, b, 1e-7, f"Hessian-vector product, parameter {k}")


def _cnn_params():
    # the conv has no bias: batch norm cancels it (its gradient is rounding noise)
    return [_r(4, 2, 3, 3, seed=11) * 0.5,                            # conv
            1 + 0.1 * _r(4, seed=13), 0.1 * _r(4, seed=14),           # batch norm
            _r(3, 4 * 3 * 3, seed=15) * 0.3, _r(3, seed=16) * 0.1]    # linear


def test_cnn_loss_hessian_vector_product_matches_torch():
    """conv -> batch norm (training) -> relu -> max pool -> linear -> cross entropy."""
    x, target = _r(4, 2, 6, 6, seed=10), np.array([0, 2, 1, 2])

    def loss(lib, F_):
        def f(w1, gamma, beta, w2, b2):
            h = F_.conv2d(lib.tensor(x), w1, padding=1)
            h = F_.batch_norm(h, None, None, gamma, beta, training=True)
            h = F_.max_pool2d(F_.relu(h), 2)
            return F_.cross_entropy(F_.linear(h.reshape(4, -1), w2, b2), lib.tensor(target))
        return f

    _compare_hvp(loss(svertka, F), loss(torch, TF), _cnn_params())


def test_conv_batchnorm_loss_hessian_vector_product_matches_torch():
    """The same network with this family's ops only: a square for the relu, no pooling, the
    linear layer as a convolution over the whole map, a squared error for the loss."""
    x, target = _r(4, 2, 6, 6, seed=10), _r(4, 3, 1, 1, seed=17)
    params = _cnn_params()[:3] + [_r(3, 4, 6, 6, seed=15) * 0.1, _r(3, seed=16) * 0.1]

    def loss(lib, F_):
        def f(w1, gamma, beta, w2, b2):
            h = F_.conv2d(lib.tensor(x), w1, padding=1)
            h = F_.batch_norm(h, None, None, gamma, beta, training=True)
            d = F_.conv2d(h * h, w2, b2) - lib.tensor(target)
            return (d * d).mean()
        return f

    _compare_hvp(loss(svertka, F), loss(torch, TF), params)
