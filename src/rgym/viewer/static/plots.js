// Draws every <div data-figure="ID"> from the JSON in <script type="application/json" id="ID">.
// The figures are built by the server from the run record or from `rgym report`'s numbers; this
// file only hands them to plotly.js. Labels that come from runs are escaped by the server.
"use strict";
(function () {
  const config = { displaylogo: false, responsive: true };
  window.rgymPlots = window.rgymPlots || {};

  function draw() {
    if (typeof Plotly === "undefined") {
      return;
    }
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      const source = document.getElementById(el.dataset.figure);
      if (!source) {
        return;
      }
      const figure = JSON.parse(source.textContent);
      Plotly.newPlot(el, figure.data, figure.layout, config);
      window.rgymPlots[el.id] = el;
      el.classList.add("drawn");
    });
    document.dispatchEvent(new Event("rgym:plots"));
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
