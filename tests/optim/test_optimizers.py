"""Optimizers vs torch.optim: 20 steps of a tiny linear regression from identical weights and
batches end in the same weights (float64); state_dict round trips; argument checks."""

import numpy as np
import pytest
import torch
from tests._oracle import assert_close

import svertka
import svertka.optim as optim

STEPS = 20
RTOL = 1e-12


def _data(seed=0, steps=STEPS):
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal((4, 3))
    b0 = rng.standard_normal(3)
    batches = [(rng.standard_normal((5, 4)), rng.standard_normal((5, 3))) for _ in range(steps)]
    return w0, b0, batches


def _run(lib, opt_name, kwargs, groups=None, steps=STEPS, seed=0, dtype=np.float64):
    """Train w, b with ``lib``'s optimizer; return the final weights as ndarrays."""
    w0, b0, batches = _data(seed, steps)
    mod = svertka if lib == "svertka" else torch
    w = mod.tensor(w0.astype(dtype), requires_grad=True)
    b = mod.tensor(b0.astype(dtype), requires_grad=True)
    frozen = mod.tensor(np.ones(2, dtype=dtype), requires_grad=True)  # never gets a grad
    cls = getattr(optim if lib == "svertka" else torch.optim, opt_name)
    if groups is None:
        params = [w, b, frozen]
    else:
        params = [{"params": [w, frozen], **groups[0]}, {"params": [b], **groups[1]}]
    opt = cls(params, **kwargs)
    for x, y in batches:
        opt.zero_grad()
        xt, yt = mod.tensor(x.astype(dtype)), mod.tensor(y.astype(dtype))
        loss = ((xt @ w + b - yt) ** 2).mean()
        loss.backward()
        opt.step()
    out = [t.detach().numpy().copy() for t in (w, b, frozen)]
    return out, opt


CASES = [
    ("SGD", {"lr": 0.1}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, None),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}, None),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}, None),
    ("SGD", {"lr": 0.05, "weight_decay": 0.2, "maximize": True}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.5}, ({}, {"lr": 0.01, "momentum": 0.0})),
    ("Adam", {}, None),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6}, None),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}, None),
    ("Adam", {"lr": 0.05, "amsgrad": True}, None),
    ("Adam", {"lr": 0.05, "maximize": True, "amsgrad": True, "weight_decay": 0.01}, None),
    ("Adam", {"lr": 0.05, "betas": (0.3, 0.9)}, None),  # lerp weight >= 0.5 branch
    ("Adam", {"lr": 0.05}, ({"lr": 0.1}, {"lr": 0.001, "betas": (0.5, 0.9)})),
    ("AdamW", {}, None),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}, None),
    ("AdamW", {"lr": 0.05, "maximize": True}, ({"weight_decay": 0.0}, {"lr": 0.2})),
    ("RMSprop", {}, None),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-6}, None),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}, None),
    ("RMSprop", {"lr": 0.01, "centered": True}, None),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1}, None),
    ("RMSprop", {"lr": 0.01, "alpha": 0.3, "centered": True, "maximize": True}, None),
    ("RMSprop", {"lr": 0.01}, ({"momentum": 0.9}, {"lr": 0.001, "centered": True})),
    ("Adagrad", {}, None),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}, None),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.5}, None),
    ("Adagrad", {"lr": 0.1, "eps": 1e-3, "maximize": True}, None),
    ("Adagrad", {"lr": 0.1}, ({"lr_decay": 0.1}, {"lr": 0.3})),
]


def _id(case):
    name, kwargs, groups = case
    parts = [name] + [f"{k}={v}" for k, v in kwargs.items()]
    if groups is not None:
        parts.append("two_groups")
    return "-".join(parts)


@pytest.mark.parametrize("name, kwargs, groups", CASES, ids=[_id(c) for c in CASES])
def test_optimizer_matches_torch_20_steps(name, kwargs, groups):
    sv, _ = _run("svertka", name, kwargs, groups)
    th, _ = _run("torch", name, kwargs, groups)
    for a, e, what in zip(sv, th, ("w", "b", "frozen")):
        assert_close(a, e, rtol=RTOL, what=what)
    np.testing.assert_array_equal(sv[2], np.ones(2))  # no grad: untouched


@pytest.mark.parametrize("name, kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9}),
                                          ("Adam", {"lr": 0.05}), ("RMSprop", {}),
                                          ("Adagrad", {"lr": 0.1})],
                         ids=["SGD", "Adam", "RMSprop", "Adagrad"])
def test_optimizer_float32_stays_float32_and_matches_torch(name, kwargs):
    sv, opt = _run("svertka", name, kwargs, dtype=np.float32)
    th, _ = _run("torch", name, kwargs, dtype=np.float32)
    for a, e in zip(sv, th):
        assert a.dtype == np.float32
        assert_close(a, e, rtol=1e-4)
    for state in opt.state.values():
        for key, value in state.items():
            if key != "step":
                assert value.dtype == svertka.float32


@pytest.mark.parametrize("name, kwargs, keys", [
    ("SGD", {"lr": 0.1, "momentum": 0.9}, {"momentum_buffer"}),
    ("SGD", {"lr": 0.1}, set()),
    ("Adam", {"amsgrad": True}, {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
    ("AdamW", {}, {"step", "exp_avg", "exp_avg_sq"}),
    ("RMSprop", {"momentum": 0.9, "centered": True},
     {"step", "square_avg", "momentum_buffer", "grad_avg"}),
    ("Adagrad", {}, {"step", "sum"}),
], ids=["SGD-momentum", "SGD-plain", "Adam-amsgrad", "AdamW", "RMSprop-centered", "Adagrad"])
def test_optimizer_state_dict_layout_matches_torch(name, kwargs, keys):
    _, opt = _run("svertka", name, kwargs, steps=3)
    _, topt = _run("torch", name, kwargs, steps=3)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sorted(sd["state"]) == sorted(tsd["state"])
    for i, st in sd["state"].items():
        assert set(st) == set(tsd["state"][i]) == keys
        for key, value in st.items():
            assert isinstance(value, svertka.Tensor)
            assert_close(value, tsd["state"][i][key], rtol=RTOL, what=key)
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1, 2]]
    tgroup = tsd["param_groups"][0]
    for key, value in sd["param_groups"][0].items():
        assert tgroup[key] == value, key


@pytest.mark.parametrize("name, kwargs, groups", [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, None),
    ("Adam", {"lr": 0.05, "amsgrad": True}, ({"lr": 0.1}, {"weight_decay": 0.1})),
    ("AdamW", {"lr": 0.05}, None),
    ("RMSprop", {"momentum": 0.5, "centered": True}, None),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.1}, None),
], ids=["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
@pytest.mark.parametrize("as_numpy", [False, True], ids=["tensors", "numpy"])
def test_optimizer_state_dict_round_trip_continues_exactly(name, kwargs, groups, as_numpy):
    full, _ = _run("svertka", name, kwargs, groups, steps=20)
    half, opt = _run("svertka", name, kwargs, groups, steps=10)
    sd = opt.state_dict()
    if as_numpy:
        sd = {"state": {i: {k: (v.numpy() if isinstance(v, svertka.Tensor) else v)
                            for k, v in st.items()} for i, st in sd["state"].items()},
              "param_groups": sd["param_groups"]}
    w0, b0, batches = _data(0, 20)
    w = svertka.tensor(half[0], requires_grad=True)
    b = svertka.tensor(half[1], requires_grad=True)
    frozen = svertka.tensor(half[2], requires_grad=True)
    cls = getattr(optim, name)
    params = ([w, b, frozen] if groups is None else
              [{"params": [w, frozen]}, {"params": [b]}])
    fresh = cls(params, **kwargs)
    fresh.load_state_dict(sd)
    for old_state, new_state in zip(opt.state.values(), fresh.state.values()):
        for key in old_state:  # copies, not shared buffers
            assert old_state[key]._data is not new_state[key]._data
    for x, y in batches[10:]:
        fresh.zero_grad()
        loss = ((svertka.tensor(x) @ w + b - svertka.tensor(y)) ** 2).mean()
        loss.backward()
        fresh.step()
    for a, e in zip((w, b, frozen), full):
        assert_close(a.detach(), e, rtol=1e-13)


def test_optimizer_load_state_dict_casts_state_to_param_dtype():
    w = svertka.zeros(3, dtype=svertka.float32, requires_grad=True)
    opt = optim.Adam([w])
    sd = {"state": {0: {"step": np.array(4.0), "exp_avg": np.ones(3),
                        "exp_avg_sq": np.ones(3)}},
          "param_groups": [dict(opt.state_dict()["param_groups"][0])]}
    opt.load_state_dict(sd)
    assert opt.state[w]["exp_avg"].dtype == svertka.float32
    assert float(opt.state[w]["step"]) == 4.0


@pytest.mark.parametrize("sd_groups, match", [
    ([], "loaded state dict has 0 parameter group"),
    ([{"params": [0]}, {"params": [1]}, {"params": [2]}], "has 3 parameter group"),
    ([{"params": [0]}, {"params": [1, 2, 3]}], "parameter group 1 .* has 3 parameter"),
], ids=["no-groups", "too-many-groups", "group-size"])
def test_optimizer_load_state_dict_rejects_mismatch(sd_groups, match):
    w = svertka.zeros(3, requires_grad=True)
    b = svertka.zeros(1, requires_grad=True)
    opt = optim.SGD([{"params": [w]}, {"params": [b]}], lr=0.1)
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict({"state": {}, "param_groups": sd_groups})


def test_optimizer_load_state_dict_rejects_missing_keys_and_bad_shapes():
    w = svertka.zeros(3, requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="missing the key"):
        opt.load_state_dict({"state": {}})
    with pytest.raises(TypeError, match="state_dict must be a dict"):
        opt.load_state_dict([1, 2])
    sd = opt.state_dict()
    sd["state"] = {0: {"momentum_buffer": np.zeros(4)}}
    with pytest.raises(ValueError, match=r"has shape \(4,\), the parameter has shape \(3,\)"):
        opt.load_state_dict(sd)


def test_optimizer_step_closure_reevaluates_loss_with_grad():
    w = svertka.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with svertka.no_grad():
        loss = opt.step(closure)
    assert float(loss) == 5.0
    assert_close(w.detach(), np.array([0.8, 1.6]))


def test_optimizer_zero_grad_sets_none_or_zeros():
    w = svertka.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad and not np.any(w.grad.numpy())
    opt.zero_grad()
    assert w.grad is None


def test_optimizer_step_updates_in_place_and_bumps_version():
    w = svertka.tensor([1.0, 2.0], requires_grad=True)
    array, version = w._data, w._version[0]
    opt = optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    assert w._data is array and w._version[0] == version + 1
    assert w.requires_grad and w.grad_fn is None


def test_optimizer_add_param_group_uses_defaults():
    w = svertka.zeros(2, requires_grad=True)
    b = svertka.zeros(1, requires_grad=True)
    opt = optim.Adagrad([w], lr=0.5)
    opt.add_param_group({"params": b, "lr_decay": 0.1})
    group = opt.param_groups[1]
    assert group["params"] == [b] and group["lr"] == 0.5 and group["lr_decay"] == 0.1
    b.grad = svertka.ones(1)
    opt.step()  # state created lazily for the new group
    assert float(opt.state[b]["step"]) == 1.0


@pytest.mark.parametrize("make, exc, match", [
    (lambda w: optim.SGD([w], lr=-0.1), ValueError, "SGD: invalid learning rate: -0.1"),
    (lambda w: optim.SGD([w], momentum=-1), ValueError, "SGD: invalid momentum value: -1"),
    (lambda w: optim.SGD([w], weight_decay=-1), ValueError,
     "SGD: invalid weight_decay value: -1"),
    (lambda w: optim.SGD([w], nesterov=True), ValueError,
     "SGD: Nesterov momentum requires a momentum and zero dampening"),
    (lambda w: optim.SGD([w], momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "zero dampening, got momentum=0.9, dampening=0.1"),
    (lambda w: optim.SGD([w], lr="a"), TypeError, "SGD: learning rate must be a real number"),
    (lambda w: optim.Adam([w], lr=-1.0), ValueError, "Adam: invalid learning rate: -1.0"),
    (lambda w: optim.Adam([w], eps=-1.0), ValueError, "Adam: invalid epsilon value: -1.0"),
    (lambda w: optim.Adam([w], betas=(1.0, 0.9)), ValueError,
     "Adam: invalid beta parameter at index 0: 1.0"),
    (lambda w: optim.Adam([w], betas=(0.9, -0.1)), ValueError,
     "Adam: invalid beta parameter at index 1: -0.1"),
    (lambda w: optim.Adam([w], betas=0.9), TypeError, "Adam: betas must be a tuple of 2"),
    (lambda w: optim.Adam([w], weight_decay=-1), ValueError,
     "Adam: invalid weight_decay value: -1"),
    (lambda w: optim.AdamW([w], betas=(0.9, 1.0)), ValueError,
     "AdamW: invalid beta parameter at index 1: 1.0"),
    (lambda w: optim.RMSprop([w], lr=-1), ValueError, "RMSprop: invalid learning rate: -1"),
    (lambda w: optim.RMSprop([w], alpha=-1), ValueError, "RMSprop: invalid alpha value: -1"),
    (lambda w: optim.RMSprop([w], eps=-1), ValueError, "RMSprop: invalid epsilon value: -1"),
    (lambda w: optim.RMSprop([w], momentum=-1), ValueError,
     "RMSprop: invalid momentum value: -1"),
    (lambda w: optim.RMSprop([w], weight_decay=-1), ValueError,
     "RMSprop: invalid weight_decay value: -1"),
    (lambda w: optim.Adagrad([w], lr=-1), ValueError, "Adagrad: invalid learning rate: -1"),
    (lambda w: optim.Adagrad([w], lr_decay=-1), ValueError,
     "Adagrad: invalid lr_decay value: -1"),
    (lambda w: optim.Adagrad([w], weight_decay=-1), ValueError,
     "Adagrad: invalid weight_decay value: -1"),
    (lambda w: optim.Adagrad([w], initial_accumulator_value=-1), ValueError,
     "Adagrad: invalid initial_accumulator_value value: -1"),
    (lambda w: optim.Adagrad([w], eps=-1), ValueError, "Adagrad: invalid epsilon value: -1"),
    (lambda w: optim.SGD([]), ValueError, "SGD: optimizer got an empty parameter list"),
    (lambda w: optim.SGD(w), TypeError, "should be an iterable of Tensors or dicts"),
    (lambda w: optim.SGD(3), TypeError, "should be an iterable of Tensors or dicts"),
    (lambda w: optim.SGD([w, 1.0]), TypeError, "can only optimize Tensors"),
    (lambda w: optim.SGD([w * 2]), ValueError, "can't optimize a non-leaf Tensor"),
    (lambda w: optim.SGD([{"params": [w]}, {"params": [w]}]), ValueError,
     "appear in more than one parameter group"),
    (lambda w: optim.SGD([{"params": {w}}]), TypeError, "ordered collections"),
    (lambda w: optim.SGD([w]).add_param_group([w]), TypeError, "param_group must be a dict"),
    (lambda w: optim.SGD([w]).add_param_group({"lr": 1.0}), ValueError,
     "must have a 'params' entry"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_optimizer_rejects_bad_arguments(make, exc, match):
    w = svertka.zeros(2, requires_grad=True)
    with pytest.raises(exc, match=match):
        make(w)


def test_optimizer_rejects_required_parameter_missing():
    from svertka.optim.optimizer import Optimizer, required

    w = svertka.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="didn't specify a value of required optimization "
                                         "parameter lr"):
        Optimizer([w], {"lr": required})


def test_optimizer_repr_lists_groups():
    w = svertka.zeros(2, requires_grad=True)
    text = repr(optim.SGD([w], lr=0.5))
    assert text.startswith("SGD (\nParameter Group 0\n") and "    lr: 0.5\n" in text


def test_optimizer_state_dict_survives_svertka_save_load(tmp_path):
    full, _ = _run("svertka", "Adam", {"lr": 0.05, "amsgrad": True}, steps=20)
    half, opt = _run("svertka", "Adam", {"lr": 0.05, "amsgrad": True}, steps=10)
    svertka.save(opt.state_dict(), tmp_path / "opt.svk")
    params = [svertka.nn.Parameter(svertka.tensor(a)) for a in half]
    fresh = optim.Adam(params, lr=0.05, amsgrad=True)
    fresh.load_state_dict(svertka.load(tmp_path / "opt.svk"))
    w, b, _ = params
    for x, y in _data(0, 20)[2][10:]:
        fresh.zero_grad()
        ((svertka.tensor(x) @ w + b - svertka.tensor(y)) ** 2).mean().backward()
        fresh.step()
    for a, e in zip(params, full):
        assert_close(a.detach(), e, rtol=1e-13)
