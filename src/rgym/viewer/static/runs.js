// The runs page: filter, search and sort the table in the browser, pick two runs to compare,
// and say when the runs on disk changed. The filter reads a query exactly as
// rgym/viewer/filters.py does (the leaderboard of "the runs shown" is chosen there).
"use strict";
(function () {
  const form = document.getElementById("filters");
  const table = document.getElementById("runs");
  if (!form || !table) {
    return;
  }
  const q = document.getElementById("q");
  const fTask = document.getElementById("f-task");
  const fModel = document.getElementById("f-model");
  const fStatus = document.getElementById("f-status");
  const shown = document.getElementById("shown");
  const compare = document.getElementById("compare");
  // field:value words; the values are data-* attributes of each row
  const FIELDS = {
    task: "task", variant: "variant", agent: "agent", model: "model",
    status: "status", exit: "exit", batch: "batch", seed: "seed",
  };

  function matches(row, words, task, model, status) {
    const d = row.dataset;
    if (task && d.task !== task) {
      return false;
    }
    if (model && d.model !== model) {
      return false;
    }
    if (status && status !== d.status && status !== d.sc) {
      return false;
    }
    for (const word of words) {
      const i = word.indexOf(":");
      const key = i > 0 ? word.slice(0, i) : "";
      if (key && Object.prototype.hasOwnProperty.call(FIELDS, key)) {
        const value = d[FIELDS[key]];
        if (!value || value.toLowerCase().indexOf(word.slice(i + 1)) < 0) {
          return false;
        }
      } else if (searchText(row).indexOf(word) < 0) {
        return false;
      }
    }
    return true;
  }

  // the words a free-text search matches: RunSummary.search_text() in summaries.py
  function searchText(row) {
    if (row.searchText === undefined) {
      const d = row.dataset;
      row.searchText = [d.id, d.task, d.variant, d.agent, d.model, d.exit, d.status, d.batch,
        d.cell, d.seed === "" ? "" : "s" + d.seed].filter(Boolean).join(" ").toLowerCase();
    }
    return row.searchText;
  }

  function apply() {
    const words = q.value.toLowerCase().split(/\s+/).filter(Boolean);
    let total = 0;
    table.querySelectorAll("tbody.group").forEach(function (group) {
      let visible = 0;
      group.querySelectorAll("tr.run").forEach(function (row) {
        const ok = matches(row, words, fTask.value, fModel.value, fStatus.value);
        row.hidden = !ok;
        visible += ok ? 1 : 0;
      });
      group.hidden = visible === 0;
      total += visible;
    });
    shown.textContent = total + " shown";
    const params = new URLSearchParams();
    [["q", q.value.trim()], ["task", fTask.value], ["model", fModel.value],
      ["status", fStatus.value]].forEach(function (kv) {
      if (kv[1]) {
        params.set(kv[0], kv[1]);
      }
    });
    if (window.location.protocol !== "file:") {
      const query = params.toString();
      history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
    }
  }

  function sortBy(th) {
    const key = th.dataset.key;
    const numeric = th.dataset.type === "num";
    const ascending = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("thead th").forEach(function (h) {
      h.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    table.querySelectorAll("tbody.group").forEach(function (group) {
      const rows = Array.from(group.querySelectorAll("tr.run"));
      rows.sort(function (a, b) {
        const x = a.dataset[key] || (key === "exit" ? a.dataset.status : "");
        const y = b.dataset[key] || (key === "exit" ? b.dataset.status : "");
        if (x === "" || y === "") {
          return (x === "") - (y === "");  // missing values last, either way
        }
        const order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) {
        group.appendChild(row);
      });
    });
  }

  function picked() {
    return Array.from(table.querySelectorAll("input.pick:checked")).map(function (box) {
      return box.value;
    });
  }

  q.addEventListener("input", apply);
  [fTask, fModel, fStatus].forEach(function (select) {
    select.addEventListener("change", apply);
  });
  table.querySelectorAll("thead th[data-key]").forEach(function (th) {
    th.addEventListener("click", function () {
      sortBy(th);
    });
  });
  if (compare) {
    const enable = function () {
      compare.disabled = picked().length !== 2;
    };
    table.addEventListener("change", enable);
    window.addEventListener("pageshow", enable);  // boxes the browser kept ticked (Back)
    compare.addEventListener("click", function () {
      const ids = picked();
      if (ids.length === 2) {
        const params = new URLSearchParams({ a: ids[0], b: ids[1] });
        window.location.href = "/compare?" + params.toString();
      }
    });
  }
  apply();

  const url = form.dataset.liveUrl;
  if (url && window.EventSource) {
    const source = new EventSource(url + "?since=" + encodeURIComponent(form.dataset.signature));
    source.addEventListener("changed", function () {
      document.getElementById("changed").hidden = false;
    });
  }
})();
