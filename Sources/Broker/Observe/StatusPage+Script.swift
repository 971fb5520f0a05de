/// The script of ``StatusPage``: fetches `/v1/status`, draws it, and follows `/v1/events`.
///
/// Auth, as designed: the page itself (`GET /`) is served without a token, since it holds no
/// data; everything it fetches is behind the token like any other client's call. The token is
/// typed once into the form the page shows on a 401, or carried in a link's fragment
/// (`http://host:8770/#token=…`, which browsers never send to the server and which the page
/// removes from the address bar at once); either way it is kept in `localStorage` and sent as
/// `Authorization: Bearer` by every call the page makes, the load and unload buttons included.
/// The event stream is read with `fetch`, since `EventSource` cannot send headers.
extension StatusPage {
    static let script = #"""
"use strict";
const tokenKey = "vramd-token";
let token = localStorage.getItem(tokenKey) || "";
// A link's fragment may carry the token; it never reaches a server log, and leaves the address bar here.
const fragmentToken = new URLSearchParams(location.hash.slice(1)).get("token");
if (fragmentToken) {
  token = fragmentToken;
  localStorage.setItem(tokenKey, token);
  history.replaceState(null, "", location.pathname + location.search);
}
let lastEventID = 0, eventsShown = 0, refreshTimer = null, streaming = false;

function headers() { return token ? { "Authorization": "Bearer " + token } : {}; }
function fmtBytes(b) {
  if (b === null || b === undefined) return "?";
  const units = [["TiB", 2 ** 40], ["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]];
  for (const [name, f] of units) if (Math.abs(b) >= f) return (b / f).toFixed(b % f === 0 ? 0 : 1) + " " + name;
  return b + " B";
}
function fmtAgo(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.max(0, Math.round(seconds));
  return s < 90 ? s + "s" : s < 5400 ? Math.round(s / 60) + "m" : Math.round(s / 3600) + "h";
}
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else if (k === "style") node.style.cssText = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v); else node[k] = v;
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}
function showProblem(text) { const p = document.getElementById("problem"); p.hidden = !text; p.textContent = text || ""; }
function needToken() { document.getElementById("auth").hidden = false; showProblem("401: the token is missing or wrong."); }

async function refresh() {
  let response;
  try { response = await fetch("/v1/status", { headers: headers(), cache: "no-store" }); }
  catch (e) { showProblem("cannot reach vramd: " + e); return; }
  if (response.status === 401) { needToken(); return; }
  if (!response.ok) { showProblem("/v1/status answered " + response.status); return; }
  document.getElementById("auth").hidden = true;
  showProblem("");
  render(await response.json());
  if (!streaming) followEvents();
}
function scheduleRefresh() { clearTimeout(refreshTimer); refreshTimer = setTimeout(refresh, 150); }

function render(report) {
  const devices = document.getElementById("devices");
  devices.replaceChildren(...report.devices.map(renderDevice));
  const body = document.getElementById("models");
  body.replaceChildren(...report.models.map(m => renderModel(m, report.generated_at)));
  const s = report.scheduler;
  document.getElementById("summary").textContent =
    `requests ${s.requests} · loads ${s.loads} · swaps ${s.swaps} · 429s ${s.rejected_queue_full} · ` +
    `evictions ${Object.entries(s.evictions).map(([rule, n]) => rule + " " + n).join(", ") || "0"} · ` +
    `queue wait p50 ${s.queue_wait.p50.toFixed(2)}s p99 ${s.queue_wait.p99.toFixed(2)}s · load p50 ${s.load_time.p50.toFixed(1)}s p99 ${s.load_time.p99.toFixed(1)}s`;
  const waitingModels = report.models.filter(m => m.queued > 0 || m.in_flight > 0);
  const queue = document.getElementById("queue");
  queue.setAttribute("data-waiting", report.queue.waiting);
  queue.replaceChildren(`${report.queue.waiting} waiting (max ${report.queue.max})`,
    ...waitingModels.map(m => el("span", { "data-model": m.id }, ` · ${m.id}: ${m.queued} queued, ${m.in_flight} in flight`)));
  document.body.setAttribute("data-rendered", String(report.generated_at));
}

function renderDevice(d) {
  const total = Math.max(d.capacity, d.planned_use, 1);
  const pct = b => (100 * b / total).toFixed(3) + "%";
  const bar = el("div", { class: "bar" });
  for (const r of d.residents)
    bar.append(el("div", { class: "seg model p" + Math.min(4, Math.max(0, r.priority)), "data-model": r.model, "data-bytes": r.bytes,
      "data-kind": "model", style: "width:" + pct(r.bytes), title: `${r.model}: ${fmtBytes(r.bytes)}, priority ${r.priority}` }, r.model));
  for (const r of d.reservations)
    bar.append(el("div", { class: "seg reservation", "data-model": r.model, "data-bytes": r.bytes, "data-kind": "reservation",
      style: "width:" + pct(r.bytes), title: `reserved for ${r.model}: ${fmtBytes(r.bytes)}` }, r.model));
  if (d.foreign > 0)
    bar.append(el("div", { class: "seg foreign", "data-bytes": d.foreign, "data-kind": "foreign", style: "width:" + pct(d.foreign),
      title: "foreign: " + fmtBytes(d.foreign) }, "foreign"));
  if (d.cushion > 0)
    bar.append(el("div", { class: "cushion", "data-bytes": d.cushion, style: "left:" + pct(total - d.cushion), title: "cushion: " + fmtBytes(d.cushion) }));
  const reported = d.free !== null && d.free !== undefined ? ` · the device reports ${fmtBytes(d.free)} free of ${fmtBytes(d.total)}` : "";
  return el("div", { class: "device", "data-device": d.id },
    el("div", { class: "device-head" }, el("strong", {}, d.id), el("span", { class: "sub" },
      ` ${d.kind}${d.name ? ", " + d.name : ""} · ${fmtBytes(d.planned_use)} of ${fmtBytes(d.capacity)} planned · ${fmtBytes(Math.max(0, d.free_for_planning))} free for loads${reported}`)),
    bar,
    el("div", { class: "legend" }, `resident ${fmtBytes(d.resident)} · reserved ${fmtBytes(d.reserved)} · foreign ${fmtBytes(d.foreign)} · cushion ${fmtBytes(d.cushion)}`));
}

function renderModel(m, now) {
  const button = (label, action) => el("button", { type: "button", "data-action": action, onclick: () => act(m.id, action) }, label);
  const actions = el("td", {});
  if (m.backend && m.backend !== "external") {
    if (m.state !== "ready" && m.state !== "loading") actions.append(button("load", "load"));
    if (m.state === "ready" || m.state === "failed") actions.append(button("unload", "unload"));
  }
  return el("tr", { "data-model": m.id, "data-state": m.state },
    el("td", {}, m.id, m.aliases.length ? el("div", { class: "legend" }, m.aliases.join(", ")) : ""),
    el("td", {}, el("span", { class: "state " + m.state }, m.state)),
    el("td", { class: "num" }, m.priority),
    el("td", {}, m.device || "–"),
    el("td", { class: "num", "data-bytes": m.footprint }, fmtBytes(m.footprint), el("div", { class: "legend" }, m.footprint_source)),
    el("td", { class: "num" }, m.in_flight),
    el("td", { class: "num" }, m.queued),
    el("td", {}, m.last_used_at ? fmtAgo(now - m.last_used_at) + " ago" : "–"),
    el("td", {}, m.keep_alive_expires_in !== null && m.keep_alive_expires_in !== undefined ? "in " + fmtAgo(m.keep_alive_expires_in) : "–"),
    el("td", { class: "num" }, m.load_count),
    el("td", { class: "num" }, m.last_load_seconds !== null && m.last_load_seconds !== undefined ? m.last_load_seconds.toFixed(1) + "s" : "–"),
    el("td", { class: "error" }, m.last_error || ""),
    actions);
}

async function act(model, action) {
  const response = await fetch(`/v1/models/${encodeURIComponent(model)}/${action}`, { method: "POST", headers: headers() });
  if (response.status === 401) { needToken(); return; }
  if (!response.ok) {
    let text = await response.text();
    try { text = JSON.parse(text).error.message; } catch (e) {}
    showProblem(`${action} ${model}: ${text}`);
  }
  scheduleRefresh();
}

function addEvent(event) {
  const list = document.getElementById("events");
  const time = new Date(event.time * 1000).toLocaleTimeString();
  list.prepend(el("li", { "data-kind": event.kind, "data-model": event.model, "data-id": event.id }, el("span", { class: "time" }, time), describe(event)));
  while (list.children.length > 50) list.lastChild.remove();
  eventsShown += 1;
  document.body.setAttribute("data-events", String(eventsShown));
}
function describe(e) {
  switch (e.kind) {
    case "load_started": return `loading ${e.model}`;
    case "loaded": return `loaded ${e.model} on ${e.device} (${fmtBytes(e.bytes)}) in ${(e.seconds || 0).toFixed(1)}s`;
    case "evicted": return `evicted ${e.model} (${fmtBytes(e.bytes)}) for ${e.for}: rule ${e.rule}`;
    case "swap": return `swapped ${(e.victims || []).join(", ")} for ${e.model}`;
    case "unloaded": return `unloaded ${e.model}: ${e.reason}`;
    case "failed": return `${e.model} failed: ${e.message}`;
    case "rejected": return `refused a request for ${e.model}: ${e.reason}`;
    default: return `${e.kind} ${e.model}`;
  }
}

// EventSource cannot send the token, so the stream is read with fetch and parsed here.
async function followEvents() {
  streaming = true;
  try {
    const h = headers();
    if (lastEventID) h["Last-Event-ID"] = String(lastEventID);
    const response = await fetch("/v1/events", { headers: h, cache: "no-store" });
    if (response.status === 401) { needToken(); streaming = false; return; }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let pending = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += value;
      let end;
      while ((end = pending.indexOf("\n\n")) >= 0) {
        const frame = pending.slice(0, end);
        pending = pending.slice(end + 2);
        const data = frame.split("\n").filter(l => l.startsWith("data: ")).map(l => l.slice(6)).join("\n");
        if (!data) continue;
        const event = JSON.parse(data);
        lastEventID = Math.max(lastEventID, event.id);
        addEvent(event);
        scheduleRefresh();
      }
    }
  } catch (e) { /* reconnect below */ }
  streaming = false;
  setTimeout(refresh, 2000);
}

document.getElementById("auth").addEventListener("submit", event => {
  event.preventDefault();
  token = document.getElementById("token-input").value.trim();
  localStorage.setItem(tokenKey, token);
  refresh();
});
refresh();
// Free memory moves without events; a slow poll keeps the numbers honest.
setInterval(refresh, 5000);
"""#
}
