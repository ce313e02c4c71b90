"""conv_output_size / conv_transpose_output_size against the shapes torch produces."""

import pytest
import torch
import torch.nn.functional as TF

from svertka.analysis import conv_output_size, conv_transpose_output_size

CONV_CASES = [
    # size, kernel, stride, padding, dilation
    pytest.param(32, 5, 1, 0, 1, id="valid-5"),
    pytest.param(32, 3, 1, 1, 1, id="same-3"),
    pytest.param(224, 11, 4, 2, 1, id="alexnet-conv1"),
    pytest.param(7, 3, 2, 0, 2, id="dilated-strided"),
    pytest.param(5, 5, 1, 0, 1, id="kernel-as-large-as-input"),
    pytest.param(6, 1, 3, 0, 1, id="stride-larger-than-kernel"),
    pytest.param((9, 12), (3, 2), (2, 1), (1, 0), (1, 3), id="2d-tuples"),
    pytest.param((5, 6, 7), 2, 2, 1, 1, id="3d"),
]


@pytest.mark.parametrize("size, kernel, stride, padding, dilation", CONV_CASES)
def test_conv_output_size_matches_torch_conv(size, kernel, stride, padding, dilation):
    sizes = (size,) if isinstance(size, int) else size
    n = len(sizes)
    k = (kernel,) * n if isinstance(kernel, int) else kernel
    conv = {1: TF.conv1d, 2: TF.conv2d, 3: TF.conv3d}[n]
    y = conv(torch.zeros(1, 1, *sizes), torch.zeros(1, 1, *k), stride=stride, padding=padding,
             dilation=dilation)
    got = conv_output_size(size, kernel, stride, padding, dilation)
    assert (got if isinstance(size, tuple) else (got,)) == tuple(y.shape[2:])


POOL_CASES = [
    pytest.param(6, 2, 2, 0, id="even"),
    pytest.param(5, 2, 2, 0, id="odd-overhang"),
    pytest.param(7, 3, 2, 1, id="padded"),
    pytest.param(8, 3, 3, 1, id="last-window-in-padding"),
    pytest.param(13, 3, 2, 0, id="alexnet-pool"),
]


@pytest.mark.parametrize("ceil_mode", [False, True], ids=["floor", "ceil"])
@pytest.mark.parametrize("size, kernel, stride, padding", POOL_CASES)
def test_conv_output_size_matches_torch_max_pool(size, kernel, stride, padding, ceil_mode):
    y = TF.max_pool1d(torch.zeros(1, 1, size), kernel, stride, padding, ceil_mode=ceil_mode)
    assert conv_output_size(size, kernel, stride, padding, ceil_mode=ceil_mode) == y.shape[-1]


def test_conv_output_size_is_zero_when_kernel_does_not_fit():
    assert conv_output_size(3, 5) == 0


TRANSPOSE_CASES = [
    # size, kernel, stride, padding, output_padding, dilation
    pytest.param(16, 4, 2, 1, 0, 1, id="dcgan-2x"),
    pytest.param(3, 3, 2, 0, 1, 1, id="output-padding"),
    pytest.param(5, 3, 1, 1, 0, 1, id="stride-1"),
    pytest.param(4, 3, 3, 0, 1, 2, id="dilated"),
    pytest.param(1, 1, 1, 0, 0, 1, id="one-pixel"),
    pytest.param((3, 5), (3, 2), (2, 3), (1, 0), (1, 2), (1, 1), id="2d-tuples"),
]


@pytest.mark.parametrize("size, kernel, stride, padding, output_padding, dilation",
                         TRANSPOSE_CASES)
def test_conv_transpose_output_size_matches_torch(size, kernel, stride, padding, output_padding,
                                                  dilation):
    sizes = (size,) if isinstance(size, int) else size
    n = len(sizes)
    k = (kernel,) * n if isinstance(kernel, int) else kernel
    fn = {1: TF.conv_transpose1d, 2: TF.conv_transpose2d}[n]
    y = fn(torch.zeros(1, 1, *sizes), torch.zeros(1, 1, *k), stride=stride, padding=padding,
           output_padding=output_padding, dilation=dilation)
    got = conv_transpose_output_size(size, kernel, stride, padding, output_padding, dilation)
    assert (got if isinstance(size, tuple) else (got,)) == tuple(y.shape[2:])


def test_conv_transpose_output_size_inverts_conv_output_size():
    for size in range(4, 20):
        out = conv_output_size(size, 3, stride=2, padding=1)
        back = conv_transpose_output_size(out, 3, stride=2, padding=1,
                                          output_padding=(size + 1) % 2)
        assert back == size


@pytest.mark.parametrize("fn", [conv_output_size, conv_transpose_output_size],
                         ids=["conv", "transpose"])
def test_output_size_rejects_bad_arguments(fn):
    with pytest.raises(TypeError, match=f"{fn.__name__}: size must be an int"):
        fn("32", 3)
    with pytest.raises(ValueError, match="size must be non-negative"):
        fn(-1, 3)
    with pytest.raises(ValueError, match=r"stride must be a positive int .*got stride=0"):
        fn(8, 3, stride=0)
    with pytest.raises(ValueError, match=r"kernel must be .* 2 positive ints"):
        fn((8, 8), (3, 3, 3))
    with pytest.raises(ValueError, match="padding must be a non-negative int"):
        fn(8, 3, padding=-1)


def test_conv_transpose_output_size_rejects_large_output_padding():
    with pytest.raises(ValueError, match="output_padding must be smaller than either stride"):
        conv_transpose_output_size(4, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="output size -3 is negative"):
        conv_transpose_output_size(1, 1, padding=2)
