"""Course code that asks for a device runs on svertka's CPU unchanged; other devices are
refused clearly."""

import pytest

import svertka
from svertka import nn


def test_the_usual_device_idiom_selects_the_cpu_and_runs():
    torch = svertka  # as in `import svertka as torch`
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = nn.Linear(3, 2).to(device)
    x = torch.randn(4, 3).to(device)
    y = torch.zeros(4, 2, device=device)
    assert model(x).shape == y.shape
    assert x.device == "cpu" and x.device == device and str(device) == "cpu"
    assert repr(svertka.device("cpu:0")) == "device(type='cpu', index=0)"
    assert torch.cuda.device_count() == 0 and not x.is_cuda


@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "mps"])
def test_other_devices_are_refused_with_a_clear_error(spec):
    with pytest.raises(ValueError, match="svertka runs on the CPU only"):
        svertka.device(spec)
    with pytest.raises(ValueError, match="only the 'cpu' device is available"):
        svertka.ones(2).to(spec)
    with pytest.raises(ValueError, match="only the 'cpu' device is available"):
        nn.Linear(2, 2).to(spec)
    with pytest.raises(ValueError, match="only the 'cpu' device is available"):
        svertka.zeros(2, device=spec)


def test_cuda_methods_explain_the_cpu_only_design():
    with pytest.raises(ValueError, match="CPU only"):
        svertka.ones(1).cuda()
    with pytest.raises(ValueError, match="CPU only"):
        nn.Linear(1, 1).cuda()


def test_torch_utils_data_names_are_available():
    from svertka.utils.data import DataLoader, Dataset, TensorDataset, random_split

    assert DataLoader is svertka.data.DataLoader and Dataset and TensorDataset and random_split
    assert svertka.utils.data.DataLoader is DataLoader
