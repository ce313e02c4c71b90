"""LR schedulers vs torch.optim.lr_scheduler: the learning-rate (and momentum) sequences of
35 steps equal torch's; state_dict round trips; argument checks."""

import math

import numpy as np
import pytest
import torch
from tests._oracle import assert_close

import svertka
import svertka.optim as optim
from svertka.optim import lr_scheduler as S

STEPS = 35


def _optimizer(lib, opt_name="SGD", two_groups=True, **kwargs):
    mod = svertka if lib == "svertka" else torch
    cls = getattr(optim if lib == "svertka" else torch.optim, opt_name)
    w = mod.zeros(3, requires_grad=True)
    b = mod.zeros(1, requires_grad=True)
    if two_groups:
        return cls([{"params": [w]}, {"params": [b], "lr": 0.3}], **kwargs)
    return cls([w, b], **kwargs)


def _trace(lib, sched_name, sched_kwargs, opt_name="SGD", opt_kwargs=None, metrics=None,
           steps=STEPS):
    opt_kwargs = {"lr": 0.1, "momentum": 0.9} if opt_kwargs is None else opt_kwargs
    opt = _optimizer(lib, opt_name, **opt_kwargs)
    module = S if lib == "svertka" else torch.optim.lr_scheduler
    sched = getattr(module, sched_name)(opt, **sched_kwargs)
    rows = [list(sched.get_last_lr())]
    moments = []
    for i in range(steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
        rows.append(list(sched.get_last_lr()))
        assert rows[-1] == [g["lr"] for g in opt.param_groups]
        moments.append([g.get("momentum", g.get("betas", (None,))[0])
                        for g in opt.param_groups])
    return np.array(rows, dtype=np.float64), moments


CASES = [
    ("StepLR", {"step_size": 3}),
    ("StepLR", {"step_size": 1, "gamma": 0.9}),
    ("MultiStepLR", {"milestones": [2, 5, 5, 20], "gamma": 0.5}),
    ("ExponentialLR", {"gamma": 0.93}),
    ("CosineAnnealingLR", {"T_max": 10}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.01}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 0.5, "total_iters": 12}),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.0, "total_iters": 35}),
    ("LambdaLR", {"lr_lambda": lambda e: 1.0 / (1 + e)}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": STEPS}),
    ("OneCycleLR", {"max_lr": [1.0, 0.5], "total_steps": STEPS, "anneal_strategy": "linear"}),
    ("OneCycleLR", {"max_lr": 1.0, "epochs": 5, "steps_per_epoch": 7, "three_phase": True,
                    "pct_start": 0.25, "base_momentum": [0.8, 0.7], "max_momentum": 0.9}),
    ("OneCycleLR", {"max_lr": 0.2, "total_steps": 40, "cycle_momentum": False,
                    "div_factor": 10.0, "final_div_factor": 100.0}),
]


def _id(case):
    name, kwargs = case
    return "-".join([name] + [f"{k}={v}" for k, v in kwargs.items() if k != "lr_lambda"])


@pytest.mark.parametrize("name, kwargs", CASES, ids=[_id(c) for c in CASES])
def test_lr_scheduler_sequence_matches_torch(name, kwargs):
    lrs, moms = _trace("svertka", name, kwargs)
    tlrs, tmoms = _trace("torch", name, kwargs)
    assert_close(lrs, tlrs, rtol=1e-15, what="lr")
    assert moms == tmoms


@pytest.mark.parametrize("opt_name, opt_kwargs", [
    ("Adam", {"lr": 0.1}), ("AdamW", {"lr": 0.1, "betas": (0.8, 0.9)}),
], ids=["Adam", "AdamW"])
def test_lr_scheduler_one_cycle_cycles_adam_beta1_as_torch(opt_name, opt_kwargs):
    kwargs = {"max_lr": 0.5, "total_steps": STEPS, "three_phase": True}
    lrs, moms = _trace("svertka", "OneCycleLR", kwargs, opt_name, opt_kwargs)
    tlrs, tmoms = _trace("torch", "OneCycleLR", kwargs, opt_name, opt_kwargs)
    assert_close(lrs, tlrs, rtol=1e-15)
    assert moms == tmoms


def test_lr_scheduler_one_cycle_rejects_stepping_past_total():
    opt = _optimizer("svertka", lr=0.1, momentum=0.9)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=2)
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match="tried to step 3 times; the specified number of "
                                         "total steps is 2"):
        sched.step()


METRICS = [5.0, 4.0, 4.0, 4.0, 3.9999, 4.5, 3.0, 3.0, 3.0, 3.0, 3.0, 2.0, 2.5, 2.5, 2.5, 2.5,
           2.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5,
           0.5, 0.5]
PLATEAU_CASES = [
    {},
    {"patience": 1, "factor": 0.5},
    {"patience": 2, "factor": 0.5, "cooldown": 2},
    {"patience": 0, "factor": 0.3, "min_lr": [0.01, 0.05]},
    {"patience": 1, "threshold": 0.1, "threshold_mode": "abs", "min_lr": 0.02},
    {"patience": 1, "mode": "max", "factor": 0.5},
    {"patience": 1, "mode": "max", "threshold_mode": "abs", "threshold": 0.5},
    {"patience": 0, "factor": 0.9, "eps": 0.05},
]


@pytest.mark.parametrize("kwargs", PLATEAU_CASES,
                         ids=["-".join(f"{k}={v}" for k, v in c.items()) or "defaults"
                              for c in PLATEAU_CASES])
def test_lr_scheduler_reduce_on_plateau_matches_torch(kwargs):
    metrics = METRICS if kwargs.get("mode") != "max" else [-m for m in METRICS]
    lrs, _ = _trace("svertka", "ReduceLROnPlateau", kwargs, metrics=metrics)
    tlrs, _ = _trace("torch", "ReduceLROnPlateau", kwargs, metrics=metrics)
    assert_close(lrs, tlrs, rtol=1e-15)


def test_lr_scheduler_reduce_on_plateau_accepts_tensor_metric():
    opt = _optimizer("svertka", lr=1.0)
    sched = S.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    sched.step(svertka.tensor(1.0))
    sched.step(svertka.tensor(2.0))
    assert sched.get_last_lr() == [0.5, 0.15]


@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", {"step_size": 3}), ("MultiStepLR", {"milestones": [2, 5, 5, 13]}),
    ("ExponentialLR", {"gamma": 0.9}), ("CosineAnnealingLR", {"T_max": 6}),
    ("LinearLR", {"total_iters": 8}), ("LambdaLR", {"lr_lambda": lambda e: 0.9**e}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 20}),
], ids=["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR", "LambdaLR",
        "OneCycleLR"])
def test_lr_scheduler_state_dict_round_trip_continues_exactly(name, kwargs):
    full, _ = _trace("svertka", name, kwargs, steps=20)
    opt = _optimizer("svertka", lr=0.1, momentum=0.9)
    sched = getattr(S, name)(opt, **kwargs)
    for _ in range(10):
        opt.step()
        sched.step()
    opt_sd, sched_sd = opt.state_dict(), sched.state_dict()
    assert "optimizer" not in sched_sd
    opt2 = _optimizer("svertka", lr=0.1, momentum=0.9)
    sched2 = getattr(S, name)(opt2, **kwargs)
    sched2.load_state_dict(sched_sd)
    opt2.load_state_dict(opt_sd)
    rows = [list(sched2.get_last_lr())]
    for _ in range(10):
        opt2.step()
        sched2.step()
        rows.append(list(sched2.get_last_lr()))
    assert_close(np.array(rows), full[10:], rtol=1e-15)


def test_lr_scheduler_reduce_on_plateau_state_dict_round_trip():
    opt = _optimizer("svertka", lr=1.0)
    sched = S.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    for m in METRICS[:10]:
        sched.step(m)
    sd = sched.state_dict()
    opt2 = _optimizer("svertka", lr=1.0)
    opt2.load_state_dict(opt.state_dict())
    sched2 = S.ReduceLROnPlateau(opt2)
    sched2.load_state_dict(sd)
    for m in METRICS[10:]:
        sched.step(m)
        sched2.step(m)
        assert sched2.get_last_lr() == sched.get_last_lr()


def test_lr_scheduler_sets_initial_lr_and_last_epoch():
    opt = _optimizer("svertka", lr=0.1)
    sched = S.ExponentialLR(opt, gamma=0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.3]
    assert sched.base_lrs == [0.1, 0.3] and sched.last_epoch == 0
    sched.step()
    assert sched.last_epoch == 1 and sched.get_last_lr() == [0.05, 0.15]


def test_lr_scheduler_resume_with_last_epoch_matches_torch():
    opt, topt = _optimizer("svertka", lr=0.1), _optimizer("torch", lr=0.1)
    for o in (opt, topt):
        for g in o.param_groups:
            g["initial_lr"] = 1.0
    sched = S.CosineAnnealingLR(opt, T_max=10, last_epoch=4)
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=10, last_epoch=4)
    for _ in range(5):
        assert_close(np.array(sched.get_last_lr()), np.array(tsched.get_last_lr()), 1e-15)
        opt.step()
        topt.step()
        sched.step()
        tsched.step()


@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", {"step_size": 3}), ("MultiStepLR", {"milestones": [2, 4]}),
    ("ExponentialLR", {"gamma": 0.9}), ("CosineAnnealingLR", {"T_max": 6}),
    ("LinearLR", {"total_iters": 4}),
], ids=["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR"])
def test_lr_scheduler_step_with_epoch_uses_closed_form_as_torch(name, kwargs):
    opt, topt = _optimizer("svertka", lr=0.1), _optimizer("torch", lr=0.1)
    sched = getattr(S, name)(opt, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    for epoch in (3, 5, 1):
        opt.step()
        topt.step()
        with pytest.warns(UserWarning, match="epoch parameter"):
            sched.step(epoch)
        with pytest.warns(UserWarning):
            tsched.step(epoch)
        assert_close(np.array(sched.get_last_lr()), np.array(tsched.get_last_lr()), 1e-15)


@pytest.mark.parametrize("make, exc, match", [
    (lambda o: S.StepLR(None, 3), TypeError, "StepLR: NoneType is not an Optimizer"),
    (lambda o: S.StepLR(o, 0), ValueError, "StepLR: step_size must be a positive int"),
    (lambda o: S.ExponentialLR(o, 0.9, last_epoch=3), ValueError,
     r"ExponentialLR: param 'initial_lr' is not specified in param_groups\[0\]"),
    (lambda o: S.LambdaLR(o, [lambda e: 1.0]), ValueError,
     "LambdaLR: expected 2 lr_lambdas .*, got 1"),
    (lambda o: S.LambdaLR(o, 3), TypeError, "LambdaLR: lr_lambda must be callable"),
    (lambda o: S.LinearLR(o, start_factor=0), ValueError,
     "LinearLR: starting multiplicative factor .* got start_factor=0"),
    (lambda o: S.LinearLR(o, end_factor=1.5), ValueError,
     "LinearLR: ending multiplicative factor .* got end_factor=1.5"),
    (lambda o: S.CosineAnnealingLR(o, T_max=0), ValueError, "T_max must be positive"),
    (lambda o: S.OneCycleLR(o, 1.0), ValueError,
     r"OneCycleLR: you must define either total_steps OR \(epochs AND steps_per_epoch\)"),
    (lambda o: S.OneCycleLR(o, 1.0, total_steps=0), ValueError,
     "expected positive integer total_steps, got total_steps=0"),
    (lambda o: S.OneCycleLR(o, 1.0, epochs=0, steps_per_epoch=3), ValueError,
     "expected positive integer epochs, got epochs=0"),
    (lambda o: S.OneCycleLR(o, 1.0, epochs=2, steps_per_epoch=1.5), ValueError,
     "expected positive integer steps_per_epoch"),
    (lambda o: S.OneCycleLR(o, 1.0, total_steps=10, pct_start=1.5), ValueError,
     "expected float between 0 and 1 pct_start, got pct_start=1.5"),
    (lambda o: S.OneCycleLR(o, 1.0, total_steps=10, anneal_strategy="exp"), ValueError,
     "anneal_strategy must be one of 'cos' or 'linear', got anneal_strategy='exp'"),
    (lambda o: S.OneCycleLR(o, [1.0], total_steps=10), ValueError,
     "max_lr must have the same length as optimizer.param_groups: max_lr has 1 values"),
    (lambda o: S.OneCycleLR(optim.Adagrad(o.param_groups[0]["params"]), 1.0, total_steps=10),
     ValueError, "optimizer must support momentum or beta1"),
    (lambda o: S.ReduceLROnPlateau(o, factor=1.0), ValueError,
     "ReduceLROnPlateau: factor should be < 1.0, got factor=1.0"),
    (lambda o: S.ReduceLROnPlateau(o, mode="avg"), ValueError,
     "mode must be one of 'min', 'max', got mode='avg'"),
    (lambda o: S.ReduceLROnPlateau(o, threshold_mode="pct"), ValueError,
     "threshold_mode must be one of 'rel', 'abs', got threshold_mode='pct'"),
    (lambda o: S.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError,
     "expected 2 min_lrs .*, got 1"),
    (lambda o: S.ReduceLROnPlateau([], 0.5), TypeError, "list is not an Optimizer"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_lr_scheduler_rejects_bad_arguments(make, exc, match):
    opt = _optimizer("svertka", lr=0.1, momentum=0.9)
    with pytest.raises(exc, match=match):
        make(opt)


def test_lr_scheduler_cosine_follows_cosine_past_t_max():
    lrs, _ = _trace("svertka", "CosineAnnealingLR", {"T_max": 5}, steps=12)
    expected = [0.1 * (1 + math.cos(math.pi * t / 5)) / 2 for t in range(13)]
    assert_close(lrs[:, 0], np.array(expected), rtol=1e-12)
