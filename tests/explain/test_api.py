"""svertka explain's JSON API through Flask's test client, on an untrained LeNet-5 saved as a
checkpoint of the digits (the layout 'svertka train' writes)."""

from __future__ import annotations

import base64
import io
import json
import threading

import numpy as np
import pytest

flask = pytest.importorskip("flask", reason="svertka explain needs the web extra (Flask)")
Image = pytest.importorskip("PIL.Image")

import svertka  # noqa: E402
from svertka import cli  # noqa: E402
from svertka.explain import create_app  # noqa: E402
from svertka.explain.session import MAX_UPLOAD_BYTES  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from svertka.models import lenet5

    svertka.manual_seed(0)
    model = lenet5(num_classes=10, in_channels=1)
    config = {"model": "lenet5", "dataset": "digits", "classes": [str(i) for i in range(10)],
              "input_shape": [1, 8, 8]}
    path = tmp_path_factory.mktemp("run") / "best.svk"
    svertka.save({"config": config, "model": model.state_dict()}, str(path))
    return str(path)


@pytest.fixture(scope="module")
def session(checkpoint):
    args = cli.build_parser().parse_args(["explain", checkpoint])
    return cli._explain_session(args)


@pytest.fixture()
def client(session):
    return create_app(session).test_client()


def _png(arr):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _stroke():
    img = np.zeros((32, 32), np.uint8)
    img[4:28, 14:18] = 255  # a "1"
    return img


def test_model_lists_every_leaf_layer_with_summary_numbers(client, session):
    from svertka.analysis import summary

    r = client.get("/api/model")
    assert r.status_code == 200
    info = r.get_json()
    rows = {row.name: row for row in summary(session.model, (1, 8, 8)).rows}
    names = [layer["name"] for layer in info["layers"]]
    assert names[:3] == ["resize", "features.0", "features.1"]
    conv = next(layer for layer in info["layers"] if layer["name"] == "features.0")
    assert conv["output_shape"] == [1, 6, 28, 28]
    assert conv["params"] == rows["features.0"].params == 156
    assert conv["macs"] == rows["features.0"].macs
    assert conv["receptive_field"] == list(rows["features.0"].receptive_field)
    assert info["total_params"] == 61706
    assert info["classes"] == [str(i) for i in range(10)]
    assert info["kernels"]["shape"] == [6, 1, 5, 5] and len(info["kernels"]["images"]) == 6
    assert info["samples"] > 0


def test_predict_png_returns_top5_probabilities(client, session):
    r = client.post("/api/predict", data=_png(_stroke()), content_type="image/png")
    assert r.status_code == 200
    top = r.get_json()["top"]
    assert len(top) == 5
    probs = [t["probability"] for t in top]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    # the same image through the model by hand: resize to 8x8 bilinear, /255, normalise
    small = np.asarray(Image.fromarray(_stroke()).resize((8, 8), Image.BILINEAR), np.float32)
    x = (small / 255.0 - 0.3055) / 0.3759
    with svertka.no_grad():
        logits = session.model(svertka.tensor(x[None, None])).numpy()[0]
    p = np.exp(logits - logits.max())
    p /= p.sum()
    assert top[0]["index"] == int(np.argmax(p))
    np.testing.assert_allclose(probs[0], p.max(), rtol=1e-5)


def test_predict_json_array_matches_png_of_same_pixels(client):
    arr = np.zeros((8, 8), np.float32)
    arr[1:7, 3:5] = 1.0
    a = client.post("/api/predict", json=arr.tolist()).get_json()["top"]
    b = client.post("/api/predict", data=_png((arr * 255).astype(np.uint8)),
                    content_type="image/png").get_json()["top"]
    assert [t["index"] for t in a] == [t["index"] for t in b]
    np.testing.assert_allclose([t["probability"] for t in a], [t["probability"] for t in b],
                               rtol=1e-5)


def test_predict_sample_picks_a_dataset_test_image(client):
    samples = client.get("/api/samples").get_json()["samples"]
    assert samples and samples[0]["label"] in [str(i) for i in range(10)]
    base64.b64decode(samples[0]["png"])
    r = client.post("/api/predict", json={"sample": 0})
    assert r.status_code == 200 and len(r.get_json()["top"]) == 5


@pytest.mark.parametrize("body, kind, status, words", [
    (b"hello, not an image", "application/octet-stream", 415, "not a PNG or JPEG"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "image/png", 400, "cannot read the image"),
    (b"[[1, 2], [3", "application/json", 400, "not valid JSON"),
    (json.dumps([[0.5] * 7] * 8).encode(), "application/json", 422, "shape (8, 7)"),
    (json.dumps([[2.0] * 8] * 8).encode(), "application/json", 422, "in [0, 1]"),
    (json.dumps({"sample": 10**6}).encode(), "application/json", 400, "sample must be"),
    (b"", "image/png", 400, "no body"),
], ids=["text", "broken-png", "bad-json", "wrong-shape", "out-of-range", "bad-sample", "empty"])
def test_predict_rejects_bad_input_with_json_message(client, body, kind, status, words):
    r = client.post("/api/predict", data=body, content_type=kind)
    assert r.status_code == status
    assert words in r.get_json()["error"]
    assert "Traceback" not in r.get_data(as_text=True)
    assert client.get("/api/model").status_code == 200  # still serving


def test_predict_rejects_upload_over_size_limit(client):
    r = client.post("/api/predict", data=b"\0" * (MAX_UPLOAD_BYTES + 1),
                    content_type="image/png")
    assert r.status_code == 413
    assert "too large" in r.get_json()["error"]


def test_predict_rejects_image_over_pixel_limit(client):
    from svertka.explain import session as S

    big = np.zeros((1, 5000), np.uint8)  # a small file of a large image
    old = S.MAX_IMAGE_PIXELS
    S.MAX_IMAGE_PIXELS = 4000
    try:
        r = client.post("/api/predict", data=_png(big), content_type="image/png")
    finally:
        S.MAX_IMAGE_PIXELS = old
    assert r.status_code == 413 and "5000x1 pixels" in r.get_json()["error"]


def test_activations_are_the_layer_output_of_last_input(client, session):
    arr = np.zeros((8, 8), np.float32)
    arr[2:6, 2:6] = 1.0
    client.post("/api/predict", json=arr.tolist())
    r = client.get("/api/activations?layer=features.0&format=array")
    assert r.status_code == 200
    got = np.asarray(r.get_json()["values"])
    x = svertka.tensor(((arr - 0.3055) / 0.3759)[None, None])
    with svertka.no_grad():
        want = session.model.features[0](session.model.resize(x)).numpy()[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    png = client.get("/api/activations?layer=features.0").get_json()
    assert len(png["maps"]) == 6
    img = Image.open(io.BytesIO(base64.b64decode(png["maps"][0])))
    assert img.size == (28, 28)


@pytest.mark.parametrize("query, status, words", [
    ("", 400, "give a layer"),
    ("layer=nope", 404, "no layer named 'nope'"),
    ("layer=features.0&format=gif", 400, "format must be"),
])
def test_activations_rejects_bad_query(client, query, status, words):
    client.post("/api/predict", json=[[0.0] * 8] * 8)
    r = client.get(f"/api/activations?{query}")
    assert r.status_code == status and words in r.get_json()["error"]


def test_activations_before_any_input_is_409(checkpoint):
    args = cli.build_parser().parse_args(["explain", checkpoint])
    fresh = create_app(cli._explain_session(args)).test_client()
    r = fresh.get("/api/activations?layer=features.0")
    assert r.status_code == 409 and "POST one to /api/predict" in r.get_json()["error"]


def test_receptive_field_theory_contains_effective_field(client):
    arr = np.random.default_rng(0).random((8, 8)).astype(np.float32)
    client.post("/api/predict", json=arr.tolist())
    r = client.get("/api/receptive-field?layer=features.3&c=2&i=4&j=5")
    assert r.status_code == 200
    out = r.get_json()
    theory = out["theoretical"]
    heat = np.asarray(out["effective"]["heat"])
    assert heat.shape == (8, 8) and heat.max() == 1.0
    rows, cols = np.nonzero(heat)
    r0, r1 = theory["rows"]
    c0, c1 = theory["cols"]
    # the gradient is zero outside the theoretical field (bilinear resize widens it by one
    # input pixel at most: the recurrence is a linear fit there)
    assert rows.min() >= np.floor(r0) - 1 and rows.max() <= np.ceil(r1) + 1
    assert cols.min() >= np.floor(c0) - 1 and cols.max() <= np.ceil(c1) + 1


def test_receptive_field_of_first_conv_is_its_kernel_window(client):
    client.post("/api/predict", json=[[0.5] * 8] * 8)
    theory = client.get("/api/receptive-field?layer=features.0&c=0&i=0&j=0").get_json()[
        "theoretical"]
    assert theory["size"][0] == pytest.approx(5 / 4 + 3 / 4, abs=1)  # 5 pixels of 32 on 8


@pytest.mark.parametrize("query, words", [
    ("layer=features.0&c=0&i=0", "missing query values: j"),
    ("layer=features.0&c=6&i=0&j=0", "c must be in 0..5, got c=6"),
    ("layer=features.0&c=0&i=-1&j=0", "i must be in 0..27"),
    ("layer=features.0&c=0&i=x&j=0", "i must be an int, got i='x'"),
    ("layer=classifier.1&c=0&i=0&j=0", "no spatial output"),
])
def test_receptive_field_rejects_bad_query(client, query, words):
    client.post("/api/predict", json=[[0.0] * 8] * 8)
    r = client.get(f"/api/receptive-field?{query}")
    assert r.status_code == 400 and words in r.get_json()["error"]


def _digit_input():
    """A fixed 8x8 input in [0, 1] and its normalised batch, as the digits' recipe makes it."""
    arr = np.random.default_rng(2).random((8, 8)).astype(np.float32)
    return arr, ((arr - 0.3055) / 0.3759)[None, None]


def test_explain_saliency_matches_viz_saliency_map(client, session):
    from svertka.viz import saliency_map

    arr, x = _digit_input()
    r = client.post("/api/explain?method=saliency&target=3", json=arr.tolist())
    assert r.status_code == 200
    out = r.get_json()
    want = saliency_map(session.model, svertka.tensor(x), target=3)[0]
    want = want / want.max()
    heat = np.asarray(out["heat"])
    assert out["method"] == "saliency" and out["target"] == 3 and out["class"] == "3"
    assert out["shape"] == [8, 8] and heat.shape == (8, 8)
    assert heat.min() >= 0 and heat.max() == 1.0
    np.testing.assert_allclose(heat, want, atol=1e-4)  # the JSON rounds to 4 decimals
    img = Image.open(io.BytesIO(base64.b64decode(out["png"])))
    assert img.size == (8, 8)


def test_explain_gradcam_matches_viz_grad_cam_at_default_and_given_layer(client, session):
    from svertka.viz import grad_cam

    arr, x = _digit_input()
    for query, layer, target in (("method=gradcam", "features.3", None),
                                 ("method=gradcam&layer=features.0&target=7", "features.0", 7)):
        out = client.post(f"/api/explain?{query}", json=arr.tolist()).get_json()
        want = grad_cam(session.model, svertka.tensor(x), layer, target=target)[0]
        assert out["layer"] == layer and out["shape"] == [8, 8]
        assert want.max() > 0  # a map with something in it
        np.testing.assert_allclose(np.asarray(out["heat"]), want, atol=1e-4)
    assert client.get("/api/model").get_json()["cam_layer"] == "features.3"


def test_explain_without_body_uses_last_input_and_top1_class(client, session):
    from svertka.viz import saliency_map

    arr, x = _digit_input()
    top = client.post("/api/predict", json=arr.tolist()).get_json()["top"][0]
    client.post("/api/explain", json=np.zeros((8, 8)).tolist())  # does not replace the input
    out = client.get("/api/explain").get_json()
    assert out["method"] == "saliency" and out["target"] == top["index"]
    want = saliency_map(session.model, svertka.tensor(x))[0]  # default target: the top class
    np.testing.assert_allclose(np.asarray(out["heat"]), want / want.max(), atol=1e-4)


@pytest.mark.parametrize("query, status, words", [
    ("method=lime", 400, "method must be saliency or gradcam, got method='lime'"),
    ("target=10", 400, "target must be in 0..9, got target=10"),
    ("target=-1", 400, "target must be in 0..9, got target=-1"),
    ("target=two", 400, "target must be an int, got target='two'"),
    ("method=gradcam&layer=nope", 404, "no layer named 'nope'"),
    ("method=gradcam&layer=classifier.1", 400, "has no spatial output"),
    ("method=saliency&layer=features.0", 400, "layer applies to method=gradcam only"),
    ("method=saliency&path=/etc/passwd", 400, "unknown parameters: path"),
], ids=["method", "target-high", "target-negative", "target-text", "layer-unknown",
        "layer-not-spatial", "layer-with-saliency", "unknown-parameter"])
def test_explain_rejects_bad_query_with_json_message(client, query, status, words):
    client.post("/api/predict", json=[[0.0] * 8] * 8)
    for r in (client.get(f"/api/explain?{query}"),
              client.post(f"/api/explain?{query}", json=[[0.5] * 8] * 8)):
        assert r.status_code == status and words in r.get_json()["error"]
        assert "Traceback" not in r.get_data(as_text=True)


def test_explain_rejects_bad_body_and_missing_input(client, checkpoint):
    r = client.post("/api/explain", data=b"hello", content_type="application/octet-stream")
    assert r.status_code == 415 and "not a PNG or JPEG" in r.get_json()["error"]
    r = client.post("/api/explain", json=[[0.5] * 7] * 8)
    assert r.status_code == 422 and "shape (8, 7)" in r.get_json()["error"]
    r = client.post("/api/explain", data=b"", content_type="image/png")
    assert r.status_code == 400 and "no body" in r.get_json()["error"]
    args = cli.build_parser().parse_args(["explain", checkpoint])
    fresh = create_app(cli._explain_session(args)).test_client()
    r = fresh.get("/api/explain?method=gradcam")
    assert r.status_code == 409 and "POST one to /api/predict" in r.get_json()["error"]


@pytest.mark.parametrize("query, want", [
    ("input=7&kernel=3&stride=2&padding=1", 4),
    ("input=224&kernel=11&stride=4&padding=2", 55),
    ("input=7&kernel=3&dilation=2&stride=2", 2),
    ("input=16&kernel=4&stride=2&padding=1&transposed=1", 32),
    ("input=3&kernel=3&stride=2&transposed=1&output_padding=1", 8),
])
def test_conv_arith_matches_analysis_formula(client, query, want):
    r = client.get(f"/api/conv-arith?{query}")
    assert r.status_code == 200 and r.get_json()["output"] == want


@pytest.mark.parametrize("query, words", [
    ("kernel=3", "give at least input and kernel"),
    ("input=7&kernel=0", "kernel must be in 1..1000"),
    ("input=7&kernel=3&stride=two", "stride must be an int"),
    ("input=7&kernel=3&transposed=maybe", "transposed must be 0 or 1"),
    ("input=7&kernel=3&path=/etc/passwd", "unknown parameters: path"),
    ("input=7&kernel=3&stride=2&transposed=1&output_padding=2", "output_padding must be"),
])
def test_conv_arith_rejects_bad_query(client, words, query):
    r = client.get(f"/api/conv-arith?{query}")
    assert r.status_code == 400 and words in r.get_json()["error"]


def test_page_and_static_files_are_served_from_package(client):
    page = client.get("/").get_data(as_text=True)
    for hook in ("draw-canvas", "prediction", "conv-explorer", "output-size", "saliency"):
        assert f'data-testid="{hook}"' in page
    assert "http://" not in page and "https://" not in page  # no CDN
    assert client.get("/static/app.js").status_code == 200


@pytest.mark.parametrize("path", ["/static/../session.py", "/static/%2e%2e/app.py",
                                  "/../../etc/passwd", "/api/model/../../cli.py"])
def test_paths_outside_static_files_cannot_be_read(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert b"import" not in r.get_data() and b"root:" not in r.get_data()


def test_concurrent_predictions_are_all_answered(session):
    app = create_app(session)
    results = []

    def one(k):
        with app.test_client() as c:
            results.append(c.post("/api/predict", json={"sample": k % 5}).status_code)

    threads = [threading.Thread(target=one, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 8


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_predict_preprocesses_like_svertka_predict(tmp_path, session, fmt):
    rng = np.random.default_rng(1)
    img = (rng.random((20, 13)) * 255).astype(np.uint8)
    path = tmp_path / f"x.{fmt.lower()}"
    Image.fromarray(img).save(path, format=fmt)
    arr = cli._read_image(str(path), (1, 8, 8))  # what 'svertka predict' reads
    info = cli.DATASETS["digits"]
    want = (arr - info.mean[0]) / info.std[0]
    raw, x = session.decode(path.read_bytes(), f"image/{fmt.lower()}")
    np.testing.assert_allclose(x, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(raw, arr[0], rtol=1e-6, atol=1e-6)


def test_unknown_route_and_wrong_method_answer_json(client):
    r = client.get("/api/nope")
    assert r.status_code == 404 and "error" in r.get_json()
    r = client.get("/api/predict")
    assert r.status_code == 405 and "error" in r.get_json()
