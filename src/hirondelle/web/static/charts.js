// Draws the customer area's charts with uPlot from each <figure class="chart" data-chart="…">:
// the series are in the page (no inline script, no extra request). data-kind is "days" (one
// point per day: sent, delivered, failed) or "hours" (a campaign's deliveries per hour).
(function () {
  "use strict";
  var COLOURS = { sent: "#4a6fa5", delivered: "#2e7d32", failed: "#c62828" };

  function draw(figure) {
    var data = JSON.parse(figure.getAttribute("data-chart"));
    var labels = JSON.parse(figure.getAttribute("data-labels"));
    var names = ["sent", "delivered", "failed"].filter(function (name) { return name in data; });
    var series = [{}].concat(names.map(function (name) {
      return { label: labels[name] || name, stroke: COLOURS[name], width: 2 };
    }));
    var columns = [data.x].concat(names.map(function (name) { return data[name]; }));
    var width = Math.max(280, Math.min(figure.clientWidth || 800, 960));
    var options = {
      width: width,
      height: 240,
      series: series,
      axes: [{}, { size: 60 }],
      scales: { x: { time: true } },
    };
    var chart = new window.uPlot(options, columns, figure);
    window.addEventListener("resize", function () {
      chart.setSize({ width: Math.max(280, Math.min(figure.clientWidth, 960)), height: 240 });
    });
  }

  function start() {
    if (!window.uPlot) { return; }
    var figures = document.querySelectorAll("figure.chart[data-chart]");
    for (var i = 0; i < figures.length; i += 1) { draw(figures[i]); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
