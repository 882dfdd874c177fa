/* The agency inbox: the agency's tickets (overdue first), one ticket's details, history and
   files, and its actions: accept, answer with an optional file, ask to reassign. The list is
   reloaded after every (re)connection of the live socket, after each action, and every minute. */
(function () {
  "use strict";
  const H = window.Hotline;
  const { t, el, clear, fmt } = H;
  const data = H.data;
  const isAgency = data.user.role === "agency";
  const PAGE = 50;
  const state = { status: "open", offset: 0, total: 0, selected: null, items: [] };
  const agencyNames = {};
  const categoryNames = {};

  function name(pair) {
    if (!pair) return null;
    return (data.lang === "en" ? pair.en : pair.vi) || pair.vi || null;
  }

  function statusBadge(status) {
    const cls = { forwarded: "warn", accepted: "", responded: "ok", closed: "ok" }[status] || "";
    return el("span", { class: "badge " + cls, "data-status": status, text: t("agency.status_" + status) });
  }

  /* ------------------------------------------------------------------ agency choice */
  async function agencyChoice() {
    const select = document.getElementById("agency-select");
    let agencies = [];
    try {
      const [listed, categories] = await Promise.all([H.api("GET", "/api/v1/agencies"), H.api("GET", "/api/v1/categories")]);
      agencies = listed.items;
      for (const c of categories.categories) categoryNames[c.code] = data.lang === "en" ? c.name_en : c.name_vi;
    } catch (err) {
      H.failed(err);
      return;
    }
    for (const agency of agencies) agencyNames[agency.code] = data.lang === "en" ? agency.name_en : agency.name_vi;
    const current = data.agency;
    const label = agencies.find(function (a) { return a.code === current; });
    if (label) document.getElementById("agency-name").textContent = agencyNames[label.code];
    if (!select) return;
    for (const agency of agencies.filter(function (a) { return a.active; })) {
      select.append(el("option", { value: agency.code, selected: agency.code === current }, data.lang === "en" ? agency.name_en : agency.name_vi));
    }
    select.addEventListener("change", function () {
      if (select.value) location.assign("/agency?agency=" + encodeURIComponent(select.value));
    });
  }

  /* ------------------------------------------------------------------ the list */
  function query() {
    const params = new URLSearchParams({ status: state.status, limit: String(PAGE), offset: String(state.offset) });
    if (!isAgency) params.set("agency", data.agency);
    return "/api/v1/agency/tickets?" + params.toString();
  }

  async function loadList() {
    let page;
    try {
      page = await H.api("GET", query());
    } catch (err) {
      H.failed(err);
      return;
    }
    state.items = page.items;
    state.total = page.total;
    renderList();
    if (state.selected) {
      const still = state.items.find(function (i) { return i.code === state.selected; });
      if (still) await showTicket(still);
    }
  }

  function renderList() {
    const rows = document.getElementById("inbox-rows");
    document.getElementById("inbox-count").textContent = t("agency.count", { shown: state.items.length, total: state.total });
    document.getElementById("page-prev").disabled = state.offset === 0;
    document.getElementById("page-next").disabled = state.offset + PAGE >= state.total;
    if (!state.items.length) {
      clear(rows, el("tr", {}, el("td", { colspan: "7", class: "muted", text: t("agency.empty") })));
      return;
    }
    clear(rows, state.items.map(function (item) {
      const deadline = item.deadline_at
        ? [fmt.dateTime(item.deadline_at), item.overdue ? el("span", { class: "badge bad", text: t("agency.overdue") }) : null]
        : t("agency.no_deadline");
      return el("tr", {
        class: (item.overdue ? "overdue " : "") + (item.code === state.selected ? "selected" : ""),
        "data-code": item.code,
        tabindex: "0",
        onclick: function () { select(item); },
        onkeydown: function (event) { if (event.key === "Enter") select(item); },
      },
        el("td", { class: "code", text: item.code }),
        el("td", { text: name(item.category_name) || item.category }),
        el("td", { text: name(item.locality_name) || item.locality || t("common.none") }),
        el("td", {}, statusBadge(item.status)),
        el("td", { class: "when", text: fmt.dateTime(item.created_at) }),
        el("td", { class: "when" }, deadline),
        el("td", { class: "summary" }, el("div", { class: "clamp", text: item.summary || t("common.none") })));
    }));
  }

  function select(item) {
    state.selected = item.code;
    for (const row of document.querySelectorAll("#inbox-rows tr")) {
      row.classList.toggle("selected", row.dataset.code === item.code);
    }
    showTicket(item);
  }

  /* ------------------------------------------------------------------ one ticket */
  /* How this page names the codes in timeline events (hotline.js eventText). */
  const eventNames = {
    agency: function (code) { return agencyNames[code] || code; },
    category: function (code) { return categoryNames[code] || code; },
  };

  async function showTicket(item) {
    const pane = document.getElementById("ticket-detail");
    const path = "/api/v1/tickets/" + encodeURIComponent(item.code);
    let timeline, files;
    try {
      [timeline, files] = await Promise.all([H.api("GET", path + "/timeline"), H.api("GET", path + "/attachments"), named]);
    } catch (err) {
      H.failed(err);
      return;
    }
    if (state.selected !== item.code) return;
    const open = item.status === "forwarded" || item.status === "accepted";
    clear(pane,
      el("h2", { text: item.code }),
      el("dl", {},
        el("dt", { text: t("agency.col_status") }), el("dd", {}, statusBadge(item.status), item.overdue ? [" ", el("span", { class: "badge bad", text: t("agency.overdue") })] : null),
        el("dt", { text: t("agency.col_category") }), el("dd", { text: name(item.category_name) || item.category }),
        el("dt", { text: t("agency.col_locality") }), el("dd", { text: name(item.locality_name) || item.locality || t("common.none") }),
        el("dt", { text: t("agency.caller") }), el("dd", { "data-testid": "caller-phone", text: item.caller_phone || t("common.none") }),
        el("dt", { text: t("agency.col_created") }), el("dd", { text: fmt.dateTime(item.created_at) }),
        el("dt", { text: t("agency.col_deadline") }), el("dd", { text: item.deadline_at ? fmt.dateTime(item.deadline_at) : t("agency.no_deadline") })),
      el("h3", { text: t("agency.description") }),
      el("p", { class: "text", text: item.summary || t("common.none") }),
      item.response ? [el("h3", { text: t("agency.response") }), el("p", { class: "text", "data-testid": "response", text: item.response })] : null,
      el("h3", { text: t("agency.attachments") }),
      files.items.length
        ? el("ul", { class: "files" }, files.items.map(function (f) {
          return el("li", {}, el("a", { href: f.url, download: f.filename, text: f.filename }), " ",
            el("span", { class: "muted", text: "(" + fmt.number(Math.ceil(f.size / 1024)) + " KB)" }));
        }))
        : el("p", { class: "muted", text: t("agency.no_attachments") }),
      item.status === "forwarded" ? el("button", { type: "button", class: "primary", id: "accept", onclick: function () { accept(item); } }, t("agency.accept")) : null,
      open ? respondForm(item) : null,
      item.status === "responded" ? attachForm(item) : null,
      open && isAgency ? reassignForm(item) : null,
      el("h3", { text: t("agency.timeline") }),
      el("ol", { class: "timeline", id: "timeline" }, timeline.events.map(function (event) {
        return el("li", { "data-kind": event.kind },
          el("time", { datetime: event.at, text: fmt.dateTime(event.at) }),
          H.eventText(event, eventNames), " ",
          event.kind === "reviewed" && event.data && event.data.review
            ? [el("a", { href: "/reviews?review=" + encodeURIComponent(event.data.review), "data-testid": "review-link", text: t("agency.open_review") }), " "]
            : null,
          el("span", { class: "muted", text: t("agency.by", { actor: H.actorName(event.actor) }) }));
      })));
  }

  function fileInput(id) {
    return el("input", { type: "file", id: id, name: "file", accept: ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png" });
  }

  async function upload(item, input) {
    const file = input.files[0];
    if (!file) return null;
    if (file.size > data.max_bytes) throw new Error(t("agency.file_too_big"));
    const form = new FormData();
    form.append("file", file, file.name);
    return H.api("POST", "/api/v1/tickets/" + encodeURIComponent(item.code) + "/attachments", form);
  }

  function respondForm(item) {
    const text = el("textarea", { id: "respond-text", required: true, maxlength: "5000" });
    const file = fileInput("respond-file");
    const button = el("button", { type: "submit", class: "primary", id: "respond-send" }, t("agency.respond_send"));
    return el("form", {
      class: "stack", id: "respond-form",
      onsubmit: async function (event) {
        event.preventDefault();
        button.disabled = true;
        try {
          await upload(item, file);
          await H.api("POST", "/api/v1/tickets/" + encodeURIComponent(item.code) + "/respond", { response: text.value });
          H.notify(t("agency.responded_ok", { code: item.code }), "ok");
          await loadList();
        } catch (err) {
          H.failed(err);
        } finally {
          button.disabled = false;
        }
      },
    },
      el("h3", { text: t("agency.respond") }),
      el("label", {}, t("agency.respond_text"), text),
      el("label", {}, t("agency.respond_file"), file),
      button);
  }

  function attachForm(item) {
    const file = fileInput("attach-file");
    return el("form", {
      class: "stack", id: "attach-form",
      onsubmit: async function (event) {
        event.preventDefault();
        try {
          const added = await upload(item, file);
          if (added) H.notify(t("agency.attached_ok", { name: added.filename }), "ok");
          await loadList();
        } catch (err) {
          H.failed(err);
        }
      },
    },
      el("h3", { text: t("agency.attach_more") }),
      el("label", {}, t("agency.respond_file"), file),
      el("button", { type: "submit" }, t("agency.attach_send")));
  }

  function reassignForm(item) {
    const reason = el("textarea", { id: "reassign-reason", required: true, maxlength: "1000" });
    return el("form", {
      class: "stack", id: "reassign-form",
      onsubmit: async function (event) {
        event.preventDefault();
        try {
          await H.api("POST", "/api/v1/tickets/" + encodeURIComponent(item.code) + "/reassign-request", { reason: reason.value });
          H.notify(t("agency.reassign_ok", { code: item.code }), "ok");
          await loadList();
        } catch (err) {
          H.failed(err);
        }
      },
    },
      el("h3", { text: t("agency.reassign") }),
      el("label", {}, t("agency.reassign_reason"), reason),
      el("button", { type: "submit" }, t("agency.reassign_send")));
  }

  async function accept(item) {
    try {
      await H.api("POST", "/api/v1/tickets/" + encodeURIComponent(item.code) + "/accept");
      H.notify(t("agency.accepted_ok", { code: item.code }), "ok");
      await loadList();
    } catch (err) {
      H.failed(err);
    }
  }

  /* ------------------------------------------------------------------ wiring */
  function setFilter(status) {
    state.status = status;
    state.offset = 0;
    for (const button of document.querySelectorAll(".filters .filter")) {
      button.setAttribute("aria-selected", String(button.dataset.status === status));
    }
    loadList();
  }

  const named = agencyChoice();
  if (!data.agency) return;
  for (const button of document.querySelectorAll(".filters .filter")) {
    button.addEventListener("click", function () { setFilter(button.dataset.status); });
  }
  for (const button of document.querySelectorAll(".filters .filter")) {
    button.setAttribute("aria-selected", String(button.dataset.status === state.status));
  }
  document.getElementById("page-prev").addEventListener("click", function () {
    state.offset = Math.max(0, state.offset - PAGE);
    loadList();
  });
  document.getElementById("page-next").addEventListener("click", function () {
    state.offset += PAGE;
    loadList();
  });
  let pending = null;
  function reloadSoon() {
    clearTimeout(pending);
    pending = setTimeout(loadList, 500);
  }
  H.live(isAgency ? ["me"] : ["tickets"], {
    onReload: loadList,
    onEvent: function (event) {
      if (event.topic === "tickets" && event.kind !== "resync") reloadSoon();
    },
  });
  setInterval(loadList, 60000);
})();
