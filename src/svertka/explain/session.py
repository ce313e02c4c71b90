"""What ``svertka explain`` computes, without the web server: one model, its last input, and
the answers of the JSON API as plain data.

A :class:`Session` holds the model given on the command line (and nothing else it could read:
no request names a file), its preprocessing and class names. Every method takes the values of
one request and returns a JSON-ready dict, or raises :class:`RequestError` (a ``ValueError``
with the HTTP status to answer) when the request cannot work. One lock serialises the model's
use, so concurrent requests see a consistent "last input".
"""

from __future__ import annotations

import base64
import io
import json
import threading
import warnings

import numpy as np

__all__ = ["Session", "RequestError", "conv_arith", "MAX_UPLOAD_BYTES", "MAX_IMAGE_PIXELS"]

#: Largest request body the server reads (an image file or a JSON array).
MAX_UPLOAD_BYTES = 4 * 1024 * 1024
#: Largest decoded image (width x height); larger ones are refused before decoding.
MAX_IMAGE_PIXELS = 4096 * 4096
#: At most this many feature maps of one layer are sent.
MAX_MAPS = 64


class RequestError(ValueError):
    """A request that cannot work; ``status`` is the HTTP status to answer (4xx)."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def png_b64(img):
    """A 2-D array in [0, 1] (or ``(H, W, 3)``) as a base64 PNG (Pillow)."""
    from PIL import Image

    arr = np.clip(np.asarray(img, dtype=np.float64) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _scaled(a):
    """Each map of ``a`` (``(C, *spatial)``) scaled to [0, 1] by its own min and max."""
    a = np.asarray(a, dtype=np.float64)
    flat = a.reshape(a.shape[0], -1)  # (C, H*W)
    lo, hi = flat.min(axis=1), flat.max(axis=1)
    scale = np.where(hi > lo, hi - lo, 1.0)
    shape = (-1,) + (1,) * (a.ndim - 1)
    return (a - lo.reshape(shape)) / scale.reshape(shape)


def _int_arg(name, text, lo, hi):
    """A query value as an int in ``[lo, hi]``, else a :class:`RequestError` naming it."""
    try:
        v = int(str(text).strip())
    except (TypeError, ValueError):
        raise RequestError(f"{name} must be an int, got {name}={text!r}") from None
    if not lo <= v <= hi:
        raise RequestError(f"{name} must be in {lo}..{hi}, got {name}={v}")
    return v


class Session:
    """One model served by ``svertka explain``.

    Args:
        model (Module): the network (put in eval mode).
        input_shape (tuple): the sample shape ``(C, H, W)`` the model reads.
        classes (list of str): class names, one per output.
        name (str): what the page shows as the model's name.
        mean, std (tuple, optional): the recipe's per-channel normalisation (after scaling
            pixels to [0, 1]).
        preprocess (callable, optional): a PIL image -> ``(C, H, W)`` normalised array (a zoo
            model's published transform); default: convert to grey or RGB, resize bilinear to
            ``(H, W)``, scale to [0, 1] and normalise with ``mean``/``std``, as
            ``svertka predict`` does for a checkpoint.
        samples (tuple, optional): ``(images, labels)``: test images ``(N, C, H, W)`` in
            [0, 1] and their class indices, to pick from in the page.
        dataset (str, optional): the dataset's name (the page draws a canvas for digits).
    """

    def __init__(self, model, input_shape, classes, name="model", mean=None, std=None,
                 preprocess=None, samples=None, dataset=None):
        from svertka.analysis import summary

        self.model = model.eval()
        self.input_shape = tuple(int(v) for v in input_shape)
        self.classes = [str(c) for c in classes]
        self.name, self.dataset = name, dataset
        c = self.input_shape[0]
        self.mean = np.asarray(mean if mean is not None else (0.0,) * c, np.float32)
        self.std = np.asarray(std if std is not None else (1.0,) * c, np.float32)
        self.preprocess = preprocess
        self.samples = samples
        self._lock = threading.Lock()
        self._last = None  # (raw (C, H, W) in [0, 1], normalised x (1, C, H, W), activations)
        info = summary(model, self.input_shape).to_dict()
        self.summary = info
        self.layers = [r for r in info["rows"][1:] if r["leaf"] and r["output_shape"]]
        self._rows = {r["name"]: r for r in self.layers}
        self._modules = dict(model.named_modules())

    # ------------------------------------------------------------------ the model
    def model_info(self):
        """``/api/model``: the model, its layers (from ``analysis.summary``), first-layer
        kernels, Grad-CAM's default layer and what inputs the page can offer."""
        keys = ("name", "type", "output_shape", "params", "macs", "receptive_field", "jump",
                "start")
        layers = [dict({k: r[k] for k in keys}, spatial=len(r["output_shape"]) == 4)
                  for r in self.layers]
        return {"name": self.name, "dataset": self.dataset, "input_shape": list(self.input_shape),
                "classes": self.classes, "layers": layers,
                "total_params": self.summary["total_params"],
                "total_macs": self.summary["total_macs"], "kernels": self._kernels(),
                "cam_layer": self._cam_layer(),
                "samples": 0 if self.samples is None else len(self.samples[1]),
                "max_upload_bytes": MAX_UPLOAD_BYTES}

    def _cam_layer(self):
        from svertka.viz import default_cam_layer

        name = default_cam_layer(self.model)
        return name if name in self._rows else None

    def _kernels(self):
        from svertka.viz import first_conv_weight

        w = first_conv_weight(self.model)
        if w is None or w.ndim != 4:
            return None
        w = w.detach().numpy()
        tiles = w.transpose(0, 2, 3, 1) if w.shape[1] == 3 else w[:, 0]  # (O, kH, kW[, 3])
        name = next(n for n, m in self._modules.items() if getattr(m, "weight", None) is not None
                    and m.weight.shape == tuple(w.shape) and m.weight.ndim == 4)
        return {"layer": name, "shape": list(w.shape),
                "images": [png_b64(t) for t in _scaled(tiles)[:MAX_MAPS]]}

    # ------------------------------------------------------------------ inputs
    def decode(self, body, content_type=""):
        """A request body as ``(raw (C, H, W) in [0, 1], x (1, C, H, W) normalised)``: PNG or
        JPEG bytes, or JSON: an array (``(H, W)`` or ``(C, H, W)`` of the model's size, values in
        [0, 1]), ``{"image": array}`` or ``{"sample": k}`` (a test image of the dataset)."""
        if not body:
            raise RequestError("the request has no body: POST PNG or JPEG bytes or a JSON array")
        if len(body) > MAX_UPLOAD_BYTES:
            raise RequestError(f"the upload is {len(body):,} bytes, the limit is "
                               f"{MAX_UPLOAD_BYTES:,}", 413)
        if body[:8] == b"\x89PNG\r\n\x1a\n" or body[:3] == b"\xff\xd8\xff":
            return self._from_image(body)
        if "json" in content_type or body.lstrip()[:1] in (b"[", b"{"):
            try:
                value = json.loads(body)
            except (UnicodeDecodeError, ValueError) as e:
                raise RequestError(f"the body is not valid JSON: {e}") from None
            if isinstance(value, dict) and "sample" in value:
                return self._sample(value["sample"])
            if isinstance(value, dict):
                value = value.get("image")
            return self._from_array(value)
        raise RequestError("the upload is not a PNG or JPEG image, nor a JSON array", 415)

    def _normalise(self, raw):
        c = raw.shape[0]
        return ((raw - self.mean.reshape(c, 1, 1)) / self.std.reshape(c, 1, 1))[None]

    def _from_array(self, value):
        c, h, w = self.input_shape
        try:
            arr = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError):
            raise RequestError("the JSON image must be a nested array of numbers") from None
        given = tuple(arr.shape)
        if arr.ndim == 2 and c == 1:
            arr = arr[None]
        if arr.shape != (c, h, w):
            raise RequestError(f"the JSON image has shape {given}, the model "
                               f"expects {(c, h, w)}" + (f" or {(h, w)}" if c == 1 else ""),
                               422)
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise RequestError(f"the JSON image's values must be finite and in [0, 1], got "
                               f"{float(np.nanmin(arr)):g}..{float(np.nanmax(arr)):g}", 422)
        if self.preprocess is not None:  # a zoo model's transform reads 8-bit images
            from PIL import Image

            img = (arr.transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)  # (H, W, C)
            return self._through(Image.fromarray(img[:, :, 0] if c == 1 else img))
        return arr, self._normalise(arr)

    def _from_image(self, body):
        from PIL import Image

        c, h, w = self.input_shape
        try:  # any error while decoding the user's bytes is about the bytes
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(body)) as img:
                    if img.width * img.height > MAX_IMAGE_PIXELS:
                        raise RequestError(f"the image is {img.width}x{img.height} pixels, the "
                                           f"limit is {MAX_IMAGE_PIXELS:,} pixels", 413)
                    img.load()
                    img = img.convert("L" if c == 1 else "RGB")
        except RequestError:
            raise
        except Exception as e:  # noqa: BLE001 - a third-party decoder of user data
            raise RequestError(f"cannot read the image: {' '.join(str(e).split())}") from None
        if self.preprocess is not None:
            return self._through(img)
        img = img.resize((w, h), Image.BILINEAR)
        arr = np.asarray(img, dtype=np.float32) / 255.0
        raw = arr[None] if c == 1 else arr.transpose(2, 0, 1)  # (C, H, W)
        return raw, self._normalise(raw)

    def _through(self, img):
        x = np.asarray(self.preprocess(img).numpy(), dtype=np.float32)  # (C, H, W)
        c = x.shape[0]
        raw = np.clip(x * self.std.reshape(c, 1, 1) + self.mean.reshape(c, 1, 1), 0, 1)
        return raw, x[None]

    def _sample(self, k):
        if self.samples is None:
            raise RequestError("this model has no dataset test images to pick from", 404)
        images, labels = self.samples
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < len(labels):
            raise RequestError(f"sample must be an int in 0..{len(labels) - 1}, got "
                               f"sample={k!r}")
        raw = np.asarray(images[k], np.float32)
        if self.preprocess is not None:
            return self._from_array(raw)
        return raw, self._normalise(raw)

    def sample_list(self):
        """``/api/samples``: the test images to pick from, as PNGs with their labels."""
        if self.samples is None:
            return {"samples": []}
        images, labels = self.samples
        return {"samples": [{"index": i, "label": self.classes[int(y)],
                             "png": png_b64(img[0] if img.shape[0] == 1
                                            else img.transpose(1, 2, 0))}
                            for i, (img, y) in enumerate(zip(images, labels))]}

    # ------------------------------------------------------------------ predictions
    def predict(self, body, content_type=""):
        """``/api/predict``: the top-5 classes of an input; it becomes the last input."""
        import svertka
        from svertka.nn import functional as F

        raw, x = self.decode(body, content_type)
        names = [r["name"] for r in self.layers]
        with self._lock:
            seen = {}
            handles = [self._modules[n].register_forward_hook(
                lambda m, i, o, n=n: seen.__setitem__(n, o)) for n in names]
            try:
                with svertka.no_grad():
                    logits = self.model(svertka.tensor(x))
            finally:
                for h in handles:
                    h.remove()
            acts = {n: o.numpy()[0] for n, o in seen.items() if hasattr(o, "numpy")}
            self._last = (raw, x, acts)
        probs = F.softmax(logits, dim=1).numpy()[0].astype(np.float64)
        top = np.argsort(-probs, kind="stable")[:5]
        names = self.classes + [str(i) for i in range(len(self.classes), probs.shape[0])]
        return {"top": [{"index": int(i), "class": names[int(i)],
                         "probability": float(probs[i])} for i in top],
                "input_png": png_b64(raw[0] if raw.shape[0] == 1 else raw.transpose(1, 2, 0))}

    # ------------------------------------------------------------------ class evidence
    def explain(self, query, body=None, content_type=""):
        """``/api/explain``: which input pixels drove the score of one class, as a heat map of
        the input's spatial size with values in [0, 1].

        ``query`` holds the request's query values: ``method`` (``saliency``, the default:
        :func:`svertka.viz.saliency_map` divided by its largest value; or ``gradcam``:
        :func:`svertka.viz.grad_cam`), ``target`` (a class index; default the top-1 class) and,
        for ``gradcam`` only, ``layer`` (a layer with spatial output; default the last
        convolution, :func:`svertka.viz.default_cam_layer`). The input is ``body`` (anything
        ``/api/predict`` reads; it does not become the last input) or, without a body, the last
        input. The heat map is rounded to 4 decimals (JSON size) and also sent as a PNG.
        """
        import svertka
        from svertka.viz import grad_cam, saliency_map

        known = {"method", "target", "layer"}
        unknown = sorted(set(query) - known)
        if unknown:
            raise RequestError(f"unknown parameters: {', '.join(unknown)}; use "
                               f"{', '.join(sorted(known))}")
        method = str(query.get("method") or "saliency").lower()
        if method not in ("saliency", "gradcam"):
            raise RequestError(f"method must be saliency or gradcam, got method={method!r}")
        layer = query.get("layer") or None
        if method == "saliency" and layer is not None:
            raise RequestError("layer applies to method=gradcam only (saliency is the gradient "
                               "with respect to the input)")
        if method == "gradcam":
            if layer is None:
                layer = self._cam_layer()
                if layer is None:
                    raise RequestError("the model has no convolution for Grad-CAM to use; give "
                                       "a layer with spatial output: ?layer=NAME")
            row = self._layer(layer)
            if len(row["output_shape"]) != 4:
                raise RequestError(f"layer {layer!r} has no spatial output (shape "
                                   f"{row['output_shape']}); Grad-CAM needs a convolution or "
                                   f"pooling layer")
        x = self.decode(body, content_type)[1] if body else self._last_input()[1]
        with self._lock:
            with svertka.no_grad():
                scores = self.model(svertka.tensor(x)).numpy()[0]  # (classes,)
            if query.get("target") in (None, ""):
                target = int(np.argmax(scores))
            else:
                target = _int_arg("target", query["target"], 0, scores.shape[0] - 1)
            try:
                if method == "saliency":
                    heat = saliency_map(self.model, x, target)[0]  # (H, W)
                    peak = float(heat.max())
                    heat = heat / peak if peak > 0 else heat
                else:
                    heat = grad_cam(self.model, x, layer, target)[0]  # (H, W), in [0, 1]
            except ValueError as e:  # a model whose output is not class scores
                raise RequestError(f"cannot explain this model: {e}", 422) from None
            finally:
                self.model.zero_grad()
        heat = np.asarray(heat, dtype=np.float64)
        names = self.classes + [str(i) for i in range(len(self.classes), scores.shape[0])]
        return {"method": method, "target": target, "class": names[target],
                "layer": layer, "shape": list(heat.shape),
                "heat": np.round(heat, 4).tolist(), "png": png_b64(heat)}

    def _layer(self, layer):
        if layer is None or layer == "":
            raise RequestError("give a layer: ?layer=NAME (see /api/model)")
        if layer not in self._rows:
            some = ", ".join(r["name"] for r in self.layers[:30])
            raise RequestError(f"no layer named {layer!r}; layers: {some}", 404)
        return self._rows[layer]

    def _last_input(self):
        last = self._last
        if last is None:
            raise RequestError("no input yet: POST one to /api/predict first", 409)
        return last

    def activations(self, layer, fmt="png"):
        """``/api/activations``: the feature maps of ``layer`` for the last input, as small
        PNGs (each map scaled by its own range) or, with ``fmt='array'``, as numbers."""
        self._layer(layer)
        if fmt not in ("png", "array"):
            raise RequestError(f"format must be png or array, got format={fmt!r}")
        _, _, acts = self._last_input()
        a = acts.get(layer)
        if a is None:
            raise RequestError(f"layer {layer!r} was not called for the last input", 404)
        out = {"layer": layer, "shape": list(a.shape), "spatial": a.ndim == 3,
               "min": float(a.min()) if a.size else 0.0,
               "max": float(a.max()) if a.size else 0.0}
        if a.ndim != 3 or fmt == "array":
            out["values"] = a[:MAX_MAPS].tolist()
        else:
            out["maps"] = [png_b64(m) for m in _scaled(a[:MAX_MAPS])]
        out["shown"] = min(a.shape[0], MAX_MAPS) if a.ndim else 0
        return out

    def receptive_field(self, layer, c, i, j):
        """``/api/receptive-field``: for unit ``(c, i, j)`` of ``layer``, the theoretical field
        (a box in input pixels, from the recurrence of ``analysis.receptive_field``) and the
        effective one: ``|d unit / d input|`` at the last input, summed over channels and
        scaled to [0, 1], as an array and a PNG heat map."""
        import svertka

        row = self._layer(layer)
        shape = row["output_shape"]
        if len(shape) != 4:
            raise RequestError(f"layer {layer!r} has no spatial output (shape {shape}); pick "
                               f"a convolution or pooling layer")
        _, ch, oh, ow = shape
        c = _int_arg("c", c, 0, ch - 1)
        i = _int_arg("i", i, 0, oh - 1)
        j = _int_arg("j", j, 0, ow - 1)
        _, h, w = self.input_shape
        box = []
        for o, rf, jump, start, n in zip((i, j), row["receptive_field"], row["jump"],
                                         row["start"], (h, w)):
            centre = start + o * jump
            lo, hi = centre - (rf - 1) / 2, centre + (rf - 1) / 2
            box.append((float(lo), float(hi), max(0, int(np.ceil(lo))),
                        min(n - 1, int(np.floor(hi)))))
        raw, x, _ = self._last_input()
        with self._lock:
            module = self._modules[layer]
            seen = []
            handle = module.register_forward_hook(lambda m, inp, o: seen.append(o))
            xt = svertka.tensor(x).requires_grad_(True)
            try:
                with svertka.enable_grad():
                    self.model(xt)
            finally:
                handle.remove()
            out = seen[-1]
            gy = np.zeros(tuple(out.shape), dtype=out.detach().numpy().dtype)
            gy[0, c, i, j] = 1
            out.backward(svertka.tensor(gy))
            g = np.abs(xt.grad.numpy()[0]).sum(axis=0)  # (H, W)
            self.model.zero_grad()
        peak = float(g.max())
        heat = g / peak if peak > 0 else g
        return {"layer": layer, "unit": [c, i, j],
                "theoretical": {"size": list(row["receptive_field"]), "jump": list(row["jump"]),
                                "start": list(row["start"]),
                                "rows": [box[0][0], box[0][1]], "cols": [box[1][0], box[1][1]],
                                "clipped_rows": [box[0][2], box[0][3]],
                                "clipped_cols": [box[1][2], box[1][3]]},
                "effective": {"heat": heat.tolist(), "png": png_b64(heat),
                              "nonzero_pixels": int((g > 0).sum())}}


def conv_arith(query):
    """``/api/conv-arith``: the output size of a convolution (or transposed convolution) along
    one axis by the lecture's formula, from query strings ``input``, ``kernel``, ``stride``,
    ``padding``, ``dilation``, ``transposed`` (``0``/``1``) and ``output_padding``.

    >>> conv_arith({"input": "7", "kernel": "3", "stride": "2", "padding": "1"})["output"]
    4
    """
    from svertka.analysis import conv_output_size, conv_transpose_output_size

    known = {"input", "kernel", "stride", "padding", "dilation", "transposed", "output_padding"}
    unknown = sorted(set(query) - known)
    if unknown:
        raise RequestError(f"unknown parameters: {', '.join(unknown)}; use "
                           f"{', '.join(sorted(known))}")
    if "input" not in query or "kernel" not in query:
        raise RequestError("give at least input and kernel: ?input=7&kernel=3")
    n = _int_arg("input", query["input"], 0, 100_000)
    k = _int_arg("kernel", query["kernel"], 1, 1_000)
    s = _int_arg("stride", query.get("stride", 1), 1, 1_000)
    p = _int_arg("padding", query.get("padding", 0), 0, 1_000)
    d = _int_arg("dilation", query.get("dilation", 1), 1, 1_000)
    t = str(query.get("transposed", "0")).lower()
    if t not in ("0", "1", "false", "true"):
        raise RequestError(f"transposed must be 0 or 1, got transposed={t!r}")
    transposed = t in ("1", "true")
    op = _int_arg("output_padding", query.get("output_padding", 0), 0, 1_000)
    try:
        if transposed:
            out = conv_transpose_output_size(n, k, s, p, op, d)
            formula = (f"({n} - 1) * {s} - 2 * {p} + {d} * ({k} - 1) + {op} + 1 = {out}")
        else:
            if op:
                raise RequestError("output_padding applies to transposed convolutions only")
            out = conv_output_size(n, k, s, p, d)
            formula = f"floor(({n} + 2 * {p} - {d} * ({k} - 1) - 1) / {s}) + 1 = {out}"
    except RequestError:
        raise
    except ValueError as e:
        raise RequestError(str(e)) from None
    return {"input": n, "kernel": k, "stride": s, "padding": p, "dilation": d,
            "transposed": transposed, "output_padding": op, "output": out, "formula": formula}

