/* Shared by every console page: texts, API calls with the session's CSRF token, the live
   socket that says when it is offline and reloads the page's state after reconnecting, small
   DOM and formatting helpers, and SVG charts (no library, nothing fetched from elsewhere). */
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("page-data").textContent);
  const locale = data.lang === "vi" ? "vi-VN" : "en-GB";

  function t(key, values) {
    let s = Object.prototype.hasOwnProperty.call(data.texts, key) ? data.texts[key] : key;
    for (const [name, value] of Object.entries(values || {})) {
      s = s.split("{" + name + "}").join(String(value));
    }
    return s;
  }

  /* An API error in the page's language: the text of errors.<error_id> when the locale has
     one, else the server's message. Status 0: the server was not reached at all. */
  class ApiError extends Error {
    constructor(status, body) {
      const id = body && body.error_id;
      const key = "errors." + id;
      const known = id && Object.prototype.hasOwnProperty.call(data.texts, key);
      super(known ? t(key, body.details || {}) : (body && body.message) || "HTTP " + status);
      this.status = status;
      this.errorId = id;
      this.details = (body && body.details) || {};
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    let payload;
    if (body instanceof FormData) {
      payload = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    if (method !== "GET") headers["X-CSRF-Token"] = data.csrf;
    let response;
    try {
      response = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
    } catch (err) {
      // the browser's own words ("Failed to fetch") would mix languages on the page
      throw new ApiError(0, { error_id: "network", message: t("errors.network") });
    }
    if (response.status === 401 && data.user) {
      location.assign("/login?next=" + encodeURIComponent(location.pathname));
    }
    const type = response.headers.get("Content-Type") || "";
    const json = type.includes("json") ? await response.json() : null;
    if (!response.ok) throw new ApiError(response.status, json);
    return json;
  }

  /* The banner under the top bar: hidden while connected, red while offline, green for a
     moment after a reconnection. */
  function showStatus(state) {
    const banner = document.getElementById("live-status");
    document.body.classList.toggle("offline", state === "offline");
    banner.dataset.state = state;
    if (state === "online") {
      banner.hidden = true;
      return;
    }
    banner.textContent = t(state === "offline" ? "common.live_offline" : "common.live_reconnected");
    banner.hidden = false;
    if (state === "reconnected") {
      setTimeout(function () {
        if (banner.dataset.state === "reconnected") banner.hidden = true;
      }, 4000);
    }
  }

  /* live(topics, {onEvent, onOffline, onReload}): onReload runs after every (re)connection,
     so the page replaces whatever it showed from before the gap. */
  function live(topics, handlers) {
    let delay = 1000;
    let connectedBefore = false;
    const connection = { socket: null, connected: false };
    function connect() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const socket = new WebSocket(scheme + location.host + "/api/v1/events?topics=" + topics.join(","));
      connection.socket = socket;
      socket.onopen = function () {
        delay = 1000;
        connection.connected = true;
        showStatus(connectedBefore ? "reconnected" : "online");
        connectedBefore = true;
        if (handlers.onReload) handlers.onReload();
      };
      /* A frame is an array of events, oldest first: every change since the previous frame
         (at most one frame per 25 ms), only the latest view of each queue and operator. */
      socket.onmessage = function (message) {
        let events;
        try {
          events = JSON.parse(message.data);
        } catch (err) {
          return;
        }
        if (!Array.isArray(events)) return;
        for (const event of events) {
          const reload = event.kind === "resync" || event.kind === "overflow";
          if (reload && handlers.onReload) handlers.onReload();
          if (handlers.onEvent) handlers.onEvent(event);
        }
      };
      socket.onclose = function () {
        if (connection.connected || !connectedBefore) showStatus("offline");
        connection.connected = false;
        if (handlers.onOffline) handlers.onOffline();
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 10000);
      };
    }
    connect();
    return connection;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node, ...children) {
    node.replaceChildren(...children.flat().filter(function (c) { return c !== null && c !== undefined; }));
  }

  const fmt = {
    time(iso) {
      return iso ? new Date(iso).toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" }) : t("common.none");
    },
    dateTime(iso) {
      return iso
        ? new Date(iso).toLocaleString(locale, { day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit" })
        : t("common.none");
    },
    duration(seconds) {
      if (seconds === null || seconds === undefined) return t("common.none");
      const s = Math.max(0, Math.round(seconds));
      const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
      const mm = String(m).padStart(h ? 2 : 1, "0") + ":" + String(r).padStart(2, "0");
      return h ? h + ":" + mm : mm;
    },
    number(value) {
      return value === null || value === undefined ? t("common.none") : Number(value).toLocaleString(locale);
    },
    percent(share) {
      return share === null || share === undefined
        ? t("common.none")
        : (share * 100).toLocaleString(locale, { maximumFractionDigits: 1 }) + " %";
    },
  };

  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    for (const child of children.flat()) if (child) node.append(child);
    return node;
  }

  /* The smallest 1, 2 or 5 × 10ⁿ at or above ``value``: an axis that ends on a round number. */
  function nice(value) {
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    return [1, 2, 5, 10].map(function (m) { return m * power; }).find(function (v) { return v >= value; });
  }

  /* bars(labels, series[{name, values, cls}], {height, max, target, width}): grouped bars, with
     an optional dashed target line; returns an <svg> that scales to its container (``width``:
     the drawing's own, so few bars in a wide box keep readable labels). */
  function bars(labels, series, options) {
    const opts = options || {};
    const width = Math.max(opts.width || 320, labels.length * (series.length * 10 + 8) + 48);
    const height = opts.height || 180;
    const top = 10, bottom = 28, left = 40;
    const values = series.flatMap(function (s) { return s.values; }).filter(function (v) { return v !== null; });
    const max = opts.max || nice(Math.max(1, ...values));
    const plot = height - top - bottom;
    const y = function (v) { return top + plot - (v / max) * plot; };
    const group = (width - left - 8) / Math.max(1, labels.length);
    const barWidth = Math.max(2, (group - 4) / series.length);
    const root = svg("svg", { viewBox: "0 0 " + width + " " + height, class: "chart", role: "img" });
    for (const tick of [0, 0.5, 1]) {
      const v = max * tick;
      if (!opts.percent && !Number.isInteger(v)) continue; // a count axis up to 1 or 5: no "1" or "3" halfway
      root.append(svg("line", { x1: left, x2: width - 8, y1: y(v), y2: y(v), class: "grid" }));
      const label = svg("text", { x: left - 4, y: y(v) + 4, class: "axis", "text-anchor": "end" });
      label.textContent = opts.percent ? Math.round(v * 100) + "%" : Math.round(v);
      root.append(label);
    }
    labels.forEach(function (name, i) {
      series.forEach(function (s, j) {
        const v = s.values[i];
        if (v === null || v === undefined) return;
        const rect = svg("rect", {
          x: left + i * group + 2 + j * barWidth, y: y(v), width: barWidth - 1,
          height: Math.max(0, top + plot - y(v)), class: "bar " + (s.cls || "s" + j),
        });
        const tip = svg("title");
        tip.textContent = name + " · " + s.name + ": " + (opts.percent ? fmt.percent(v) : fmt.number(v));
        rect.append(tip);
        root.append(rect);
      });
      if (labels.length <= 24 || i % Math.ceil(labels.length / 24) === 0) {
        const text = svg("text", { x: left + i * group + group / 2, y: height - 10, class: "axis", "text-anchor": "middle" });
        text.textContent = name;
        root.append(text);
      }
    });
    if (opts.target !== undefined) {
      root.append(svg("line", { x1: left, x2: width - 8, y1: y(opts.target), y2: y(opts.target), class: "target" }));
    }
    return root;
  }

  /* hbars(items[{label, value, text, cls}], {max, percent, reference}): one labelled horizontal
     bar per item, top to bottom, its value written after it (``text``, else the number); an
     item without a value gets its text and no bar. A dashed line at ``reference``. */
  function hbars(items, options) {
    const opts = options || {};
    const rowHeight = 18, top = 4, labelWidth = 300, textWidth = 130, width = 900;
    const height = top * 2 + items.length * rowHeight;
    const plot = width - labelWidth - textWidth;
    const values = items.map(function (i) { return i.value; }).filter(function (v) { return v !== null && v !== undefined; });
    const max = opts.max || Math.max(1, ...values);
    const x = function (v) { return labelWidth + (v / max) * plot; };
    const root = svg("svg", { viewBox: "0 0 " + width + " " + height, class: "chart hbars", role: "img" });
    items.forEach(function (item, i) {
      const y = top + i * rowHeight;
      const name = svg("text", { x: labelWidth - 6, y: y + rowHeight - 5, class: "axis name", "text-anchor": "end" });
      name.textContent = item.label;
      root.append(name);
      const hasValue = item.value !== null && item.value !== undefined;
      if (hasValue) {
        const rect = svg("rect", { x: labelWidth, y: y + 2, width: Math.max(1, x(item.value) - labelWidth), height: rowHeight - 5, class: "bar " + (item.cls || "s0") });
        const tip = svg("title");
        tip.textContent = item.label + ": " + (item.text || fmt.number(item.value));
        rect.append(tip);
        root.append(rect);
      }
      const value = svg("text", { x: (hasValue ? x(item.value) : labelWidth) + 4, y: y + rowHeight - 5, class: "axis value" });
      value.textContent = item.text || (hasValue ? (opts.percent ? fmt.percent(item.value) : fmt.number(item.value)) : "");
      root.append(value);
    });
    if (opts.reference !== undefined && opts.reference !== null) {
      root.append(svg("line", { x1: x(opts.reference), x2: x(opts.reference), y1: 0, y2: height, class: "target" }));
    }
    return root;
  }

  function legend(series) {
    return el("ul", { class: "legend" }, series.map(function (s, j) {
      return el("li", {}, el("span", { class: "swatch " + (s.cls || "s" + j) }), s.name);
    }));
  }

  function has(key) {
    return Object.prototype.hasOwnProperty.call(data.texts, key);
  }

  /* A value of an event's data in words: through the page's ``names`` (category, agency,
     facility: its reference data), a queue by its line, else events.<field>_<value>, else as
     it is. */
  function eventValue(field, value, names) {
    if (value === null || value === undefined || value === "") return t("common.none");
    if (names && names[field]) return names[field](value);
    if (field === "queue" && data.queues && data.queues[value]) return t("common.line_" + data.queues[value]);
    if (has("events." + field + "_" + value)) return t("events." + field + "_" + value);
    return typeof value === "number" ? fmt.number(value) : String(value);
  }

  /* One timeline event in the page's language (events.toml; its kinds are tickets/events.py):
     the kind's sentence with the event's data, then the fields that have a text of their own
     and that the sentence does not say. A kind this page does not know shows its code. */
  function eventText(event, names) {
    const key = "events." + event.kind;
    if (!has(key)) return event.kind;
    const raw = event.data || {};
    const values = {};
    for (const [field, value] of Object.entries(raw)) values[field] = eventValue(field, value, names);
    const sentence = data.texts[key];
    let text = t(key, values).replace(/\{[a-z_]+\}/g, t("common.none"));
    for (const [field, value] of Object.entries(raw)) {
      const extra = "events.field_" + field;
      if (has(extra) && value !== null && value !== "" && !sentence.includes("{" + field + "}")) {
        text += " · " + t(extra, values);
      }
    }
    return text;
  }

  /* Who did it: a person's user name, or what the system part is called in words. */
  function actorName(actor) {
    const base = String(actor || "").split(":")[0];
    return has("events.actor_" + base) ? t("events.actor_" + base) : actor;
  }

  /* An operator's state in words. Paused while ringing or on a call: that call goes on and no
     new one comes after it. */
  function operatorState(op) {
    const value = op ? op.state : "unavailable";
    const paused = !!(op && op.paused) && value !== "paused";
    return t("common.state_" + value + (paused ? "_paused" : ""));
  }

  function notify(message, kind, milliseconds) {
    const box = document.getElementById("toast") || document.body.appendChild(el("div", { id: "toast", role: "status" }));
    box.textContent = message;
    box.className = "toast " + (kind || "info");
    box.dataset.kind = kind || "info";
    box.hidden = false;
    clearTimeout(notify.timer);
    notify.timer = setTimeout(function () { box.hidden = true; }, milliseconds || 5000);
  }

  function failed(err) {
    notify(t("common.error_generic", { message: err.message }), "error");
  }

  window.Hotline = { data, t, api, ApiError, live, el, clear, fmt, charts: { bars, hbars, legend }, eventText, actorName, operatorState, notify, failed };
})();
