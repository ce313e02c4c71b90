"""Downloading dataset files: streamed to a temporary file, checksummed, renamed into place.

Every dataset lists its standard files as ``resources`` (``(filename, digest)``, a SHA-256 of
64 hex digits or an MD5 of 32) and the servers that hold them as ``mirrors``. The mirrors are
tried in order; ``base_url=`` (an argument of the dataset) or the environment variable
``SVERTKA_DATASETS_URL`` replaces them with your own mirror (a URL prefix to which the file
name is appended, ``file://`` URLs included).

The standard files are verified with SHA-256. The publishers of MNIST, Fashion-MNIST and CIFAR
give MD5 digests only; the SHA-256 values used here are the ones TensorFlow Datasets (MNIST,
Fashion-MNIST) and Hugging Face Datasets (CIFAR python archives) record for the same files,
whose sizes and MD5s match the publishers'.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request

ENV_VAR = "SVERTKA_DATASETS_URL"
_CHUNK = 1 << 20


class DownloadError(OSError):
    """A file could not be fetched (no network, unknown host, HTTP error)."""


def file_digest(path, algorithm="sha256"):
    """The hex digest of a file, read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _expected(sha256, md5):
    if sha256:
        return "sha256", sha256.lower()
    if md5:
        return "md5", md5.lower()
    return None, None


def check_integrity(path, sha256=None, md5=None):
    """True when ``path`` exists and matches the given digest (or when none is given)."""
    if not os.path.isfile(path):
        return False
    algorithm, digest = _expected(sha256, md5)
    return algorithm is None or file_digest(path, algorithm) == digest


def download_url(url, root, filename=None, sha256=None, md5=None, timeout=60, hash_prefix=None):
    """Fetch ``url`` into ``root/filename`` and return that path.

    The body is streamed into a temporary file in ``root`` while its digest is computed; only
    a file whose SHA-256 (or, when only ``md5`` is given, MD5) matches is renamed into place,
    so an interrupted or corrupted download never leaves a file under the final name. A file
    already there with the right digest is not fetched again.

    Args:
        url: an ``http(s)://``, ``ftp://`` or ``file://`` URL.
        root: the folder (created if missing).
        filename: the name to save under (default: the last part of the URL).
        sha256, md5: the expected hex digest (none: no verification).
        timeout: seconds to wait for the server.
        hash_prefix: the expected first hex digits of the SHA-256 (torch's
            ``download_url_to_file(..., hash_prefix=)``: the pretrained weights' file names
            carry one); checked when ``sha256`` is not given.

    Raises:
        DownloadError: the URL could not be read (the message says where to place the file
            by hand).
        ValueError: the digest differs (the partial file is deleted; the message names the
            file and both digests).

    Examples::

        >>> import pathlib, tempfile
        >>> from svertka.data.datasets.download import download_url
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "a.txt").write_bytes(b"hi")
        >>> path = download_url((d / "a.txt").as_uri(), d / "out", sha256=(
        ...     "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4"))
        >>> pathlib.Path(path).read_bytes()
        b'hi'
    """
    root = os.fspath(root)
    filename = filename or os.path.basename(url.rstrip("/").split("?")[0])
    path = os.path.join(root, filename)
    algorithm, digest = _expected(sha256, md5)
    if algorithm is None and hash_prefix:
        algorithm, digest = "sha256", hash_prefix.lower()
    prefix_only = algorithm is not None and len(digest) < {"sha256": 64, "md5": 32}[algorithm]

    def matches(hexdigest):
        return hexdigest.startswith(digest) if prefix_only else hexdigest == digest

    if os.path.isfile(path) and (algorithm is None or matches(file_digest(path, algorithm))):
        return path
    os.makedirs(root, exist_ok=True)
    h = hashlib.new(algorithm) if algorithm else None
    fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=root)
    try:
        # mkstemp's 0600 would make the dataset private: give it a new file's usual mode
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        with os.fdopen(fd, "wb") as out:
            try:
                request = urllib.request.Request(url, headers={"User-Agent": "svertka"})
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    for chunk in iter(lambda: response.read(_CHUNK), b""):
                        out.write(chunk)
                        if h is not None:
                            h.update(chunk)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", None) or exc
                raise DownloadError(
                    f"download_url: could not download {url}: {reason} (place the file "
                    f"by hand at {path})") from exc
        if h is not None and not matches(h.hexdigest()):
            expected = f"a digest starting {digest}" if prefix_only else digest
            raise ValueError(
                f"download_url: {path}: {algorithm} checksum mismatch, expected {expected}, "
                f"got {h.hexdigest()} (downloaded from {url}; the partial file was deleted)")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def mirror_urls(mirrors, base_url=None):
    """The URL prefixes to try: ``base_url``, else ``$SVERTKA_DATASETS_URL``, else
    ``mirrors``; each ends with ``/``."""
    chosen = base_url or os.environ.get(ENV_VAR) or None
    prefixes = [chosen] if chosen else list(mirrors)
    return [p if p.endswith("/") else p + "/" for p in prefixes]


def download_resources(name, resources, mirrors, folder, base_url=None):
    """Download every ``(filename, digest)`` of ``resources`` into ``folder``, trying each
    mirror in turn; returns the paths. When no mirror answers, raises
    :class:`DownloadError` listing which files to place where."""
    paths = []
    prefixes = mirror_urls(mirrors, base_url)
    for filename, digest in resources:
        failures = []
        kind = {64: "sha256", 32: "md5"}.get(len(digest))
        if kind is None:
            raise ValueError(f"{name}: the digest of {filename} must be a SHA-256 (64 hex "
                             f"digits) or an MD5 (32), got {digest!r}")
        for prefix in prefixes:
            try:
                paths.append(download_url(prefix + filename, folder, filename,
                                          **{kind: digest}))
                break
            except DownloadError as exc:
                failures.append(f"{prefix + filename}: {exc.__cause__ or exc}")
        else:
            files = ", ".join(f for f, _ in resources)
            raise DownloadError(
                f"{name}: could not download {filename} from any mirror ("
                + "; ".join(failures) + f"). Without network access, place {files} in "
                f"{folder} by hand, or point {ENV_VAR} (or base_url=) at a mirror that has "
                f"them")
    return paths
