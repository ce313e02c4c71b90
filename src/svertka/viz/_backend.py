"""matplotlib, loaded on demand (it is optional): whether it is there, its pyplot on the Agg
backend, and an atomic PNG save. A submodule of its own so that ``viz`` and its picture
modules all import it without importing each other."""

from __future__ import annotations

import os


def available():
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    plt = _plt()
    tmp = f"{path}.tmp.png"
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return [path]
