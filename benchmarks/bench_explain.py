"""Concurrency of ``svertka explain``: 20 clients POST images to ``/api/predict`` at once.

Run ``python benchmarks/bench_explain.py [--clients 20] [--rounds 5]``. It starts the real
threaded server (Werkzeug, as ``svertka explain`` does) on a free port of 127.0.0.1 for an
untrained LeNet-5 on the digits' input (the latency does not depend on the weights), then, per
round, releases all clients at once (a barrier); each posts one PNG of a drawn digit. It prints
how many requests were answered with 200 (all of them, or it exits with 1) and the p50 / p95 /
max latency of ``/api/predict`` in milliseconds. The server serialises the model's forward
passes (one lock), so the latency under load is about clients x one forward pass.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import threading
import time
import urllib.request

import numpy as np


def _parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--rounds", type=int, default=5)
    return p.parse_args(argv)


def _png():
    from PIL import Image

    img = np.zeros((64, 64), np.uint8)
    img[8:56, 28:36] = 255
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def main(argv=None):
    args = _parse(argv)
    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request

    import svertka
    from svertka import cli
    from svertka.explain.app import create_app
    from svertka.models import lenet5

    svertka.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "best.svk")
        config = {"model": "lenet5", "dataset": "digits",
                  "classes": [str(i) for i in range(10)], "input_shape": [1, 8, 8]}
        svertka.save({"config": config, "model": lenet5().state_dict()}, path)
        session = cli._explain_session(cli.build_parser().parse_args(["explain", path]))
    server = make_server("127.0.0.1", 0, create_app(session), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/api/predict"
    body = _png()
    latencies, statuses = [], []
    lock = threading.Lock()

    def client(barrier):
        barrier.wait()
        t0 = time.perf_counter()
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "image/png"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                r.read()
                status = r.status
        except Exception as e:  # noqa: BLE001 - counted as unanswered
            status = repr(e)
        with lock:
            latencies.append(time.perf_counter() - t0)
            statuses.append(status)

    urllib.request.urlopen(urllib.request.Request(url, data=body)).read()  # warm-up
    for _ in range(args.rounds):
        barrier = threading.Barrier(args.clients)
        threads = [threading.Thread(target=client, args=(barrier,)) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    server.shutdown()
    server.server_close()
    ms = np.asarray(latencies) * 1000
    ok = sum(s == 200 for s in statuses)
    print(f"svertka explain /api/predict, LeNet-5 (digits input 1x8x8), {args.clients} clients "
          f"at once x {args.rounds} rounds, {os.cpu_count()} CPUs")
    print(f"answered 200: {ok} of {len(statuses)}")
    print(f"latency ms: p50 {np.percentile(ms, 50):.1f}, p95 {np.percentile(ms, 95):.1f}, "
          f"max {ms.max():.1f}")
    return 0 if ok == len(statuses) else 1


if __name__ == "__main__":
    sys.exit(main())
