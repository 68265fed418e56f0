// The run page's live updates: new events of a run in progress arrive as server-sent events
// (a tail of events.jsonl) and are drawn like the ones already on the page: every text from
// the run is set with textContent, never parsed as HTML.
"use strict";
(function () {
  const transcript = document.getElementById("transcript");
  const url = transcript && transcript.dataset.liveUrl;
  if (!url || !window.EventSource) {
    return;
  }
  const blocks = document.getElementById("blocks");
  const state = document.getElementById("live-state");
  const d = transcript.dataset;
  const totals = {
    steps: Number(d.steps), calls: Number(d.calls), tokens: Number(d.tokens),
    cost: Number(d.cost), latency: Number(d.latency), validations: Number(d.validations),
  };
  let t0 = d.t0 ? Number(d.t0) : null;
  let lastSeq = Number(d.lastSeq) || 0;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) {
      node.className = cls;
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function safeClass(name) {
    return String(name).replace(/[^a-z_]/g, "");
  }

  function seconds(x) {
    if (x < 60) {
      return x < 10 ? x.toFixed(2) + " s" : x.toFixed(1) + " s";
    }
    const total = Math.round(x);
    const m = Math.floor(total / 60);
    const s = total % 60;
    if (m < 60) {
      return m + " min " + String(s).padStart(2, "0") + " s";
    }
    return Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " min";
  }

  function count(x) {
    return Number.isInteger(x) ? x.toLocaleString("en-US") : x.toPrecision(4);
  }

  function textBlock(t, label) {
    if (t.role === "raw") {
      const box = el("details", "raw");
      box.appendChild(el("summary", null, label));
      box.appendChild(el("pre", null, t.full));
      return box;
    }
    if (t.folded) {
      const wrap = el("div", "fold " + safeClass(t.role));
      wrap.appendChild(el("pre", "head", t.head));
      const box = el("details");
      const what = t.hidden_lines ? count(t.hidden_lines) + " more lines" : "the whole text";
      box.appendChild(el("summary", null, what + ": show all"));
      box.appendChild(el("pre", "full", t.full));
      wrap.appendChild(box);
      wrap.appendChild(el("pre", "tail", t.tail));
      return wrap;
    }
    if (t.role === "prose") {
      return el("div", "prose", t.full);
    }
    return el("pre", safeClass(t.role), t.full);
  }

  function eventNode(v) {
    const node = el("div", "ev fresh ev-" + safeClass(v.type) + (v.level ? " lv-" + safeClass(v.level) : ""));
    if (v.seq !== null) {
      node.dataset.seq = v.seq;
    }
    const head = el("div", "ev-head");
    head.appendChild(el("span", "ev-label", v.label));
    v.meta.forEach(function (pair) {
      const chip = el("span", "chip");
      chip.appendChild(el("b", null, pair[0]));
      chip.appendChild(document.createTextNode(" " + pair[1]));
      head.appendChild(chip);
    });
    if (v.t !== null) {
      head.appendChild(el("span", "ev-time", "+" + seconds(v.t)));
    }
    node.appendChild(head);
    v.texts.forEach(function (t) {
      node.appendChild(textBlock(t, v.type === "model_call" ? "model reply" : "details"));
    });
    return node;
  }

  function addEvent(v) {
    const empty = document.getElementById("no-events");
    if (empty) {
      empty.remove();
    }
    const last = blocks.lastElementChild;
    let section = null;
    if (v.step !== null && last && last.dataset.step === String(v.step)) {
      section = last;
    } else if (v.step === null && last && last.classList.contains("outside")) {
      section = last;
    } else {
      section = el("section", v.step === null ? "step outside" : "step");
      if (v.step !== null) {
        section.id = "step-" + v.step;
        section.dataset.step = String(v.step);
        const h = el("h3");
        const a = el("a", null, "Step " + v.step);
        a.href = "#step-" + v.step;
        h.appendChild(a);
        section.appendChild(h);
      }
      blocks.appendChild(section);
    }
    if (v.level === "error") {
      section.classList.remove("lv-warn");
      section.classList.add("lv-error");
    } else if (v.level === "warn" && !section.classList.contains("lv-error")) {
      section.classList.add("lv-warn");
    }
    const nearBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 200;
    section.appendChild(eventNode(v));
    if (nearBottom) {
      section.lastElementChild.scrollIntoView({ block: "end" });
    }
  }

  function extend(id, points, traces) {
    const plot = document.getElementById(id);
    if (!plot || !plot.classList.contains("drawn") || typeof Plotly === "undefined") {
      return;
    }
    Plotly.extendTraces(plot, {
      x: points.map(function (p) { return [p[0]]; }),
      y: points.map(function (p) { return [p[1]]; }),
    }, traces);
  }

  function update(f) {
    if (typeof f.time === "number" && t0 === null) {
      t0 = f.time;
    }
    let changed = false;
    if (f.type === "action" && typeof f.step === "number") {
      totals.steps = Math.max(totals.steps, f.step);
      changed = true;
    } else if (f.type === "evaluation" && typeof f.score === "number") {
      if (f.split === "dev") {
        totals.validations += 1;
        changed = true;
        extend("plot-score", [[f.step, f.score]], [0]);
      } else if (f.split === "test") {
        extend("plot-score", [[f.step, f.score]], [1]);
      }
    } else if (f.type === "model_call") {
      totals.calls += 1;
      totals.tokens += (f.prompt_tokens || 0) + (f.completion_tokens || 0);
      totals.cost += f.cost_usd || 0;
      totals.latency += f.latency_s || 0;
      changed = true;
    }
    document.getElementById("c-steps").textContent = count(totals.steps);
    document.getElementById("c-calls").textContent = count(totals.calls);
    document.getElementById("c-tokens").textContent = count(totals.tokens);
    document.getElementById("c-cost").textContent = "$" + totals.cost.toFixed(4);
    document.getElementById("c-latency").textContent = seconds(totals.latency);
    const budget = document.getElementById("plot-budget");
    if (changed && budget && typeof f.time === "number") {
      const t = Math.round((f.time - t0) * 1000) / 1000;
      const third = budget.layout && budget.layout.meta && budget.layout.meta.third === "cost"
        ? totals.cost : totals.tokens;
      extend("plot-budget", [[t, totals.steps], [t, totals.validations], [t, third]], [0, 1, 2]);
    }
  }

  function setState(text, cls) {
    if (state) {
      state.textContent = text;
      state.className = "badge st-" + cls;
    }
  }

  const source = new EventSource(url);
  source.onopen = function () {
    setState("live", "running");
  };
  source.onerror = function () {
    setState("reconnecting…", "queued");
  };
  source.onmessage = function (message) {
    const data = JSON.parse(message.data);
    const seq = data.view.seq;
    if (seq !== null && seq <= lastSeq) {
      return;  // already drawn (a reconnect resends nothing newer than Last-Event-ID)
    }
    lastSeq = seq === null ? lastSeq : seq;
    addEvent(data.view);
    update(data.facts);
  };
  source.addEventListener("finished", function () {
    source.close();
    setState("finished", "submitted");
    document.getElementById("finished").hidden = false;
  });
})();
