"""svertka.data.transforms vs torchvision's semantics, computed by hand, with NumPy, PIL and
torch.nn.functional.interpolate as references."""

import numpy as np
import pytest
import torch
from tests._oracle import assert_close

import svertka
from svertka.data import transforms as T
from svertka.tensor import Tensor


def _img(h=5, w=7, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, c), dtype=np.uint8)


def _tensor(shape=(3, 5, 7), seed=0):
    return Tensor._make(np.random.default_rng(seed).random(shape))


# ---------------------------------------------------------------------------- ToTensor
@pytest.mark.parametrize("shape", [(4, 6, 3), (4, 6, 1), (4, 6), (1, 1, 3)],
                         ids=["rgb", "grey_hwc", "grey_hw", "one_pixel"])
def test_to_tensor_scales_uint8_to_chw_float32(shape):
    img = np.random.default_rng(1).integers(0, 256, size=shape, dtype=np.uint8)
    x = T.ToTensor()(img)
    hwc = img if img.ndim == 3 else img[:, :, None]
    assert x.dtype == svertka.float32
    assert_close(x.numpy(), hwc.transpose(2, 0, 1).astype(np.float32) / np.float32(255))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_to_tensor_keeps_float_arrays_unscaled(dtype):
    img = (np.arange(24).reshape(2, 4, 3) * 10).astype(dtype)
    x = T.ToTensor()(img)
    assert x.numpy().dtype == dtype
    np.testing.assert_array_equal(x.numpy(), img.transpose(2, 0, 1))


@pytest.mark.parametrize("pic, exc, match", [
    (svertka.zeros(3, 2, 2), TypeError, "pic must be an ndarray"),
    (np.zeros((1, 2, 2, 3), np.uint8), ValueError, r"got shape \(1, 2, 2, 3\)"),
], ids=["tensor", "4d"])
def test_to_tensor_rejects_bad_input(pic, exc, match):
    with pytest.raises(exc, match=match):
        T.ToTensor()(pic)


# ---------------------------------------------------------------------------- Normalize
@pytest.mark.parametrize("mean, std", [((0.5, 0.4, 0.3), (0.2, 0.25, 0.5)), ((0.5,), (0.5,)),
                                       ([0.1, 0.2, 0.3], [1, 2, 3])],
                         ids=["per_channel", "one_value", "lists"])
def test_normalize_matches_formula(mean, std):
    x = _tensor((3, 4, 5))
    y = T.Normalize(mean, std)(x)
    m = np.resize(np.asarray(mean, float), 3).reshape(3, 1, 1)
    s = np.resize(np.asarray(std, float), 3).reshape(3, 1, 1)
    assert_close(y, (x.numpy() - m) / s)
    expected = torch.from_numpy(x.numpy()).sub(torch.tensor(m)).div(torch.tensor(s))
    assert_close(y, expected)


def test_normalize_keeps_float32_and_batches():
    x = Tensor._make(np.random.default_rng(0).random((2, 3, 4, 4), dtype=np.float32))
    y = T.Normalize((0.5, 0.5, 0.5), (0.2, 0.2, 0.2))(x)
    assert y.numpy().dtype == np.float32
    assert_close(y, (x.numpy() - 0.5) / 0.2, rtol=1e-5)


def test_normalize_inplace_overwrites_input():
    x = _tensor((1, 2, 2))
    before = x.numpy().copy()
    y = T.Normalize((1.0,), (2.0,), inplace=True)(x)
    assert y is x
    assert_close(x, (before - 1.0) / 2.0)


@pytest.mark.parametrize("x, mean, std, exc, match", [
    (np.zeros((3, 2, 2)), (0.5,), (0.5,), TypeError, "tensor must be a Tensor"),
    (svertka.zeros(3, 2, 2, dtype=svertka.int64), (0,), (1,), TypeError, "floating-point"),
    (svertka.zeros(2, 2), (0,), (1,), ValueError, r"\(\.\.\., C, H, W\)"),
    (svertka.zeros(3, 2, 2), (0.5, 0.5), (0.5,), ValueError,
     "mean has 2 values but the tensor has 3 channels"),
    (svertka.zeros(1, 2, 2), (0.5,), (0.5, 0.5, 0.5), ValueError,
     "std has 3 values but the tensor has 1 channels"),
    (svertka.zeros(3, 2, 2), (0.5,), (1.0, 0.0, 1.0), ValueError, "division by zero"),
], ids=["array", "int_tensor", "2d", "mean_channels", "std_channels", "zero_std"])
def test_normalize_rejects_bad_arguments(x, mean, std, exc, match):
    with pytest.raises(exc, match=match):
        T.Normalize(mean, std)(x)


# ---------------------------------------------------------------------------- Pad
_PAD_CASES = [
    (2, "constant"), ((1, 2), "constant"), ((1, 2, 3, 0), "constant"), (0, "constant"),
    (2, "edge"), ((1, 3), "edge"), (2, "reflect"), ((4, 1, 0, 2), "reflect"),
    (2, "symmetric"), ((0, 3, 5, 1), "symmetric"),
]


def _np_widths(padding):
    p = [padding] * 4 if isinstance(padding, int) else list(padding) * (4 // len(padding))
    left, top, right, bottom = p
    return (top, bottom), (left, right)


@pytest.mark.parametrize("padding, mode", _PAD_CASES,
                         ids=[f"{m}_{p}" for p, m in _PAD_CASES])
def test_pad_matches_np_pad(padding, mode):
    img = _img(6, 7)
    rows, cols = _np_widths(padding)
    kw = {"constant_values": 9} if mode == "constant" else {}
    expected = np.pad(img, (rows, cols, (0, 0)), mode=mode, **kw)
    out = T.Pad(padding, fill=9, padding_mode=mode)(img)
    np.testing.assert_array_equal(out, expected)
    x = _tensor((2, 6, 7))
    expected_t = np.pad(x.numpy(), ((0, 0), rows, cols), mode=mode, **kw)
    np.testing.assert_array_equal(T.Pad(padding, 9, mode)(x).numpy(), expected_t)


def test_pad_fills_each_channel_with_its_value():
    out = T.Pad(1, fill=(10, 20, 30))(np.zeros((2, 2, 3), np.uint8))
    np.testing.assert_array_equal(out[0, 0], [10, 20, 30])
    np.testing.assert_array_equal(out[1:3, 1:3], 0)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(padding=-1), ValueError, "padding must be non-negative"),
    (dict(padding=(1, 2, 3)), TypeError, "sequence of 1, 2 or 4 ints"),
    (dict(padding=1.5), TypeError, "got padding=1.5"),
    (dict(padding=1, padding_mode="wrap"), ValueError, "padding_mode must be one of"),
], ids=["negative", "three_values", "float", "bad_mode"])
def test_pad_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        T.Pad(**kwargs)


def test_pad_rejects_bad_fill_and_tiny_reflect():
    with pytest.raises(ValueError, match=r"one value per channel \(3\)"):
        T.Pad(1, fill=(1, 2))(_img())
    with pytest.raises(ValueError, match="reflect padding needs at least 2 pixels"):
        T.Pad(1, padding_mode="reflect")(np.zeros((1, 4, 1), np.uint8))


# ---------------------------------------------------------------------------- crops
@pytest.mark.parametrize("size, padding", [(3, None), ((2, 5), None), (7, 2), ((5, 7), None)],
                         ids=["square", "rect", "padded", "full"])
def test_random_crop_is_a_window_of_the_padded_image(size, padding):
    img = _img(5, 7)
    svertka.manual_seed(3)
    out = T.RandomCrop(size, padding=padding)(img)
    th, tw = (size, size) if isinstance(size, int) else size
    src = img if padding is None else np.pad(img, ((padding,) * 2, (padding,) * 2, (0, 0)))
    windows = [src[i:i + th, j:j + tw] for i in range(src.shape[0] - th + 1)
               for j in range(src.shape[1] - tw + 1)]
    assert out.shape == (th, tw, 3)
    assert any(np.array_equal(out, w) for w in windows)


def test_random_crop_reproducible_under_manual_seed():
    img = _img(16, 16)
    crop = T.RandomCrop(8, padding=2, padding_mode="reflect")
    svertka.manual_seed(7)
    a = [crop(img) for _ in range(5)]
    svertka.manual_seed(7)
    b = [crop(img) for _ in range(5)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(a[0], x) for x in a[1:])


def test_random_crop_pads_if_needed_and_rejects_too_large():
    out = T.RandomCrop((6, 9), pad_if_needed=True, fill=255)(_img(4, 5))
    assert out.shape == (6, 9, 3)
    with pytest.raises(ValueError, match=r"required crop size \(6, 9\) is larger than the "
                                         r"input image size \(4, 5\)"):
        T.RandomCrop((6, 9))(_img(4, 5))


def test_random_crop_works_on_tensors():
    x = _tensor((3, 6, 6))
    assert T.RandomCrop(4)(x).shape == svertka.Size([3, 4, 4])


@pytest.mark.parametrize("h, w, size, top, left", [
    (6, 8, 4, 1, 2), (5, 7, (3, 4), 1, 2), (6, 6, 3, 2, 2), (5, 5, 2, 2, 2), (7, 6, (7, 6), 0, 0),
], ids=["even", "rect", "half_offset_even", "half_offset_odd", "no_crop"])
def test_center_crop_takes_torchvision_offsets(h, w, size, top, left):
    img = _img(h, w)
    th, tw = (size, size) if isinstance(size, int) else size
    np.testing.assert_array_equal(T.CenterCrop(size)(img), img[top:top + th, left:left + tw])


@pytest.mark.parametrize("h, w, size, top, left", [(2, 3, (4, 5), 1, 1), (2, 2, (5, 5), 1, 1),
                                                  (3, 1, (2, 4), 0, 1)],
                         ids=["even_pad", "odd_pad", "pad_and_crop"])
def test_center_crop_pads_with_zeros_when_larger(h, w, size, top, left):
    img = _img(h, w)
    out = T.CenterCrop(size)(img)
    # torchvision: pad (size - w) // 2 on the left/top, the rest on the right/bottom
    padded = np.zeros((max(h, size[0]), max(w, size[1]), 3), np.uint8)
    r0, c0 = max(size[0] - h, 0) // 2, max(size[1] - w, 0) // 2
    padded[r0:r0 + h, c0:c0 + w] = img
    r, c = int(round((padded.shape[0] - size[0]) / 2)), int(round((padded.shape[1] - size[1]) / 2))
    np.testing.assert_array_equal(out, padded[r:r + size[0], c:c + size[1]])
    assert (r0, c0) == (top, left)


@pytest.mark.parametrize("size, match", [(0, "size must be positive"),
                                         ((2, 3, 4), "sequence of 1 or 2 ints"),
                                         ("big", "got size='big'")],
                         ids=["zero", "three", "string"])
def test_crops_reject_bad_size(size, match):
    with pytest.raises(ValueError, match=match):
        T.CenterCrop(size)
    with pytest.raises(ValueError, match=match):
        T.RandomCrop(size)


# ---------------------------------------------------------------------------- flips
@pytest.mark.parametrize("cls, flip", [(T.RandomHorizontalFlip, lambda a: a[:, ::-1]),
                                       (T.RandomVerticalFlip, lambda a: a[::-1])],
                         ids=["horizontal", "vertical"])
def test_flip_mirrors_arrays_and_tensors(cls, flip):
    img = _img()
    np.testing.assert_array_equal(cls(p=1.0)(img), flip(img))
    np.testing.assert_array_equal(cls(p=0.0)(img), img)
    x = _tensor()
    expected = torch.from_numpy(x.numpy()).flip(-1 if cls is T.RandomHorizontalFlip else -2)
    assert_close(cls(p=1.0)(x), expected)


def test_flip_happens_about_p_of_the_time_reproducibly():
    img = _img(1, 2, 1)
    svertka.manual_seed(0)
    flips = [T.RandomHorizontalFlip(0.3)(img)[0, 0, 0] != img[0, 0, 0] for _ in range(400)]
    assert 0.2 < np.mean(flips) < 0.4
    svertka.manual_seed(0)
    again = [T.RandomHorizontalFlip(0.3)(img)[0, 0, 0] != img[0, 0, 0] for _ in range(400)]
    assert flips == again


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5"], ids=["negative", "above_one", "string"])
def test_flip_rejects_bad_probability(p):
    with pytest.raises(ValueError, match="p must be a probability in"):
        T.RandomHorizontalFlip(p)


# ---------------------------------------------------------------------------- Resize
@pytest.mark.parametrize("h, w, oh, ow", [(4, 6, 8, 12), (6, 9, 4, 3), (5, 7, 3, 10), (3, 3, 7, 7)],
                         ids=["up2", "down", "mixed", "odd_up"])
def test_resize_nearest_array_exact_values(h, w, oh, ow):
    img = _img(h, w)
    rows = np.floor((np.arange(oh) + 0.5) * h / oh).astype(int)
    cols = np.floor((np.arange(ow) + 0.5) * w / ow).astype(int)
    out = T.Resize((oh, ow), interpolation="nearest")(img)
    np.testing.assert_array_equal(out, img[rows][:, cols])


def test_resize_nearest_array_matches_pil():
    Image = pytest.importorskip("PIL.Image")
    img = _img(9, 13)
    for oh, ow in [(4, 5), (18, 26), (10, 7)]:
        pil = np.asarray(Image.fromarray(img).resize((ow, oh), Image.NEAREST))
        np.testing.assert_array_equal(T.Resize((oh, ow), "nearest")(img), pil)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("size", [(3, 4), (10, 13), (9, 2), (5, 7)],
                         ids=["down", "up", "mixed", "same"])
def test_resize_tensor_matches_torch_interpolate(mode, size):
    x = _tensor((2, 3, 5, 7))
    kw = {} if mode == "nearest" else dict(align_corners=False, antialias=False)
    expected = torch.nn.functional.interpolate(torch.from_numpy(x.numpy()), size=size,
                                               mode=mode, **kw)
    assert_close(T.Resize(size, interpolation=mode)(x), expected)


def test_resize_bilinear_uint8_is_rounded_float_result():
    img = _img(4, 6)
    out = T.Resize((7, 9))(img)
    ref = T.Resize((7, 9))(Tensor._make(img.transpose(2, 0, 1).astype(np.float64)))
    assert out.dtype == np.uint8
    assert np.abs(out.transpose(2, 0, 1).astype(float) - ref.numpy()).max() <= 0.5 + 1e-6


@pytest.mark.parametrize("h, w, size, max_size, expected", [
    (32, 48, 16, None, (16, 24)), (48, 32, 16, None, (24, 16)), (30, 31, 10, None, (10, 10)),
    (20, 100, 10, 30, (6, 30)), (4, 4, [3], None, (3, 3)),
], ids=["landscape", "portrait", "truncates", "max_size", "list_of_one"])
def test_resize_int_sets_smaller_edge(h, w, size, max_size, expected):
    out = T.Resize(size, max_size=max_size)(np.zeros((h, w, 1), np.uint8))
    assert out.shape[:2] == expected


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(size=0), ValueError, "size must be positive"),
    (dict(size="x"), TypeError, "got size='x'"),
    (dict(size=4, interpolation="bicubic"), ValueError, "interpolation must be one of"),
    (dict(size=4, antialias=True), ValueError, "antialias=True is not supported"),
], ids=["zero", "string", "bicubic", "antialias"])
def test_resize_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        T.Resize(**kwargs)


def test_resize_rejects_max_size_problems():
    with pytest.raises(ValueError, match="max_size must be strictly greater"):
        T.Resize(10, max_size=10)(_img())
    with pytest.raises(ValueError, match="max_size is only supported when size is an int"):
        T.Resize((4, 4), max_size=10)(_img())


# ---------------------------------------------------------------------------- rotation
@pytest.mark.parametrize("n", [4, 5, 6])
@pytest.mark.parametrize("angle, k", [(90, 1), (-90, -1), (180, 2), (270, 3), (0, 0)],
                         ids=["90", "minus90", "180", "270", "0"])
def test_rotation_quarter_turns_equal_rot90(n, angle, k):
    img = np.random.default_rng(n).integers(0, 256, size=(n, n, 2), dtype=np.uint8)
    out = T.RandomRotation((angle, angle))(img)
    np.testing.assert_array_equal(out, np.rot90(img, k, axes=(0, 1)))
    x = _tensor((2, n, n))
    assert_close(T.RandomRotation((angle, angle))(x), np.rot90(x.numpy(), k, axes=(1, 2)))


def test_rotation_bilinear_quarter_turn_is_exact():
    img = _img(6, 6)
    out = T.RandomRotation((90, 90), interpolation="bilinear")(img)
    np.testing.assert_array_equal(out, np.rot90(img, 1, axes=(0, 1)))


def test_rotation_nearest_agrees_with_pil():
    Image = pytest.importorskip("PIL.Image")
    img = _img(9, 11)
    for angle in (-17.0, 45.0, 30.0):
        pil = np.asarray(Image.fromarray(img).rotate(angle, Image.NEAREST))
        ours = T.rotate(img, angle)
        # PIL accumulates the sample coordinate incrementally; ties may round apart
        assert (ours != pil).any(axis=-1).mean() < 0.1


def test_rotation_fills_uncovered_corners():
    out = T.rotate(np.full((8, 8, 3), 100, np.uint8), 45, fill=(1, 2, 3))
    np.testing.assert_array_equal(out[0, 0], [1, 2, 3])
    np.testing.assert_array_equal(out[4, 4], [100, 100, 100])


def test_rotation_reproducible_under_manual_seed():
    img = _img(8, 8)
    rot = T.RandomRotation(30, interpolation="bilinear")
    svertka.manual_seed(11)
    a = rot(img)
    svertka.manual_seed(11)
    np.testing.assert_array_equal(rot(img), a)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(degrees=-5), ValueError, "it must be non-negative"),
    (dict(degrees=(10, 5)), ValueError, "min <= max"),
    (dict(degrees="x"), TypeError, "degrees must be a number"),
    (dict(degrees=5, interpolation="cubic"), ValueError, "interpolation must be one of"),
    (dict(degrees=5, expand=True), ValueError, "expand=True and center are not supported"),
], ids=["negative", "reversed", "string", "cubic", "expand"])
def test_rotation_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        T.RandomRotation(**kwargs)


# ---------------------------------------------------------------------------- affine
@pytest.mark.parametrize("tx, ty", [(2, 1), (-1, 0), (0, -3)], ids=["right_down", "left", "up"])
def test_affine_translation_shifts_and_fills(tx, ty):
    img = _img(6, 7)
    out = T.affine(img, 0.0, (tx, ty), 1.0, (0.0, 0.0), fill=7)
    expected = np.full_like(img, 7)
    src = img[max(-ty, 0):6 - max(ty, 0), max(-tx, 0):7 - max(tx, 0)]
    expected[max(ty, 0):max(ty, 0) + src.shape[0], max(tx, 0):max(tx, 0) + src.shape[1]] = src
    np.testing.assert_array_equal(out, expected)


def test_affine_angle_is_clockwise_as_torchvision():
    img = _img(6, 6)
    np.testing.assert_array_equal(T.affine(img, 90.0, (0, 0), 1.0, 0.0),
                                  np.rot90(img, -1, axes=(0, 1)))


def test_affine_scale_two_repeats_centre_pixels():
    img = _img(4, 4)
    out = T.affine(img, 0.0, (0, 0), 2.0, (0.0, 0.0))
    np.testing.assert_array_equal(out, np.repeat(np.repeat(img[1:3, 1:3], 2, 0), 2, 1))


def test_affine_shear_moves_rows_by_their_offset():
    img = _img(5, 9)
    out = T.affine(img, 0.0, (0, 0), 1.0, (45.0, 0.0), fill=0)
    # x shear of 45 degrees: row r samples the input at column x + (r + 0.5 - 2.5)
    for r in range(5):
        shift = r - 2
        src = np.arange(9) + shift
        ok = (src >= 0) & (src < 9)
        np.testing.assert_array_equal(out[r, ok], img[r, src[ok]])


def test_random_affine_identity_ranges_keep_the_image():
    img = _img()
    np.testing.assert_array_equal(T.RandomAffine(0, translate=(0, 0), scale=(1, 1))(img), img)


def test_random_affine_reproducible_and_param_ranges():
    aff = T.RandomAffine(20, translate=(0.2, 0.1), scale=(0.8, 1.2), shear=(-5, 5, -3, 3))
    svertka.manual_seed(5)
    params = [aff.get_params((10, 20)) for _ in range(50)]
    for angle, (tx, ty), scale, (sx, sy) in params:
        assert -20 <= angle <= 20 and abs(tx) <= 4 and abs(ty) <= 1
        assert 0.8 <= scale <= 1.2 and -5 <= sx <= 5 and -3 <= sy <= 3
    svertka.manual_seed(5)
    assert [aff.get_params((10, 20)) for _ in range(50)] == params
    svertka.manual_seed(1)
    a = aff(_img(10, 20))
    svertka.manual_seed(1)
    np.testing.assert_array_equal(aff(_img(10, 20)), a)


@pytest.mark.parametrize("kwargs, match", [
    (dict(degrees=5, translate=(0.5, 1.5)), "translate must be a pair of fractions"),
    (dict(degrees=5, scale=(1.2, 0.8)), "scale must be a pair"),
    (dict(degrees=5, scale=(0, 1)), "scale must be a pair"),
    (dict(degrees=5, shear=-3), "shear is a single number, it must be non-negative"),
    (dict(degrees=5, center=(1, 1)), "center is not supported"),
], ids=["translate", "scale_reversed", "scale_zero", "shear", "center"])
def test_random_affine_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        T.RandomAffine(**kwargs)


# ---------------------------------------------------------------------------- composition
def test_compose_applies_in_order_and_lambda():
    out = T.Compose([T.Lambda(lambda a: a[:, :2]), T.ToTensor(),
                     T.Lambda(lambda x: x * 2)])(_img(3, 4))
    assert out.shape == svertka.Size([3, 3, 2])
    with pytest.raises(TypeError, match="every transform must be callable"):
        T.Compose([1])
    with pytest.raises(TypeError, match="lambd must be callable"):
        T.Lambda(3)


def test_random_apply_probability_extremes():
    img = _img()
    flip = [T.RandomHorizontalFlip(1.0)]
    np.testing.assert_array_equal(T.RandomApply(flip, p=1.0)(img), img[:, ::-1])
    np.testing.assert_array_equal(T.RandomApply(flip, p=0.0)(img), img)
    with pytest.raises(ValueError, match="p must be a probability"):
        T.RandomApply(flip, p=2)


def test_color_jitter_brightness_and_contrast():
    img = _img()
    np.testing.assert_array_equal(T.ColorJitter()(img), img)
    np.testing.assert_array_equal(T.ColorJitter(brightness=(2, 2))(img),
                                  np.clip(img.astype(int) * 2, 0, 255))
    flat = T.ColorJitter(contrast=(0, 0))(img)
    assert (flat == flat[0, 0]).all()  # no contrast: every pixel the mean grey
    x = _tensor()
    assert_close(T.ColorJitter(brightness=(0.5, 0.5))(x), x.numpy() * 0.5)
    with pytest.raises(ValueError, match="brightness is a single number, it must be"):
        T.ColorJitter(brightness=-1)


def test_transform_reprs_follow_torchvision():
    assert repr(T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])) == (
        "Compose(\n    ToTensor()\n    Normalize(mean=(0.5,), std=(0.5,))\n)")
    assert repr(T.RandomHorizontalFlip()) == "RandomHorizontalFlip(p=0.5)"
    assert repr(T.RandomVerticalFlip(0.2)) == "RandomVerticalFlip(p=0.2)"
    assert repr(T.RandomCrop(32, padding=4)) == "RandomCrop(size=(32, 32), padding=4)"
    assert repr(T.CenterCrop((3, 4))) == "CenterCrop(size=(3, 4))"
    assert repr(T.Pad(2)) == "Pad(padding=2, fill=0, padding_mode=constant)"
    assert repr(T.Resize(8)) == ("Resize(size=8, interpolation=bilinear, max_size=None, "
                                 "antialias=False)")
    assert repr(T.RandomRotation(10)) == ("RandomRotation(degrees=[-10.0, 10.0], "
                                          "interpolation=nearest, expand=False, fill=0)")
    assert repr(T.RandomAffine(5, scale=(0.9, 1.1))) == (
        "RandomAffine(degrees=[-5.0, 5.0], scale=(0.9, 1.1))")
    assert repr(T.RandomApply([T.ToTensor()], p=0.3)) == (
        "RandomApply(\n    p=0.3\n    ToTensor()\n)")
    assert repr(T.Lambda(abs)) == "Lambda()"
    assert repr(T.ColorJitter(0.2)) == "ColorJitter(brightness=[0.8, 1.2], contrast=None)"


def test_geometric_transforms_reject_non_images():
    with pytest.raises(TypeError, match="img must be an"):
        T.hflip([[1, 2]])
    with pytest.raises(ValueError, match=r"must be \(H, W\) or \(H, W, C\)"):
        T.hflip(np.zeros((1, 2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        T.vflip(svertka.zeros(3))


def test_transforms_reproducible_through_the_dataloader():
    from svertka.data import DataLoader
    from svertka.data.datasets import ImageArrayDataset

    images = np.random.default_rng(0).integers(0, 256, (12, 8, 8, 3), dtype=np.uint8)
    ds = ImageArrayDataset(images, np.arange(12) % 3, ["a", "b", "c"], transform=T.Compose(
        [T.RandomCrop(6, padding=1), T.RandomHorizontalFlip(), T.ToTensor()]))

    def run():
        svertka.manual_seed(2)
        return [x.numpy() for x, _ in DataLoader(ds, batch_size=4, shuffle=True)]

    a, b = run(), run()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("transform", [
    T.ToTensor(), T.Compose([T.ToTensor()]),
    T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))]),
    T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.25,), inplace=True),
               T.Normalize((1.0,), (2.0,))]),
], ids=["to_tensor", "compose_to_tensor", "normalize", "two_normalize_inplace"])
def test_image_dataset_batches_deterministic_transforms_at_once_bit_identically(transform):
    # ToTensor + Normalize need no per-image Python work: the loader gathers whole batches
    # (get_batch), and they equal the per-image results stacked, bit for bit
    from svertka.data import DataLoader, default_collate
    from svertka.data.datasets import ImageArrayDataset

    images = np.random.default_rng(0).integers(0, 256, (10, 6, 5, 1), dtype=np.uint8)
    ds = ImageArrayDataset(images, np.arange(10) % 3, ["a", "b", "c"], transform=transform)
    assert hasattr(ds, "get_batch")
    batches = list(DataLoader(ds, batch_size=4))
    for b, (x, y) in enumerate(batches):
        ref_x, ref_y = default_collate([ds[i] for i in range(4 * b, min(4 * b + 4, 10))])
        assert x.dtype == ref_x.dtype == svertka.float32 and y.dtype == ref_y.dtype
        assert np.array_equal(x.numpy(), ref_x.numpy()) and np.array_equal(y.numpy(),
                                                                           ref_y.numpy())


def test_image_dataset_batches_keep_per_image_errors_and_random_transforms():
    from svertka.data import DataLoader
    from svertka.data.datasets import ImageArrayDataset

    images = np.zeros((4, 3, 3, 1), dtype=np.uint8)
    bad = ImageArrayDataset(images, np.zeros(4), ["a"], transform=T.Compose(
        [T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (1.0, 1.0, 1.0))]))
    with pytest.raises(ValueError, match=r"mean has 3 values but the tensor has 1 channels "
                                         r"\(shape \(1, 3, 3\)\)"):
        next(iter(DataLoader(bad, batch_size=2, prefetch_factor=0)))
    random = ImageArrayDataset(images, np.zeros(4), ["a"], transform=T.Compose(
        [T.RandomHorizontalFlip(), T.ToTensor()]))
    assert not hasattr(random, "get_batch")
    assert T.batch_transform(T.Compose([T.Normalize((0.5,), (1.0,)), T.ToTensor()])) is None
