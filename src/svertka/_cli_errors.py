"""How the ``svertka`` commands report a user's mistake: :class:`CommandError`, one line.

A command (``svertka.cli``, ``svertka.bench``, ``svertka.analysis.cli``) raises
:class:`CommandError` when what the user gave it cannot work: a bad flag or config value, a
missing or unreadable file, a dataset or checkpoint the library refuses. ``svertka.cli.main``
prints it as ``svertka <command>: <what is wrong>`` on one line of stderr and exits with status
2. Everything else (an exception our own code did not expect) keeps its traceback: it is a bug.

The line between the two is drawn where the user's input enters the library: commands check
their arguments themselves, and :func:`user_errors` wraps only the calls that read the user's
files or take the user's values, turning the library's documented error types (``ValueError``
for bad values and file contents, ``OSError`` for files that cannot be opened) into
:class:`CommandError`. This module imports nothing of svertka, so every command can use it.
"""

from __future__ import annotations

import contextlib

#: What the library raises for a file it cannot use: ``ValueError`` (contents; this includes
#: ``svertka.serialization.CheckpointError``, ``tomllib.TOMLDecodeError`` and
#: ``UnicodeDecodeError``), ``OSError`` (cannot open or read it), ``EOFError`` (ends early).
FILE_ERRORS = (ValueError, OSError, EOFError)


class CommandError(Exception):
    """What the user gave a command cannot work; the message says what, on one line.

    ``svertka.cli.main`` prints it as ``svertka <command>: <message>`` and exits with 2.
    """


def describe(exc):
    """One line for a library or OS error: ``'path: No such file or directory'`` rather than
    ``"[Errno 2] No such file or directory: 'path'"``; other messages unchanged, their line
    breaks folded into spaces."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        text = f"{exc.filename}: {exc.strerror}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


@contextlib.contextmanager
def user_errors(errors=FILE_ERRORS, what=None):
    """Turn ``errors`` raised inside the block into :class:`CommandError` (``what: `` before
    the library's message when given). Wrap only calls whose every such error is about the
    user's input: a call that reads a user's file, or builds an object from checked values.
    """
    try:
        yield
    except errors as exc:
        text = describe(exc)
        raise CommandError(f"{what}: {text}" if what else text) from exc
