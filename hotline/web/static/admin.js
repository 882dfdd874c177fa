/* The administrator console: one tab per kind of setting; every form calls the API and the
   Audit tab lists what was changed, by whom. No live data here except the queues tab, which
   reloads its view after every (re)connection of the live socket. */
(function () {
  "use strict";

  const H = window.Hotline;
  const { el, clear, t } = H;
  const data = H.data;
  const PAGE = 50;
  const state = { agencies: [], localities: [], categories: [], subcategories: [], usersOffset: 0, auditOffset: 0 };
  const $ = function (id) { return document.getElementById(id); };

  /* The text of key prefix + value, or the value itself (e.g. an audit entity of a newer kind). */
  function label(prefix, value) {
    const key = "admin." + prefix + value;
    return Object.prototype.hasOwnProperty.call(data.texts, key) ? t(key) : value;
  }

  function name(item) {
    return data.lang === "vi" ? item.name_vi : item.name_en;
  }

  function options(select, items, { empty, value, label } = {}) {
    const current = select.value;
    clear(select,
      empty === undefined ? null : el("option", { value: "", text: empty }),
      items.map(function (item) { return el("option", { value: value(item), text: label(item) }); }));
    if (current) select.value = current;
  }

  /* ------------------------------------------------------------------ tabs */

  const loaders = {};
  function show(tab) {
    document.querySelectorAll("[role=tab]").forEach(function (button) {
      button.setAttribute("aria-selected", String(button.dataset.tab === tab));
    });
    document.querySelectorAll(".panel").forEach(function (panel) {
      panel.hidden = panel.id !== "panel-" + tab;
    });
    if (location.hash !== "#" + tab) history.replaceState(null, "", "#" + tab);
    // The language switch keeps the open tab.
    const switcher = document.querySelector("[data-testid=lang-switch]");
    if (switcher) switcher.hash = tab;
    if (loaders[tab]) loaders[tab]().catch(H.failed);
  }
  document.querySelectorAll("[role=tab]").forEach(function (button) {
    button.addEventListener("click", function () { show(button.dataset.tab); });
  });

  /* ------------------------------------------------------------ reference data */

  async function loadReference() {
    const [agencies, localities, categories] = await Promise.all([
      H.api("GET", "/api/v1/agencies"),
      H.api("GET", "/api/v1/localities"),
      H.api("GET", "/api/v1/categories"),
    ]);
    state.agencies = agencies.items;
    state.localities = localities.items;
    state.categories = categories.categories;
    state.subcategories = categories.subcategories;
    const any = t("admin.any");
    document.querySelectorAll(".agency-select").forEach(function (select) {
      options(select, state.agencies.filter(function (a) { return a.active; }), {
        empty: select.required ? undefined : t("common.none"),
        value: function (a) { return a.code; },
        label: function (a) { return a.code + " · " + name(a); },
      });
    });
    document.querySelectorAll(".locality-select").forEach(function (select) {
      options(select, state.localities, {
        empty: select.dataset.empty === "none" ? t("common.none") : any, value: function (l) { return l.code; }, label: function (l) { return l.code + " · " + name(l); },
      });
    });
    document.querySelectorAll(".category-select").forEach(function (select) {
      options(select, state.categories, { value: function (c) { return c.code; }, label: name });
    });
    document.querySelectorAll(".subcategory-select").forEach(function (select) {
      const form = select.form;
      const category = form.elements.category.value;
      options(select, state.subcategories.filter(function (s) { return s.category === category; }), {
        empty: any, value: function (s) { return s.code; }, label: name,
      });
    });
  }

  function optional(value) {
    return value === "" ? undefined : value;
  }

  /* ------------------------------------------------------------------ users */

  function roleSelect(value) {
    const select = el("select", { "aria-label": t("admin.role"), class: "role-select" });
    for (const role of data.roles) select.append(el("option", { value: role, text: t("common.role_" + role) }));
    select.value = value;
    return select;
  }

  function agencySelect(value) {
    const select = el("select", { "aria-label": t("admin.agency"), class: "agency-select" });
    options(select, state.agencies.filter(function (a) { return a.active || a.code === value; }), {
      empty: t("common.none"), value: function (a) { return a.code; }, label: function (a) { return a.code; },
    });
    select.value = value || "";
    return select;
  }

  function syncAgency(role, agency) {
    agency.disabled = role.value !== "agency";
    if (agency.disabled) agency.value = "";
  }

  function userRow(user) {
    const role = roleSelect(user.role);
    const agency = agencySelect(user.agency_code);
    const active = el("input", { type: "checkbox", "aria-label": t("admin.active") });
    active.checked = user.active;
    const password = el("input", {
      type: "password", minlength: "10", maxlength: "256", autocomplete: "new-password",
      placeholder: t("admin.unchanged"), "aria-label": t("admin.new_password"),
    });
    syncAgency(role, agency);
    role.addEventListener("change", function () { syncAgency(role, agency); });
    const mine = user.username === data.user.username;
    role.disabled = mine;
    active.disabled = mine;
    const status = [
      el("label", { class: "check" }, active, t("admin.active")),
      user.locked ? el("span", { class: "badge bad", text: t("admin.locked_until", { time: H.fmt.time(user.locked_until) }) }) : null,
    ];
    async function save() {
      const change = { role: role.value, agency_code: agency.value || null, active: active.checked };
      if (mine) { delete change.role; delete change.active; }
      if (password.value) change.password = password.value;
      try {
        await H.api("PATCH", "/api/v1/users/" + encodeURIComponent(user.username), change);
        H.notify(t("admin.saved_user", { username: user.username }), "info");
        await loadUsers();
      } catch (err) {
        H.failed(err);
      }
    }
    return el("tr", { "data-username": user.username, class: user.active ? null : "off" },
      el("td", {}, el("strong", { text: user.username }), mine ? el("span", { class: "muted", text: " " + t("admin.you") }) : null),
      el("td", {}, role),
      el("td", {}, agency),
      el("td", { class: "status" }, status),
      el("td", {}, password),
      el("td", {}, el("button", { type: "button", class: "save", onclick: save, text: t("common.save") })));
  }

  function pager(node, offset, count, total, go) {
    clear(node,
      el("button", { type: "button", disabled: offset === 0, onclick: function () { go(Math.max(0, offset - PAGE)); }, text: t("admin.previous") }),
      el("span", { class: "muted", text: count === 0 ? "" : total === null
        ? t("admin.range_open", { from: offset + 1, to: offset + count })
        : t("admin.range", { from: offset + 1, to: offset + count, total }) }),
      el("button", { type: "button", disabled: total === null ? count < PAGE : offset + count >= total, onclick: function () { go(offset + PAGE); }, text: t("admin.next") }));
  }

  async function loadUsers() {
    if (!state.agencies.length) await loadReference();
    const page = await H.api("GET", "/api/v1/users?limit=" + PAGE + "&offset=" + state.usersOffset);
    $("users-total").textContent = H.fmt.number(page.total);
    clear($("users-body"), page.items.map(userRow));
    pager($("users-pager"), page.offset, page.items.length, page.total, function (offset) {
      state.usersOffset = offset;
      loadUsers().catch(H.failed);
    });
  }
  loaders.users = loadUsers;

  (function () {
    const role = $("u-role");
    for (const r of data.roles) role.append(el("option", { value: r, text: t("common.role_" + r) }));
    role.value = "operator";
    syncAgency(role, $("u-agency"));
    role.addEventListener("change", function () { syncAgency(role, $("u-agency")); });
  })();

  $("user-form").addEventListener("submit", async function (event) {
    event.preventDefault();
    const form = event.target;
    const body = {
      username: form.elements.username.value.trim(),
      password: form.elements.password.value,
      role: form.elements.role.value,
      agency_code: form.elements.agency_code.value || null,
    };
    try {
      await H.api("POST", "/api/v1/users", body);
      H.notify(t("admin.created_user", { username: body.username }), "info");
      form.reset();
      form.elements.role.value = "operator";
      syncAgency(form.elements.role, form.elements.agency_code);
      await loadUsers();
    } catch (err) {
      H.failed(err);
    }
  });

  /* --------------------------------------------------------------- agencies */

  (function () {
    for (const kind of data.agency_kinds) $("a-kind").append(el("option", { value: kind, text: label("kind_", kind) }));
    $("a-kind").value = "department";
  })();

  function editAgency(agency) {
    $("a-code").value = agency ? agency.code : "";
    $("a-code").readOnly = Boolean(agency);
    $("a-kind").value = agency ? agency.kind : "department";
    $("a-name-vi").value = agency ? agency.name_vi : "";
    $("a-name-en").value = agency ? agency.name_en : "";
    $("a-locality").value = agency && agency.locality_code ? agency.locality_code : "";
    $("a-active").checked = agency ? agency.active : true;
    $("agency-form-title").textContent = agency ? t("admin.agency_edit_named", { code: agency.code }) : t("admin.agency_new");
    $("a-name-vi").focus();
  }

  async function loadAgencies() {
    await loadReference();
    const locality = Object.fromEntries(state.localities.map(function (l) { return [l.code, l]; }));
    clear($("agencies-body"), state.agencies.map(function (a) {
      return el("tr", { "data-code": a.code, class: a.active ? null : "off" },
        el("td", {}, el("code", { text: a.code })),
        el("td", { text: label("kind_", a.kind) }),
        el("td", {}, el("div", { text: a.name_vi }), el("div", { class: "muted", text: a.name_en })),
        el("td", { text: a.locality_code && locality[a.locality_code] ? name(locality[a.locality_code]) : t("common.none") }),
        el("td", {}, el("span", { class: "badge " + (a.active ? "ok" : ""), text: t(a.active ? "admin.active" : "admin.inactive") })),
        el("td", {}, el("button", { type: "button", class: "edit", onclick: function () { editAgency(a); }, text: t("admin.edit") })));
    }));
  }
  loaders.agencies = loadAgencies;

  $("a-new").addEventListener("click", function () { editAgency(null); $("a-code").focus(); });
  $("agency-form").addEventListener("submit", async function (event) {
    event.preventDefault();
    const code = $("a-code").value.trim();
    const body = {
      kind: $("a-kind").value,
      name_vi: $("a-name-vi").value.trim(),
      name_en: $("a-name-en").value.trim(),
      locality: optional($("a-locality").value),
      active: $("a-active").checked,
    };
    try {
      await H.api("PUT", "/api/v1/agencies/" + encodeURIComponent(code), body);
      H.notify(t("admin.saved_agency", { code }), "info");
      await loadAgencies();
      editAgency(state.agencies.find(function (a) { return a.code === code; }) || null);
    } catch (err) {
      H.failed(err);
    }
  });

  /* ------------------------------------------------------------- localities */

  loaders.localities = async function () {
    await loadReference();
    const byCode = Object.fromEntries(state.localities.map(function (l) { return [l.code, l]; }));
    $("localities-total").textContent = H.fmt.number(state.localities.length);
    clear($("localities-body"), state.localities.map(function (l) {
      return el("tr", { class: "loc-" + l.kind },
        el("td", {}, el("code", { text: l.code })),
        el("td", { text: label("locality_", l.kind) }),
        el("td", {}, el("div", { text: l.name_vi }), el("div", { class: "muted", text: l.name_en })),
        el("td", { text: l.parent_code && byCode[l.parent_code] ? name(byCode[l.parent_code]) : t("common.none") }));
    }));
  };

  /* ---------------------------------------------------------------- routing */

  loaders.routing = loadReference;
  document.querySelectorAll(".category-select").forEach(function (select) {
    select.addEventListener("change", function () {
      const sub = select.form.elements.subcategory;
      options(sub, state.subcategories.filter(function (s) { return s.category === select.value; }), {
        empty: t("admin.any"), value: function (s) { return s.code; }, label: name,
      });
      sub.value = "";
    });
  });

  $("preview-form").addEventListener("submit", async function (event) {
    event.preventDefault();
    const f = event.target.elements;
    const query = new URLSearchParams({ category: f.category.value });
    if (f.subcategory.value) query.set("subcategory", f.subcategory.value);
    if (f.locality.value) query.set("locality", f.locality.value);
    try {
      const decision = await H.api("GET", "/api/v1/routing?" + query);
      const agency = state.agencies.find(function (a) { return a.code === decision.agency; });
      const out = $("preview-result");
      clear(out, el("strong", { text: decision.agency }), agency ? " · " + name(agency) : "",
        decision.fallback ? el("span", { class: "badge warn", text: t("admin.fallback") }) : null);
      out.hidden = false;
    } catch (err) {
      H.failed(err);
    }
  });

  $("rule-form").addEventListener("submit", async function (event) {
    event.preventDefault();
    const f = event.target.elements;
    const body = {
      category: f.category.value,
      subcategory: optional(f.subcategory.value),
      locality: optional(f.locality.value),
      agency: f.agency.value,
    };
    try {
      await H.api("PUT", "/api/v1/routing-rules", body);
      H.notify(t("admin.saved_rule"), "info");
    } catch (err) {
      H.failed(err);
    }
  });

  /* ------------------------------------------------------------- categories */

  /* One row per category, then its subcategories (field reports: flooding, noise …), each with
     its own deadline; a subcategory left empty takes its category's. */
  function deadlineRow(item, path, label, fallback) {
    const days = el("input", {
      type: "number", min: "1", max: "365", step: "1",
      value: item.deadline_days === null ? "" : item.deadline_days,
      placeholder: fallback === undefined || fallback === null ? "" : String(fallback),
      title: fallback === undefined ? null : t("admin.as_category"),
      "aria-label": t("admin.deadline_days") + " · " + name(item),
    });
    async function save() {
      const value = days.value === "" ? null : Number(days.value);
      try {
        await H.api("PUT", path, { deadline_days: value });
        H.notify(t("admin.saved_deadline", { category: name(item) }), "info");
        await loaders.categories();
      } catch (err) {
        H.failed(err);
      }
    }
    return el("tr", { "data-code": item.code, class: fallback === undefined ? "category" : "subcategory" },
      el("td", {}, el("code", { text: item.code })),
      el("td", { class: fallback === undefined ? "" : "indent", text: label }),
      el("td", {}, days, " ", el("span", { class: "muted", text: t("admin.days") })),
      el("td", {}, el("button", { type: "button", onclick: save, text: t("common.save") })));
  }

  loaders.categories = async function () {
    await loadReference();
    clear($("categories-body"), state.categories.flatMap(function (c) {
      return [deadlineRow(c, "/api/v1/categories/" + encodeURIComponent(c.code) + "/deadline", name(c))].concat(
        state.subcategories.filter(function (s) { return s.category === c.code; }).map(function (s) {
          return deadlineRow(s, "/api/v1/subcategories/" + encodeURIComponent(s.code) + "/deadline", "↳ " + name(s), c.deadline_days);
        }));
    }));
  };

  /* ---------------------------------------------------------------- prompts */

  function promptCard(p) {
    const vi = el("textarea", { lang: "vi", maxlength: "2000", "aria-label": t("admin.text_vi") });
    const en = el("textarea", { lang: "en", maxlength: "2000", "aria-label": t("admin.text_en") });
    vi.value = p.vi;
    en.value = p.en;
    const edited = ["vi", "en"].filter(function (lang) { return p.edited[lang]; });
    const stamp = edited.length
      ? el("span", { class: "badge warn", text: t("admin.prompt_edited", { by: p.edited[edited[0]].by, at: H.fmt.dateTime(p.edited[edited[0]].at) }) })
      : el("span", { class: "badge", text: t("admin.prompt_default") });
    async function save() {
      try {
        await H.api("PUT", "/api/v1/prompts/" + encodeURIComponent(p.key), { vi: vi.value, en: en.value });
        H.notify(t("admin.saved_prompt", { key: p.key }), "info");
        await loaders.prompts();
        // The sound files are made outside the service: say so where the edit was made.
        const saved = document.querySelector("#prompts-list article[data-key='" + CSS.escape(p.key) + "'] .regenerate");
        if (saved) saved.hidden = false;
      } catch (err) {
        H.failed(err);
      }
    }
    function reset() {
      vi.value = p.default.vi;
      en.value = p.default.en;
    }
    return el("article", { class: "prompt", "data-key": p.key },
      el("div", { class: "row" },
        el("h3", {}, el("code", { text: p.key })),
        stamp,
        p.used ? null : el("span", { class: "badge", text: t("admin.prompt_unused") }),
        el("span", { class: "spacer" }),
        el("span", { class: "muted", text: t("admin.sound_file") + ": " }),
        el("code", { class: "files", text: p.files.vi + " · " + p.files.en })),
      el("div", { class: "prompt-texts" },
        el("label", {}, t("admin.text_vi"), vi),
        el("label", {}, t("admin.text_en"), en)),
      el("p", { class: "regenerate notice", role: "status", "data-testid": "prompt-regenerate", hidden: true },
        t("admin.prompt_regenerate"), " ", el("code", { text: "python -m hotline.prompts --database-url …" })),
      el("div", { class: "row" },
        el("button", { type: "button", class: "primary save", onclick: save, text: t("common.save") }),
        edited.length ? el("button", { type: "button", onclick: reset, text: t("admin.prompt_reset") }) : null));
  }

  loaders.prompts = async function () {
    const page = await H.api("GET", "/api/v1/prompts?limit=200");
    clear($("prompts-list"), page.items.map(promptCard));
  };

  /* ----------------------------------------------------------------- queues */

  (function () {
    const cards = [];
    data.service_levels.forEach(function (seconds, i) {
      cards.push(el("div", { class: "target" }, el("div", { class: "muted", text: t("admin.service_level_n", { n: i + 1 }) }),
        el("div", { class: "big", text: seconds + " " + t("common.seconds") })));
    });
    for (const target of data.staffing) {
      cards.push(el("div", { class: "target line-" + target.line }, el("div", { class: "muted", text: t("common.line_" + target.line) }),
        el("div", { class: "big", text: H.fmt.percent(target.target) }),
        el("div", { class: "muted", text: t("admin.staffing_within", { seconds: target.seconds }) })));
    }
    clear($("targets"), cards);
  })();

  async function loadQueues() {
    let view;
    try {
      view = await H.api("GET", "/api/v1/queues");
    } catch (err) {
      if (err.status !== 503) throw err;
      $("queues-offline").hidden = false;
      clear($("queues-body"), Object.entries(data.queue_lines).map(function ([queue, line]) {
        return el("tr", {}, el("td", {}, el("code", { text: queue })), el("td", { text: t("common.line_" + line) }),
          el("td", { class: "n", text: t("common.none") }), el("td", { class: "n", text: t("common.none") }),
          el("td", { class: "n", text: t("common.none") }), el("td", { class: "n", text: t("common.none") }));
      }));
      return;
    }
    $("queues-offline").hidden = view.asterisk_connected;
    clear($("queues-body"), view.items.map(function (q) {
      const line = data.queue_lines[q.name];
      const level = q.today ? q.today.service_level_1 : null;
      const goal = data.staffing.find(function (s) { return s.line === line; });
      const target = goal ? goal.target : null;
      const cls = level === null || target === null ? "" : level >= target ? "ok" : "bad";
      return el("tr", {},
        el("td", {}, el("code", { text: q.name })),
        el("td", { text: line ? t("common.line_" + line) : t("common.none") }),
        el("td", { class: "n", text: H.fmt.number(q.waiting ? q.waiting.length : null) }),
        el("td", { class: "n", text: q.operators_logged_in === undefined ? t("common.none") : q.operators_available + " / " + q.operators_logged_in }),
        el("td", { class: "n", text: H.fmt.number(q.today ? q.today.received : null) }),
        el("td", { class: "n" }, el("span", { class: "badge " + cls, text: H.fmt.percent(level) })));
    }));
  }
  loaders.queues = loadQueues;

  /* ------------------------------------------------------------------ audit */

  /* A value in words: yes/no, a role or an agency kind by its name, text in quotes. */
  function shown(key, value) {
    if (value === null || value === undefined) return t("common.none");
    if (typeof value === "boolean") return t("admin.value_" + value);
    if (key === "role") return t("common.role_" + value);
    if (key === "kind") return label("kind_", value);
    if (key === "locked_until") return H.fmt.dateTime(value);
    return typeof value === "string" ? "«" + value + "»" : JSON.stringify(value);
  }

  /* What an audit row changed: the fields whose value differs, old → new, by their names. */
  function summary(before, after) {
    if (!after) return t("common.none");
    return Object.entries(after).filter(function ([key, value]) {
      return !before || JSON.stringify(before[key]) !== JSON.stringify(value);
    }).map(function ([key, value]) {
      const old = before && key in before ? shown(key, before[key]) + " → " : "";
      return label("field_", key) + ": " + old + shown(key, value);
    }).join("; ") || t("admin.no_difference");
  }

  async function loadAudit() {
    const entity = $("audit-entity").value;
    const query = new URLSearchParams({ limit: String(PAGE), offset: String(state.auditOffset) });
    if (entity) query.set("entity", entity);
    const page = await H.api("GET", "/api/v1/audit?" + query);
    clear($("audit-body"), page.items.map(function (a) {
      return el("tr", { "data-entity": a.entity, "data-key": a.key },
        el("td", { class: "nowrap", text: H.fmt.dateTime(a.at) }),
        el("td", { text: a.actor }),
        el("td", {}, el("span", { class: "badge " + (a.action === "create" ? "ok" : ""), text: label("action_", a.action) })),
        el("td", { text: label("entity_", a.entity) }),
        el("td", {}, el("code", { text: a.key })),
        el("td", { class: "change", text: summary(a.before, a.after) }));
    }));
    pager($("audit-pager"), page.offset, page.items.length, page.total === undefined ? null : page.total, function (offset) {
      state.auditOffset = offset;
      loadAudit().catch(H.failed);
    });
  }
  loaders.audit = loadAudit;
  $("audit-entity").addEventListener("change", function () {
    state.auditOffset = 0;
    loadAudit().catch(H.failed);
  });

  /* ------------------------------------------------------------------- start */

  const first = location.hash.slice(1);
  const current = function () {
    const selected = document.querySelector("[role=tab][aria-selected=true]");
    return selected ? selected.dataset.tab : null;
  };
  H.live(["queues"], {
    onReload: function () {
      const tab = current();
      if (tab === null) show(loaders[first] ? first : "users");
      else if (tab === "queues") loadQueues().catch(H.failed);
    },
    onEvent: function (event) {
      if (event.topic === "queues" && current() === "queues") loadQueues().catch(H.failed);
    },
  });
})();
