"""The error of a file that is not a valid checkpoint, below every reader of checkpoints
(svertka's own format, PyTorch's, safetensors) so each can raise it; users meet it as
``svertka.CheckpointError`` / ``svertka.serialization.CheckpointError``."""

from __future__ import annotations

__all__ = ["CheckpointError"]


class CheckpointError(ValueError):
    """A file is not a valid checkpoint (truncated, corrupted, crafted or of another format);
    the message names the file and what is wrong with it."""

    __module__ = "svertka.serialization"
