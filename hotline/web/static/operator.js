/* The operator console: softphone login and pause, the screen pop of the connected call with
   its transcript and recordings, the ticket form (classify, then forward to the routed agency),
   the callback worklist, the transfer between 1022 and 115, and on a 115 ticket the ambulance
   dispatch (classify, ask the nearest facility, its answer, milestones, outcome, timeline) in
   place of the agency. Every state comes from the API
   in reload(), which Hotline.live runs after each (re)connection: a call that ended while the
   socket was down is never shown as live. */
(function () {
  "use strict";

  const H = window.Hotline;
  const { t, api, el, clear, fmt } = H;
  const lang = H.data.lang;
  const $ = function (id) { return document.getElementById(id); };

  const state = {
    refs: null,          // categories, subcategories, localities, agencies
    interface: null,     // the operator's softphone, e.g. PJSIP/op101
    operator: null,      // the operator's row of GET /api/v1/operators
    call: null,          // the screen pop of the call on the panel
    live: false,         // the call on the panel is connected now (as far as we know)
    ended: null,         // why it is no longer live: "ended" | "transferred"
    ticket: null,        // GET /api/v1/tickets/{code} of the call's ticket
    routed: null,        // the agency the routing rules give for the form's category + locality
    touched: false,      // the operator changed the form: suggestions no longer overwrite it
    submitted: false,
    dispatch: null,      // GET /api/v1/tickets/{code}/dispatch of a 115 ticket
    timeline: [],        // GET /api/v1/tickets/{code}/timeline events of that ticket
    flagged: null,       // the uniqueid of the call this operator asked to be reviewed
  };

  function name(item) {
    return item ? (lang === "vi" ? item.name_vi : item.name_en) : "";
  }

  function lineLabel(line) {
    return t(line === "115" ? "common.line_115" : "common.line_1022");
  }

  function national(phone) {
    if (!phone) return t("common.none");
    return phone.startsWith("+84") ? "0" + phone.slice(3) : phone;
  }

  // ------------------------------------------------------------------ status

  function renderStatus() {
    const op = state.operator;
    $("phone-login").hidden = state.interface !== null;
    $("phone-session").hidden = state.interface === null;
    if (state.interface === null) return;
    $("interface").textContent = state.interface;
    const value = op ? op.state : "unavailable";
    const paused = !!(op && op.paused);
    const badge = $("state");
    badge.textContent = H.operatorState(op);
    badge.className = "badge state state-" + value + (paused ? " paused" : "");
    badge.dataset.state = value;
    badge.dataset.paused = String(paused);
    $("pause").hidden = paused;
    $("reason").parentElement.hidden = paused;
    $("unpause").hidden = !paused;
    $("pause-reason").textContent = paused && op.pause_reason ? reasonLabel(op.pause_reason) : "";
    tick();
  }

  function reasonLabel(reason) {
    const known = H.data.pause_reasons.find(function (r) { return r.reason === reason; });
    return known ? t("operator.reason_" + known.key) : reason;
  }

  function tick() {
    const op = state.operator;
    $("state-time").textContent = op && op.since ? fmt.duration((Date.now() - Date.parse(op.since)) / 1000) : "";
  }

  function statusError(err) {
    const box = $("status-error");
    box.hidden = !err;
    box.textContent = err ? err.message : "";
  }

  async function act(action, body) {
    try {
      await api("POST", "/api/v1/operators/me/" + action, body);
      statusError(null);
      await loadMe();
    } catch (err) {
      statusError(err);
    }
  }

  // ------------------------------------------------------------------ the call

  function showCall(pop, live) {
    const same = state.call && state.call.uniqueid === pop.uniqueid && state.call.code === pop.code;
    state.call = pop;
    state.live = live;
    state.ended = null;
    if (!same) {
      state.ticket = null;
      state.touched = false;
      state.submitted = false;
      state.dispatch = null;
      state.timeline = [];
      $("ticket-result").hidden = true;
      $("ticket-form").hidden = false;
      $("form-error").hidden = true;
      $("ticket-form").reset();
    }
    renderCall();
    if (pop.code) {
      loadTicket().catch(H.failed);
      if (!same) loadEarlier().catch(H.failed);
    }
  }

  function markEnded(reason) {
    if (!state.call) return;
    state.live = false;
    state.ended = state.ended || reason;
    renderCall();
  }

  function renderCall() {
    const panel = $("call-panel");
    const call = state.call;
    $("call-empty").hidden = call !== null;
    $("call-body").hidden = call === null;
    const badge = $("call-badge");
    const offline = document.body.classList.contains("offline");
    let panelState = "idle";
    if (call && offline && state.live) panelState = "stale";
    else if (call && state.live) panelState = "live";
    else if (call) panelState = "ended";
    panel.dataset.state = panelState;
    badge.hidden = panelState === "idle";
    badge.dataset.state = panelState;
    badge.textContent = panelState === "idle" ? "" : t("operator.call_" + (panelState === "ended" && state.ended === "transferred" ? "transferred" : panelState));
    badge.className = "badge " + ({ live: "ok", stale: "warn", ended: "" }[panelState] || "");
    const transfer = $("transfer");
    transfer.hidden = !(call && state.live && !offline);
    const flag = $("flag-review");
    flag.hidden = !call || offline;
    flag.disabled = !!call && state.flagged === call.uniqueid;
    if (!call) {
      $("ticket-card").hidden = true;
      $("dispatch-card").hidden = true;
      return;
    }
    const other = call.line === "115" ? "1022" : "115";
    transfer.dataset.line = other;
    transfer.textContent = t("operator.transfer_to", { line: other });
    $("caller").textContent = call.caller_phone_national || call.caller_raw || t("operator.unknown_caller");
    $("line").textContent = lineLabel(call.line);
    $("line").className = "line line-" + call.line;
    $("ticket-code").textContent = call.code || t("common.none");
    $("category").textContent = categoryName(call.category);
    $("waited").textContent = call.hold_seconds !== undefined ? fmt.duration(call.hold_seconds) : t("common.none");
    clear($("ivr-path"), (call.ivr_path || []).map(function (step) {
      const data = Object.assign({}, step);
      delete data.step;
      delete data.at;
      return el("li", { "data-kind": step.step }, H.eventText({ kind: step.step, data: data }, names()));
    }));
    renderTranscript();
    // a call moved to the other line leaves its ticket to that line's operator (transferred:
    // nothing more to classify here)
    $("ticket-card").hidden = !call.code || (state.ended === "transferred" && !state.submitted);
    $("form-code").textContent = call.code || "";
    applyLine();
    renderDispatch();
  }

  function isMedical() {
    return !!(state.call && state.call.line === "115");
  }

  // A 115 ticket is classified, then an ambulance is dispatched: no agency to forward to, and
  // the locality (where the nearest facility is looked for) is needed.
  function applyLine() {
    const medical = isMedical();
    $("agency-field").hidden = medical;
    $("public-summary-field").hidden = medical;  // Open311 publishes 1022 requests only
    $("f-agency").required = !medical;
    $("f-locality").required = medical;
    $("submit-ticket").textContent = t(medical ? "operator.dispatch" : "operator.submit");
    $("submit-ticket").classList.toggle("danger", medical);
    $("submit-ticket").classList.toggle("primary", !medical);
  }

  function categoryName(code) {
    const found = state.refs && state.refs.categories.find(function (c) { return c.code === code; });
    return found ? name(found) : code || t("common.none");
  }

  function renderTranscript() {
    const ticket = state.ticket;
    const call = state.call;
    const text = (ticket && ticket.transcript) || (call && call.transcript) || "";
    const raw = (call && call.transcript_status) || "none";
    const status = raw === "none" ? "" : raw;
    $("transcript").textContent = text || t(raw === "no_model" ? "operator.no_transcript_model" : "operator.no_transcript");
    $("transcript").classList.toggle("muted", !text);
    const badge = $("transcript-status");
    badge.hidden = !status;
    badge.textContent = status ? t("operator.transcript_" + status) : "";
    recordingPlayers($("recordings"), ["description", "location"]);
  }

  /* Players of the ticket's recordings in ``box``. Players already there for the same files are
     kept, so a re-render (a state change, a transcript) never stops what is being heard. */
  function recordingPlayers(box, kinds) {
    const call = state.call;
    const source = state.ticket || call || {};
    const shown = kinds.filter(function (kind) { return call && call.code && source[kind + "_recording"]; });
    const sources = shown.map(function (kind) {
      return "/api/v1/tickets/" + encodeURIComponent(call.code) + "/recordings/" + kind;
    });
    const current = Array.from(box.querySelectorAll("audio")).map(function (a) { return a.getAttribute("src"); });
    if (current.join("|") === sources.join("|")) return;
    clear(box, shown.map(function (kind, i) {
      return el("figure", { class: "player", "data-kind": kind },
        el("figcaption", { text: t("operator.recording_" + kind) }),
        el("audio", { controls: true, preload: "metadata", src: sources[i] }));
    }));
  }

  async function loadTicket() {
    const code = state.call.code;
    const ticket = await api("GET", "/api/v1/tickets/" + encodeURIComponent(code));
    if (!state.call || state.call.code !== code) return;
    state.ticket = ticket;
    const done = ticket.events.filter(function (e) { return e.kind === "transcript"; }).pop();
    if (done && state.call.transcript_status !== "done") state.call.transcript_status = "done";
    renderTranscript();
    if (!state.touched && !state.submitted) await prefill();
    if (isMedical()) await loadDispatch();
  }

  async function loadEarlier() {
    const call = state.call;
    const phone = call.caller_phone_national || call.caller_phone;
    if (!phone) {
      clear($("earlier"), el("p", { class: "muted", text: t("operator.no_earlier") }));
      return;
    }
    const page = await api("GET", "/api/v1/tickets?limit=10&phone=" + encodeURIComponent(phone));
    if (state.call !== call) return;
    const items = page.items.filter(function (item) { return item.code !== call.code; });
    clear($("earlier"), items.length
      ? el("table", { class: "compact" }, el("tbody", {}, items.map(function (item) {
        return el("tr", {},
          el("td", {}, el("strong", { text: item.code })),
          el("td", { text: categoryName(item.category) }),
          el("td", {}, el("span", { class: "badge", text: item.status })),
          el("td", { class: "n", text: fmt.dateTime(item.created_at) }));
      })))
      : el("p", { class: "muted", text: t("operator.no_earlier") }));
  }

  // ------------------------------------------------------------------ the ticket form

  function suggestion() {
    const events = state.ticket ? state.ticket.events : [];
    for (let i = events.length - 1; i >= 0; i--) {
      if (events[i].kind === "transcript" && events[i].data && events[i].data.suggestion) return events[i].data.suggestion;
    }
    return null;
  }

  function categoriesFor(line) {
    return state.refs.categories.filter(function (c) {
      if (c.code === "unclassified") return false;
      return line === "115" ? c.code === "medical" : c.code !== "medical";
    });
  }

  function fillSelect(select, items, value, empty) {
    clear(select, empty ? el("option", { value: "", text: empty }) : null,
      items.map(function (item) { return el("option", { value: item.code, text: name(item) }); }));
    select.value = value || "";
  }

  function fillSubcategories(value) {
    const category = $("f-category").value;
    const subs = state.refs.subcategories.filter(function (s) { return s.category === category; });
    fillSelect($("f-subcategory"), subs, value, t("operator.none_selected"));
  }

  async function prefill() {
    const ticket = state.ticket;
    const hint = suggestion();
    const allowed = categoriesFor(ticket.line);
    const wanted = [hint && hint.category, ticket.category].find(function (code) {
      return code && allowed.some(function (c) { return c.code === code; });
    });
    fillSelect($("f-category"), allowed, wanted || "", t("operator.choose"));
    fillSubcategories("");
    fillSelect($("f-locality"), state.refs.localities, ticket.locality || "", t("operator.none_selected"));
    fillSelect($("f-agency"), state.refs.agencies.filter(function (a) { return a.active; }), "", t("operator.choose"));
    $("f-description").value = ticket.description || "";
    $("f-location").value = ticket.location || "";
    $("f-public-summary").value = "";
    const shown = $("suggestion");
    shown.hidden = !hint || ticket.line === "115";
    shown.textContent = hint
      ? t("operator.suggested", { category: categoryName(hint.category), agency: agencyName(hint.agency), confidence: fmt.percent(hint.confidence) })
      : "";
    await route();
    if (hint && hint.agency && $("f-category").value === hint.category) $("f-agency").value = hint.agency;
  }

  function agencyName(code) {
    const found = state.refs.agencies.find(function (a) { return a.code === code; });
    return found ? name(found) : code;
  }

  async function route() {
    const category = $("f-category").value;
    state.routed = null;
    if (!category || isMedical()) return;
    const query = new URLSearchParams({ category: category });
    if ($("f-subcategory").value) query.set("subcategory", $("f-subcategory").value);
    if ($("f-locality").value) query.set("locality", $("f-locality").value);
    const decision = await api("GET", "/api/v1/routing?" + query.toString());
    state.routed = decision.agency;
    $("f-agency").value = decision.agency;
  }

  async function submitTicket(event) {
    event.preventDefault();
    const code = state.call.code;
    const form = $("ticket-form");
    const button = $("submit-ticket");
    const error = $("form-error");
    error.hidden = true;
    button.disabled = true;
    try {
      const body = { category: $("f-category").value };
      for (const [field, id] of [["subcategory", "f-subcategory"], ["locality", "f-locality"], ["description", "f-description"], ["location", "f-location"], ["public_summary", "f-public-summary"]]) {
        const value = $(id).value.trim();
        if (value) body[field] = value;
      }
      const path = "/api/v1/tickets/" + encodeURIComponent(code);
      await api("POST", path + "/classify", body);
      state.call.category = body.category;  // the call card said what the caller pressed
      $("category").textContent = categoryName(body.category);
      if (isMedical()) {
        // Classified with the locality first: the nearest facility is looked for from there.
        state.submitted = true;
        await api("POST", path + "/dispatch");
        await loadDispatch();
        return;
      }
      const agency = $("f-agency").value;
      // The routing rules decide unless the operator picked another agency (recorded as manual).
      const forwarded = await api("POST", path + "/forward", agency && agency !== state.routed ? { agency: agency } : {});
      state.submitted = true;
      form.hidden = true;
      const result = $("ticket-result");
      clear(result,
        el("p", { class: "ok-line" }, el("strong", { text: t("operator.submitted") })),
        el("dl", { class: "facts" },
          el("div", {}, el("dt", { text: t("operator.ticket") }), el("dd", { class: "big", "data-testid": "result-code", text: forwarded.code })),
          el("div", {}, el("dt", { text: t("operator.agency") }), el("dd", { "data-testid": "result-agency", text: agencyName(forwarded.agency_code) })),
          el("div", {}, el("dt", { text: t("operator.deadline") }), el("dd", { "data-testid": "result-deadline", text: fmt.dateTime(forwarded.deadline_at) }))));
      result.hidden = false;
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------------ 115 dispatch

  function dispatchPath(suffix) {
    return "/api/v1/tickets/" + encodeURIComponent(state.call.code) + suffix;
  }

  async function loadDispatch() {
    if (!isMedical() || !state.call.code) return;
    const code = state.call.code;
    const [dispatch, timeline] = await Promise.all([
      api("GET", dispatchPath("/dispatch")), api("GET", dispatchPath("/timeline")),
    ]);
    if (!state.call || state.call.code !== code) return;
    state.dispatch = dispatch;
    state.timeline = timeline.events.filter(function (e) { return e.ticket === code; });
    renderDispatch();
  }

  function offline() {
    return document.body.classList.contains("offline");
  }

  function clock(iso) {
    return new Date(iso).toLocaleTimeString(lang === "vi" ? "vi-VN" : "en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function facilityName(attempt) {
    return lang === "vi" ? attempt.name_vi : attempt.name_en;
  }

  function outcomeLabel(outcome) {
    return t("events.outcome_" + outcome);
  }

  function renderDispatch() {
    const d = state.dispatch;
    const card = $("dispatch-card");
    card.hidden = !(isMedical() && d);
    if (card.hidden) return;
    const started = d.attempts.length > 0 || d.outcome !== null || d.no_vehicle;
    // Once an ambulance is asked for, the panel replaces the form (classified already).
    if (started) $("ticket-card").hidden = true;
    const frozen = offline();
    $("dispatch-code").textContent = d.code;
    card.dataset.state = d.outcome ? "done" : d.pending ? "pending" : d.accepted ? "accepted" : d.no_vehicle ? "no_vehicle" : "none";

    let status;
    if (d.pending) {
      status = [
        el("p", { class: "big-line" }, el("strong", { "data-testid": "pending-facility", text: t("operator.dispatch_pending", { facility: facilityName(d.pending) }) })),
        el("dl", { class: "facts" },
          el("div", {}, el("dt", { text: t("operator.sent_at") }), el("dd", { class: "tabular", text: clock(d.pending.sent_at) })),
          el("div", {}, el("dt", { text: t("operator.due_at") }), el("dd", { class: "tabular", text: clock(d.pending.due_at) })),
          el("div", {}, el("dt", { text: "" }), el("dd", { id: "countdown", class: "countdown tabular", "data-testid": "countdown" }))),
      ];
    } else if (d.accepted) {
      const answered = state.timeline.filter(function (e) { return e.kind === "dispatch_accepted"; }).pop();
      const time = clock(answered ? answered.at : d.accepted.sent_at);
      status = el("p", { class: "ok-line" }, el("strong", { "data-testid": "accepted-facility", text: t("operator.dispatch_accepted", { facility: facilityName(d.accepted), time: time }) }));
    } else if (d.no_vehicle) {
      status = el("p", { class: "error", text: t("operator.dispatch_no_vehicle") });
    } else {
      status = el("p", { class: "muted", text: t("operator.dispatch_none") });
    }
    clear($("dispatch-status"), status);
    recordingPlayers($("dispatch-address"), ["location"]);
    $("dispatch-answer").hidden = !d.pending;
    for (const id of ["dispatch-accept", "dispatch-decline", "decline-reason"]) $(id).disabled = frozen;
    tickDispatch();

    $("attempts-empty").hidden = d.attempts.length > 0;
    $("attempts").hidden = d.attempts.length === 0;
    clear($("attempts-body"), d.attempts.map(function (a) {
      const kind = { accepted: "ok", declined: "bad", timed_out: "warn", pending: "" }[a.result];
      return el("tr", { "data-result": a.result },
        el("td", { class: "n", text: a.seq }),
        el("td", {}, el("strong", { text: facilityName(a) })),
        el("td", { class: "tabular", text: clock(a.sent_at) }),
        el("td", { class: "tabular", text: clock(a.due_at) }),
        el("td", {}, el("span", { class: "badge " + kind, text: t("operator.result_" + a.result) }),
          a.reason ? el("div", { class: "muted", text: a.reason }) : null));
    }));

    const closed = d.outcome !== null;
    clear($("milestones"), Object.entries(d.milestones).map(function ([kind, at]) {
      return el("button", {
        type: "button",
        class: "milestone" + (at ? " done" : ""),
        "data-kind": kind,
        disabled: frozen || closed || !!at || !d.accepted,
        onclick: function () { milestone(kind); },
      }, (at ? "✓ " : "") + t("operator.milestone_" + kind), at ? el("span", { class: "muted tabular", text: " " + clock(at) }) : null);
    }));

    $("outcome-form").hidden = closed;
    $("outcome-done").hidden = !closed;
    $("outcome-done").textContent = closed ? t("operator.outcome_recorded", { outcome: outcomeLabel(d.outcome), time: clock(d.completed_at) }) : "";
    const select = $("outcome");
    if (select.options.length !== d.outcomes.length + 1) {
      fillSelect(select, d.outcomes.map(function (o) { return { code: o, name_vi: outcomeLabel(o), name_en: outcomeLabel(o) }; }), "", t("operator.choose"));
    }
    $("complete").disabled = frozen;
    select.disabled = frozen;

    clear($("dispatch-timeline"), state.timeline.map(function (e) {
      return el("li", { "data-kind": e.kind },
        el("span", { class: "tabular muted", text: clock(e.at) }), " ",
        el("span", { text: H.eventText(e, names()) }),
        el("span", { class: "muted actor", text: " · " + H.actorName(e.actor) }));
    }));
  }

  /* How this page names the codes in timeline events (hotline.js eventText). */
  function names() {
    return {
      category: categoryName,
      agency: agencyName,
      facility: function (code) {
        const asked = state.dispatch ? state.dispatch.attempts.find(function (a) { return a.facility === code; }) : null;
        return asked ? facilityName(asked) : code;
      },
    };
  }

  function tickDispatch() {
    const d = state.dispatch;
    const box = $("countdown");
    if (!d || !d.pending || !box) return;
    const left = (Date.parse(d.pending.due_at) - Date.now()) / 1000;
    box.textContent = left > 0 ? t("operator.remaining", { duration: fmt.duration(left) }) : t("operator.dispatch_overdue");
    box.classList.toggle("overdue", left <= 0);
    box.classList.toggle("soon", left > 0 && left <= 30);
    // an overdue request is moved on by the back-office sweeper, whose change arrives as a
    // "tickets" event for this ticket (and reloads the panel)
  }

  async function dispatchAction(suffix, body) {
    const error = $("dispatch-error");
    error.hidden = true;
    try {
      const reply = await api("POST", dispatchPath(suffix), body);
      await loadDispatch();
      return reply;
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      await loadDispatch().catch(H.failed);
      return null;
    }
  }

  async function answer(accepted) {
    const reason = $("decline-reason").value.trim();
    if (!accepted && !reason) {
      $("dispatch-error").textContent = t("operator.reason_required");
      $("dispatch-error").hidden = false;
      $("decline-reason").focus();
      return;
    }
    const asked = state.dispatch.pending;
    const reply = await dispatchAction("/dispatch/answer", accepted ? { accepted: true } : { accepted: false, reason: reason });
    if (!reply) return;
    $("decline-reason").value = "";
    if (!accepted && reply.pending && state.dispatch.pending) {
      H.notify(t("operator.dispatch_moved", { facility: facilityName(asked), next: facilityName(state.dispatch.pending) }), "info");
    }
  }

  function milestone(kind) {
    dispatchAction("/milestones", { kind: kind });
  }

  function complete() {
    const outcome = $("outcome").value;
    if (!outcome) {
      $("outcome").focus();
      return;
    }
    dispatchAction("/complete", { outcome: outcome });
  }

  // ------------------------------------------------------------------ transfer

  async function transfer() {
    const call = state.call;
    const line = $("transfer").dataset.line;
    $("transfer").disabled = true;
    try {
      const result = await api("POST", "/api/v1/calls/" + encodeURIComponent(call.uniqueid) + "/transfer", { line: line });
      H.notify(t("operator.transferred", { line: line, ticket: result.new_ticket || result.ticket || "" }), "info");
      markEnded("transferred");
    } catch (err) {
      H.failed(err);
    } finally {
      $("transfer").disabled = false;
    }
  }

  // ------------------------------------------------------------------ review

  /* The operator asks for this call to be reviewed (it joins the week's review queue). */
  async function flagReview() {
    const call = state.call;
    $("flag-review").disabled = true;
    try {
      await api("POST", "/api/v1/calls/" + encodeURIComponent(call.uniqueid) + "/flag", { reason: "operator" });
      state.flagged = call.uniqueid;
      H.notify(t("operator.flagged_review"), "ok");
    } catch (err) {
      H.failed(err);
    }
    renderCall();
  }

  // ------------------------------------------------------------------ callbacks

  async function loadCallbacks() {
    const page = await api("GET", "/api/v1/callbacks");
    const items = page.items.slice().sort(function (a, b) { return (b.line === "115") - (a.line === "115"); });
    $("callbacks-count").textContent = String(items.length);
    $("callbacks-empty").hidden = items.length > 0;
    clear($("callbacks-body"), items.map(function (cb) {
      const actions = cb.status === "calling"
        ? [el("button", { type: "button", class: "primary", text: t("operator.reached"), onclick: function () { callbackAction(cb, "result", { reached: true }); } }),
          el("button", { type: "button", text: t("operator.not_reached"), onclick: function () { callbackAction(cb, "result", { reached: false }); } })]
        : [el("button", { type: "button", class: "primary", text: t("operator.call_back"), disabled: !cb.phone || state.interface === null, onclick: function () { callbackAction(cb, "call"); } })];
      return el("tr", { "data-callback": cb.id, class: "cb-" + cb.line },
        el("td", {}, el("span", { class: "badge " + (cb.line === "115" ? "bad" : ""), text: cb.line })),
        el("td", {}, el("strong", { text: national(cb.phone) }), cb.ticket_code ? el("div", { class: "muted code", text: cb.ticket_code }) : null),
        el("td", {}, fmt.time(cb.abandoned_at), el("div", { class: "muted", text: t("operator.held", { duration: fmt.duration(cb.hold_seconds) }) })),
        el("td", { class: "n", text: cb.attempts }),
        el("td", {}, el("div", { class: "actions" }, actions)));
    }));
  }

  async function callbackAction(cb, action, body) {
    try {
      await api("POST", "/api/v1/callbacks/" + cb.id + "/" + action, body);
    } catch (err) {
      H.failed(err);
    }
    await loadCallbacks().catch(H.failed);
  }

  // ------------------------------------------------------------------ loading

  async function loadRefs() {
    if (state.refs) return;
    const [categories, localities, agencies] = await Promise.all([
      api("GET", "/api/v1/categories"), api("GET", "/api/v1/localities"), api("GET", "/api/v1/agencies"),
    ]);
    state.refs = {
      categories: categories.categories,
      subcategories: categories.subcategories,
      localities: localities.items,
      agencies: agencies.items,
    };
  }

  async function loadMe() {
    const me = await api("GET", "/api/v1/operators/me/call");
    state.interface = me.logged_in ? me.interface : null;
    state.operator = me.operator;
    renderStatus();
    if (me.call) showCall(me.call, true);
    else markEnded("ended");
  }

  async function reload() {
    try {
      await loadRefs();
      await Promise.all([loadMe(), loadCallbacks()]);
      // The call may have ended while the socket was down; its ambulance dispatch goes on.
      if (state.call && !state.live && isMedical()) await loadDispatch();
    } catch (err) {
      H.failed(err);
    }
  }

  function onEvent(event) {
    const data = event.data || {};
    if (event.topic === "me" && event.kind === "screen_pop") {
      showCall(data, true);
    } else if (event.topic === "operators" && data.interface === state.interface) {
      if (event.kind === "removed") {
        state.operator = null;
        loadMe().catch(H.failed);
        return;
      }
      state.operator = data;
      renderStatus();
      if (state.call && state.live && data.current_call !== state.call.uniqueid) markEnded("ended");
    } else if (event.topic === "calls" && (event.kind === "callback_added" || event.kind === "callback_changed")) {
      loadCallbacks().catch(H.failed);
    } else if (event.topic === "calls" && state.call && data.uniqueid === state.call.uniqueid) {
      if (event.kind === "completed") markEnded("ended");
      if (event.kind === "transferred") markEnded("transferred");
    } else if (event.topic === "tickets" && event.kind === "transcript" && state.call && data.code === state.call.code) {
      state.call.transcript_status = data.transcript_status;
      loadTicket().catch(H.failed);
    } else if (event.topic === "tickets" && state.call && data.code === state.call.code && isMedical()) {
      loadDispatch().catch(H.failed);
    }
  }

  $("phone-login").addEventListener("submit", function (event) {
    event.preventDefault();
    act("login", { extension: $("extension").value.trim() });
  });
  $("pause").addEventListener("click", function () { act("pause", { reason: $("reason").value }); });
  $("unpause").addEventListener("click", function () { act("unpause"); });
  $("phone-logout").addEventListener("click", function () { act("logout"); });
  $("transfer").addEventListener("click", transfer);
  $("flag-review").addEventListener("click", flagReview);
  $("ticket-form").addEventListener("submit", submitTicket);
  $("dispatch-accept").addEventListener("click", function () { answer(true); });
  $("dispatch-decline").addEventListener("click", function () { answer(false); });
  $("complete").addEventListener("click", complete);
  $("f-category").addEventListener("change", function () {
    state.touched = true;
    fillSubcategories("");
    route().catch(H.failed);
  });
  for (const id of ["f-subcategory", "f-locality"]) {
    $(id).addEventListener("change", function () { state.touched = true; route().catch(H.failed); });
  }
  for (const id of ["f-agency", "f-description", "f-location", "f-public-summary"]) {
    $(id).addEventListener("input", function () { state.touched = true; });
  }
  setInterval(function () { tick(); tickDispatch(); }, 1000);

  H.live(["me", "calls", "tickets", "operators"], {
    onEvent: onEvent,
    onOffline: renderCall,  // also freezes the dispatch panel (renderDispatch)
    onReload: reload,
  });
})();
