/* The supervisor wallboard: per queue the callers waiting (the longest wait ticking), today's
   service level and abandoned calls; operators by state with time in state and the supervisor's
   actions (pause, unpause, log out, listen, whisper, barge); today's calls, service level and
   Erlang C staffing per 15 minutes; tickets per category and month. Live over the socket; every
   (re)connection reloads everything, so nothing from before a gap is shown as live. */
(function () {
  "use strict";

  const H = window.Hotline;
  const { t, el, clear, fmt } = H;
  const queueLines = H.data.queue_lines; // queue name -> line ("1022" | "115")
  const levels = H.data.service_levels; // [15, 20] seconds
  const EXTENSION_KEY = "hotline.wallboard.extension";
  const WINDOW_KEY = "hotline.wallboard.window";
  const STATES = ["available", "ringing", "on_call", "paused", "wrap_up", "unavailable"];
  const INTERVAL_MS = 15 * 60 * 1000;

  const state = {
    queues: {}, // name -> queue view (+ today)
    operators: {}, // interface -> operator view
    abandoned: [],
    staffing: null,
    loggedIn: [],
    intervals: [],
  };

  /* Times that tick: each element remembers when its count started on this browser's clock
     (received "N seconds" minus N), so the server's and the browser's clocks need not agree. */
  function ticking(node, seconds) {
    if (seconds === null || seconds === undefined) {
      delete node.dataset.since;
      node.textContent = t("common.none");
      return;
    }
    node.dataset.since = String(Date.now() - seconds * 1000);
    node.textContent = fmt.duration(seconds);
  }

  function tick() {
    for (const node of document.querySelectorAll("[data-since]")) {
      const seconds = (Date.now() - Number(node.dataset.since)) / 1000;
      node.textContent = fmt.duration(seconds);
      const limit = Number(node.dataset.limit || 0);
      if (limit && node.parentElement) {
        node.parentElement.dataset.level = seconds > limit ? "bad" : seconds > limit / 2 ? "warn" : "calm";
      }
    }
  }

  /* ---- queue tiles ---- */

  function tile(queue) {
    return document.querySelector('.wb-queue[data-queue="' + queue + '"]');
  }

  function field(root, name) {
    return root.querySelector('[data-field="' + name + '"]');
  }

  function targetOf(queue) {
    const line = queueLines[queue];
    return state.staffing && state.staffing.targets ? state.staffing.targets[line] : null;
  }

  function setLevel(node, level) {
    if (node && node.parentElement) node.parentElement.dataset.level = level;
  }

  function renderQueue(queue) {
    const root = tile(queue);
    if (!root) return;
    const view = state.queues[queue] || {};
    const known = view.waiting !== undefined;
    const waiting = known ? view.waiting.length : null;
    const waitingNode = field(root, "waiting");
    waitingNode.textContent = known ? fmt.number(waiting) : t("common.none");
    setLevel(waitingNode, !known || waiting === 0 ? "calm" : waiting > 2 ? "bad" : "warn");

    const longest = field(root, "longest");
    const target = targetOf(queue);
    longest.dataset.limit = String(target ? target.seconds : levels[0]);
    if (known && waiting > 0) ticking(longest, view.longest_wait_seconds);
    else {
      ticking(longest, null);
      setLevel(longest, "calm");
    }
    tick();

    field(root, "available").textContent = known
      ? fmt.number(view.operators_available) + " / " + fmt.number(view.operators_logged_in)
      : t("common.none");

    const today = view.today || {};
    const offered = (today.answered || 0) + (today.abandoned || 0);
    [["sl1", "answered_within_1", "service_level_1", levels[0]], ["sl2", "answered_within_2", "service_level_2", levels[1]]].forEach(
      function ([name, count, share, seconds]) {
        const node = field(root, name);
        node.textContent = fmt.percent(today[share]);
        field(root, name + "-label").textContent = t("wallboard.answered_within", { seconds: seconds });
        field(root, name + "-count").textContent = today[count] === undefined ? "" : t("wallboard.of_offered", { count: fmt.number(today[count]), offered: fmt.number(offered) });
        const goal = target && target.seconds === seconds ? target.target : null;
        setLevel(node, today[share] === null || today[share] === undefined || goal === null ? "calm" : today[share] >= goal ? "ok" : "bad");
      }
    );
    const abandoned = field(root, "abandoned");
    abandoned.textContent = today.abandoned === undefined ? t("common.none") : fmt.number(today.abandoned);
    setLevel(abandoned, today.abandoned ? "warn" : "calm");
    field(root, "received").textContent = today.received === undefined ? "" : t("wallboard.received_today", { count: fmt.number(today.received) });
    renderNeeded(queue);
  }

  function currentSlot() {
    const now = Date.now();
    return now - (now % INTERVAL_MS);
  }

  function renderNeeded(queue) {
    const root = tile(queue);
    if (!root || !state.staffing) return;
    const slot = currentSlot();
    const row = state.staffing.intervals.find(function (i) {
      return i.queue === queue && Date.parse(i.interval_start) === slot;
    });
    // no row: nobody called in this interval yet; a null need: no handling time known yet
    const needed = row ? row.operators_needed : 0;
    const view = state.queues[queue] || {};
    const node = field(root, "needed");
    node.textContent = fmt.number(needed);
    const logged = view.operators_logged_in;
    setLevel(node, logged === undefined || needed === null ? "calm" : logged >= needed ? "ok" : "bad");
    const target = targetOf(queue);
    field(root, "target").textContent = target
      ? t("wallboard.target", { level: fmt.percent(target.target), seconds: target.seconds }) + " · " + t("wallboard.needed_help")
      : "";
  }

  function renderQueues() {
    for (const queue of Object.keys(queueLines)) renderQueue(queue);
  }

  function showAsterisk(connected) {
    document.getElementById("asterisk-warning").hidden = connected;
    document.body.classList.toggle("asterisk-down", !connected);
  }

  /* ---- operators ---- */

  function interfacePath(iface) {
    return "/api/v1/operators/" + iface.split("/").map(encodeURIComponent).join("/");
  }

  function lineNames(queues) {
    return (queues || []).map(function (q) { return queueLines[q] || q; }).sort().join(" · ");
  }

  function confirmAction(message, verb) {
    const dialog = document.getElementById("confirm");
    document.getElementById("confirm-text").textContent = message;
    document.getElementById("confirm-ok").textContent = verb;
    dialog.returnValue = "";
    dialog.showModal();
    return new Promise(function (resolve) {
      dialog.addEventListener("close", function () { resolve(dialog.returnValue === "ok"); }, { once: true });
    });
  }

  async function act(op, action, button) {
    const label = op.name || op.interface;
    let body;
    if (action === "logout") {
      if (!(await confirmAction(t("wallboard.confirm_logout", { name: label }), t("wallboard.logout")))) return;
    } else if (action === "pause") {
      body = { reason: document.getElementById("pause-reason").value };
    } else if (action === "listen" || action === "whisper" || action === "barge") {
      const input = document.getElementById("my-extension");
      const extension = input.value.trim();
      if (!extension) {
        H.notify(t("wallboard.need_extension"), "error");
        input.focus();
        return;
      }
      if (action === "barge" && !(await confirmAction(t("wallboard.confirm_barge", { name: label }), t("wallboard.barge")))) return;
      body = { mode: action, extension: extension };
      action = "spy";
    }
    button.disabled = true;
    const spying = body && body.mode;
    const extension = spying ? body.extension : "";
    if (spying) H.notify(t("wallboard.calling_spy", { extension: extension, name: label }), "info", 35000);
    try {
      await H.api("POST", interfacePath(op.interface) + "/" + action, body);
      H.notify(t("wallboard.done_" + (spying ? body.mode : action), { name: label, extension: extension }), "ok");
    } catch (err) {
      // e.g. the softphone did not answer: said as such, never as if it had worked
      H.notify(err.message, "error", 10000);
    } finally {
      button.disabled = false;
    }
  }

  function actionButton(op, action, attrs) {
    const button = el("button", Object.assign({ type: "button", "data-action": action, text: t("wallboard." + action) }, attrs || {}));
    button.addEventListener("click", function () { act(op, action, button); });
    return button;
  }

  function operatorRow(op) {
    const since = el("span", { class: "tabular" });
    ticking(since, op.seconds_in_state);
    const onCall = op.state === "on_call";
    const badge = el("span", { class: "badge state state-" + op.state + (op.paused ? " paused" : ""), "data-testid": "state", "data-paused": String(!!op.paused), text: H.operatorState(op) });
    return el(
      "tr",
      { "data-interface": op.interface, "data-state": op.state },
      el("td", {}, el("strong", { text: op.name || op.interface }), el("div", { class: "muted small", text: op.interface })),
      el("td", {}, badge, op.pause_reason ? el("div", { class: "muted small", "data-testid": "pause-reason", text: op.pause_reason }) : null),
      el("td", { class: "n big-time" }, since),
      el("td", { class: "lines" }, lineNames(op.queues)),
      el("td", { class: "n" }, fmt.number(op.calls_handled)),
      el(
        "td",
        { class: "actions" },
        el(
          "div",
          { class: "wb-actions" },
          op.paused ? actionButton(op, "unpause", { class: "primary" }) : actionButton(op, "pause"),
          actionButton(op, "logout"),
          el("span", { class: "gap" }),
          actionButton(op, "listen", { disabled: !onCall, title: t("wallboard.spy_help") }),
          actionButton(op, "whisper", { disabled: !onCall, title: t("wallboard.spy_help") }),
          actionButton(op, "barge", { class: "danger", disabled: !onCall, title: t("wallboard.spy_help") })
        )
      )
    );
  }

  function renderOperators() {
    const ops = Object.values(state.operators).sort(function (a, b) {
      return STATES.indexOf(a.state) - STATES.indexOf(b.state) || (a.name || a.interface).localeCompare(b.name || b.interface);
    });
    clear(document.querySelector("#operators tbody"), ops.map(operatorRow));
    document.getElementById("no-operators").hidden = ops.length > 0;
    document.getElementById("operators").hidden = ops.length === 0;
    clear(
      document.getElementById("state-counts"),
      STATES.map(function (s) {
        const n = ops.filter(function (op) { return op.state === s; }).length;
        return el("li", { class: "state-" + s, "data-state": s, "data-count": String(n) }, el("span", { class: "wb-state-n", text: fmt.number(n) }), t("common.state_" + s));
      })
    );
  }

  /* ---- abandoned today ---- */

  function renderAbandoned() {
    const rows = state.abandoned.map(function (a) {
      return el(
        "tr",
        {},
        el("td", { class: "tabular" }, fmt.time(a.abandoned_at)),
        el("td", {}, queueLines[a.queue] || a.queue),
        el("td", { class: "tabular" }, a.caller_raw || t("wallboard.anonymous")),
        el("td", { class: "n" }, fmt.duration(a.hold_seconds)),
        el("td", {}, el("span", { class: "badge " + (a.status === "reached" ? "ok" : a.status === "unreachable" ? "bad" : "warn"), text: t("wallboard.callback_" + a.status) }))
      );
    });
    clear(document.querySelector("#abandoned tbody"), rows);
    document.getElementById("no-abandoned").hidden = rows.length > 0;
    document.getElementById("abandoned").hidden = rows.length === 0;
  }

  /* ---- loading ---- */

  async function loadLive() {
    try {
      const [queues, operators] = await Promise.all([H.api("GET", "/api/v1/queues"), H.api("GET", "/api/v1/operators")]);
      state.queues = {};
      for (const q of queues.items) state.queues[q.name] = q;
      state.abandoned = queues.abandoned_today;
      state.operators = {};
      for (const op of operators.items) state.operators[op.interface] = op;
      showAsterisk(queues.asterisk_connected);
    } catch (err) {
      if (err.errorId !== "asterisk-unavailable") throw err;
      state.queues = {};
      state.operators = {};
      state.abandoned = [];
      showAsterisk(false);
    }
    renderQueues();
    renderOperators();
    renderAbandoned();
  }

  /* The 15-minute slots shown: the last hours chosen (today's only), up to the current one. */
  function slotLabels() {
    const today = new Date();
    today.setHours(0, 0, 0, 0);
    const last = currentSlot();
    const hours = Number(document.getElementById("chart-window").value);
    const first = Math.max(today.getTime(), last - hours * 3600 * 1000 + INTERVAL_MS);
    const slots = [];
    for (let s = first; s <= last; s += INTERVAL_MS) slots.push(s);
    return slots;
  }

  function perSlot(slots, rows, queue, value) {
    const at = {};
    for (const r of rows) if (r.queue === queue) at[Date.parse(r.interval_start)] = r;
    return slots.map(function (s) { return at[s] ? value(at[s]) : null; });
  }

  /* A chart as tall on the screen as its neighbours (PLOT_PX), whatever the number of slots:
     the SVG scales to the width of its box, so its drawing height follows its drawing width. */
  const PLOT_PX = 190;
  function plot(figure, labels, series, options, px) {
    const box = figure.querySelector(".plot");
    let chart = H.charts.bars(labels, series, options);
    const width = chart.viewBox.baseVal.width;
    if (box.clientWidth > 0 && width > 0) {
      const height = Math.round(((px || PLOT_PX) * width) / box.clientWidth);
      chart = H.charts.bars(labels, series, Object.assign({}, options, { height: Math.max(120, height) }));
    }
    clear(box, chart, H.charts.legend(series));
  }

  /* Counts on an even scale, so the middle grid line is a whole number. */
  function countMax(series) {
    const top = Math.max(0, ...series.flatMap(function (s) { return s.values; }).filter(function (v) { return v !== null; }));
    return Math.max(2, Math.ceil(top / 2) * 2);
  }

  function renderCharts() {
    const rows = state.intervals;
    const staffing = state.staffing ? state.staffing.intervals : [];
    const slots = slotLabels();
    const labels = slots.map(function (s) { return fmt.time(new Date(s).toISOString()); });
    for (const row of document.querySelectorAll(".wb-chart-col")) {
      const queue = row.dataset.queue;
      const zero = function (v) { return v === null ? 0 : v; };
      const calls = [
        { name: t("wallboard.received"), values: perSlot(slots, rows, queue, function (r) { return r.received; }).map(zero), cls: "s0" },
        { name: t("wallboard.answered"), values: perSlot(slots, rows, queue, function (r) { return r.answered; }).map(zero), cls: "s2" },
        { name: t("wallboard.abandoned"), values: perSlot(slots, rows, queue, function (r) { return r.abandoned; }).map(zero), cls: "wb-bad" },
      ];
      plot(row.querySelector('[data-chart="calls"]'), labels, calls, { max: countMax(calls) });

      const share = function (key) {
        return function (r) {
          const offered = r.answered + r.abandoned;
          return offered ? r[key] / offered : null;
        };
      };
      const target = targetOf(queue);
      plot(row.querySelector('[data-chart="service"]'), labels, [
        { name: t("wallboard.answered_within", { seconds: levels[0] }), values: perSlot(slots, rows, queue, share("answered_within_1")), cls: "s0" },
        { name: t("wallboard.answered_within", { seconds: levels[1] }), values: perSlot(slots, rows, queue, share("answered_within_2")), cls: "s3" },
      ], { max: 1, percent: true, target: target ? target.target : undefined });
      row.querySelector('[data-field="chart-target"]').textContent = target
        ? "(" + t("wallboard.target_line", { level: fmt.percent(target.target), seconds: target.seconds }) + ")"
        : "";

      const staff = [
        { name: t("wallboard.operators_needed"), values: perSlot(slots, staffing, queue, function (r) { return r.operators_needed; }).map(zero), cls: "s1" },
        { name: t("wallboard.operators_logged_in"), values: perSlot(slots, state.loggedIn, queue, function (r) { return r.operators; }).map(zero), cls: "s2" },
      ];
      plot(row.querySelector('[data-chart="staffing"]'), labels, staff, { max: countMax(staff) });
    }
  }

  async function loadStats() {
    const [stats, staffing, loggedIn] = await Promise.all([
      H.api("GET", "/api/v1/stats/queues"),
      H.api("GET", "/api/v1/stats/staffing"),
      H.api("GET", "/api/v1/stats/logged-in"),
    ]);
    state.intervals = stats.intervals;
    state.staffing = staffing;
    state.loggedIn = loggedIn.items;
    renderCharts();
    renderQueues();
  }

  async function loadCategories() {
    const result = await H.api("GET", "/api/v1/stats/categories?months=12");
    const labels = result.months.map(function (m) { return m.slice(5) + "/" + m.slice(2, 4); });
    const series = result.categories.map(function (c) {
      return { name: t("wallboard.category_" + c.category) + " (" + fmt.number(c.total) + ")", values: c.counts, cls: "cat-" + c.category };
    });
    plot(document.querySelector('[data-testid="chart-categories"]'), labels, series, { max: countMax(series) }, 260);
  }

  /* The quality reviews' average score per week (all operators, weighted by their reviews). */
  async function loadQuality() {
    const trends = await H.api("GET", "/api/v1/review-trends");
    const any = trends.weeks.length > 0;
    document.getElementById("no-reviews").hidden = any;
    const figure = document.querySelector('[data-testid="chart-quality"]');
    figure.hidden = !any;
    if (!any) return;
    const weeks = trends.week_starts;
    const values = weeks.map(function (week) {
      const rows = trends.weeks.filter(function (w) { return w.week === week; });
      const reviews = rows.reduce(function (n, w) { return n + w.reviews; }, 0);
      const sum = rows.reduce(function (n, w) { return n + w.score * w.reviews; }, 0);
      return reviews ? Math.round(sum / reviews * 100) / 100 : null;
    });
    const labels = weeks.map(function (w) { return w.slice(8, 10) + "/" + w.slice(5, 7); });
    plot(figure, labels, [{ name: t("wallboard.quality_score"), values: values, cls: "s0" }], { max: 100, width: 640 }, 160);
  }

  /* Bursts of events (a caller joins, rings, is answered) reload once, a moment later. */
  function debounce(fn, ms) {
    let timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(function () { fn().catch(H.failed); }, ms);
    };
  }
  const refreshLive = debounce(loadLive, 800);
  const refreshStats = debounce(loadStats, 5000);

  function reloadAll() {
    loadLive().catch(H.failed);
    loadStats().catch(H.failed);
    loadCategories().catch(H.failed);
    loadQuality().catch(H.failed);
  }

  function onEvent(event) {
    if (event.kind === "hello" || event.kind === "resync") return;
    if (event.topic === "queues" && event.kind === "changed" && event.data && event.data.name) {
      const before = state.queues[event.data.name] || {};
      state.queues[event.data.name] = Object.assign({}, before, event.data);
      renderQueue(event.data.name);
      refreshLive();
    } else if (event.topic === "operators" && event.data && event.data.interface) {
      if (event.kind === "removed") delete state.operators[event.data.interface];
      else if (event.kind === "changed") state.operators[event.data.interface] = event.data;
      renderOperators();
    } else if (event.topic === "calls") {
      refreshLive();
      refreshStats();
    }
  }

  const chartWindow = document.getElementById("chart-window");
  chartWindow.value = localStorage.getItem(WINDOW_KEY) || "4";
  if (!chartWindow.value) chartWindow.value = "4";
  chartWindow.addEventListener("change", function () {
    localStorage.setItem(WINDOW_KEY, chartWindow.value);
    renderCharts();
  });

  const extension = document.getElementById("my-extension");
  extension.value = localStorage.getItem(EXTENSION_KEY) || "";
  extension.addEventListener("change", function () {
    const value = extension.value.trim();
    if (value) localStorage.setItem(EXTENSION_KEY, value);
    else localStorage.removeItem(EXTENSION_KEY);
  });

  setInterval(tick, 1000);
  // a safety net for figures no event announces (today's counts are stored after the event)
  setInterval(function () { loadLive().catch(H.failed); }, 30 * 1000);
  setInterval(function () { loadStats().catch(H.failed); }, 60 * 1000);
  H.live(["queues", "operators", "calls"], { onEvent: onEvent, onReload: reloadAll });
})();
