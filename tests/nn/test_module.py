"""nn.Module: registration, traversal, modes, state_dict, hooks, dtype casts, containers."""

from collections import OrderedDict

import numpy as np
import pytest
import torch

import svertka
from svertka import nn


class Affine(nn.Module):
    def __init__(self, n, lib=svertka):
        super().__init__()
        self.scale = nn.Parameter(lib.ones(n))
        self.shift = nn.Parameter(lib.zeros(n))
        self.register_buffer("count", lib.zeros((), dtype=lib.int64))
        self.register_buffer("scratch", lib.zeros(n), persistent=False)

    def forward(self, x):
        return x * self.scale + self.shift


class TorchAffine(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(n))
        self.shift = torch.nn.Parameter(torch.zeros(n))
        self.register_buffer("count", torch.zeros((), dtype=torch.int64))
        self.register_buffer("scratch", torch.zeros(n), persistent=False)

    def forward(self, x):
        return x * self.scale + self.shift


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Affine(3)
        self.blocks = nn.ModuleList([Affine(3), Affine(3)])
        self.heads = nn.ModuleDict({"a": Affine(3)})
        self.seq = nn.Sequential(OrderedDict(last=Affine(3)))

    def forward(self, x):
        x = self.first(x)
        for b in self.blocks:
            x = b(x)
        return self.seq(self.heads["a"](x))


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.first = TorchAffine(3)
        self.blocks = torch.nn.ModuleList([TorchAffine(3), TorchAffine(3)])
        self.heads = torch.nn.ModuleDict({"a": TorchAffine(3)})
        self.seq = torch.nn.Sequential(OrderedDict(last=TorchAffine(3)))


def test_state_dict_keys_and_order_match_torch():
    assert list(Net().state_dict()) == list(TorchNet().state_dict())


def test_named_parameters_buffers_modules_match_torch():
    s, t = Net(), TorchNet()
    assert [n for n, _ in s.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in s.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in s.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in s.named_children()] == [n for n, _ in t.named_children()]


def test_shared_parameter_is_listed_once():
    m = Net()
    m.blocks[1].scale = m.blocks[0].scale
    names = [n for n, _ in m.named_parameters()]
    assert "blocks.1.scale" not in names and len(names) == 9
    assert len(m.state_dict()) == 15  # state_dict keeps both names, as torch does


def test_train_eval_propagate_to_submodules():
    m = Net()
    m.eval()
    assert not any(mod.training for mod in m.modules())
    m.train()
    assert all(mod.training for mod in m.modules())


def test_load_state_dict_copies_in_place_and_casts():
    m = Affine(3)
    scale = m.scale
    m.load_state_dict({"scale": np.array([1.0, 2.0, 3.0]), "shift": torch.tensor([4.0, 5, 6]),
                       "count": svertka.tensor(7)})
    assert m.scale is scale  # optimizers keep references: never rebind
    assert m.scale.tolist() == [1.0, 2.0, 3.0] and m.scale.dtype == svertka.float32
    assert m.shift.tolist() == [4.0, 5.0, 6.0] and m.count.item() == 7


def test_load_state_dict_reports_all_problems_at_once():
    m = Affine(3)
    bad = {"scale": np.ones(4), "extra": np.ones(1)}
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(bad)
    text = str(info.value)
    assert 'Missing key(s) in state_dict: "shift", "count".' in text
    assert 'Unexpected key(s) in state_dict: "extra".' in text
    assert ("size mismatch for scale: copying a param with shape (4,) from checkpoint, the "
            "shape in current model is (3,).") in text
    assert isinstance(info.value, ValueError)
    assert m.scale.tolist() == [1.0, 1.0, 1.0]  # nothing half-loaded


def test_load_state_dict_non_strict_returns_incompatible_keys():
    m = Affine(3)
    result = m.load_state_dict({"scale": np.full(3, 2.0), "extra": np.ones(1)}, strict=False)
    assert result.missing_keys == ["shift", "count"]
    assert result.unexpected_keys == ["extra"]
    assert m.scale.tolist() == [2.0, 2.0, 2.0]


def test_state_dict_shares_memory_but_is_detached():
    m = Affine(2)
    sd = m.state_dict()
    assert not sd["scale"].requires_grad
    with svertka.no_grad():
        m.scale.mul_(3)
    assert sd["scale"].tolist() == [3.0, 3.0]


def test_zero_grad_sets_none_or_zeros():
    m = Affine(2)
    m(svertka.ones(2)).sum().backward()
    m.zero_grad(set_to_none=False)
    assert m.scale.grad.tolist() == [0.0, 0.0]
    m.zero_grad()
    assert m.scale.grad is None


def test_forward_hooks_see_inputs_and_outputs_and_can_be_removed():
    m = Affine(2)
    seen = []
    handle = m.register_forward_hook(lambda mod, inp, out: seen.append((inp[0].shape,
                                                                        out.shape)))
    pre = m.register_forward_pre_hook(lambda mod, inp: (inp[0] * 2,))
    y = m(svertka.ones(4, 2))
    assert y.tolist() == [[2.0, 2.0]] * 4
    assert seen == [((4, 2), (4, 2))]
    handle.remove()
    pre.remove()
    assert m(svertka.ones(4, 2)).tolist() == [[1.0, 1.0]] * 4
    assert len(seen) == 1


def test_to_double_casts_parameters_in_place_and_keeps_int_buffers():
    m = Net()
    params = list(m.parameters())
    m.to(svertka.float64)
    assert all(p.dtype == svertka.float64 for p in m.parameters())
    assert [id(p) for p in m.parameters()] == [id(p) for p in params]
    assert m.first.count.dtype == svertka.int64
    m.float()
    assert m.first.scale.dtype == svertka.float32
    with pytest.raises(TypeError, match="floating point"):
        m.to(svertka.int64)


def test_apply_and_requires_grad_():
    m = Net()
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    visited = []
    m.apply(lambda mod: visited.append(type(mod).__name__))
    assert visited[-1] == "Net" and visited.count("Affine") == 5


def test_assigning_wrong_type_to_parameter_is_a_type_error():
    m = Affine(2)
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'scale'"):
        m.scale = svertka.ones(2)
    m.scale = None
    assert "scale" not in m.state_dict()


def test_missing_attribute_error_names_the_module():
    with pytest.raises(AttributeError, match="'Affine' object has no attribute 'nope'"):
        _ = Affine(2).nope


def test_sequential_indexing_slicing_append_insert_delete():
    a, b, c = Affine(1), Affine(1), Affine(1)
    seq = nn.Sequential(a, b)
    assert seq[0] is a and seq[-1] is b and len(seq) == 2
    assert list(seq[1:]) == [b]
    seq.append(c)
    assert seq[2] is c and list(seq.state_dict())[-3] == "2.scale"
    seq.insert(0, Affine(1))
    assert seq[1] is a and len(seq) == 4
    del seq[0]
    assert seq[0] is a
    with pytest.raises(IndexError, match="index 5 is out of range for 3 modules"):
        seq[5]


def test_module_list_and_dict_register_their_items():
    ml = nn.ModuleList([Affine(1)])
    ml.append(Affine(1))
    ml += [Affine(1)]
    assert len(list(ml.parameters())) == 6 and len(ml) == 3
    md = nn.ModuleDict({"x": Affine(1)})
    md["y"] = Affine(1)
    assert list(md.keys()) == ["x", "y"] and "y" in md
    assert [n for n, _ in md.named_parameters()][:2] == ["x.scale", "x.shift"]


def test_parameter_shares_memory_with_its_source_and_prints_like_torch():
    t = svertka.zeros(2)
    p = nn.Parameter(t)
    with svertka.no_grad():
        t.add_(1)
    assert p.tolist() == [1.0, 1.0]
    assert repr(p).startswith("Parameter containing:\ntensor([1., 1.], requires_grad=True)")


def test_repr_nested_style_matches_torch():
    def block(lib):
        class Block(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = lib.nn.Sequential(lib.nn.Identity(), lib.nn.Identity())
                self.last = lib.nn.Identity()
        return Block()

    assert repr(block(svertka)) == repr(block(torch))
    assert repr(block(svertka)).count("\n") == 6


def test_module_without_forward_raises():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(1)


def test_deepcopy_and_pickle_give_independent_equal_models():
    import copy
    import pickle

    m = Net()
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert clone.first.scale is not m.first.scale
        assert isinstance(clone.first.scale, nn.Parameter) and clone.first.scale.requires_grad
        x = svertka.randn(2, 3)
        assert np.array_equal(clone(x).detach().numpy(), m(x).detach().numpy())
        with svertka.no_grad():
            clone.first.scale.mul_(2)
        assert m.first.scale.tolist() == [1.0, 1.0, 1.0]


def test_subpackages_are_reachable_from_the_top_level():
    assert svertka.models.lenet5 and svertka.data.DataLoader and svertka.analysis.summary
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        _ = svertka.nonexistent
