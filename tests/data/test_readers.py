"""MNIST / FashionMNIST / CIFAR readers and ImageFolder on small files written in the real
formats (IDX raw and gzipped, Python 2 style CIFAR pickles, tar.gz archives, PNG folders)."""

import gzip
import io
import os
import pickle
import struct
import sys
import tarfile

import numpy as np
import pytest

from svertka.data import DataLoader
from svertka.data.datasets import CIFAR10, CIFAR100, MNIST, FashionMNIST, ImageFolder
from svertka.data.datasets.cifar import safe_load
from svertka.data.transforms import ToTensor

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy 1
    from numpy.core.multiarray import _reconstruct


# ---------------------------------------------------------------------------- IDX files
def idx_bytes(array, magic=None):
    array = np.asarray(array, dtype=np.uint8)
    magic = (0x0800 | array.ndim) if magic is None else magic
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.tobytes()


def write(path, data, gz=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if gz:
        path = str(path) + ".gz"
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)
    return path


def make_mnist(folder, n=(6, 4), gz=False, h=4, w=5, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {}
    for prefix, count in zip(("train", "t10k"), n):
        images = rng.integers(0, 256, (count, h, w), dtype=np.uint8)
        labels = rng.integers(0, 10, count, dtype=np.uint8)
        write(os.path.join(folder, f"{prefix}-images-idx3-ubyte"), idx_bytes(images), gz)
        write(os.path.join(folder, f"{prefix}-labels-idx1-ubyte"), idx_bytes(labels), gz)
        arrays[prefix] = (images, labels)
    return arrays


@pytest.mark.parametrize("cls", [MNIST, FashionMNIST])
@pytest.mark.parametrize("layout", ["raw", "root"])
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_mnist_reads_idx_files(tmp_path, cls, layout, gz):
    folder = tmp_path / cls.__name__ / "raw" if layout == "raw" else tmp_path
    arrays = make_mnist(folder, gz=gz)
    for train, prefix in ((True, "train"), (False, "t10k")):
        ds = cls(tmp_path, train=train)
        images, labels = arrays[prefix]
        assert len(ds) == len(labels) and ds.train is train
        np.testing.assert_array_equal(ds.data[..., 0], images)
        np.testing.assert_array_equal(ds.targets, labels)
        x, y = ds[1]
        assert x.shape == (1, 4, 5) and y == labels[1]
        np.testing.assert_allclose(x.numpy()[0], images[1] / 255, rtol=1e-6)
    assert ds.classes == cls.classes and len(ds.classes) == 10


def test_mnist_transform_receives_uint8_array_and_loader_batches(tmp_path):
    make_mnist(tmp_path / "MNIST" / "raw")
    seen = []
    ds = MNIST(tmp_path, transform=lambda a: seen.append(a) or ToTensor()(a),
               target_transform=lambda t: t + 100)
    x, y = ds[0]
    assert seen[0].shape == (4, 5, 1) and seen[0].dtype == np.uint8 and y >= 100
    batches = list(DataLoader(MNIST(tmp_path), batch_size=4))
    assert [tuple(b[0].shape) for b in batches] == [(4, 1, 4, 5), (2, 1, 4, 5)]


def _corrupt(tmp_path, which, data, gz=False):
    make_mnist(tmp_path, gz=gz)
    name = f"train-{which}-idx{3 if which == 'images' else 1}-ubyte"
    os.remove(os.path.join(tmp_path, name + (".gz" if gz else "")))
    return write(os.path.join(tmp_path, name), data, gz)


_LABELS = np.zeros(6, np.uint8)
_IMAGES = np.zeros((6, 4, 5), np.uint8)
_CORRUPT = [
    ("images", idx_bytes(_LABELS), True,
     r"train-images-idx3-ubyte\.gz: bad magic number 0x00000801, expected 0x00000803 "
     r"\(an IDX image file\)"),
    ("labels", idx_bytes(_IMAGES), False,
     r"bad magic number 0x00000803, expected 0x00000801 \(an IDX label file\)"),
    ("images", idx_bytes(_IMAGES)[:16 + 10], False,
     r"train-images-idx3-ubyte: expected 120 bytes of pixels \(6 x 4 x 5\), found 10"),
    ("images", idx_bytes(_IMAGES) + b"\0", True, r"expected 120 bytes of pixels .*found 121"),
    ("labels", idx_bytes(_LABELS)[:-2], False, r"expected 6 bytes of labels \(6\), found 4"),
    ("images", b"\0\0\x08", False, "file of 3 bytes is too short for an IDX header"),
    ("images", idx_bytes(_IMAGES)[:10], False, "too short for the 16-byte IDX header"),
    ("labels", idx_bytes(np.zeros(5, np.uint8)), False,
     r"train-images-idx3-ubyte holds 6 images but .*train-labels-idx1-ubyte holds 5 labels"),
    ("labels", idx_bytes(np.full(6, 10, np.uint8)), False,
     "label 10 is out of range for 10 classes"),
]


@pytest.mark.parametrize("which, data, gz, match", _CORRUPT,
                         ids=["images_bad_magic_gz", "labels_bad_magic", "truncated_pixels",
                              "extra_byte_gz", "truncated_labels", "tiny_file",
                              "truncated_header", "count_mismatch", "label_range"])
def test_mnist_rejects_corrupt_files_naming_them(tmp_path, which, data, gz, match):
    _corrupt(tmp_path, which, data, gz)
    with pytest.raises(ValueError, match=r"^MNIST: .*" + match):
        MNIST(tmp_path)


def test_mnist_rejects_broken_gzip(tmp_path):
    path = _corrupt(tmp_path, "images", idx_bytes(_IMAGES), gz=True)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: cannot be read as gzip"):
        MNIST(tmp_path)


def test_mnist_missing_files_say_where_and_mention_download(tmp_path):
    write(os.path.join(tmp_path, "train-images-idx3-ubyte"), idx_bytes(_IMAGES))
    with pytest.raises(FileNotFoundError) as info:
        MNIST(tmp_path)
    msg = str(info.value)
    assert "missing train-labels-idx1-ubyte" in msg and "train-images" not in msg
    assert os.path.join(str(tmp_path), "MNIST", "raw") in msg and "download=True" in msg
    with pytest.raises(FileNotFoundError, match=r"FashionMNIST: missing t10k-images"):
        FashionMNIST(tmp_path, train=False)


# ---------------------------------------------------------------------------- CIFAR files
class Py2Pickler(pickle._Pickler):
    """Writes pickles as Python 2's cPickle wrote the CIFAR batches: every str and bytes
    as a Python 2 ``str`` (BINSTRING), NumPy's reconstructor under its old module name."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2str(self, obj):
        b = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(b) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(b)]) + b)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(b)) + b)
        self.memoize(obj)

    dispatch[str] = save_py2str
    dispatch[bytes] = save_py2str

    def save_global(self, obj, name=None):
        if obj is _reconstruct:
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
        else:
            super().save_global(obj, name)


def py2_pickle(obj):
    f = io.BytesIO()
    Py2Pickler(f, protocol=2).dump(obj)
    return f.getvalue()


def cifar_files(kind, n=3, seed=0, py2=True, protocol=4):
    """``{member: bytes}`` of a small CIFAR-10 or CIFAR-100 in the python format: pickled
    as Python 2 did, or by Python 3 with ``protocol``."""
    rng = np.random.default_rng(seed)
    dump = py2_pickle if py2 else (lambda o: pickle.dumps(o, protocol=protocol))
    files, truth = {}, {}
    if kind == 10:
        names = ["train" if i else "test" for i in range(6)]
        members = ["test_batch"] + [f"data_batch_{i}" for i in range(1, 6)]
        for member, split in zip(members, names):
            x = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
            y = [int(v) for v in rng.integers(0, 10, n)]
            files[member] = dump({"batch_label": member, "labels": y, "data": x,
                                  "filenames": [f"{member}_{i}.png" for i in range(n)]})
            truth.setdefault(split, []).append((x, y))
        files["batches.meta"] = dump({"label_names": [f"class{i}" for i in range(10)],
                                      "num_cases_per_batch": n, "num_vis": 3072})
    else:
        for split in ("train", "test"):
            x = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
            fine = [int(v) for v in rng.integers(0, 100, n)]
            coarse = [f // 5 for f in fine]
            files[split] = dump({"data": x, "fine_labels": fine, "coarse_labels": coarse})
            truth[split] = [(x, fine, coarse)]
        files["meta"] = dump({"fine_label_names": [f"fine{i}" for i in range(100)],
                              "coarse_label_names": [f"coarse{i}" for i in range(20)]})
    return files, truth


def write_cifar(root, kind, files, archive=False):
    base = "cifar-10-batches-py" if kind == 10 else "cifar-100-python"
    if archive:
        name = "cifar-10-python.tar.gz" if kind == 10 else "cifar-100-python.tar.gz"
        path = os.path.join(root, name)
        with tarfile.open(path, "w:gz") as tar:
            for member, data in files.items():
                info = tarfile.TarInfo(f"{base}/{member}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return path
    os.makedirs(os.path.join(root, base), exist_ok=True)
    for member, data in files.items():
        with open(os.path.join(root, base, member), "wb") as f:
            f.write(data)


def _hwc(x):
    return x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


@pytest.mark.parametrize("archive", [False, True], ids=["folder", "tar_gz"])
@pytest.mark.parametrize("py2", [True, False], ids=["py2_pickles", "py3_pickles"])
def test_cifar10_reads_batches(tmp_path, archive, py2):
    files, truth = cifar_files(10, py2=py2)
    write_cifar(tmp_path, 10, files, archive)
    train, test = CIFAR10(tmp_path), CIFAR10(tmp_path, train=False)
    assert len(train) == 15 and len(test) == 3
    np.testing.assert_array_equal(train.data, _hwc(np.concatenate([x for x, _ in truth["train"]])))
    np.testing.assert_array_equal(train.targets, sum((y for _, y in truth["train"]), []))
    np.testing.assert_array_equal(test.data, _hwc(truth["test"][0][0]))
    assert train.classes == [f"class{i}" for i in range(10)]
    assert train.class_to_idx["class3"] == 3
    x, _ = test[0]
    np.testing.assert_allclose(x.numpy(), truth["test"][0][0][0].reshape(3, 32, 32) / 255,
                               rtol=1e-6)


@pytest.mark.parametrize("archive", [False, True], ids=["folder", "tar_gz"])
@pytest.mark.parametrize("coarse", [False, True], ids=["fine", "coarse"])
def test_cifar100_reads_fine_or_coarse_labels(tmp_path, archive, coarse):
    files, truth = cifar_files(100)
    write_cifar(tmp_path, 100, files, archive)
    ds = CIFAR100(tmp_path, train=False, coarse=coarse)
    x, fine, coarse_labels = truth["test"][0]
    np.testing.assert_array_equal(ds.data, _hwc(x))
    np.testing.assert_array_equal(ds.targets, coarse_labels if coarse else fine)
    assert len(ds.classes) == (20 if coarse else 100)
    assert ds.classes[1] == ("coarse1" if coarse else "fine1")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_cifar_refuses_forbidden_global_without_running_it(tmp_path):
    files, _ = cifar_files(10)
    marker = tmp_path / "pwned"
    files["data_batch_2"] = pickle.dumps({"data": _Evil(marker), "labels": []}, protocol=2)
    write_cifar(tmp_path, 10, files)
    with pytest.raises(ValueError, match=r"data_batch_2: refusing to load global "
                                         r"(posix|nt|os)\.system"):
        CIFAR10(tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize("payload", [
    b"cbuiltins\neval\n(S'1'\ntR.", b"csubprocess\ncall\n(S'true'\ntR.",
    b"cnumpy\nload\n(S'x'\ntR.",
], ids=["eval", "subprocess", "other_numpy_function"])
def test_safe_load_refuses_every_other_global(payload):
    with pytest.raises(ValueError, match="refusing to load global"):
        safe_load(payload, "batch", "CIFAR10")


_BAD_BATCHES = [
    ({"data": np.zeros((2, 3000), np.uint8), "labels": [0, 1]},
     r"'data' must be a uint8 array of N x 3072 .*found uint8 array of shape \(2, 3000\)"),
    ({"data": np.zeros((2, 3072), np.float32), "labels": [0, 1]}, "found float32 array"),
    ({"data": [1, 2], "labels": [0, 1]}, "found list"),
    ({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}, "2 images but 1 labels"),
    ({"data": np.zeros((2, 3072), np.uint8)}, r"needs the keys 'data' and 'labels'"),
    ({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 10]}, r"labels must be in \[0, 10\)"),
    ([1, 2, 3], "expected a pickled dict, found list"),
]


@pytest.mark.parametrize("batch, match", _BAD_BATCHES,
                         ids=["short_rows", "float_data", "list_data", "label_count",
                              "missing_key", "label_range", "not_a_dict"])
def test_cifar_rejects_malformed_batches(tmp_path, batch, match):
    files, _ = cifar_files(10)
    files["test_batch"] = py2_pickle(batch)
    write_cifar(tmp_path, 10, files)
    with pytest.raises(ValueError, match=r"^CIFAR10: .*test_batch.*" + match
                       if "labels must be" not in match else match):
        CIFAR10(tmp_path, train=False)


def test_cifar_rejects_garbage_and_incomplete_sources(tmp_path):
    files, _ = cifar_files(10)
    files["test_batch"] = b"not a pickle at all"
    write_cifar(tmp_path, 10, files)
    with pytest.raises(ValueError, match=r"test_batch: not a readable CIFAR pickle"):
        CIFAR10(tmp_path, train=False)
    os.remove(tmp_path / "cifar-10-batches-py" / "batches.meta")
    with pytest.raises(FileNotFoundError, match=r"batches\.meta \(the cifar-10-batches-py/ "
                                                r"folder is incomplete\)"):
        CIFAR10(tmp_path)


def test_cifar_archive_problems_name_the_archive(tmp_path):
    files, _ = cifar_files(100)
    del files["meta"]
    write_cifar(tmp_path, 100, files, archive=True)
    with pytest.raises(ValueError, match=r"cifar-100-python\.tar\.gz: the archive has no "
                                         r"member cifar-100-python/meta"):
        CIFAR100(tmp_path)
    (tmp_path / "cifar-100-python.tar.gz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable tar archive"):
        CIFAR100(tmp_path)


def test_cifar_missing_files_say_where_and_mention_download(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"CIFAR10: neither .*cifar-10-batches-py/ nor "
                                                r".*cifar-10-python\.tar\.gz exists.*"
                                                r"download=True"):
        CIFAR10(tmp_path)


# ---------------------------------------------------------------------------- ImageFolder
def make_folder(root, Image):
    rng = np.random.default_rng(0)
    layout = {"cat": ["b.png", "a.png", "sub/c.png"], "dog": ["x.PNG"], "ant": ["1.bmp"]}
    arrays = {}
    for cls, names in layout.items():
        for name in names:
            path = root / cls / name
            path.parent.mkdir(parents=True, exist_ok=True)
            arr = rng.integers(0, 256, (3 + len(name), 4, 3), dtype=np.uint8)
            Image.fromarray(arr).save(path, format="BMP" if name.endswith("bmp") else "PNG")
            arrays[str(path)] = arr
    (root / "cat" / "notes.txt").write_text("not an image")
    return arrays


def test_image_folder_lists_classes_and_samples_like_torchvision(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    arrays = make_folder(tmp_path, Image)
    ds = ImageFolder(tmp_path)
    assert ds.classes == ["ant", "cat", "dog"]
    assert ds.class_to_idx == {"ant": 0, "cat": 1, "dog": 2}
    names = [os.path.relpath(p, tmp_path) for p, _ in ds.samples]
    assert names == ["ant/1.bmp", "cat/a.png", "cat/b.png", "cat/sub/c.png", "dog/x.PNG"]
    assert ds.targets == [0, 1, 1, 1, 2] and len(ds) == 5
    for i, (path, target) in enumerate(ds.samples):
        x, y = ds[i]
        assert y == target
        np.testing.assert_allclose(x.numpy(), arrays[path].transpose(2, 0, 1) / 255, rtol=1e-6)


def test_image_folder_grey_mode_transform_and_lazy_loading(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    make_folder(tmp_path, Image)
    seen = []
    ds = ImageFolder(tmp_path, mode="L", transform=lambda a: seen.append(a) or a.shape,
                     target_transform=str)
    assert ds[1] == ((8, 4, 1), "1")  # cat/a.png: 3 + len(name) rows
    assert seen[0].dtype == np.uint8
    calls = []
    lazy = ImageFolder(tmp_path, loader=lambda p: calls.append(p) or np.zeros((2, 2, 3),
                                                                              np.uint8))
    assert calls == []
    lazy[3]
    assert calls == [lazy.samples[3][0]]
    with pytest.raises(FileNotFoundError, match=r"found no valid file for the classes ant .*"
                                                r"extensions \.png"):
        ImageFolder(tmp_path, extensions=".png")


def test_image_folder_rejects_unreadable_files_naming_them(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    make_folder(tmp_path, Image)
    (tmp_path / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    ds = ImageFolder(tmp_path)
    index = [os.path.basename(p) for p, _ in ds.samples].index("broken.png")
    with pytest.raises(ValueError, match=r"ImageFolder: .*dog.broken\.png: cannot read the "
                                         r"image"):
        ds[index]


def test_image_folder_rejects_empty_layouts_and_bad_arguments(tmp_path):
    pytest.importorskip("PIL.Image")
    with pytest.raises(FileNotFoundError, match="couldn't find any class folder"):
        ImageFolder(tmp_path)
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "a.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="found no valid file for the classes cat"):
        ImageFolder(tmp_path)
    with pytest.raises(ValueError, match="mode must be one of 'RGB', 'L', got mode='CMYK'"):
        ImageFolder(tmp_path, mode="CMYK")
    with pytest.raises(TypeError, match="loader must be callable"):
        ImageFolder(tmp_path, loader=3)
    ds = ImageFolder(tmp_path, is_valid_file=lambda p: p.endswith(".txt"),
                     loader=lambda p: np.zeros((1, 1, 3), np.uint8))
    assert len(ds) == 1


def test_image_folder_without_pillow_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    (tmp_path / "cat").mkdir()
    with pytest.raises(ImportError, match=r'pip install "svertka\[images\]"'):
        ImageFolder(tmp_path)


def _png(path, Image, shape=(2, 3, 3), value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(shape, value, np.uint8)).save(path, format="PNG")


def test_image_folder_maps_test_classes_by_name_with_class_to_idx(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    for i, cls in enumerate(["cat", "dog", "eel"]):
        _png(tmp_path / "train" / cls / "a.png", Image, value=i)
    for i, cls in [(0, "cat"), (2, "eel")]:
        _png(tmp_path / "test" / cls / "a.png", Image, value=i)
    train = ImageFolder(tmp_path / "train")
    test = ImageFolder(tmp_path / "test", class_to_idx=train.class_to_idx)
    assert test.classes == ["cat", "dog", "eel"] and test.class_to_idx == train.class_to_idx
    assert test.targets == [0, 2]
    assert [round(float(x.numpy().max()) * 255) for x, _ in test] == test.targets


def test_image_folder_rejects_test_class_unknown_to_train(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    for cls in ["cat", "dog"]:
        _png(tmp_path / "train" / cls / "a.png", Image)
    for cls in ["cat", "yak", "dog"]:
        _png(tmp_path / "test" / cls / "a.png", Image)
    train = ImageFolder(tmp_path / "train")
    with pytest.raises(ValueError, match=r"ImageFolder: .*test: the class folder\(s\) 'yak' "
                                         r"are not among the 2 classes of class_to_idx"):
        ImageFolder(tmp_path / "test", class_to_idx=train.class_to_idx)


@pytest.mark.parametrize("mapping, exc, match", [
    ([("cat", 0)], TypeError, "class_to_idx must be a dict"),
    ({1: 0}, TypeError, "str keys"),
    ({"cat": 1}, ValueError, r"indices 0\.\.0, each once"),
    ({"cat": 0, "dog": 0}, ValueError, r"indices 0\.\.1, each once"),
    ({"cat": 0.0}, ValueError, "each once"),
], ids=["not_a_dict", "int_key", "gap", "duplicate", "float_index"])
def test_image_folder_checks_class_to_idx(tmp_path, mapping, exc, match):
    Image = pytest.importorskip("PIL.Image")
    _png(tmp_path / "cat" / "a.png", Image)
    with pytest.raises(exc, match=match):
        ImageFolder(tmp_path, class_to_idx=mapping)


def _symlink(link, target):
    try:
        os.symlink(target, link, target_is_directory=True)
    except (OSError, NotImplementedError):
        pytest.skip("symbolic links are not available")


def test_image_folder_follows_links_but_never_enters_a_directory_twice(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    for cls in ["cat", "dog"]:
        for name in ["a.png", "b.png", "sub/c.png"]:
            _png(tmp_path / cls / name, Image)
    (tmp_path / "elsewhere").mkdir()
    _png(tmp_path / "elsewhere" / "e.png", Image)
    root = tmp_path / "data"
    root.mkdir()
    for cls in ["cat", "dog"]:
        os.replace(tmp_path / cls, root / cls)
    _symlink(root / "cat" / "up", "..")             # the root: cat and dog again, and up
    _symlink(root / "cat" / "sub" / "up2", "../../..")  # above the root
    _symlink(root / "cat" / "sub" / "again", "..")      # cat itself
    _symlink(root / "dog" / "self", ".")
    _symlink(root / "dog" / "more", str(tmp_path / "elsewhere"))  # a plain link is followed
    ds = ImageFolder(root)
    names = [os.path.relpath(p, root) for p, _ in ds.samples]
    # the links to data/ are not followed: they would read dog's images as cat's, forever
    assert names == ["cat/a.png", "cat/b.png", "cat/sub/c.png",
                     "dog/a.png", "dog/b.png", "dog/more/e.png", "dog/sub/c.png"]
    assert ds.targets == [0] * 3 + [1] * 4


def test_image_folder_refuses_decompression_bombs_naming_the_file(tmp_path, monkeypatch):
    Image = pytest.importorskip("PIL.Image")
    _png(tmp_path / "cat" / "small.png", Image, shape=(10, 10, 3))
    _png(tmp_path / "cat" / "warned.png", Image, shape=(12, 12, 3))  # 144 px: Pillow warns
    _png(tmp_path / "cat" / "huge.png", Image, shape=(30, 30, 3))    # 900 px: Pillow raises
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    ds = ImageFolder(tmp_path)
    assert [os.path.basename(p) for p, _ in ds.samples] == ["huge.png", "small.png",
                                                            "warned.png"]
    assert ds[1][0].shape == (3, 10, 10)
    with pytest.raises(ValueError, match=r"ImageFolder: .*cat.warned\.png: image of 12x12 = "
                                         r"144 pixels is larger than PIL\.Image\."
                                         r"MAX_IMAGE_PIXELS=100"), \
            pytest.warns(Image.DecompressionBombWarning):
        ds[2]
    with pytest.raises(ValueError, match=r"ImageFolder: .*cat.huge\.png: cannot read the "
                                         r"image \(DecompressionBombError"):
        ds[0]


@pytest.mark.parametrize("damage", ["truncated", "bad_crc", "not_an_image", "empty"])
def test_image_folder_rejects_corrupt_images_naming_them(tmp_path, damage):
    Image = pytest.importorskip("PIL.Image")
    path = tmp_path / "cat" / "x.png"
    path.parent.mkdir()
    pixels = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="PNG")
    data = path.read_bytes()
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "bad_crc":
        i = data.index(b"IDAT") + 6
        data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
    elif damage == "not_an_image":
        data = b"GIF89a but not really"
    else:
        data = b""
    path.write_bytes(data)
    with pytest.raises(ValueError, match=r"^ImageFolder: .*cat.x\.png: cannot read the image"):
        ImageFolder(tmp_path)[0]


# ---------------------------------------------------------------------------- crafted IDX
def _idx_header(magic, *dims):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in dims)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("dims, payload, match", [
    ((2**31, 2**31, 4), b"",  # the product is 2**64, which int64 wraps to 0
     r"expected 18446744073709551616 bytes of pixels \(2147483648 x 2147483648 x 4\), "
     r"found 0"),
    ((2**32 - 1,) * 3, b"\0" * 7,
     r"expected 79228162458924105385300197375 bytes of pixels .* found 7"),
    ((10**9, 28, 28), b"\0" * 100, r"expected 784000000000 bytes of pixels .* found 100"),
], ids=["wraps_to_zero", "max_dims", "huge_count"])
def test_mnist_rejects_header_sizes_beyond_the_file(tmp_path, gz, dims, payload, match):
    _corrupt(tmp_path, "images", _idx_header(0x803, *dims) + payload, gz)
    with pytest.raises(ValueError, match=r"^MNIST: .*train-images-idx3-ubyte(\.gz)?: " + match):
        MNIST(tmp_path)


@pytest.mark.parametrize("shape", [(0, 4, 5), (6, 0, 5), (6, 4, 0)],
                         ids=["no_images", "no_rows", "no_cols"])
def test_mnist_rejects_a_file_without_images(tmp_path, shape):
    make_mnist(tmp_path)
    count = shape[0]
    for prefix in ("train", "t10k"):
        write(os.path.join(tmp_path, f"{prefix}-images-idx3-ubyte"),
              idx_bytes(np.zeros(shape, np.uint8)))
        write(os.path.join(tmp_path, f"{prefix}-labels-idx1-ubyte"),
              idx_bytes(np.zeros(count, np.uint8)))
    for train, prefix in ((True, "train"), (False, "t10k")):
        with pytest.raises(ValueError, match=rf"^MNIST: .*{prefix}-images-idx3-ubyte: holds "
                                             rf"no images \({count} images of "
                                             rf"{shape[1]}x{shape[2]} pixels\)"):
            MNIST(tmp_path, train=train)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_mnist_rejects_train_and_test_of_different_image_sizes(tmp_path, gz):
    make_mnist(tmp_path, gz=gz)  # 4x5 images
    ext = ".gz" if gz else ""
    os.remove(os.path.join(tmp_path, "t10k-images-idx3-ubyte" + ext))
    write(os.path.join(tmp_path, "t10k-images-idx3-ubyte"),
          idx_bytes(np.zeros((4, 3, 5), np.uint8)), gz)
    with pytest.raises(ValueError, match=r"^MNIST: .*train-images-idx3-ubyte(\.gz)? holds "
                                         r"images of 4x5 pixels but .*t10k-images-idx3-ubyte"
                                         r"(\.gz)? holds 3x5 \(the train and test splits"):
        MNIST(tmp_path)
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte(\.gz)? holds images of 3x5 "
                                         r"pixels but .*train-images-idx3-ubyte(\.gz)? holds "
                                         r"4x5"):
        MNIST(tmp_path, train=False)


def test_mnist_verifies_the_gzip_checksum(tmp_path):
    path = _corrupt(tmp_path, "images", idx_bytes(_IMAGES + 1), gz=True)
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[-8] ^= 0x01  # the CRC-32 of the trailer: the payload itself is intact
    with open(path, "wb") as f:
        f.write(data)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: cannot be read as gzip "
                                         r"file \(CRC check failed"):
        MNIST(tmp_path)



# ---------------------------------------------------------------------------- crafted CIFAR
def _flip(data, i):
    return data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1:]


def test_cifar_archive_bit_flips_are_refused_or_harmless(tmp_path):
    files, _ = cifar_files(10, n=1)
    path = write_cifar(tmp_path, 10, files, archive=True)
    good = open(path, "rb").read()
    ref = CIFAR10(tmp_path, train=False)
    positions = sorted(set(range(24)) | set(range(len(good) - 16, len(good))) |
                       set(np.linspace(24, len(good) - 17, 110).astype(int).tolist()))
    header = 10 + (good[10:].index(b"\0") + 1 if good[3] & 8 else 0)  # + the file name
    refused = 0
    for i in positions:
        with open(path, "wb") as f:
            f.write(_flip(good, i))
        try:
            ds = CIFAR10(tmp_path, train=False)
        except ValueError as exc:
            assert str(exc).startswith("CIFAR10: ") and "cifar-10-python.tar.gz" in str(exc)
            refused += i >= header
            continue
        # a flip in the gzip header (time stamp, file name) can be harmless, never silent
        np.testing.assert_array_equal(ds.data, ref.data, err_msg=f"flip at byte {i}")
        np.testing.assert_array_equal(ds.targets, ref.targets, err_msg=f"flip at byte {i}")
        assert ds.classes == ref.classes
    assert refused == sum(i >= header for i in positions)  # past the header: all refused


def test_cifar_archive_with_trailing_garbage_or_truncated_is_refused(tmp_path):
    files, _ = cifar_files(10, n=1)
    path = write_cifar(tmp_path, 10, files, archive=True)
    good = open(path, "rb").read()
    for bad, match in [(good + b"garbage!", "not a readable tar archive"),
                       (good[:-4], "not a readable tar archive"),
                       (good[:-30], "not a readable tar archive")]:
        with open(path, "wb") as f:
            f.write(bad)
        with pytest.raises(ValueError, match=r"^CIFAR10: .*cifar-10-python\.tar\.gz: " + match):
            CIFAR10(tmp_path, train=False)


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("archive", [False, True], ids=["folder", "tar_gz"])
def test_cifar10_reads_batches_pickled_by_python3(tmp_path, protocol, archive):
    files, truth = cifar_files(10, py2=False, protocol=protocol)
    write_cifar(tmp_path, 10, files, archive)
    train = CIFAR10(tmp_path)
    np.testing.assert_array_equal(train.data, _hwc(np.concatenate([x for x, _ in truth["train"]])))
    np.testing.assert_array_equal(train.targets, sum((y for _, y in truth["train"]), []))
    assert train.classes == [f"class{i}" for i in range(10)]


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_cifar_reads_numpy_labels_and_arrays_of_every_layout(tmp_path, protocol):
    files, _ = cifar_files(10, py2=False, protocol=protocol)
    x = np.asfortranarray(np.arange(2 * 3072).reshape(2, 3072) % 251).astype(np.uint8)
    labels = list(np.array([3, 7], dtype=np.int64))  # numpy scalars, as list(array) gives
    files["test_batch"] = pickle.dumps({"data": x, "labels": labels, "extra": b"",
                                        "more": bytearray(b"ab")}, protocol=protocol)
    files["batches.meta"] = pickle.dumps({"label_names": tuple(f"c{i}" for i in range(10))},
                                         protocol=protocol)
    write_cifar(tmp_path, 10, files)
    ds = CIFAR10(tmp_path, train=False)
    np.testing.assert_array_equal(ds.data, _hwc(x))
    assert ds.targets.tolist() == [3, 7] and ds.classes[9] == "c9"


_BAD_NAMES = [
    ("one string", r"must be a list of class names \(strings\), found bytes"),
    ([b"cat", 3], "found an item of type int"),
    ([["cat"]], "found an item of type list"),
    ([], "found an empty list"),
    ({"a": 1}, "found dict"),
    (["cat", "dog", "cat"], "names a class twice: 'cat'"),
    ([b"\xff\xfe"], "holds a name that is not UTF-8"),
]


@pytest.mark.parametrize("names, match", _BAD_NAMES,
                         ids=["string", "int_item", "nested", "empty", "dict", "duplicate",
                              "not_utf8"])
def test_cifar_rejects_label_names_that_are_not_a_list_of_strings(tmp_path, names, match):
    files, _ = cifar_files(10)
    files["batches.meta"] = py2_pickle({"label_names": names})
    write_cifar(tmp_path, 10, files)
    with pytest.raises(ValueError, match=r"^CIFAR10: .*batches\.meta: 'label_names' .*" + match):
        CIFAR10(tmp_path, train=False)


@pytest.mark.parametrize("labels, match", [
    ([0, "1"], "a list with an item of type str"),
    ([0, [1]], "a list with an item of type list"),
    ([0, 1.0], "a list with an item of type float"),
    ([0, True], "a list with an item of type bool"),
    (np.zeros((2, 1), np.int64), r"int64 array of shape \(2, 1\)"),
    ("ab", "found str"),
    ([0, 2**70], "holds an int beyond 64 bits"),
], ids=["str", "nested", "float", "bool", "2d_array", "string", "huge_int"])
def test_cifar_rejects_labels_that_are_not_a_list_of_ints(tmp_path, labels, match):
    files, _ = cifar_files(10)
    files["test_batch"] = pickle.dumps({"data": np.zeros((2, 3072), np.uint8),
                                        "labels": labels}, protocol=2)
    write_cifar(tmp_path, 10, files)
    with pytest.raises(ValueError, match=r"^CIFAR10: .*test_batch: 'labels' .*" + match):
        CIFAR10(tmp_path, train=False)


def test_cli_folder_dataset_scores_test_classes_by_name(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    from svertka.cli import build_datasets

    for i, cls in enumerate(["cat", "dog", "eel"]):
        _png(tmp_path / "train" / cls / "a.png", Image, value=i)
    _png(tmp_path / "test" / "eel" / "a.png", Image, value=2)
    train, test, num_classes, _ = build_datasets("folder", str(tmp_path), augment=False)
    assert num_classes == 3 and test.classes == train.classes and test.targets == [2]
    _png(tmp_path / "test" / "yak" / "a.png", Image)
    from svertka._cli_errors import CommandError

    with pytest.raises(CommandError, match=r"test: the class folder\(s\) 'yak' are not among"):
        build_datasets("folder", str(tmp_path), augment=False)
