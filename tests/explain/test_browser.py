"""svertka explain in a real browser: headless Chromium driven by selenium, on a LeNet-5 trained
for one epoch on the embedded digits.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and selenium
(the test extra); skipped when either is absent. With ``SVERTKA_EXPLAIN_SCREENSHOT=path`` the
page is saved there (the README's picture).
"""

from __future__ import annotations

import os
import shutil
import threading
import time

import pytest

pytest.importorskip("flask", reason="svertka explain needs the web extra (Flask)")
webdriver = pytest.importorskip("selenium.webdriver", reason="the browser test needs selenium")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if not (CHROMIUM and DRIVER) and os.environ.get("CI") == "true":
    # .ci/run installs them: in CI a missing browser is a broken set-up, not a reason to skip
    pytest.fail("CI has no chromium/chromedriver: .ci/run should have installed them",
                pytrace=False)
if not (CHROMIUM and DRIVER):
    pytest.skip("the browser test needs Debian's chromium and chromium-driver "
                "(apt-get install chromium chromium-driver)", allow_module_level=True)

from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from svertka import cli  # noqa: E402
from svertka.explain.app import create_app  # noqa: E402

STALE_DELAY = 0.5  # seconds
# the pixels of a canvas that are not grey (R, G, B not all equal)
COLOURED_PIXELS = """
const c = arguments[0], d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
let n = 0;
for (let k = 0; k < d.length; k += 4) if (d[k] !== d[k + 1] || d[k + 1] !== d[k + 2]) n++;
return n;
"""


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("explain-run") / "run"
    # one epoch keeps the test fast; the README's picture shows a model trained for longer
    epochs = "20" if os.environ.get("SVERTKA_EXPLAIN_SCREENSHOT") else "1"
    assert cli.main(["train", "--epochs", epochs, "--quiet", "--out", str(out)]) == 0
    return str(out)


@pytest.fixture(scope="module")
def server(trained_run):
    from werkzeug.serving import make_server

    session = cli._explain_session(cli.build_parser().parse_args(["explain", trained_run]))
    app = create_app(session)

    @app.before_request
    def _late_answers():  # the explorer's answers for padding 0 arrive after newer ones
        from flask import request

        if request.path == "/api/conv-arith" and request.args.get("padding") == "0":
            time.sleep(STALE_DELAY)

    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}/", session
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1600"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _wait(driver, cond, what):
    return WebDriverWait(driver, 60).until(cond, message=f"the page never showed {what}")


def test_page_draws_predicts_overlays_saliency_outlines_field_and_explores_convolution(
        server, browser):
    url, session = server
    d = browser
    d.get(url)
    layers = _wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="layer"]'),
                   "its layers")
    assert [e.get_attribute("data-name") for e in layers] == [r["name"] for r in session.layers]

    canvas = d.find_element(By.CSS_SELECTOR, '[data-testid="draw-canvas"]')
    ActionChains(d).move_to_element_with_offset(canvas, 0, -70).click_and_hold() \
        .move_by_offset(0, 40).move_by_offset(0, 40).move_by_offset(0, 50).release().perform()
    pred = d.find_element(By.CSS_SELECTOR, '[data-testid="prediction"]')
    # drawing sends several predictions; each rebuilds the feature maps: wait for the last
    _wait(d, lambda d: d.execute_script("return document.body.dataset.busy") == "0"
          and pred.text.split() and pred.text.split()[0] in session.classes, "a prediction")
    assert pred.text.split()[0] in session.classes

    # the class's saliency is drawn over the input: the input is grey, the heat map coloured
    overlay = d.find_element(By.CSS_SELECTOR, '[data-testid="saliency"]')
    assert overlay.is_displayed() and overlay.get_attribute("data-method") == "saliency"
    assert d.execute_script(COLOURED_PIXELS, overlay) > 0
    d.find_element(By.CSS_SELECTOR, 'input[name="xp-method"][value="gradcam"]') \
        .find_element(By.XPATH, "..").click()
    _wait(d, lambda d: overlay.get_attribute("data-method") == "gradcam", "a Grad-CAM map")
    assert "Grad-CAM" in d.find_element(By.ID, "xp-text").text

    box = d.find_element(By.CSS_SELECTOR, '[data-testid="receptive-field"]')
    assert not box.is_displayed()

    def click_unit(d):  # a late prediction may rebuild the maps under the pointer: click again
        maps = d.find_elements(By.CSS_SELECTOR,
                               '[data-testid="feature-map"][data-layer="features.3"]')
        if not maps:
            return False
        if not box.is_displayed():
            ActionChains(d).move_to_element_with_offset(maps[0], 5, 5).click().perform()
        return box.is_displayed() and box.size["width"] > 0

    WebDriverWait(d, 60, ignored_exceptions=(StaleElementReferenceException,)).until(
        click_unit, message="the page never showed a receptive field")
    assert box.size["height"] > 0

    for name, value in (("input", 7), ("kernel", 3), ("stride", 2), ("padding", 1)):
        d.execute_script("const e = document.getElementById(arguments[0]); e.value = arguments[1];"
                         "e.dispatchEvent(new Event('input'));", f"cx-{name}", value)
    out = d.find_element(By.CSS_SELECTOR, '[data-testid="output-size"]')
    _wait(d, lambda d: out.text == "4", "output size 4")
    time.sleep(STALE_DELAY + 1)  # the older answers (5, 3) have arrived by now
    assert out.text == "4"
    assert d.find_element(By.CSS_SELECTOR, '[data-testid="conv-explorer"]').is_displayed()
    shot = os.environ.get("SVERTKA_EXPLAIN_SCREENSHOT")
    if shot:
        d.execute_script("window.scrollTo(0, 0)")
        d.save_screenshot(shot)
