"""The web app of ``svertka explain`` on Flask: the page and the JSON API of a :class:`Session`.

Flask was chosen for a small, maintained dependency set (Werkzeug, Jinja2, click, blinker,
itsdangerous, MarkupSafe; no async stack), its built-in test client, Werkzeug's threaded
server (one thread per request, enough for one student's browser and a notebook), and static
files served from inside the package.

Endpoints (all answers JSON; an error is ``{"error": message}`` with a 4xx status):

* ``GET /api/model``: the model's name, input shape, classes, layers (``analysis.summary``:
  name, type, output shape, params, MACs, receptive field, jump, start), first-layer kernels
  and Grad-CAM's default layer (``cam_layer``);
* ``GET /api/samples``: the dataset's test images to pick from (PNG, label);
* ``POST /api/predict``: body PNG/JPEG bytes, a JSON array ``(H, W)`` or ``(C, H, W)`` in
  [0, 1], ``{"image": array}`` or ``{"sample": k}``; answers the top-5 classes;
* ``GET /api/activations?layer=NAME[&format=array]``: the feature maps of the last input;
* ``GET /api/receptive-field?layer=NAME&c=&i=&j=``: theoretical and effective field of a unit;
* ``GET /api/explain?method=saliency|gradcam&target=K&layer=NAME``: the heat map (input's
  size, values in [0, 1]) of the pixels behind class ``K`` (default the top-1) for the last
  input: saliency ``|d score / d input|`` or Grad-CAM at ``layer`` (default the last
  convolution); ``POST`` with a body as for ``/api/predict`` explains that input instead;
* ``GET /api/conv-arith?input=&kernel=&stride=&padding=&dilation=&transposed=``: output size.

No endpoint takes a path: the server reads only the model it was started with and its own
static files.
"""

from __future__ import annotations

import logging
import os

from svertka.explain.session import MAX_UPLOAD_BYTES, RequestError, conv_arith

__all__ = ["create_app", "STATIC_DIR"]

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")


def create_app(session):
    """The Flask app serving ``session`` (a :class:`svertka.explain.Session`)."""
    from flask import Flask, jsonify, request, send_from_directory
    from werkzeug.exceptions import HTTPException

    app = Flask("svertka.explain", static_folder=STATIC_DIR, static_url_path="/static")
    # bodies past the limit are refused by Werkzeug before they are read (413)
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES
    app.json.sort_keys = False
    log = logging.getLogger("svertka.explain")

    @app.errorhandler(RequestError)
    def _bad_request(e):
        return jsonify(error=str(e)), e.status

    @app.errorhandler(HTTPException)
    def _http(e):
        text = {413: f"the upload is too large; the limit is {MAX_UPLOAD_BYTES:,} bytes"}
        return jsonify(error=text.get(e.code, e.description or e.name)), e.code

    @app.errorhandler(Exception)
    def _bug(e):  # a bug of svertka: logged with its traceback, answered without it
        log.exception("svertka explain: internal error")
        return jsonify(error=f"internal error ({type(e).__name__}); see the server's log"), 500

    @app.get("/")
    def index():
        return send_from_directory(STATIC_DIR, "index.html")

    @app.get("/api/model")
    def model():
        return jsonify(session.model_info())

    @app.get("/api/samples")
    def samples():
        return jsonify(session.sample_list())

    @app.post("/api/predict")
    def predict():
        return jsonify(session.predict(request.get_data(cache=False),
                                       request.content_type or ""))

    @app.get("/api/activations")
    def activations():
        return jsonify(session.activations(request.args.get("layer"),
                                           request.args.get("format", "png")))

    @app.get("/api/receptive-field")
    def receptive_field():
        a = request.args
        missing = [k for k in ("layer", "c", "i", "j") if k not in a]
        if missing:
            raise RequestError(f"missing query values: {', '.join(missing)} "
                               f"(?layer=NAME&c=0&i=0&j=0)")
        return jsonify(session.receptive_field(a["layer"], a["c"], a["i"], a["j"]))

    @app.route("/api/explain", methods=["GET", "POST"])
    def explain():
        body = request.get_data(cache=False) if request.method == "POST" else None
        if request.method == "POST" and not body:
            raise RequestError("the request has no body: POST an input as to /api/predict, "
                               "or GET /api/explain to explain the last input")
        return jsonify(session.explain(request.args.to_dict(), body,
                                       request.content_type or ""))

    @app.get("/api/conv-arith")
    def conv_arithmetic():
        return jsonify(conv_arith(request.args.to_dict()))

    return app


def serve(session, host="127.0.0.1", port=8000, say=print):
    """Serve ``session`` on ``host:port`` (threaded) until Ctrl-C; ``port=0`` picks a free
    port. Returns after a clean shutdown."""
    from werkzeug.serving import make_server

    server = make_server(host, port, create_app(session), threaded=True)
    shown = f"[{host}]" if ":" in host else host
    say(f"svertka explain: {session.name} at http://{shown}:{server.server_port}/ "
        f"(Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()  # Werkzeug's returns on Ctrl-C (KeyboardInterrupt)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    say("svertka explain: stopped")
