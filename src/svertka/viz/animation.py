"""An animated convolution: the kernel sliding over a (padded) input, one output per frame, in
the style of Dumoulin and Visin's convolution-arithmetic figures."""

from __future__ import annotations

import os

import numpy as np

from svertka import _validate as V

__all__ = ["animate_convolution", "convolution_frames"]


def convolution_frames(input_size, kernel_size, stride=1, padding=0, dilation=1):
    """Per output position, the padded-input cells the kernel's taps cover.

    Returns ``(out_size, frames)``: ``frames[t]`` is ``(output (row, col), taps)`` with
    ``taps`` an ``(kH * kW, 2)`` int array of (row, col) in padded-input coordinates.

    >>> out, frames = convolution_frames(5, 3, stride=2, padding=1)
    >>> out, len(frames), frames[1][0], frames[1][1][:3].tolist()
    ((3, 3), 9, (0, 1), [[0, 2], [0, 3], [0, 4]])
    """
    from svertka.analysis.arithmetic import conv_output_size

    fn = "animate_convolution"
    size = V.ntuple(input_size, 2, "input_size", fn)
    k = V.ntuple(kernel_size, 2, "kernel_size", fn)
    s = V.ntuple(stride, 2, "stride", fn)
    p = V.ntuple(padding, 2, "padding", fn, minimum=0)
    d = V.ntuple(dilation, 2, "dilation", fn)
    out = conv_output_size(size, k, s, p, d)
    if 0 in out:
        raise V.error(fn, f"the kernel {k} with dilation {d} does not fit the padded input "
                          f"{tuple(i + 2 * q for i, q in zip(size, p))}",
                      f"input_size={input_size!r}, padding={padding!r}")
    ky, kx = np.meshgrid(np.arange(k[0]) * d[0], np.arange(k[1]) * d[1], indexing="ij")
    taps = np.stack([ky.ravel(), kx.ravel()], axis=1)                # (kH * kW, 2)
    frames = [((r, c), taps + np.array([r * s[0], c * s[1]]))
              for r in range(out[0]) for c in range(out[1])]
    return out, frames


def animate_convolution(input_size, kernel_size, stride=1, padding=0, dilation=1,
                        path="convolution.gif", fps=2, max_frames=100):
    """Write a GIF of a 2-D convolution sliding over its input (matplotlib's PillowWriter).

    Left: the input (blue), its zero padding (white, dashed) and the cells the kernel's taps
    cover at this step (dark); right: the output (cyan) with the element being computed (dark).
    Any kernel size, stride, padding and dilation.

    Args:
        input_size (int or tuple of 2 ints): input height and width.
        kernel_size, stride, dilation (int or tuple): positive.
        padding (int or tuple): zero padding on both sides, non-negative.
        path (str): the GIF file to write.
        fps (int): frames per second. Default 2.
        max_frames (int): at most this many output positions are shown (the first ones).

    Returns:
        ``[path]`` (``[]`` without matplotlib or Pillow).
    """
    from svertka.viz import _backend as viz

    fn = "animate_convolution"
    out, frames = convolution_frames(input_size, kernel_size, stride, padding, dilation)
    for name, v in (("fps", fps), ("max_frames", max_frames)):
        if not V.is_int(v) or v <= 0:
            raise V.error(fn, f"{name} must be a positive int, got {name}={v!r}")
    if not viz.available():
        return []
    try:
        from matplotlib.animation import FuncAnimation, PillowWriter
        from matplotlib.patches import Rectangle
    except ImportError:  # Pillow missing
        return []
    size = V.ntuple(input_size, 2, "input_size", fn)
    pad = V.ntuple(padding, 2, "padding", fn, minimum=0)
    frames = frames[:max_frames]
    plt = viz._plt()
    ph, pw = size[0] + 2 * pad[0], size[1] + 2 * pad[1]
    gap = 2
    fig, ax = plt.subplots(figsize=(0.42 * (pw + gap + out[1]) + 0.6, 0.42 * max(ph, out[0]) + 1))
    ax.set_xlim(-0.5, pw + gap + out[1] + 0.5)
    ax.set_ylim(max(ph, out[0]) + 0.5, -0.9)
    ax.set_aspect("equal")
    ax.set_axis_off()

    def cell(r, c, x0=0, **kw):
        ax.add_patch(Rectangle((x0 + c, r), 1, 1, **kw))

    for r in range(ph):  # the padded input, drawn once
        for c in range(pw):
            inside = pad[0] <= r < pad[0] + size[0] and pad[1] <= c < pad[1] + size[1]
            cell(r, c, facecolor="#7fa8d8" if inside else "white", edgecolor="#404040",
                 linestyle="-" if inside else "--", linewidth=0.8)
    for r in range(out[0]):
        for c in range(out[1]):
            cell(r, c, pw + gap, facecolor="#8fd8d0", edgecolor="#404040", linewidth=0.8)
    ax.text(pw / 2, -0.4, "input" + (" (padded)" if any(pad) else ""), ha="center")
    ax.text(pw + gap + out[1] / 2, -0.4, "output", ha="center")
    k = V.ntuple(kernel_size, 2, "kernel_size", fn)
    s = V.ntuple(stride, 2, "stride", fn)
    d = V.ntuple(dilation, 2, "dilation", fn)
    fig.suptitle(f"input {size[0]}x{size[1]}, kernel {k[0]}x{k[1]}, stride {s}, padding {pad}, "
                 f"dilation {d} -> output {out[0]}x{out[1]}", fontsize=9)
    taps = [ax.add_patch(Rectangle((0, 0), 1, 1, facecolor="#1f3f6f", alpha=0.75,
                                   edgecolor="black")) for _ in range(len(frames[0][1]))]
    target = ax.add_patch(Rectangle((0, 0), 1, 1, facecolor="#1f6f6a", edgecolor="black"))

    def draw(t):
        (r, c), cells = frames[t]
        for patch, (y, x) in zip(taps, cells):
            patch.set_xy((x, y))
        target.set_xy((pw + gap + c, r))
        return taps + [target]

    anim = FuncAnimation(fig, draw, frames=len(frames), blit=False)
    tmp = f"{path}.tmp.gif"
    anim.save(tmp, writer=PillowWriter(fps=fps), dpi=80)
    plt.close(fig)
    os.replace(tmp, path)
    return [path]
