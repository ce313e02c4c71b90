"""Downloads against a local HTTP server on 127.0.0.1 (no internet): streaming, checksums,
mirrors, the SVERTKA_DATASETS_URL override and the datasets' download=True."""

import functools
import gzip
import hashlib
import http.server
import os
import re
import socket
import threading

import numpy as np
import pytest
from tests.data.test_readers import cifar_files, idx_bytes, write_cifar

from svertka.data.datasets import CIFAR10, MNIST, FashionMNIST
from svertka.data.datasets.cifar import CIFAR100
from svertka.data.datasets.download import (
    ENV_VAR,
    DownloadError,
    check_integrity,
    download_resources,
    download_url,
    mirror_urls,
)


@pytest.fixture
def server(tmp_path):
    """``(base_url, folder, requests)``: an HTTP server for the files put in ``folder``."""
    folder = tmp_path / "served"
    folder.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", folder, requests
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def closed_port_url():
    """A URL nobody listens on (a port bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def _leftovers(folder):
    return [p for p in os.listdir(folder) if p.endswith(".part")]


# ---------------------------------------------------------------------------- download_url
@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_download_url_streams_and_verifies(server, tmp_path, algorithm):
    base, folder, _ = server
    payload = os.urandom(3 << 20)  # several chunks
    (folder / "blob.bin").write_bytes(payload)
    digest = hashlib.new(algorithm, payload).hexdigest()
    path = download_url(base + "blob.bin", tmp_path / "out", **{algorithm: digest})
    assert path == str(tmp_path / "out" / "blob.bin")
    assert open(path, "rb").read() == payload
    assert _leftovers(tmp_path / "out") == []
    assert check_integrity(path, **{algorithm: digest})


def test_download_url_file_gets_the_umask_mode_not_a_private_one(server, tmp_path):
    base, folder, _ = server
    (folder / "c.txt").write_bytes(b"data")
    old = os.umask(0o022)
    try:
        path = download_url(base + "c.txt", tmp_path / "out")
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o644


def test_download_url_skips_a_verified_file_and_replaces_a_bad_one(server, tmp_path):
    base, folder, requests = server
    (folder / "a.txt").write_bytes(b"good")
    sha = hashlib.sha256(b"good").hexdigest()
    download_url(base + "a.txt", tmp_path, "renamed.txt", sha256=sha)
    download_url(base + "a.txt", tmp_path, "renamed.txt", sha256=sha)
    assert requests == ["/a.txt"]
    (tmp_path / "renamed.txt").write_bytes(b"stale")
    download_url(base + "a.txt", tmp_path, "renamed.txt", sha256=sha)
    assert (tmp_path / "renamed.txt").read_bytes() == b"good" and len(requests) == 2


def test_download_url_bad_checksum_deletes_the_file_and_names_both_digests(server, tmp_path):
    base, folder, _ = server
    (folder / "x.gz").write_bytes(b"tampered")
    expected = "0" * 64
    actual = hashlib.sha256(b"tampered").hexdigest()
    with pytest.raises(ValueError) as info:
        download_url(base + "x.gz", tmp_path, sha256=expected)
    msg = str(info.value)
    assert re.search(r"download_url: .*x\.gz: sha256 checksum mismatch", msg)
    assert f"expected {expected}, got {actual}" in msg and "partial file was deleted" in msg
    assert os.listdir(tmp_path) == ["served"]


@pytest.mark.parametrize("where", ["missing_file", "closed_port"])
def test_download_url_unreachable_says_where_to_place_the_file(server, closed_port_url,
                                                                tmp_path, where):
    base = server[0] if where == "missing_file" else closed_port_url
    with pytest.raises(DownloadError, match=r"could not download .*nothing\.gz.*place the "
                                            r"file by hand at .*out.nothing\.gz"):
        download_url(base + "nothing.gz", tmp_path / "out")
    assert _leftovers(tmp_path / "out") == []


def test_mirror_urls_prefer_argument_then_environment(monkeypatch):
    assert mirror_urls(["http://a/", "http://b"]) == ["http://a/", "http://b/"]
    monkeypatch.setenv(ENV_VAR, "http://env")
    assert mirror_urls(["http://a/"]) == ["http://env/"]
    assert mirror_urls(["http://a/"], base_url="file:///data/") == ["file:///data/"]


def test_download_resources_falls_back_to_the_next_mirror(server, closed_port_url, tmp_path):
    base, folder, _ = server
    (folder / "f.bin").write_bytes(b"abc")
    md5 = hashlib.md5(b"abc").hexdigest()
    paths = download_resources("X", [("f.bin", md5)], [closed_port_url, base], tmp_path / "o")
    assert open(paths[0], "rb").read() == b"abc"


def test_download_resources_without_any_mirror_lists_files_and_folder(closed_port_url,
                                                                       tmp_path):
    resources = [("a.gz", "0" * 32), ("b.gz", "1" * 32)]
    with pytest.raises(DownloadError) as info:
        download_resources("MNIST", resources, [closed_port_url], tmp_path / "raw")
    msg = str(info.value)
    assert msg.startswith("MNIST: could not download a.gz from any mirror")
    assert "place a.gz, b.gz in " + str(tmp_path / "raw") in msg and ENV_VAR in msg


# ---------------------------------------------------------------------------- datasets
def _serve_mnist(folder, n=5):
    rng = np.random.default_rng(0)
    resources = []
    for prefix, count in (("train", n), ("t10k", 2)):
        for kind, array in (("images-idx3", rng.integers(0, 256, (count, 3, 3), np.uint8)),
                            ("labels-idx1", rng.integers(0, 10, count, np.uint8))):
            name = f"{prefix}-{kind}-ubyte.gz"
            data = gzip.compress(idx_bytes(array))
            (folder / name).write_bytes(data)
            resources.append((name, hashlib.sha256(data).hexdigest()))
    return resources


@pytest.mark.parametrize("how", ["base_url", "environment"])
@pytest.mark.parametrize("cls", [MNIST, FashionMNIST])
def test_mnist_download_true_fetches_into_raw_folder(server, tmp_path, monkeypatch, cls, how):
    base, folder, requests = server
    monkeypatch.setattr(cls, "resources", _serve_mnist(folder))
    monkeypatch.setattr(cls, "mirrors", ["http://127.0.0.1:9/unused/"])
    root = tmp_path / "data"
    kwargs = {"base_url": base} if how == "base_url" else {}
    if how == "environment":
        monkeypatch.setenv(ENV_VAR, base)
    ds = cls(root, train=False, download=True, **kwargs)
    assert len(ds) == 2 and ds.data.shape == (2, 3, 3, 1)
    assert sorted(os.listdir(root / cls.__name__ / "raw")) == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    cls(root, train=False, download=True, **kwargs)  # present: nothing fetched again
    assert len(requests) == 2


def test_mnist_download_fetches_only_the_missing_files(server, tmp_path, monkeypatch):
    base, folder, requests = server
    monkeypatch.setattr(MNIST, "resources", _serve_mnist(folder))
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((2, 3, 3), np.uint8)))
    ds = MNIST(tmp_path, train=False, download=True, base_url=base)
    assert requests == ["/t10k-labels-idx1-ubyte.gz"] and len(ds) == 2


def test_mnist_download_with_wrong_checksum_fails_cleanly(server, tmp_path, monkeypatch):
    base, folder, _ = server
    resources = _serve_mnist(folder)
    resources[0] = (resources[0][0], "f" * 64)
    monkeypatch.setattr(MNIST, "resources", resources)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: sha256 checksum mismatch, "
                                         r"expected f{64}, got [0-9a-f]{64}"):
        MNIST(tmp_path, download=True, base_url=base)
    assert os.listdir(tmp_path / "MNIST" / "raw") == []


def test_mnist_download_without_network_says_what_to_place_where(closed_port_url, tmp_path):
    with pytest.raises(DownloadError, match=r"MNIST: could not download "
                                            r"train-images-idx3-ubyte\.gz from any mirror.*"
                                            r"place train-images-idx3-ubyte\.gz, "
                                            r"train-labels-idx1-ubyte\.gz in .*MNIST.raw"):
        MNIST(tmp_path, download=True, base_url=closed_port_url)


@pytest.mark.parametrize("cls, kind", [(CIFAR10, 10), (CIFAR100, 100)], ids=["10", "100"])
def test_cifar_download_true_fetches_the_archive(server, tmp_path, monkeypatch, cls, kind):
    base, folder, _ = server
    files, truth = cifar_files(kind)
    archive = write_cifar(folder, kind, files, archive=True)
    md5 = hashlib.md5(open(archive, "rb").read()).hexdigest()
    monkeypatch.setattr(cls, "resources", [(os.path.basename(archive), md5)])
    ds = cls(tmp_path / "data", train=False, download=True, base_url=base)
    assert len(ds) == 3
    assert os.listdir(tmp_path / "data") == [os.path.basename(archive)]


def test_official_resources_are_the_published_files():
    hexdigits = re.compile(r"^[0-9a-f]{64}$")  # SHA-256
    for cls in (MNIST, FashionMNIST):
        assert [f for f, _ in cls.resources] == [
            "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
        assert all(hexdigits.match(m) for _, m in cls.resources)
    assert MNIST.mirrors[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert "fashion-mnist" in FashionMNIST.mirrors[0]
    assert CIFAR10.resources == [("cifar-10-python.tar.gz", "6d958be074577803d12ecdefd02955f3"
                                                            "9262c83c16fe9348329d7fe0b5c001ce")]
    assert CIFAR100.resources == [("cifar-100-python.tar.gz", "85cd44d02ba6437773c5bbd22e18305"
                                                              "1d648de2e7d6b014e1ef29b855ba677a7")]
    assert CIFAR10.mirrors == ["https://www.cs.toronto.edu/~kriz/"]
