/* The quality review page. Supervisors: the week's queue (click a call to play it whole and
   score it against its line's criteria), the trends per operator and criterion, the recent
   reviews; the administrator also edits the criteria. An operator: the reviews of their own
   calls, each playable, answered once. ``?review=ID`` (the ticket timeline's link) shows that
   review first. */
(function () {
  "use strict";
  const H = window.Hotline;
  const { t, api, el, clear, fmt, data } = H;
  const role = data.user.role;
  const oversees = role === "supervisor" || role === "admin";
  const lang = data.lang;
  const $ = function (id) { return document.getElementById(id); };
  const state = { criteria: null, selected: null };

  function criterionName(c) { return lang === "vi" ? c.name_vi : c.name_en; }
  function percent(score) { return score === null || score === undefined ? t("common.none") : fmt.number(score) + " %"; }
  function reasonText(reasons) { return reasons.map(function (r) { return t("reviews.reason_" + r); }).join(", "); }
  function recordingUrl(uniqueid) { return "/api/v1/calls/" + encodeURIComponent(uniqueid) + "/recording"; }

  /* ------------------------------------------------------------------ the week's queue */
  async function loadQueue() {
    let queue;
    try {
      queue = await api("GET", "/api/v1/review-queue?week=" + encodeURIComponent($("week").value));
    } catch (err) {
      H.failed(err);
      return;
    }
    $("queue-empty").hidden = queue.items.length > 0;
    clear($("queue-rows"), queue.items.map(function (item) {
      const row = el("tr", { "data-uniqueid": item.uniqueid, "data-reviewed": item.review_id ? "yes" : "no", onclick: function () { select(item); } },
        el("td", { text: item.operator }),
        el("td", { text: t("common.line_" + item.line) }),
        el("td", { text: item.ticket }),
        el("td", { text: fmt.dateTime(item.answered_at) }),
        el("td", { class: "n", text: fmt.duration(item.talk_seconds) }),
        el("td", { text: reasonText(item.reasons) }),
        el("td", { class: "n" }, item.review_id
          ? el("a", { href: "?review=" + item.review_id, text: percent(item.score) })
          : el("span", { class: "muted", text: t("reviews.not_reviewed") })));
      row.classList.toggle("selected", state.selected === item.uniqueid);
      return row;
    }));
  }

  function select(item) {
    if (item.review_id) {
      focusReview(item.review_id);
      return;
    }
    state.selected = item.uniqueid;
    for (const row of document.querySelectorAll("#queue-rows tr")) {
      row.classList.toggle("selected", row.dataset.uniqueid === item.uniqueid);
    }
    const panel = $("review-panel");
    panel.hidden = false;
    panel.dataset.uniqueid = item.uniqueid;
    $("review-title").textContent = t("reviews.review_of", { ticket: item.ticket, operator: item.operator });
    $("review-call").textContent = t("reviews.call_detail", { line: item.line, answered: fmt.dateTime(item.answered_at) });
    const audio = $("call-audio");
    if (item.has_recording) {
      audio.hidden = false;
      audio.src = recordingUrl(item.uniqueid);
    } else {
      audio.removeAttribute("src");
      audio.hidden = true;
    }
    const criteria = state.criteria.lines[item.line].filter(function (c) { return c.active; });
    clear($("criteria-rows"), criteria.map(function (c) {
      const options = c.kind === "yes_no"
        ? [[1, t("reviews.yes")], [0, t("reviews.no")]]
        : [5, 4, 3, 2, 1, 0].map(function (v) { return [v, String(v)]; });
      return el("tr", {},
        el("td", {}, el("label", { for: "score-" + c.code, text: criterionName(c) })),
        el("td", { class: "muted", title: t("reviews.weight"), text: t("reviews.weight_value", { weight: c.weight }) }),
        el("td", {}, el("select", { id: "score-" + c.code, "data-code": c.code, "data-top": c.top, "data-weight": c.weight, required: true, onchange: preview },
          el("option", { value: "", text: t("reviews.choose") }),
          options.map(function (o) { return el("option", { value: o[0], text: o[1] }); }))));
    }));
    $("review-notes").value = "";
    preview();
  }

  function chosen() {
    return Array.from(document.querySelectorAll("#criteria-rows select"));
  }

  /* The weighted score as the server computes it (tickets/reviews.py score_review). */
  function preview() {
    const selects = chosen();
    if (!selects.length || selects.some(function (s) { return s.value === ""; })) {
      $("score-preview").textContent = "–";
      return;
    }
    let earned = 0, total = 0;
    for (const s of selects) {
      const weight = Number(s.dataset.weight);
      earned += weight * Number(s.value) / Number(s.dataset.top);
      total += weight;
    }
    $("score-preview").textContent = percent(Math.round(earned / total * 10000) / 100);
  }

  async function saveReview(event) {
    event.preventDefault();
    const uniqueid = $("review-panel").dataset.uniqueid;
    const selects = chosen();
    if (selects.some(function (s) { return s.value === ""; })) {
      H.notify(t("reviews.missing_scores"), "error");
      return;
    }
    const scores = {};
    for (const s of selects) scores[s.dataset.code] = Number(s.value);
    const button = $("save-review");
    button.disabled = true;
    try {
      const review = await api("POST", "/api/v1/calls/" + encodeURIComponent(uniqueid) + "/reviews", { scores: scores, notes: $("review-notes").value });
      H.notify(t("reviews.saved", { ticket: review.ticket, score: percent(review.score) }), "ok");
      $("review-panel").hidden = true;
      $("call-audio").pause();
      state.selected = null;
      await Promise.all([loadQueue(), loadReviews(), loadTrends()]);
    } catch (err) {
      H.failed(err);
    } finally {
      button.disabled = false;
    }
  }

  /* ------------------------------------------------------------------ trends */
  async function loadTrends() {
    let trends;
    try {
      trends = await api("GET", "/api/v1/review-trends");
    } catch (err) {
      H.failed(err);
      return;
    }
    $("criteria-chart-title").hidden = !trends.weeks.length;  // no heading over an empty chart
    if (!trends.weeks.length) {
      clear($("trend-chart"), el("p", { class: "muted", text: t("reviews.no_trend") }));
      clear($("criteria-chart"));
      return;
    }
    const weeks = trends.week_starts;
    const operators = Array.from(new Set(trends.weeks.map(function (w) { return w.operator; }))).sort();
    const series = operators.slice(0, 4).map(function (name, j) {
      return {
        name: name, cls: "s" + j,
        values: weeks.map(function (week) {
          const found = trends.weeks.find(function (w) { return w.week === week && w.operator === name; });
          return found ? found.score : null;
        }),
      };
    });
    const labels = weeks.map(function (w) { return w.slice(8, 10) + "/" + w.slice(5, 7); });
    clear($("trend-chart"), H.charts.bars(labels, series, { max: 100, height: 180, width: 720 }), H.charts.legend(series));
    clear($("criteria-chart"), H.charts.hbars(trends.criteria.map(function (c) {
      return { label: c.operator + " · " + criterionName(c), value: c.share, text: percent(c.share) };
    }), { max: 100 }));
  }

  /* ------------------------------------------------------------------ reviews */
  function reviewCard(review, focus) {
    const rows = review.scores.map(function (s) {
      const value = s.top === 1 ? t(s.value ? "reviews.yes" : "reviews.no") : s.value + " / " + s.top;
      return el("tr", { "data-code": s.code },
        el("td", { text: criterionName(s) }),
        el("td", { class: "muted", text: t("reviews.weight_value", { weight: s.weight }) }),
        el("td", { class: "n", text: value }));
    });
    const answer = review.answer
      ? el("div", { class: "answer", "data-testid": "answer" },
        el("strong", { text: t("reviews.answer") + ": " }), review.answer, " ",
        el("span", { class: "muted", text: t("reviews.answered_at", { at: fmt.dateTime(review.answered_at) }) }))
      : role === "operator" ? answerForm(review) : null;
    return el("article", { class: "review" + (focus ? " focus" : ""), id: "review-" + review.id, "data-review": review.id, "data-uniqueid": review.uniqueid },
      el("header", {},
        el("span", { class: "score-big", "data-testid": "review-score", text: percent(review.score) }),
        el("strong", { text: review.ticket }),
        el("span", { text: t("common.line_" + review.line) }),
        oversees ? el("span", { text: t("reviews.operator_label", { operator: review.operator }) }) : null,
        el("span", { class: "muted", text: t("reviews.reviewed_by", { reviewer: review.reviewer, at: fmt.dateTime(review.reviewed_at) }) }),
        review.reasons.length ? el("span", { class: "badge", text: reasonText(review.reasons) }) : null),
      el("table", { class: "scores" }, el("tbody", {}, rows)),
      el("p", { class: "notes", "data-testid": "review-notes", text: review.notes || t("reviews.no_notes") }),
      review.has_recording
        ? el("figure", { class: "player" }, el("figcaption", { text: t("reviews.whole_call") }),
          el("audio", { controls: true, preload: "none", src: recordingUrl(review.uniqueid) }))
        : el("p", { class: "muted", text: t("reviews.no_recording") }),
      answer);
  }

  function answerForm(review) {
    const box = el("textarea", { rows: 2, maxlength: 4000, placeholder: t("reviews.answer_placeholder"), "aria-label": t("reviews.answer"), required: true });
    return el("form", { class: "answer-form", onsubmit: async function (event) {
      event.preventDefault();
      const button = event.target.querySelector("button");
      button.disabled = true;
      try {
        await api("POST", "/api/v1/reviews/" + review.id + "/answer", { answer: box.value });
        H.notify(t("reviews.answer_sent"), "ok");
        await loadReviews();
      } catch (err) {
        H.failed(err);
        button.disabled = false;
      }
    } }, box, el("button", { type: "submit", class: "primary", text: t("reviews.send_answer") }));
  }

  async function loadReviews() {
    const wanted = Number(new URLSearchParams(location.search).get("review")) || null;
    let list, focus = null;
    try {
      list = await api("GET", "/api/v1/reviews");
      if (wanted && !list.items.some(function (r) { return r.id === wanted; })) {
        focus = await api("GET", "/api/v1/reviews/" + wanted);
      }
    } catch (err) {
      H.failed(err);
      return;
    }
    const items = focus ? [focus].concat(list.items) : list.items;
    if (wanted) items.sort(function (a, b) { return (b.id === wanted) - (a.id === wanted); });
    $("reviews-empty").hidden = items.length > 0;
    clear($("review-list"), items.map(function (r) { return reviewCard(r, r.id === wanted); }));
    if (wanted && $("review-" + wanted)) $("review-" + wanted).scrollIntoView({ block: "nearest" });
  }

  async function focusReview(id) {
    history.replaceState(null, "", "?review=" + id);
    await loadReviews();
  }

  /* ------------------------------------------------------------------ criteria (admin) */
  function criterionRow(c) {
    return el("tr", { class: "criterion" },
      el("td", {}, el("input", { type: "text", name: "code", value: c.code || "", required: true, pattern: "[a-z][a-z0-9_]{0,39}", "aria-label": t("reviews.code") })),
      el("td", {}, el("input", { type: "text", name: "name_vi", value: c.name_vi || "", required: true, maxlength: 200, "aria-label": t("reviews.name_vi") })),
      el("td", {}, el("input", { type: "text", name: "name_en", value: c.name_en || "", required: true, maxlength: 200, "aria-label": t("reviews.name_en") })),
      el("td", {}, el("select", { name: "kind", "aria-label": t("reviews.kind") },
        ["scale", "yes_no"].map(function (k) { return el("option", { value: k, selected: c.kind === k, text: t("reviews.kind_" + k) }); }))),
      el("td", {}, el("input", { type: "number", name: "weight", min: 1, max: 100, value: c.weight || 1, required: true, "aria-label": t("reviews.weight") })),
      el("td", {}, el("button", { type: "button", text: t("reviews.remove"), onclick: function (event) { event.target.closest("tr").remove(); } })));
  }

  function showCriteria(config) {
    $("sample-size").value = config.sample_size;
    $("dispatch-target").value = config.dispatch_target_seconds;
    clear($("criteria-lines"), data.lines.map(function (line) {
      const body = el("tbody", { "data-line": line }, config.lines[line].filter(function (c) { return c.active; }).map(criterionRow));
      return el("div", { class: "criteria-line" },
        el("h3", { text: t("common.line_" + line) }),
        el("table", {},
          el("thead", {}, el("tr", {}, ["code", "name_vi", "name_en", "kind", "weight"].map(function (k) { return el("th", { text: t("reviews." + k) }); }), el("th"))),
          body),
        el("button", { type: "button", text: t("reviews.add_criterion"), onclick: function () { body.append(criterionRow({ kind: "scale", weight: 1 })); } }));
    }));
  }

  async function saveCriteria(event) {
    event.preventDefault();
    const lines = {};
    for (const body of document.querySelectorAll("#criteria-lines tbody")) {
      lines[body.dataset.line] = Array.from(body.querySelectorAll("tr")).map(function (row) {
        const field = function (name) { return row.querySelector("[name=" + name + "]").value; };
        return { code: field("code"), name_vi: field("name_vi"), name_en: field("name_en"), kind: field("kind"), weight: Number(field("weight")) };
      });
    }
    try {
      state.criteria = await api("PUT", "/api/v1/review-criteria", {
        sample_size: Number($("sample-size").value), dispatch_target_seconds: Number($("dispatch-target").value), lines: lines,
      });
      showCriteria(state.criteria);
      H.notify(t("reviews.criteria_saved"), "ok");
      await loadQueue();
    } catch (err) {
      H.failed(err);
    }
  }

  /* ------------------------------------------------------------------ start */
  async function start() {
    if (oversees) {
      $("week").value = data.today;
      $("week").addEventListener("change", loadQueue);
      $("review-form").addEventListener("submit", saveReview);
      try {
        state.criteria = await api("GET", "/api/v1/review-criteria");
      } catch (err) {
        H.failed(err);
        return;
      }
      if ($("criteria-form")) {
        showCriteria(state.criteria);
        $("criteria-form").addEventListener("submit", saveCriteria);
      }
      await Promise.all([loadQueue(), loadTrends(), loadReviews()]);
    } else {
      await loadReviews();
    }
    document.body.dataset.ready = "yes";
  }
  start();
})();
