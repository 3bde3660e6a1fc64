/* The KPI dashboard's charts, from the data the page passes in #kpi-data (json_script).
 * Chart.js is vendored (static/vendor/chartjs); the charts are kept in window.mimKpiCharts. */
(function () {
  "use strict";

  var HOUR = 3600;
  var DAY = 86400;
  var COLORS = { mtta: "#1f6feb", mttd: "#b08000", mttr: "#c81e1e", bar: "#17406f", ok: "#1a7f37", rest: "#dde2ea" };

  function hours(seconds) {
    return seconds === null || seconds === undefined ? null : Math.round((seconds / HOUR) * 100) / 100;
  }

  function monthLabel(iso) {
    var d = new Date(iso + "T00:00:00Z");
    return d.toLocaleDateString("en-GB", { month: "short", year: "numeric", timeZone: "UTC" });
  }

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) return null;
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    var chart = new window.Chart(canvas, config);
    window.mimKpiCharts[id] = chart;
    return chart;
  }

  function start() {
    var source = document.getElementById("kpi-data");
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    window.mimKpiCharts = {};
    var months = data.monthly.map(function (m) { return monthLabel(m.month); });

    draw("chart-mis-per-month", {
      type: "bar",
      data: {
        labels: months,
        datasets: [{ label: "Major incidents", data: data.monthly.map(function (m) { return m.mis; }), backgroundColor: COLORS.bar }]
      },
      options: {
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: {
          tooltip: {
            callbacks: {
              afterLabel: function (item) {
                var change = data.monthly[item.dataIndex].change_percent;
                return change === null ? "no % change (none the month before)" : (change > 0 ? "+" : "") + change + " % on the month before";
              }
            }
          }
        }
      },
      plugins: [{
        id: "changeLabels",
        afterDatasetsDraw: function (chart) {
          var ctx = chart.ctx;
          var meta = chart.getDatasetMeta(0);
          ctx.save();
          ctx.font = "11px system-ui, sans-serif";
          ctx.textAlign = "center";
          ctx.fillStyle = "#4a5566";
          meta.data.forEach(function (bar, i) {
            var change = data.monthly[i].change_percent;
            if (change === null) return;
            ctx.fillText((change > 0 ? "+" : "") + change + " %", bar.x, bar.y - 4);
          });
          ctx.restore();
        }
      }]
    });

    draw("chart-mttr-per-month", {
      type: "line",
      data: {
        labels: months,
        datasets: [{
          label: "MI MTTR (h)",
          data: data.monthly.map(function (m) { return hours(m.mttr_seconds); }),
          borderColor: COLORS.mttr,
          backgroundColor: COLORS.mttr,
          spanGaps: true,
          tension: 0.2
        }]
      },
      options: { scales: { y: { beginAtZero: true } } }
    });

    draw("chart-per-priority", {
      type: "bar",
      data: {
        labels: data.by_priority.map(function (p) { return "P" + p.priority; }),
        datasets: [
          { label: "MTTA (h)", data: data.by_priority.map(function (p) { return hours(p.mtta_seconds); }), backgroundColor: COLORS.mtta },
          { label: "MTTD (h)", data: data.by_priority.map(function (p) { return hours(p.mttd_seconds); }), backgroundColor: COLORS.mttd },
          { label: "MTTR (h)", data: data.by_priority.map(function (p) { return hours(p.mttr_seconds); }), backgroundColor: COLORS.mttr }
        ]
      },
      options: { scales: { y: { beginAtZero: true } } }
    });

    draw("chart-mtbf", {
      type: "bar",
      data: {
        labels: data.by_service.map(function (s) { return s.service; }),
        datasets: [{
          label: "MTBF (days)",
          data: data.by_service.map(function (s) { return Math.round((s.mtbf_seconds / DAY) * 10) / 10; }),
          backgroundColor: COLORS.bar
        }]
      },
      options: { indexAxis: "y", scales: { x: { beginAtZero: true } } }
    });

    var shares = ["cadence_adherence", "first_customer_update_within_target"].map(function (k) { return data.shares[k]; });
    draw("chart-shares", {
      type: "bar",
      data: {
        labels: shares.map(function (s) { return s.name + " (n=" + s.sample + ")"; }),
        datasets: [
          { label: "Within", data: shares.map(function (s) { return s.value === null ? 0 : s.value; }), backgroundColor: COLORS.ok },
          { label: "Not", data: shares.map(function (s) { return s.value === null ? 0 : Math.round((100 - s.value) * 10) / 10; }), backgroundColor: COLORS.rest }
        ]
      },
      options: {
        indexAxis: "y",
        scales: { x: { stacked: true, min: 0, max: 100 }, y: { stacked: true } }
      }
    });
    document.documentElement.dataset.kpiCharts = String(Object.keys(window.mimKpiCharts).length);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
