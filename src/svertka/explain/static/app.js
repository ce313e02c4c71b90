// svertka explain: the page. Plain JavaScript, no library, no network beyond this server.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { model: null, layers: [], predicting: false, again: false, picked: null,
                fieldSeq: 0, input: null, explainSeq: 0 };

function say(text) { $("message").textContent = text || ""; }

async function api(path, options) {
  const r = await fetch(path, options);
  let body;
  try { body = await r.json(); } catch (e) { body = { error: `HTTP ${r.status}` }; }
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

function pngSrc(b64) { return `data:image/png;base64,${b64}`; }
function fmtInt(n) { return Number(n).toLocaleString("en-US"); }
function fmtAxes(t) { return t ? t.map((v) => +Number(v).toFixed(2)).join("x") : "-"; }

// ---------------------------------------------------------------- model and layers
async function loadModel() {
  const m = await api("/api/model");
  state.model = m;
  $("model-name").textContent = m.name;
  $("model-totals").textContent = `input ${m.input_shape.join("x")}, ${m.layers.length} layers, ` +
    `${fmtInt(m.total_params)} parameters, ${fmtInt(m.total_macs)} MACs per sample`;
  const box = $("layers");
  box.innerHTML = "";
  for (const layer of m.layers) {
    const div = document.createElement("div");
    div.className = "layer";
    div.setAttribute("data-testid", "layer");
    div.dataset.name = layer.name;
    const head = document.createElement("div");
    head.className = "head";
    head.textContent = `${layer.name} (${layer.type})  shape ${layer.output_shape.join("x")}  ` +
      `params ${fmtInt(layer.params)}  MACs ${fmtInt(layer.macs)}  RF ${fmtAxes(layer.receptive_field)}` +
      `  jump ${fmtAxes(layer.jump)}`;
    const maps = document.createElement("div");
    maps.className = layer.spatial ? "maps" : "values";
    div.append(head, maps);
    box.append(div);
    state.layers.push({ info: layer, maps });
  }
  if (m.kernels) {
    $("kernels-panel").hidden = false;
    $("kernels-layer").textContent = `${m.kernels.layer}: ${m.kernels.shape.join("x")}`;
    for (const k of m.kernels.images) {
      const img = document.createElement("img");
      img.src = pngSrc(k);
      img.title = "a first-layer kernel (scaled to its own range)";
      $("kernels").append(img);
    }
  }
  setupExplanation(m);
  const canDraw = m.input_shape[0] === 1;
  $("draw").hidden = !canDraw;
  $("clear").hidden = !canDraw;
  if (m.samples) {
    const s = await api("/api/samples");
    for (const item of s.samples) {
      const img = document.createElement("img");
      img.src = pngSrc(item.png);
      img.title = `test image ${item.index}: ${item.label}`;
      img.addEventListener("click", () => predict(JSON.stringify({ sample: item.index }),
                                                  "application/json"));
      $("samples").append(img);
    }
  } else {
    $("samples-box").hidden = true;
  }
}

// ---------------------------------------------------------------- prediction
async function predict(body, type) {
  if (state.predicting) { state.again = { body, type }; return; }  // keep only the newest
  state.predicting = true;
  document.body.dataset.busy = "1";  // the browser test waits for "0"
  try {
    const p = await api("/api/predict", { method: "POST", body, headers: { "Content-Type": type } });
    say("");
    showPrediction(p);
    state.input = await imageOf(p.input_png);
    await showExplanation();
    await showActivations();
    if (state.picked) await showField(state.picked);
  } catch (e) {
    say(e.message);
  } finally {
    state.predicting = false;
    if (state.again) { const a = state.again; state.again = false; predict(a.body, a.type); }
    else document.body.dataset.busy = "0";
  }
}

function showPrediction(p) {
  $("input-img").src = pngSrc(p.input_png);
  const box = $("prediction");
  box.innerHTML = "";
  p.top.forEach((t, k) => {
    const row = document.createElement("div");
    row.className = k === 0 ? "bar top" : "bar";
    const cls = document.createElement("span");
    cls.className = "cls";
    cls.textContent = t.class;
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = `${Math.max(1, Math.round(t.probability * 140))}px`;
    const num = document.createElement("span");
    num.textContent = ` ${(t.probability * 100).toFixed(1)}%`;
    row.append(cls, fill, num);
    box.append(row);
  });
}

async function showActivations() {
  for (const { info, maps } of state.layers) {
    const a = await api(`/api/activations?layer=${encodeURIComponent(info.name)}`);
    maps.innerHTML = "";
    if (!a.spatial) {
      const v = a.values.flat ? a.values.flat() : a.values;
      maps.textContent = `[${v.slice(0, 64).map((x) => x.toFixed(2)).join(", ")}` +
        `${v.length > 64 ? ", ..." : ""}]`;
      continue;
    }
    a.maps.forEach((b64, c) => {
      const img = document.createElement("img");
      img.src = pngSrc(b64);
      img.setAttribute("data-testid", "feature-map");
      img.dataset.layer = info.name;
      img.dataset.c = c;
      img.title = `${info.name} channel ${c}: click a unit for its receptive field`;
      img.addEventListener("click", (ev) => {
        const r = img.getBoundingClientRect();
        const [, , h, w] = info.output_shape;
        const i = Math.min(h - 1, Math.floor((ev.clientY - r.top) / r.height * h));
        const j = Math.min(w - 1, Math.floor((ev.clientX - r.left) / r.width * w));
        document.querySelectorAll(".maps img.picked").forEach((x) => x.classList.remove("picked"));
        img.classList.add("picked");
        state.picked = { layer: info.name, c, i: Math.max(0, i), j: Math.max(0, j) };
        showField(state.picked);
      });
      maps.append(img);
    });
    if (a.shown < a.shape[0]) {
      const more = document.createElement("span");
      more.className = "dim";
      more.textContent = `(${a.shown} of ${a.shape[0]} maps shown)`;
      maps.append(more);
    }
  }
}

async function showField(u) {
  const seq = ++state.fieldSeq;  // a newer click wins over a slower older answer
  try {
    const q = `layer=${encodeURIComponent(u.layer)}&c=${u.c}&i=${u.i}&j=${u.j}`;
    const f = await api(`/api/receptive-field?${q}`);
    if (seq !== state.fieldSeq) return;
    const [, h, w] = state.model.input_shape;
    const sy = 224 / h, sx = 224 / w;
    const t = f.theoretical;
    const box = $("rf-box");
    // pixel k covers [k - 0.5, k + 0.5] around its centre k
    box.style.top = `${t.rows[0] * sy}px`;
    box.style.left = `${t.cols[0] * sx}px`;
    box.style.height = `${(t.rows[1] - t.rows[0] + 1) * sy}px`;
    box.style.width = `${(t.cols[1] - t.cols[0] + 1) * sx}px`;
    box.hidden = false;
    $("heat-img").src = pngSrc(f.effective.png);
    $("heat-img").hidden = false;
    $("rf-text").textContent = `${u.layer} unit (c=${u.c}, i=${u.i}, j=${u.j}): theoretical ` +
      `field ${fmtAxes(t.size)} pixels, rows ${fmtAxes(t.rows)}, columns ${fmtAxes(t.cols)}; ` +
      `${f.effective.nonzero_pixels} pixels have a non-zero gradient`;
  } catch (e) {
    say(e.message);
  }
}

// ---------------------------------------------------------------- saliency and Grad-CAM
function imageOf(b64) {
  const img = new Image();
  img.src = pngSrc(b64);
  return img.decode().then(() => img);
}

function setupExplanation(m) {
  m.classes.forEach((name, k) => {
    const o = document.createElement("option");
    o.value = k;
    o.textContent = `${k}: ${name}`;
    $("xp-target").append(o);
  });
  const spatial = m.layers.filter((l) => l.spatial).map((l) => l.name);
  for (const name of spatial) {
    const o = document.createElement("option");
    o.value = o.textContent = name;
    $("xp-layer").append(o);
  }
  $("xp-layer").value = m.cam_layer || spatial[spatial.length - 1] || "";
  const gradcam = document.querySelector('input[name="xp-method"][value="gradcam"]');
  gradcam.disabled = spatial.length === 0;
  const again = () => { if (state.input) showExplanation(); };
  document.querySelectorAll('input[name="xp-method"]').forEach((r) => r.addEventListener("change", again));
  $("xp-target").addEventListener("change", again);
  $("xp-layer").addEventListener("change", again);
}

async function showExplanation() {
  const seq = ++state.explainSeq;  // a newer input or choice wins over a slower older answer
  const method = document.querySelector('input[name="xp-method"]:checked').value;
  $("xp-layer-box").hidden = method !== "gradcam";
  const q = new URLSearchParams({ method });
  if ($("xp-target").value !== "") q.set("target", $("xp-target").value);
  if (method === "gradcam" && $("xp-layer").value) q.set("layer", $("xp-layer").value);
  try {
    const e = await api(`/api/explain?${q}`);
    if (seq !== state.explainSeq) return;
    drawExplanation(e);
  } catch (err) {
    if (seq === state.explainSeq) say(err.message);
  }
}

// jet: dark blue (0), cyan, yellow, dark red (1); the legend's CSS gradient has the same stops
function jet(v) {
  const c = (t) => Math.round(255 * Math.max(0, Math.min(1, 1.5 - Math.abs(4 * v - t))));
  return [c(3), c(2), c(1)];
}

function drawExplanation(e) {
  const cv = $("xp-canvas"), ctx = cv.getContext("2d");
  const [h, w] = e.shape;
  const small = document.createElement("canvas");
  small.width = w;
  small.height = h;
  const heat = small.getContext("2d").createImageData(w, h);
  e.heat.forEach((row, i) => row.forEach((v, j) => {
    const k = 4 * (i * w + j);
    [heat.data[k], heat.data[k + 1], heat.data[k + 2]] = jet(v);
    heat.data[k + 3] = Math.round(230 * v);  // zero evidence stays transparent
  }));
  small.getContext("2d").putImageData(heat, 0, 0);
  ctx.imageSmoothingEnabled = false;  // one square per input pixel, as in the input view
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, cv.width, cv.height);
  if (state.input) ctx.drawImage(state.input, 0, 0, cv.width, cv.height);
  ctx.drawImage(small, 0, 0, cv.width, cv.height);
  cv.dataset.method = e.method;
  cv.dataset.target = e.target;
  $("xp-text").textContent = e.method === "saliency"
    ? `saliency of class ${e.class}: |d score / d pixel|, scaled to its largest value`
    : `Grad-CAM of class ${e.class} at ${e.layer}: where that layer's maps hold the ` +
      "class's evidence, upsampled to the input";
}

// ---------------------------------------------------------------- drawing and upload
function setupDrawing() {
  const cv = $("draw");
  const ctx = cv.getContext("2d");
  const clear = () => { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, cv.width, cv.height); };
  clear();
  let down = false, last = null, timer = null;
  const send = () => {
    document.body.dataset.busy = "1";  // toBlob is asynchronous
    cv.toBlob((blob) => predict(blob, "image/png"), "image/png");
  };
  const pos = (ev) => {
    const r = cv.getBoundingClientRect();
    return [(ev.clientX - r.left) * cv.width / r.width, (ev.clientY - r.top) * cv.height / r.height];
  };
  cv.addEventListener("pointerdown", (ev) => { down = true; last = pos(ev); cv.setPointerCapture(ev.pointerId); });
  cv.addEventListener("pointermove", (ev) => {
    if (!down) return;
    const p = pos(ev);
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = cv.width / 9;
    ctx.lineCap = "round";
    ctx.beginPath();
    ctx.moveTo(last[0], last[1]);
    ctx.lineTo(p[0], p[1]);
    ctx.stroke();
    last = p;
    if (!timer) timer = setTimeout(() => { timer = null; send(); }, 150);  // update as you draw
  });
  const up = () => {
    if (!down) return;
    down = false;
    clearTimeout(timer);  // the stroke's last state is sent now
    timer = null;
    send();
  };
  cv.addEventListener("pointerup", up);
  cv.addEventListener("pointerleave", up);
  $("clear").addEventListener("click", () => { clear(); send(); });
  $("upload").addEventListener("change", (ev) => {
    const f = ev.target.files[0];
    if (!f) return;
    if (state.model && f.size > state.model.max_upload_bytes) {
      say(`the file is ${fmtInt(f.size)} bytes, the limit is ${fmtInt(state.model.max_upload_bytes)}`);
      return;
    }
    predict(f, f.type || "application/octet-stream");
  });
}

// ---------------------------------------------------------------- convolution explorer
const cx = { frame: 0, timer: null, geo: null, seq: 0 };

function cxValues() {
  const v = {};
  for (const k of ["input", "kernel", "stride", "padding", "dilation"]) {
    v[k] = parseInt($(`cx-${k}`).value, 10);
    $(`cx-${k}-v`).textContent = v[k];
  }
  v.transposed = $("cx-transposed").checked;
  return v;
}

async function cxUpdate() {
  const v = cxValues();
  const q = `input=${v.input}&kernel=${v.kernel}&stride=${v.stride}&padding=${v.padding}` +
    `&dilation=${v.dilation}&transposed=${v.transposed ? 1 : 0}`;
  const seq = ++cx.seq;  // answers can arrive out of order: only the newest one is shown
  cxGeometry(v);
  try {
    const r = await api(`/api/conv-arith?${q}`);
    if (seq !== cx.seq) return;
    $("cx-output").textContent = r.output;
    $("cx-formula").textContent = r.formula;
  } catch (e) {
    if (seq !== cx.seq) return;
    $("cx-output").textContent = "-";
    $("cx-formula").textContent = e.message;
  }
}

// The grid the window slides over: the padded input (convolution), or, for a transposed
// convolution, the input with stride - 1 zeros between pixels and d (k - 1) - p padding (the
// lectures' picture of a transposed convolution as a convolution with stride 1).
function cxGeometry(v) {
  const span = v.dilation * (v.kernel - 1) + 1;
  let cells, pad, step, isInput;
  if (!v.transposed) {
    const n = v.input + 2 * v.padding;
    cells = n; pad = v.padding; step = v.stride;
    isInput = (k) => k >= pad && k < pad + v.input;
  } else {
    const inner = (v.input - 1) * v.stride + 1;
    pad = v.dilation * (v.kernel - 1) - v.padding;
    cells = inner + 2 * pad; step = 1;
    isInput = (k) => k - pad >= 0 && k - pad < inner && (k - pad) % v.stride === 0;
  }
  const out = cells >= span ? Math.floor((cells - span) / step) + 1 : 0;
  cx.geo = { cells: Math.max(cells, 0), step, span, out, isInput, dil: v.dilation, kernel: v.kernel };
  cx.frame = 0;
  cxDraw();
}

function cxDraw() {
  const g = cx.geo, cv = $("cx-canvas"), ctx = cv.getContext("2d");
  ctx.clearRect(0, 0, cv.width, cv.height);
  if (!g || g.cells <= 0) return;
  const size = Math.min(18, Math.floor(300 / Math.max(g.cells, 1)));
  const oi = Math.floor(cx.frame / Math.max(g.out, 1)) % Math.max(g.out, 1);
  const oj = cx.frame % Math.max(g.out, 1);
  for (let r = 0; r < g.cells; r++) {
    for (let c = 0; c < g.cells; c++) {
      ctx.fillStyle = g.isInput(r) && g.isInput(c) ? "#9ec5e8" : "#f0f0f0";
      ctx.fillRect(10 + c * size, 10 + r * size, size - 1, size - 1);
    }
  }
  if (g.out > 0) {
    ctx.fillStyle = "rgba(224, 123, 0, 0.6)";
    for (let a = 0; a < g.kernel; a++) {
      for (let b = 0; b < g.kernel; b++) {
        const r = oi * g.step + a * g.dil, c = oj * g.step + b * g.dil;
        ctx.fillRect(10 + c * size, 10 + r * size, size - 1, size - 1);
      }
    }
    ctx.strokeStyle = "#e07b00";
    ctx.strokeRect(10 + oj * g.step * size, 10 + oi * g.step * size, g.span * size - 1, g.span * size - 1);
    const x0 = 30 + g.cells * size;
    const os = Math.min(18, Math.floor(260 / g.out));
    for (let r = 0; r < g.out; r++) {
      for (let c = 0; c < g.out; c++) {
        ctx.fillStyle = r === oi && c === oj ? "#e07b00" : "#3f7fbf";
        ctx.fillRect(x0 + c * os, 10 + r * os, os - 1, os - 1);
      }
    }
  }
  ctx.fillStyle = "#444";
  ctx.font = "12px sans-serif";
  ctx.fillText(`grid ${g.cells}x${g.cells} (blue: input), window ${g.span}x${g.span}, ` +
               `step ${g.step} -> output ${g.out}x${g.out}`, 10, 292);
}

function setupExplorer() {
  for (const k of ["input", "kernel", "stride", "padding", "dilation", "transposed"]) {
    $(`cx-${k}`).addEventListener("input", cxUpdate);
    $(`cx-${k}`).addEventListener("change", cxUpdate);
  }
  cxUpdate();
  cx.timer = setInterval(() => {
    if (!cx.geo || cx.geo.out <= 0) return;
    cx.frame = (cx.frame + 1) % (cx.geo.out * cx.geo.out);
    cxDraw();
  }, 600);
}

window.addEventListener("DOMContentLoaded", async () => {
  setupDrawing();
  setupExplorer();
  try {
    await loadModel();
  } catch (e) {
    say(e.message);
  }
});
