/* Supervisor dashboard charts (Apache ECharts, served from static/vendor/echarts). The figures come from
   the JSON the page embeds (json_script "trend-data", "category-data"), computed by cases.selectors. */
(function () {
  "use strict";
  if (typeof echarts === "undefined") { return; }
  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }
  function label(el, name) { return el.getAttribute("data-l-" + name) || name; }
  var charts = [];

  function empty(el) {
    el.classList.add("chart-empty");
    el.textContent = label(el, "empty");
  }

  var trendEl = document.getElementById("chart-trend");
  var trend = data("trend-data");
  if (trendEl && trend) {
    if (!trend.months.length) { empty(trendEl); } else {
      var t = echarts.init(trendEl, null, { renderer: "canvas" });
      t.setOption({
        animation: false,
        tooltip: { trigger: "axis" },
        legend: { top: 0 },
        grid: { left: 44, right: 44, top: 36, bottom: 56 },
        dataZoom: trend.months.length > 24 ? [{ type: "slider", bottom: 8, height: 18 }] : [],
        xAxis: { type: "category", data: trend.months },
        yAxis: [{ type: "value", minInterval: 1 }, { type: "value", max: 100, axisLabel: { formatter: "{value}%" } }],
        series: [
          { name: label(trendEl, "received"), type: "bar", data: trend.received },
          { name: label(trendEl, "resolved"), type: "bar", data: trend.resolved },
          { name: label(trendEl, "ontime"), type: "line", data: trend.resolve_on_time, symbolSize: 5 },
          // A month without a decided deadline has no rate (null): a gap in the line, never a carried value.
          { name: label(trendEl, "rate"), type: "line", yAxisIndex: 1, data: trend.resolve_on_time_rate,
            connectNulls: false, lineStyle: { type: "dashed" }, symbolSize: 4 }
        ]
      });
      charts.push(t);
    }
  }

  var catEl = document.getElementById("chart-categories");
  var cats = data("category-data");
  if (catEl && cats) {
    if (!cats.labels.length) { empty(catEl); } else {
      var c = echarts.init(catEl, null, { renderer: "canvas" });
      c.setOption({
        animation: false,
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        legend: { top: 0 },
        grid: { left: 96, right: 24, top: 36, bottom: 24 },
        xAxis: { type: "value", minInterval: 1 },
        yAxis: { type: "category", data: cats.labels, inverse: true },
        series: [
          { name: label(catEl, "received"), type: "bar", data: cats.received },
          { name: label(catEl, "resolved"), type: "bar", data: cats.resolved }
        ]
      });
      charts.push(c);
    }
  }

  window.addEventListener("resize", function () { charts.forEach(function (ch) { ch.resize(); }); });
  window.xijiCharts = charts;  // for the browser tests: the rendered series
})();
