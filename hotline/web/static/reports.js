/* The reports page's charts, drawn from the report the page was served with (its JSON is the
   same as /api/v1/reports): requests per month by category, the satisfactory-response rate of
   every agency (sorted), the 115 outcomes with both success rates labelled, the service level
   per month against each line's target, and the calls' average review score per month.
   Printing is the browser's (print stylesheet). */
(function () {
  "use strict";

  const H = window.Hotline;
  const { t, el, clear, fmt } = H;
  const data = H.data;
  const report = data.report;
  const lang = data.lang;
  const CATEGORIES = ["admin_procedure", "field_report", "information", "medical"];

  function name(pair, code) {
    return pair ? (lang === "vi" ? pair.vi : pair.en) : code;
  }

  function monthLabel(month) {
    const [year, number] = month.split("-");
    return lang === "vi" ? number + "/" + year : new Date(Number(year), Number(number) - 1, 1).toLocaleDateString("en-GB", { month: "short", year: "numeric" });
  }

  function row(section, key) {
    return report.rows.find(function (r) { return r.section === section && r.key === key; });
  }

  function box(id) {
    return document.querySelector("#" + id + " .chart-box");
  }

  function empty(target) {
    clear(target, el("p", { class: "muted", text: t("reports.no_data") }));
  }

  /* Requests per month: a bar per category (and 115's requests), month by month. */
  function months() {
    const target = box("chart-months");
    if (!target) return;
    const lines = report.lines;
    const shown = CATEGORIES.filter(function (c) { return c === "medical" ? lines.includes("115") : lines.includes("1022"); });
    const series = shown.map(function (code, i) {
      return {
        name: code === "medical" ? t("common.line_115") : name(data.categories[code], code),
        values: report.months.map(function (m) { return m.requests[code] || 0; }),
        cls: "s" + i,
      };
    });
    if (!series.some(function (s) { return s.values.some(Boolean); })) return empty(target);
    clear(target, H.charts.bars(report.months.map(function (m) { return monthLabel(m.month); }), series, { height: 260, width: 640 }), H.charts.legend(series));
  }

  /* Every agency 1022 tickets were forwarded to, by its satisfactory-response rate. */
  function agencies() {
    const target = box("chart-agencies");
    if (!target) return;
    const items = report.agencies.map(function (a) {
      return {
        label: name(data.agencies[a.agency], a.agency),
        value: a.satisfied_rate,
        text: a.satisfied_rate === null
          ? t("reports.no_responses")
          : fmt.percent(a.satisfied_rate) + " · " + t("reports.answered_of", { satisfied: fmt.number(a.satisfied), responded: fmt.number(a.responded) }),
        cls: "s2",
        responded: a.responded,
      };
    }).sort(function (a, b) {
      return (b.value === null ? -1 : b.value) - (a.value === null ? -1 : a.value) || b.responded - a.responded || a.label.localeCompare(b.label);
    });
    if (!items.length) return empty(target);
    const overall = row("1022", "satisfied");
    target.dataset.count = String(items.length);
    clear(target, H.charts.hbars(items, { max: 1, percent: true, reference: overall ? overall.share : null }),
      el("p", { class: "muted" }, t("reports.overall") + ": ", el("strong", { text: overall ? fmt.percent(overall.share) : t("common.none") })));
  }

  /* 115: both success rates, each saying what it is of; then the outcomes, sent or not. */
  function medical() {
    const target = box("chart-115");
    if (!target) return;
    const requests = row("115", "requests");
    const sent = row("115", "sent");
    const ratios = [
      ["all", "reports.successful_of_all", row("115", "successful"), requests],
      ["sent", "reports.successful_of_sent", row("115", "successful_of_sent"), sent],
    ];
    clear(document.getElementById("ratios-115"), ratios.map(function ([key, label, r, whole]) {
      return el("div", { class: "ratio", "data-ratio": key },
        el("dt", { text: t(label) }),
        el("dd", {}, el("strong", { class: "big", text: fmt.percent(r.share) }),
          el("span", { class: "muted", text: " " + t("reports.ratio_detail", { part: fmt.number(r.value), whole: fmt.number(whole.value) }) })));
    }));
    const items = [];
    for (const [section, heading] of [["115_sent", "reports.sent"], ["115_not_sent", "reports.not_sent"]]) {
      for (const r of report.rows.filter(function (x) { return x.section === section; })) {
        const outcome = r.key === "no_outcome" ? t("reports.no_outcome") : t("events.outcome_" + r.key);
        items.push({
          label: t(heading) + ": " + outcome,
          value: r.value,
          text: fmt.number(r.value) + " · " + fmt.percent(r.share),
          cls: section === "115_sent" ? (["handled", "transported"].includes(r.key) ? "s2" : "s1") : "s3",
        });
      }
    }
    if (!requests.value) return empty(target);
    clear(target, H.charts.hbars(items, {}));
  }

  /* Service level per month, one chart per line against its target. */
  function service() {
    const target = box("chart-service");
    const charts = [];
    for (const line of report.lines) {
      const goal = data.targets[line];
      const values = report.months.map(function (m) { const c = m.calls[line]; return c ? c.service_level : null; });
      if (!values.some(function (v) { return v !== null; })) continue;
      const seconds = report.months.map(function (m) { return m.calls[line]; }).find(Boolean).service_level_seconds;
      const series = [{ name: t("reports.service_line", { line: t("common.line_" + line), seconds: seconds, target: fmt.percent(goal.level) }), values: values, cls: line === "115" ? "s1" : "s0" }];
      charts.push(el("div", { class: "service-chart", "data-line": line },
        H.charts.bars(report.months.map(function (m) { return monthLabel(m.month); }), series, { height: 200, width: 640, max: 1, percent: true, target: goal.level }),
        H.charts.legend(series)));
    }
    if (!charts.length) return empty(target);
    clear(target, charts);
  }

  /* The quality reviews' average score per month, a bar per line. */
  function quality() {
    const target = box("chart-quality");
    if (!target) return;
    const series = report.lines.map(function (line) {
      return {
        name: t("common.line_" + line),
        values: report.months.map(function (m) { const r = m.reviews[line]; return r ? r.mean_score : null; }),
        cls: line === "115" ? "s1" : "s0",
      };
    }).filter(function (s) { return s.values.some(function (v) { return v !== null; }); });
    clear(target, H.charts.bars(report.months.map(function (m) { return monthLabel(m.month); }), series, { height: 200, width: 640, max: 100 }), H.charts.legend(series));
  }

  months();
  quality();
  agencies();
  medical();
  service();
  document.getElementById("r-print").addEventListener("click", function () { window.print(); });
})();
