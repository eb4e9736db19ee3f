// The Reassembly web page: every figure on it comes from the JSON API, read with the user's token.
// Rules: data reaches the page only through textContent / attribute setters (never innerHTML), and
// every request carries `Authorization: Bearer <token>` from sessionStorage when one is set.
"use strict";

(() => {
  const body = document.body;
  const ROOT = body.dataset.root || "";
  const PAGE = body.dataset.page;
  const ID = body.dataset.id;
  const TOKEN_KEY = "reassembly.token";
  const content = document.getElementById("content");
  const errorBox = document.getElementById("error");
  const SVG_NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

  // ---------------------------------------------------------------------------------------------
  // Token, requests, errors

  const token = () => sessionStorage.getItem(TOKEN_KEY) || "";

  function authHeaders(extra) {
    const h = Object.assign({}, extra || {});
    const t = token();
    if (t) h.Authorization = "Bearer " + t;
    return h;
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, options) {
    const opts = Object.assign({}, options || {});
    opts.headers = authHeaders(opts.headers);
    const r = await fetch(ROOT + path, opts);
    if (!r.ok) {
      let message = `${r.status} ${r.statusText}`;
      try {
        const b = await r.json();
        if (b && b.error && b.error.message) message = b.error.message;
      } catch (_) {
        /* not JSON */
      }
      throw new ApiError(r.status, message);
    }
    return r;
  }
  const getJSON = async (path) => (await api(path)).json();
  const postJSON = async (path, data) =>
    (await api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) })).json();

  async function getAll(path) {
    const items = [];
    let cursor = null;
    for (let i = 0; i < 50; i++) {
      const sep = path.includes("?") ? "&" : "?";
      const page = await getJSON(path + sep + "limit=200" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
      items.push(...page.items);
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    return items;
  }

  function showError(err) {
    let text = err && err.message ? err.message : String(err);
    if (err instanceof ApiError && err.status === 401) text = "This service needs an API token: enter yours above. (" + text + ")";
    errorBox.textContent = text;
    errorBox.hidden = false;
  }

  // ---------------------------------------------------------------------------------------------
  // DOM helpers: strings always become text nodes.

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function setAttrs(node, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.setAttribute("class", v);
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
  }

  function append(node, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  const enc = encodeURIComponent;
  const uiLink = (path, text, attrs) => el("a", Object.assign({ href: ROOT + "/ui" + path }, attrs || {}), text);
  const modelLink = (id, name) => uiLink("/models/" + enc(id), name || id);

  function section(title, ...children) {
    return el("section", {}, el("h2", {}, title), ...children);
  }

  function table(headers, rows, attrs) {
    return el(
      "table",
      attrs || {},
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c)))))
    );
  }

  function dl(pairs) {
    return el("dl", { class: "facts" }, pairs.filter((p) => p).map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  }

  // ---------------------------------------------------------------------------------------------
  // Numbers

  function compact(n) {
    if (n === null || n === undefined) return "—";
    const a = Math.abs(n);
    if (a >= 1e9) return (n / 1e9).toFixed(2) + " G";
    if (a >= 1e6) return (n / 1e6).toFixed(2) + " M";
    if (a >= 1e3) return (n / 1e3).toFixed(1) + " k";
    return String(n);
  }
  const pct = (x) => (typeof x === "number" ? (100 * x).toFixed(1) + " %" : "—");
  const points = (x) => (typeof x === "number" ? (x > 0 ? "+" : "") + x.toFixed(2) + " points" : "—");
  // resnet50.a1_in1k → resnet, vgg_cifar → vgg, mobilenetv2_cifar → mobilenetv2 (a version stays).
  const family = (arch) => String(arch).split(/[._-]/)[0].toLowerCase().replace(/(?<!v)\d+$/, "");
  const shape = (s) => (Array.isArray(s) ? s.join("×") : "—");
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
  const colorOf = (() => {
    const seen = new Map();
    return (key) => {
      if (!seen.has(key)) seen.set(key, PALETTE[seen.size % PALETTE.length]);
      return seen.get(key);
    };
  })();

  // ---------------------------------------------------------------------------------------------
  // Jobs: live progress from the SSE stream, read with fetch so the token header goes along.

  const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

  async function streamJob(jobId, onEvent) {
    const r = await api("/v1/jobs/" + enc(jobId) + "/events", { headers: { Accept: "text/event-stream" } });
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let last = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const chunk = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message";
        let data = "";
        for (const line of chunk.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        if (!data) continue;
        last = JSON.parse(data);
        onEvent(event, last);
      }
    }
    return last;
  }

  // A progress widget; watch() follows the job to its end and resolves with its last state.
  function jobWidget(job) {
    const bar = el("progress", { max: "1", value: String(job.progress || 0) });
    const status = el("span", { class: "status status-" + job.status, "data-testid": "job-status" }, job.status);
    const detail = el("span", { class: "muted" });
    const node = el(
      "div",
      { class: "job", "data-job": job.id },
      uiLink("/jobs/" + enc(job.id), job.kind + " " + job.id),
      " ",
      status,
      " ",
      bar,
      " ",
      detail
    );
    function update(state) {
      bar.value = state.progress || 0;
      status.textContent = state.status;
      status.className = "status status-" + state.status;
      const parts = [state.stage, state.message, state.error_message].filter((p) => p);
      detail.textContent = parts.join(" · ");
    }
    update(job);
    async function watch() {
      if (TERMINAL.has(job.status)) return job;
      try {
        const last = await streamJob(job.id, (_, state) => update(state));
        if (last && TERMINAL.has(last.status)) return last;
      } catch (err) {
        showError(err);
      }
      return getJSON("/v1/jobs/" + enc(job.id)); // the stream broke off: read the row once more
    }
    return { node, update, watch };
  }

  function subjectLink(job) {
    if (!job.subject_id) return "—";
    if (job.kind.startsWith("partition")) return uiLink("/partitions/" + enc(job.subject_id), job.subject_id);
    if (job.kind === "assembly") return uiLink("/assemblies/" + enc(job.subject_id), job.subject_id);
    if (job.kind === "register_model" || job.kind === "dissect") return modelLink(job.subject_id);
    return job.subject_id;
  }

  // ---------------------------------------------------------------------------------------------
  // Pages

  async function zooPage() {
    const [models, datasets, jobs] = await Promise.all([
      getAll("/v1/models"),
      getAll("/v1/datasets"),
      getJSON("/v1/jobs?limit=100&status=succeeded"),
    ]);
    const picks = new Map();
    const rows = models.map((m) => {
      const box = el("input", { type: "checkbox", "aria-label": "use " + m.name + " in a partition", value: m.id });
      picks.set(m.id, box);
      return [
        box,
        modelLink(m.id, m.name),
        m.architecture,
        family(m.architecture),
        el("span", { title: String(m.params) }, compact(m.params)),
        el("span", { title: String(m.flops) }, compact(m.flops)),
        pct(m.metrics ? m.metrics.source_accuracy : null),
        el("span", { class: "status status-" + m.status }, m.status),
        el("span", { class: "status status-" + m.dissection_status }, m.dissection_status),
      ];
    });
    const zoo = models.length
      ? table(["", "Name", "Architecture", "Family", "Params", "FLOPs", "Source accuracy", "Status", "Dissection"], rows, { id: "models" })
      : el("p", { class: "muted" }, "No models yet: register some with POST /v1/models or `reassembly models add`.");

    // Start a partition from the selected models.
    const dataset = el(
      "select",
      { id: "probe-dataset", name: "probe_dataset_id" },
      datasets.map((d) => el("option", { value: d.id }, `${d.name} (${d.num_images} images)`))
    );
    const num = (id, value, min, step) => el("input", { id, type: "number", value: String(value), min: String(min), step: step || "1" });
    const k = num("k", 3, 1);
    const epsilon = num("epsilon", 0.5, 0, "0.1");
    const restarts = num("restarts", 20, 1);
    const probe = num("probe-images", 256, 8);
    const jobBox = el("div", { id: "start-job" });
    const start = el("button", { type: "button", id: "start-partition" }, "Start partition");
    start.addEventListener("click", async () => {
      errorBox.hidden = true;
      const ids = [...picks].filter(([, b]) => b.checked).map(([id]) => id);
      start.disabled = true;
      try {
        const created = await postJSON("/v1/partitions", {
          model_ids: ids,
          probe_dataset_id: dataset.value,
          k: Number(k.value),
          epsilon: Number(epsilon.value),
          restarts: Number(restarts.value),
          probe_images: Number(probe.value),
          batch_size: 32,
        });
        const w = jobWidget(created.job);
        jobBox.replaceChildren(w.node);
        const end = await w.watch();
        w.update(end);
        if (end.status === "succeeded") jobBox.append(" ", uiLink("/partitions/" + enc(created.id), "Open partition " + created.id, { id: "open-partition" }));
      } catch (err) {
        showError(err);
      } finally {
        start.disabled = false;
      }
    });
    const form = el(
      "div",
      { class: "form-row" },
      el("label", {}, "Probe dataset ", dataset),
      el("label", {}, "Sets K ", k),
      el("label", {}, "ε ", epsilon),
      el("label", {}, "Restarts ", restarts),
      el("label", {}, "Probe images ", probe),
      start
    );

    const done = jobs.items.filter((j) => j.kind === "partition" || j.kind === "assembly");
    const recent = done.length
      ? el("ul", { id: "recent" }, done.map((j) => el("li", {}, j.kind + " ", subjectLink(j), el("span", { class: "muted" }, " · " + when(j.finished_at)))))
      : el("p", { class: "muted" }, "None yet.");

    content.replaceChildren(
      section("Models", zoo),
      section("Partition the selected models", datasets.length ? form : el("p", { class: "muted" }, "Upload a probe dataset first (POST /v1/datasets)."), jobBox),
      section("Partitions and assemblies", recent)
    );
  }

  async function modelPage() {
    const m = await getJSON("/v1/models/" + enc(ID));
    document.getElementById("title").replaceChildren("Model ", el("code", {}, m.name));
    const metrics = Object.entries(m.metrics || {}).map(([k, v]) => [k, typeof v === "number" ? String(v) : JSON.stringify(v)]);
    const facts = dl([
      ["Id", m.id],
      ["Architecture", m.architecture],
      ["Family", family(m.architecture)],
      ["Source", m.source + (m.pretrained ? " (pretrained)" : "")],
      ["Params", `${compact(m.params)} (${m.params})`],
      ["FLOPs", `${compact(m.flops)} (${m.flops})`],
      ["Source accuracy", pct(m.metrics ? m.metrics.source_accuracy : null)],
      ["Input", shape(m.input_size)],
      ["Classes", String(m.num_classes)],
      ["Status", m.status],
      ["Dissection", m.dissection_status],
      ...metrics.filter(([k]) => k !== "source_accuracy").map(([k, v]) => ["metric " + k, v]),
    ]);
    const classes = m.class_names && m.class_names.length ? el("ol", { class: "classes", start: "0" }, m.class_names.map((c) => el("li", {}, c))) : el("p", { class: "muted" }, "No class names.");
    const nodesBox = el("div", { id: "nodes" });
    content.replaceChildren(section("Summary", facts), section("Class names", classes), section("Nodes", nodesBox));

    if (m.dissection_status === "done") {
      const n = await getJSON("/v1/models/" + enc(ID) + "/nodes");
      nodesBox.replaceChildren(
        dl([
          ["Stem", `${compact(n.stem.params)} params, ${compact(n.stem.flops)} FLOPs`],
          ["Head", `${compact(n.head.params)} params, ${compact(n.head.flops)} FLOPs`],
          ["Total", `${compact(n.total_params)} params, ${compact(n.total_flops)} FLOPs`],
          ["Max |error| of the split", String(n.max_abs_error)],
        ]),
        table(
          ["#", "Path", "Kind", "In", "Out", "Params", "FLOPs"],
          n.nodes.map((x) => [String(x.index), el("code", {}, x.path), x.kind, shape(x.in_shape), shape(x.out_shape), compact(x.params), compact(x.flops)]),
          { id: "node-table" }
        )
      );
    } else {
      const button = el("button", { type: "button", id: "dissect" }, "Dissect");
      const box = el("div");
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          const w = jobWidget(await postJSON("/v1/models/" + enc(ID) + "/dissect", {}));
          box.replaceChildren(w.node);
          w.update(await w.watch());
          await modelPage();
        } catch (err) {
          showError(err);
          button.disabled = false;
        }
      });
      nodesBox.replaceChildren(el("p", { class: "muted" }, `Not dissected (${m.dissection_status}). `), button, box);
    }
  }

  // A picture behind the token: fetched, then shown from a blob: URL.
  function picture(path, alt, id) {
    const img = el("img", { alt, id });
    const fig = el("figure", {}, img, el("figcaption", {}, alt));
    api(path)
      .then((r) => r.blob())
      .then((b) => {
        img.src = URL.createObjectURL(b);
      })
      .catch(showError);
    return fig;
  }

  // A partition or assembly still being computed: its job's progress, then the page again.
  async function waitForSubject(row, kind, again) {
    if (row.status !== "pending") return false;
    let job = row.job;
    if (!job) {
      const jobs = await getJSON("/v1/jobs?limit=200&kind=" + enc(kind));
      job = jobs.items.find((j) => j.subject_id === row.id && !TERMINAL.has(j.status));
    }
    if (!job) {
      content.replaceChildren(section("In progress", el("p", { class: "muted" }, "Waiting for the result…")));
      await new Promise((r) => setTimeout(r, 2000));
      await again();
      return true;
    }
    const w = jobWidget(job);
    content.replaceChildren(section("In progress", w.node));
    w.update(await w.watch());
    await again();
    return true;
  }

  async function partitionPage() {
    const p = await getJSON("/v1/partitions/" + enc(ID));
    if (await waitForSubject(p, "partition", partitionPage)) return;
    if (p.status === "failed") {
      content.replaceChildren(section("Failed", el("p", { class: "error" }, p.error ? p.error.message || JSON.stringify(p.error) : "failed")));
      return;
    }
    const names = new Map();
    for (const s of p.sets) for (const b of s.blocks) names.set(b.model_id, b.model_name);
    const probe = await getJSON("/v1/datasets/" + enc(p.probe_dataset_id)).catch(() => null);
    const facts = dl([
      ["Models", p.model_ids.map((id, i) => [i ? ", " : "", modelLink(id, names.get(id) || id)])],
      ["Probe dataset", probe ? `${probe.name} (${p.config.probe_images} of ${probe.num_images} images)` : p.probe_dataset_id],
      ["Sets K", String(p.config.k)],
      ["ε", String(p.config.epsilon)],
      ["Size measure", String(p.config.size_measure)],
      ["Objective", typeof p.objective === "number" ? p.objective.toFixed(4) : "—"],
      ["Restarts used", String(p.restarts_used)],
    ]);
    const sets = p.sets.map((s) => {
      const rows = s.blocks.map((b) => {
        const anchor = b.model_id === s.anchor.model_id && b.first_node === s.anchor.first_node;
        return [
          modelLink(b.model_id, b.model_name),
          `${b.first_node}–${b.last_node}`,
          el("code", {}, b.first_path + " → " + b.last_path),
          compact(b.params),
          compact(b.flops),
          anchor ? "anchor" : b.similarity_to_anchor.toFixed(3),
        ];
      });
      return el("div", { class: "set", "data-set": String(s.index) }, el("h3", {}, `Set ${s.index}`, el("span", { class: "muted" }, ` · anchor ${s.anchor.model_name} ${s.anchor.first_path} → ${s.anchor.last_path}`)), table(["Model", "Nodes", "Paths", "Params", "FLOPs", "Similarity to anchor"], rows));
    });
    content.replaceChildren(
      section("Partition", facts),
      section(
        "Pictures",
        el(
          "div",
          { class: "pictures" },
          picture("/v1/partitions/" + enc(ID) + "/similarity.png", "Block similarity (CKA of inputs + outputs)", "similarity-png"),
          picture("/v1/partitions/" + enc(ID) + "/partition.png", "Each model's nodes coloured by equivalence set", "partition-png")
        )
      ),
      section("Equivalence sets", el("div", { id: "sets" }, sets))
    );
    paintSwatches();
  }

  // Colours come from our own palette; set as style properties (the CSP forbids inline style attributes).
  function paintSwatches() {
    for (const s of document.querySelectorAll("[data-color]")) {
      if (s.classList.contains("box")) s.style.borderColor = s.dataset.color;
      else s.style.backgroundColor = s.dataset.color;
    }
  }

  function chain(cand) {
    const stitches = new Map((cand.stitches || []).map((s) => [s.position, s]));
    const parts = [el("div", { class: "box io" }, "input")];
    const stitchBox = (s) =>
      el(
        "div",
        { class: "box stitch", title: JSON.stringify({ src: s.src, dst: s.dst }) },
        el("strong", {}, "stitch"),
        el("span", {}, s.transition || ""),
        el("span", { class: "muted" }, compact(s.params) + " params"),
        typeof s.fit_residual === "number" ? el("span", { class: "muted" }, "residual " + s.fit_residual.toFixed(3)) : null
      );
    if (stitches.has("stem")) parts.push(arrow(), stitchBox(stitches.get("stem")));
    cand.blocks.forEach((b, i) => {
      parts.push(
        arrow(),
        el(
          "div",
          { class: "box block", "data-color": colorOf(b.model_id), "data-testid": "chain-block" },
          el("strong", {}, b.model_name),
          el("span", {}, `nodes ${b.first_node}–${b.last_node}`),
          el("code", {}, b.first_path),
          el("code", {}, "→ " + b.last_path)
        )
      );
      const after = stitches.get("after_block_" + i);
      if (after && i < cand.blocks.length - 1) parts.push(arrow(), stitchBox(after));
    });
    parts.push(arrow(), el("div", { class: "box io" }, "new head"));
    return el("div", { class: "chain", id: "chain" }, parts);
  }
  const arrow = () => el("span", { class: "arrow", "aria-hidden": "true" }, "→");

  // Validation accuracy per epoch, one line per network, as a small inline SVG.
  function epochChart(series) {
    const W = 560,
      H = 220,
      L = 48,
      R = 150,
      T = 14,
      B = 34;
    const all = series.flatMap((s) => s.points);
    if (!all.length) return el("p", { class: "muted" }, "No epochs recorded.");
    const maxE = Math.max(1, ...all.map((p) => p[0]));
    let lo = Math.min(...all.map((p) => p[1]));
    let hi = Math.max(...all.map((p) => p[1]));
    if (hi - lo < 0.02) {
      lo -= 0.01;
      hi += 0.01;
    }
    const x = (e) => L + ((W - L - R) * e) / maxE;
    const y = (v) => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
    const g = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": "validation accuracy per epoch", id: "epoch-chart" });
    g.append(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }), svg("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }));
    for (let e = 0; e <= maxE; e++) g.append(svg("text", { x: x(e), y: H - B + 16, "text-anchor": "middle", class: "tick" }, String(e)));
    for (const v of [lo, (lo + hi) / 2, hi]) g.append(svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, pct(v)));
    g.append(svg("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", class: "tick" }, "epoch"));
    series.forEach((s, i) => {
      const color = s.color || PALETTE[i % PALETTE.length];
      g.append(svg("polyline", { points: s.points.map((p) => `${x(p[0])},${y(p[1])}`).join(" "), fill: "none", stroke: color, "stroke-width": s.width || 2 }));
      for (const p of s.points) g.append(svg("circle", { cx: x(p[0]), cy: y(p[1]), r: 3, fill: color }));
      g.append(svg("rect", { x: W - R + 10, y: T + i * 18, width: 12, height: 4, fill: color }), svg("text", { x: W - R + 28, y: T + i * 18 + 6, class: "tick" }, s.label));
    });
    return g;
  }

  const epochsOf = (net) => (net.training || []).filter((e) => typeof e.validation_accuracy === "number").map((e) => [e.epoch, e.validation_accuracy]);
  const chainName = (c) => c.blocks.map((b) => b.model_name).join(" + ");

  async function assemblyPage() {
    const a = await getJSON("/v1/assemblies/" + enc(ID));
    if (await waitForSubject(a, "assembly", assemblyPage)) return;
    if (a.status === "failed" || !a.chosen) {
      content.replaceChildren(section("Failed", el("p", { class: "error" }, a.error ? a.error.message || JSON.stringify(a.error) : "no result")));
      return;
    }
    const c = a.chosen;
    const base = a.baseline;
    const download = el("button", { type: "button", id: "download", disabled: !a.checkpoint_available }, "Download checkpoint (.zip)");
    download.addEventListener("click", async () => {
      try {
        const blob = await (await api("/v1/assemblies/" + enc(ID) + "/checkpoint")).blob();
        const url = URL.createObjectURL(blob);
        const link = el("a", { href: url, download: ID + ".zip", hidden: true });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60000);
      } catch (err) {
        showError(err);
      }
    });
    const gain = el("span", { id: "gain", class: typeof a.gain === "number" && a.gain >= 0 ? "good" : "bad" }, points(a.gain));
    const summary = dl([
      ["Recommendation", el("strong", { id: "recommendation" }, a.recommendation === "reassembly" ? "the reassembled network" : a.recommendation === "zoo_model" ? "the zoo model (baseline)" : "—")],
      ["Gain over the baseline (held-out)", gain],
      ["Chosen: held-out accuracy", el("span", { id: "chosen-heldout" }, pct(c.heldout_accuracy))],
      ["Chosen: validation accuracy", pct(c.validation_accuracy)],
      ["Chosen: size", `${compact(c.built_params)} params, ${compact(c.built_flops)} FLOPs`],
      ["Baseline", el("span", { id: "baseline" }, base ? [base.model_name || base.model_id, " — held-out ", pct(base.heldout_accuracy), ", validation ", pct(base.validation_accuracy)] : a.baseline_note || "none under this budget")],
      ["Training", a.config.training ? `${a.config.training.mode}, ${a.config.training.epochs} epochs` : "—"],
      ["Partition", uiLink("/partitions/" + enc(a.partition_id), a.partition_id)],
    ]);
    const series = [{ label: "chosen", points: epochsOf(c), color: "#e15759", width: 3 }];
    a.candidates.filter((x) => x !== c && x.rank !== c.rank).forEach((x) => series.push({ label: "finalist " + x.rank, points: epochsOf(x) }));
    if (base) series.push({ label: "baseline", points: epochsOf(base), color: "#555" });
    const finalists = table(
      ["Rank", "Chain", "Params", "FLOPs", "Validation", "Held-out"],
      a.candidates.map((x) => [String(x.rank), chainName(x), compact(x.built_params), compact(x.built_flops), pct(x.validation_accuracy), pct(x.heldout_accuracy)]),
      { id: "finalists" }
    );
    const zoo = table(
      ["Zoo model", "Params", "FLOPs", "Validation", "Held-out"],
      a.zoo_models.map((z) => [[z.model_name || z.model_id, base && z.model_id === base.model_id ? el("strong", {}, " (baseline)") : null], compact(z.built_params), compact(z.built_flops), pct(z.validation_accuracy), pct(z.heldout_accuracy)])
    );
    content.replaceChildren(
      section("Result", summary, el("p", {}, download)),
      section("Chosen chain", chain(c)),
      section(
        "Validation accuracy per epoch",
        epochChart(series.filter((s) => s.points.length)),
        el("p", { class: "muted" }, "Epoch 0 is the closed-form head before any training; each network keeps its best validation epoch.")
      ),
      section("Finalists", finalists),
      section("Zoo models under the budget", zoo)
    );
    paintSwatches();
  }

  async function jobsPage() {
    const page = await getJSON("/v1/jobs?limit=100");
    let streams = 0; // a browser opens about six connections per host: keep some for everything else
    const rows = page.items.map((j) => {
      const w = jobWidget(j);
      if (!TERMINAL.has(j.status) && streams++ < 4) w.watch().then(w.update);
      return [w.node, subjectLink(j), when(j.created_at)];
    });
    content.replaceChildren(section("Recent jobs", page.items.length ? table(["Job", "Subject", "Created"], rows, { id: "jobs" }) : el("p", { class: "muted" }, "No jobs yet.")));
  }

  async function jobPage() {
    const j = await getJSON("/v1/jobs/" + enc(ID));
    const w = jobWidget(j);
    const result = el("pre", { id: "result" });
    const cancel = el("button", { type: "button", id: "cancel", disabled: TERMINAL.has(j.status) }, "Cancel");
    cancel.addEventListener("click", () => postJSON("/v1/jobs/" + enc(ID) + "/cancel", {}).catch(showError));
    content.replaceChildren(
      section("Progress", w.node, " ", cancel),
      section("Job", dl([["Kind", j.kind], ["Queue", j.queue], ["Subject", subjectLink(j)], ["Attempts", String(j.attempts)], ["Created", when(j.created_at)]])),
      section("Result", result)
    );
    const end = await w.watch();
    w.update(end);
    cancel.disabled = true;
    const full = await getJSON("/v1/jobs/" + enc(ID));
    result.textContent = JSON.stringify(full.result || { error_code: full.error_code, error_message: full.error_message }, null, 2);
  }

  const PAGES = { zoo: zooPage, model: modelPage, partition: partitionPage, assembly: assemblyPage, jobs: jobsPage, job: jobPage };

  async function render() {
    errorBox.hidden = true;
    content.setAttribute("aria-busy", "true");
    try {
      await PAGES[PAGE]();
    } catch (err) {
      content.replaceChildren();
      showError(err);
    } finally {
      content.setAttribute("aria-busy", "false");
    }
  }

  // The token form: kept in this tab's sessionStorage only.
  const tokenInput = document.getElementById("token");
  const tokenState = document.getElementById("token-state");
  tokenInput.value = token();
  tokenState.textContent = token() ? "token set" : "";
  document.getElementById("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = tokenInput.value.trim();
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    else sessionStorage.removeItem(TOKEN_KEY);
    tokenState.textContent = t ? "token set" : "";
    render();
  });

  render();
})();
