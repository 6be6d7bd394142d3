/* The flowdeck web UI: one script renders every page from the JSON API.
 *
 * Untrusted text (titles, descriptions, cell values, messages) is only ever set with textContent or
 * setAttribute on safe attributes; rich text goes through FlowdeckMarkdown, which builds DOM nodes.
 */
(function () {
  "use strict";

  const app = { me: null, csrf: null, stream: null, plotly: null, view: null, refreshTimer: null };
  const main = document.getElementById("main");

  // --- DOM helpers -----------------------------------------------------------------------------------

  function h(tag, attrs) {
    const el = document.createElement(tag);
    const props = attrs || {};
    Object.keys(props).forEach(function (key) {
      const value = props[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") el.textContent = String(value);
      else if (key === "class") el.className = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(el.dataset, value);
      else el.setAttribute(key, value === true ? "" : String(value));
    });
    for (let i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function append(parent, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) child.forEach(function (c) { append(parent, c); });
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }

  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

  let uid = 0;
  function newId(prefix) { uid += 1; return prefix + "-" + uid; }

  function toast(message, kind) {
    const box = document.getElementById("toast");
    box.textContent = message;
    box.className = "toast show " + (kind || "");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { box.className = "toast"; }, kind === "error" ? 8000 : 2500);
  }

  // Say a short status (a value saved, a step finished) to screen readers, without showing anything.
  function announce(message) {
    const box = document.getElementById("announcer");
    if (!box) return;
    box.textContent = "";
    setTimeout(function () { box.textContent = message; }, 50);
  }

  function fmtTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleString();
  }

  function fmtBytes(n) {
    if (n === null || n === undefined) return "";
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KB";
    return (n / 1024 / 1024).toFixed(1) + " MB";
  }

  // The header of a table's column of buttons: read by screen readers, not shown.
  function actionsHead() {
    return h("th", { scope: "col" }, h("span", { class: "visually-hidden", text: "Actions" }));
  }

  function stateBadge(state) {
    return h("span", { class: "badge state-" + String(state).replace(/[^a-z_]/g, ""), text: String(state).replace("_", " ") });
  }

  // A step's badge: a results or dashboard page waiting for the user is "ready", not "awaiting input".
  function stepBadge(step) {
    if (step.state === "awaiting_input" && step.step_type && step.step_type !== "input") return stateBadge("ready");
    return stateBadge(step.state);
  }

  function hideToast() {
    const box = document.getElementById("toast");
    if (box) { clearTimeout(toast.timer); box.className = "toast"; }
  }

  // --- API -----------------------------------------------------------------------------------------

  function ApiError(status, body) {
    this.status = status;
    this.body = body || {};
    this.message = (body && body.detail) || ("request failed (" + status + ")");
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (method !== "GET" && app.csrf) headers["X-CSRF-Token"] = app.csrf;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    const type = response.headers.get("content-type") || "";
    if (response.status !== 204 && type.indexOf("application/json") === 0) data = await response.json();
    if (response.status === 401 && path !== "/api/login") {
      goLogin();
      throw new ApiError(401, data);
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function goLogin() {
    const here = location.pathname + location.search + location.hash;
    if (location.pathname !== "/login") navigate("/login?next=" + encodeURIComponent(here), true);
  }

  function runPath(runId, step) {
    return "/runs/" + encodeURIComponent(runId) + (step ? "/steps/" + encodeURIComponent(step) : "");
  }

  function apiRun(runId) { return "/api/runs/" + encodeURIComponent(runId); }

  // --- navigation ----------------------------------------------------------------------------------

  function navigate(url, replace) {
    if (replace) history.replaceState(null, "", url);
    else history.pushState(null, "", url);
    route();
  }

  document.addEventListener("click", function (event) {
    const link = event.target.closest("a");
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey ||
        event.shiftKey || link.target === "_blank" || link.hasAttribute("download")) return;
    const href = link.getAttribute("href");
    if (!href || !href.startsWith("/") || href.startsWith("//") || href.startsWith("/api/")) return;
    event.preventDefault();
    const target = new URL(href, location.href);
    if (target.pathname === location.pathname && target.hash) {
      history.pushState(null, "", href);
      scrollToHash();
      return;
    }
    navigate(href);
  });
  window.addEventListener("popstate", route);

  // The skip link moves the focus to the content itself: followed as a link, it would add a history
  // entry whose popstate draws the page again, and the focus would be lost.
  document.querySelector(".skip-link").addEventListener("click", function (event) {
    event.preventDefault();
    main.focus();
  });

  // A control the keyboard reaches in a table wider than its box is scrolled sideways wholly into
  // view, with its cell's room for the focus ring (the browser leaves one partly in view as it is).
  document.addEventListener("focusin", function (event) {
    const wrap = event.target.closest && event.target.closest(".table-wrap");
    if (!wrap || event.target === wrap) return;
    const cell = (event.target.closest("td, th") || event.target).getBoundingClientRect(), box = wrap.getBoundingClientRect();
    if (cell.right > box.right) wrap.scrollLeft += Math.min(cell.right - box.right, cell.left - box.left);
    else if (cell.left < box.left) wrap.scrollLeft -= box.left - cell.left;
  });

  function stopStream() {
    if (app.stream) { app.stream.close(); app.stream = null; }
    stopAutoRefresh();
  }

  async function route() {
    stopStream();
    closeOverlays();
    app.view = null;
    // A message belongs to the page it was shown on: it does not follow onto another page (drawing
    // the same page again, as when its step finishes, keeps it).
    const moved = app.lastPath !== location.pathname;
    if (moved) hideToast();
    app.lastPath = location.pathname;
    const path = location.pathname;
    if (path === "/login") { renderLogin(); return; }
    if (!app.me) {
      try {
        const me = await api("GET", "/api/me");
        app.me = me;
        app.csrf = me.csrf_token;
      } catch (err) { if (err.status !== 401) showFatal(err); return; }
    }
    renderHeader();
    let m;
    try {
      if (path === "/") await renderHome();
      else if (path === "/assets") await renderAssets();
      else if (path === "/connections") await renderConnections();
      else if (path === "/triggers") await renderTriggers();
      else if (path === "/account") await renderAccount();
      else if ((m = /^\/runs\/([^/]+)\/steps\/([^/]+)$/.exec(path))) {
        await renderStep(decodeURIComponent(m[1]), decodeURIComponent(m[2]));
      } else if ((m = /^\/runs\/([^/]+)\/?$/.exec(path))) await openRun(decodeURIComponent(m[1]));
      else renderNotFound("There is no page at this address.");
    } catch (err) {
      if (err.status === 404) renderNotFound(err.message);
      else if (err.status !== 401) showFatal(err);
    }
    if (moved && location.pathname === path) focusHeading();
  }

  // After moving to another page, focus goes to its heading, so that keyboard and screen reader users
  // start reading there (the control that led here is gone); a link to an element keeps that element.
  function focusHeading() {
    if (location.hash) return;
    const active = document.activeElement;
    if (active && active !== document.body && active !== main && main.contains(active)) return;
    const heading = main.querySelector("h1");
    if (!heading) return;
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }

  function setMain(title) {
    clear(main);
    document.title = title ? title + " · flowdeck" : "flowdeck";
    for (let i = 1; i < arguments.length; i++) append(main, arguments[i]);
  }

  function showFatal(err) {
    setMain("Error", h("section", { class: "panel error-panel", role: "alert" },
      h("h1", { text: "Something went wrong" }), h("p", { text: err.message || String(err) })));
  }

  function renderNotFound(message) {
    setMain("Not found", h("section", { class: "panel" }, h("h1", { text: "Not found" }),
      h("p", { text: message }), h("p", {}, h("a", { href: "/", text: "Back to the flows" }))));
  }

  // --- header ----------------------------------------------------------------------------------------

  function renderHeader() {
    const bar = document.getElementById("topbar");
    clear(bar);
    const here = location.pathname;
    function nav(href, label) {
      const active = href === "/" ? here === "/" || here.startsWith("/runs") : here.startsWith(href);
      return h("a", { href: href, class: "nav-link" + (active ? " active" : ""), "aria-current": active ? "page" : null, text: label });
    }
    const menu = h("details", { class: "user-menu" },
      h("summary", { "aria-label": "User menu for " + app.me.name },
        h("span", { class: "avatar", "aria-hidden": "true", "data-initial": app.me.name.slice(0, 1).toUpperCase() }),
        h("span", { class: "user-name", text: app.me.name })),
      h("div", { class: "menu" },
        h("p", { class: "muted small", text: "Signed in as " + app.me.name + (app.me.role === "admin" ? " (admin)" : "") }),
        h("a", { href: "/account", text: "Account and API tokens" }),
        h("button", { type: "button", class: "linklike", onclick: logout, text: "Log out" })));
    // Escape, or focus moving elsewhere, closes the menu.
    menu.addEventListener("keydown", function (event) {
      if (event.key !== "Escape" || !menu.open) return;
      menu.open = false;
      menu.querySelector("summary").focus();
    });
    menu.addEventListener("focusout", function (event) {
      if (event.relatedTarget && !menu.contains(event.relatedTarget)) menu.open = false;
    });
    append(bar, [
      h("a", { href: "/", class: "brand" }, h("img", { src: "/static/favicon.svg", alt: "", width: 24, height: 24 }), h("span", { class: "brand-name", text: "flowdeck" })),
      h("nav", { class: "nav", "aria-label": "Main" }, nav("/", "Flows"), nav("/assets", "Assets"), nav("/connections", "Connections"), nav("/triggers", "Triggers")),
      menu,
    ]);
  }

  async function logout() {
    try { await api("POST", "/api/logout"); } catch (err) { /* the session may be gone already */ }
    app.me = null; app.csrf = null;
    clear(document.getElementById("topbar"));
    navigate("/login", true);
  }

  // --- login -----------------------------------------------------------------------------------------

  function renderLogin() {
    clear(document.getElementById("topbar"));
    const error = h("p", { class: "field-error", role: "alert", id: "login-error" });
    const form = h("form", { class: "panel login", "aria-labelledby": "login-title" },
      h("div", { class: "login-brand" }, h("img", { src: "/static/favicon.svg", alt: "", width: 40, height: 40 }),
        h("h1", { id: "login-title", text: "Sign in to flowdeck" })),
      h("label", { for: "login-name", text: "User name" }),
      h("input", { id: "login-name", name: "name", autocomplete: "username", required: true, autofocus: true }),
      h("label", { for: "login-password", text: "Password" }),
      h("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true }),
      error,
      h("button", { type: "submit", class: "button primary wide", text: "Sign in" }));
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      error.textContent = "";
      try {
        const me = await api("POST", "/api/login", { name: form.name.value, password: form.password.value });
        app.me = me; app.csrf = me.csrf_token;
        const next = new URLSearchParams(location.search).get("next");
        navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/", true);
      } catch (err) { error.textContent = err.message; form.password.focus(); }
    });
    setMain("Sign in", h("div", { class: "login-wrap" }, form));
    form.name.focus();
  }

  // --- home: flows and runs ----------------------------------------------------------------------

  async function renderHome() {
    const [flows, runs] = await Promise.all([api("GET", "/api/flows"), api("GET", "/api/runs")]);
    const flowCards = flows.length ? flows.map(function (flow) {
      return h("article", { class: "card flow-card" },
        h("h3", { text: flow.name }),
        h("p", { class: "muted", text: flow.description || "" }),
        h("ol", { class: "mini-steps", "aria-label": "Steps" }, flow.steps.map(function (s) { return h("li", { text: s.title }); })),
        h("button", {
          type: "button", class: "button primary", "aria-label": "Start " + flow.name, text: "Start",
          onclick: async function (event) {
            event.target.disabled = true;
            try {
              const run = await api("POST", "/api/runs", { flow: flow.name });
              navigate(runPath(run.flow_id, run.current_step || run.steps[0].name));
            } catch (err) { toast(err.message, "error"); event.target.disabled = false; }
          },
        }));
    }) : [h("p", { class: "muted", text: "This server offers no flows yet. Start it with flowdeck serve --flows path/to/flow.py." })];

    const runRows = runs.map(function (run) {
      const step = run.current_step || run.steps[run.steps.length - 1].name;
      return h("tr", {},
        h("td", {}, h("a", { href: runPath(run.flow_id, step), text: run.flow_name })),
        h("td", {}, stateBadge(run.state)),
        h("td", { class: run.current_step ? null : "muted", text: run.current_step ? (run.steps.find(function (s) { return s.name === run.current_step; }) || {}).title || run.current_step : (run.state === "complete" ? "Finished" : "—") }),
        h("td", { text: run.user }),
        h("td", { text: run.started_by || run.user }),
        h("td", { text: fmtTime(run.updated_at) }),
        h("td", { class: "actions" }, run.can_manage ? h("button", {
          type: "button", class: "button small danger-outline", "aria-label": "Delete run of " + run.flow_name + " from " + fmtTime(run.created_at), text: "Delete",
          onclick: async function () {
            if (!confirm("Delete this run with its outputs and pages? Assets stay.")) return;
            try { await api("DELETE", apiRun(run.flow_id)); toast("Run deleted"); renderHome(); } catch (err) { toast(err.message, "error"); }
          },
        }) : null));
    });
    setMain("Flows",
      h("div", { class: "page-head" }, h("h1", { text: "Flows" }), h("p", { class: "muted", text: "Start a flow, or pick up a run where you left it." })),
      h("section", { "aria-labelledby": "flows-title" }, h("h2", { id: "flows-title", class: "visually-hidden", text: "Available flows" }),
        h("div", { class: "grid cards" }, flowCards)),
      h("section", { class: "panel", "aria-labelledby": "runs-title" },
        h("h2", { id: "runs-title", text: "Recent runs" }),
        runs.length ? h("div", { class: "table-wrap" }, h("table", { class: "data" },
          h("thead", {}, h("tr", {}, ["Flow", "State", "Current step", "Owner", "Started by", "Updated"].map(function (t) { return h("th", { scope: "col", text: t }); }).concat(actionsHead()))),
          h("tbody", {}, runRows))) : h("p", { class: "muted", text: "No runs yet." })));
  }

  async function openRun(runId) {
    const status = await api("GET", apiRun(runId));
    const step = status.current_step || status.steps[status.steps.length - 1].name;
    navigate(runPath(runId, step), true);
  }

  // --- the step page ---------------------------------------------------------------------------------

  // Draws a step's page. An upload that lands while a drawing is under way may be missing from the
  // page that drawing read, so the step is drawn once more when the drawing is done.
  async function renderStep(runId, stepName) {
    app.drawing = (app.drawing || 0) + 1;
    try {
      await drawStep(runId, stepName);
    } finally {
      app.drawing -= 1;
    }
    if (app.drawAgain && !app.drawing) {
      app.drawAgain = false;
      if (location.pathname === runPath(runId, stepName)) await renderStep(runId, stepName);
    }
  }

  async function drawStep(runId, stepName) {
    const status = await api("GET", apiRun(runId));
    const step = status.steps.find(function (s) { return s.name === stepName; });
    if (!step) { renderNotFound("Run " + runId + " has no step " + stepName + "."); return; }
    let page = null;
    if (step.attempt > 0) page = await api("GET", apiRun(runId) + "/steps/" + encodeURIComponent(stepName) + "/page");
    closeOverlays();
    const previous = app.view && app.view.runId === runId && app.view.stepName === stepName ? app.view : null;
    const view = {
      runId: runId, stepName: stepName, status: status, step: step, page: page,
      cards: {},                       // card id -> the JSON its node was drawn from
      ui: previous ? previous.ui : {}, // what the user chose in the browser only: tabs, table pages
      gates: page ? gatingCards(page.page) : [],
      filterOwner: {},                 // filter element id -> its card
    };
    app.view = view;
    // Drawing the step again (its step finished, another browser acted) keeps focus where it was.
    const focused = document.activeElement;
    const focusId = focused && focused !== main && main.contains(focused) && focused.id ? focused.id : null;

    const stepper = h("ol", { class: "stepper", id: "stepper" });
    fillStepper(stepper, view);

    const banner = h("div", { id: "step-banner", "aria-live": "polite" });
    const alerts = h("div", { id: "page-alerts" });
    const body = h("div", { class: "page-body", id: "page-body" });
    const actions = h("div", { class: "action-bar", id: "action-bar" });

    setMain(step.title || stepName,
      h("div", { class: "run-head" },
        h("p", { class: "crumbs" }, h("a", { href: "/", text: "Flows" }), " / ", h("span", { text: status.flow_name })),
        h("div", { class: "run-title" },
          h("h1", { id: "step-title", text: (page && page.page.title) || step.title || stepName }),
          h("div", { class: "run-meta" }, stateBadge(status.state), h("span", { class: "muted small", text: "run by " + status.user + " · started " + fmtTime(status.created_at) }),
            status.can_manage ? h("button", { type: "button", class: "button small", text: "Share", onclick: function () { shareDialog("run", apiRun(runId)); } }) : null))),
      h("div", { class: "step-layout" },
        h("nav", { class: "step-nav", "aria-label": "Steps of this run" }, stepper),
        h("div", { class: "step-main" }, banner, alerts, body, actions)));

    renderBanner(view);
    if (page) renderPage(view, body);
    else append(body, h("p", { class: "muted", text: "This step has not run yet." }));
    renderActions(view);
    if (status.busy || ["running", "acting", "pending"].indexOf(status.state) >= 0) follow(view, null);
    else if (page && page.editable) watch(view);
    if (location.hash) scrollToHash();
    else window.scrollTo(0, 0);  // a new step opens at its top, wherever the last page was scrolled to
    const again = focusId && !location.hash ? document.getElementById(focusId) : null;
    if (again && !again.disabled) {
      if (again.id === "step-title") again.setAttribute("tabindex", "-1");
      again.focus({ preventScroll: true });
    }
  }

  function fillStepper(stepper, view) {
    clear(stepper);
    view.status.steps.forEach(function (s, i) {
      const current = s.name === view.stepName;
      const label = [h("span", { class: "step-num", "aria-hidden": "true", text: String(i + 1) }),
        h("span", { class: "step-title", text: s.title || s.name }), stepBadge(s)];
      append(stepper, h("li", { class: "step-item" + (current ? " current" : ""), "data-step": s.name },
        s.attempt > 0 ? h("a", { href: runPath(view.runId, s.name), "aria-current": current ? "step" : null }, label) : h("span", { class: "disabled" }, label)));
    });
  }

  function refreshStepper(view) {
    const stepper = document.getElementById("stepper");
    if (stepper) fillStepper(stepper, view);
  }

  function scrollToHash() {
    if (!location.hash) return;
    const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (!target) return;
    target.scrollIntoView({ block: "start" });
    target.classList.add("highlight");
    target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
    setTimeout(function () { target.classList.remove("highlight"); }, 2500);
  }

  function renderBanner(view) {
    const banner = document.getElementById("step-banner");
    clear(banner);
    const st = view.status;
    const step = view.step;
    const busy = st.busy || ["running", "acting"].indexOf(step.state) >= 0 || ["running", "acting"].indexOf(st.state) >= 0;
    if (busy) {
      const value = Math.round(currentProgress(st) || 0);
      // The bar and message change on every progress event without being spoken (aria-live off,
      // inside the banner's live region): progressSpeaker says how the step goes, now and then.
      append(banner, h("section", { class: "panel progress-panel", "aria-label": "Step progress", "aria-live": "off" },
        h("div", { class: "progress-head" }, h("strong", { text: "Working…" }), h("span", { class: "muted", id: "progress-step", text: runningStepTitle(st) })),
        h("div", { class: "progress", role: "progressbar", id: "progress-bar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": value, "aria-label": "Step progress" },
          h("div", { class: "progress-fill", style: "width:" + value + "%" })),
        h("p", { class: "progress-message", id: "progress-message", text: currentMessage(st) || "Starting…" }),
        h("button", { type: "button", class: "button small", id: "cancel-button", text: "Cancel", onclick: function () { cancelStep(view); } })));
      return;
    }
    if (step.state === "cancelled") {
      append(banner, h("section", { class: "panel error-panel", role: "alert", id: "step-cancelled" },
        h("h2", { text: "This step was cancelled" }),
        h("p", { class: "error-text", text: step.error || "The step was cancelled." }),
        st.current_step === step.name ? h("button", { type: "button", class: "button primary", text: "Re-run this step", onclick: function () { act(view, "rerun"); } }) : null));
    } else if (step.state === "failed") {
      append(banner, h("section", { class: "panel error-panel", role: "alert", id: "step-error" },
        h("h2", { text: "This step failed" }),
        h("p", { class: "error-text", text: step.error || "The step's code raised an error." }),
        step.traceback ? h("details", {}, h("summary", { text: "Technical details" }), h("pre", { class: "traceback", text: step.traceback })) : null,
        st.current_step === step.name ? h("button", { type: "button", class: "button primary", text: "Re-run this step", onclick: function () { act(view, "rerun"); } }) : null));
    } else if (step.state === "stale") {
      append(banner, h("p", { class: "notice", text: "This step's results are out of date: an earlier step was reopened. They will be redone when the run gets here again." }));
    } else if (st.current_step && st.current_step !== step.name) {
      const cur = st.steps.find(function (s) { return s.name === st.current_step; });
      append(banner, h("p", { class: "notice" }, "You are looking at an earlier step. ", h("a", { href: runPath(view.runId, st.current_step), text: "Go to the current step (" + ((cur && cur.title) || st.current_step) + ")" })));
    } else if (st.state === "complete") {
      append(banner, h("p", { class: "notice success", text: "This run is complete." }));
    }
    if (step.warning && ["awaiting_input", "complete"].indexOf(step.state) >= 0) {
      append(banner, h("p", { class: "notice warning", role: "status", id: "step-warning", text: "Note for the flow's author: " + step.warning }));
    }
  }

  function runningStepTitle(st) {
    const s = st.steps.find(function (x) { return ["running", "acting"].indexOf(x.state) >= 0; }) ||
      st.steps.find(function (x) { return x.name === st.current_step; });
    return s ? (s.title || s.name) : "";
  }
  function runningStepName(st) {
    const s = st.steps.find(function (x) { return ["running", "acting"].indexOf(x.state) >= 0; });
    return s ? s.name : null;
  }
  function currentProgress(st) {
    const s = st.steps.find(function (x) { return x.state === "running"; });
    return s ? s.progress : 0;
  }
  function currentMessage(st) {
    const s = st.steps.find(function (x) { return x.state === "running"; });
    return s ? s.message : "";
  }

  function renderActions(view) {
    const bar = document.getElementById("action-bar");
    clear(bar);
    const st = view.status;
    const isCurrent = st.current_step === view.stepName;
    const index = st.steps.findIndex(function (s) { return s.name === view.stepName; });
    const last = index === st.steps.length - 1;
    const editable = view.page && view.page.editable;
    const busy = st.busy;
    const back = h("button", { type: "button", class: "button", id: "back-button", text: "← Back", disabled: !(isCurrent || (st.state === "complete" && last)) || index === 0 || busy,
      onclick: function () { act(view, "back"); } });
    const gated = editable && view.gates && view.gates.length > 0;
    const next = h("button", { type: "button", class: "button primary", id: "next-button", text: last ? "Finish" : "Next →", disabled: !editable || busy || gated,
      "aria-describedby": gated ? "gate-note" : null, onclick: function () { act(view, "next"); } });
    const err = h("p", { class: "field-error", role: "alert", id: "action-error" });
    const gate = gated ? h("p", { class: "gate-note", id: "gate-note", role: "status",
      text: (last ? "Finish" : "Next") + " opens once " + view.gates.map(function (t) { return "“" + t + "”"; }).join(", ") + (view.gates.length > 1 ? " allow it." : " allows it.") }) : null;
    const forkable = !busy && ["complete", "awaiting_input"].indexOf(view.step.state) >= 0 &&
      st.steps.slice(0, index).every(function (s) { return s.state === "complete"; });
    const fork = forkable ? h("button", { type: "button", class: "button", id: "fork-button", text: "Start a new run from here",
      onclick: function () { forkRun(view); } }) : null;
    append(bar, [back, err, gate, fork, next]);
  }

  async function cancelStep(view) {
    const button = document.getElementById("cancel-button");
    if (button) button.disabled = true;
    try {
      view.status = await api("POST", apiRun(view.runId) + "/cancel");
    } catch (e) {
      const progress = document.getElementById("progress-message");
      if (progress) progress.textContent = e.message;
      if (button) button.disabled = false;
      return;
    }
    navigate(runPath(view.runId, view.status.current_step || view.stepName), true);
  }

  async function forkRun(view) {
    const err = document.getElementById("action-error");
    if (err) err.textContent = "";
    try {
      const created = await api("POST", apiRun(view.runId) + "/fork", { step: view.stepName });
      navigate(runPath(created.flow_id, view.stepName));
    } catch (e) {
      if (err) err.textContent = e.message;
    }
  }

  async function act(view, action) {
    const err = document.getElementById("action-error");
    if (err) err.textContent = "";
    document.querySelectorAll(".element .field-error").forEach(function (e) { e.textContent = ""; });
    document.querySelectorAll(".element.invalid").forEach(function (e) { e.classList.remove("invalid"); });
    let lastEvent = null;
    try {
      const latest = await api("POST", apiRun(view.runId) + "/" + action);
      view.status = latest;
      lastEvent = latest.last_event_id;
    } catch (e) {
      if (e.status === 422 && e.body && e.body.missing) {
        showMissing(e.body.missing);
        if (err) err.textContent = "Fill in the highlighted inputs first.";
      } else if (err) err.textContent = e.message;
      return;
    }
    view.step = view.status.steps.find(function (s) { return s.name === view.stepName; }) || view.step;
    renderBanner(view);
    renderActions(view);
    refreshStepper(view);
    document.querySelectorAll("#page-body input, #page-body select, #page-body button").forEach(function (el) { el.disabled = true; });
    follow(view, lastEvent);
  }

  function showMissing(titles) {
    let first = null;
    document.querySelectorAll(".element").forEach(function (el) {
      if (titles.indexOf(el.dataset.title) >= 0) {
        el.classList.add("invalid");
        const msg = el.querySelector(".field-error");
        if (msg) msg.textContent = el.dataset.kind === "DataSource" ? "Upload a file here before going on." : "This input is required.";
        if (!first) first = el;
      }
    });
    if (first) {
      first.scrollIntoView({ block: "center" });
      const focusable = first.querySelector("input, select, [tabindex]");
      if (focusable) focusable.focus();
    }
  }

  // Follow a run over server-sent events until no step is running, then show where it stands.
  function follow(view, after) {
    stopStream();
    let url = apiRun(view.runId) + "/events";
    if (after !== null && after !== undefined) url += "?after=" + encodeURIComponent(after);
    const source = new EventSource(url);
    app.stream = source;
    const speaker = progressSpeaker(view);
    speaker.status(view.status);
    source.addEventListener("progress", function (event) {
      const data = JSON.parse(event.data);
      const bar = document.getElementById("progress-bar");
      if (!bar) return;
      const value = Math.max(0, Math.min(100, Math.round(data.completion)));
      bar.setAttribute("aria-valuenow", String(value));
      bar.firstChild.style.width = value + "%";
      const message = document.getElementById("progress-message");
      if (message) message.textContent = value + "% · " + (data.message || "");
      speaker.progress(data.step, value, data.message || "");
    });
    source.addEventListener("status", function (event) {
      const st = JSON.parse(event.data);
      view.status = st;
      const running = st.busy || ["running", "acting", "pending"].indexOf(st.state) >= 0;
      if (running) {
        const step = document.getElementById("progress-step");
        if (step) step.textContent = runningStepTitle(st);
        refreshStepper(view);
        speaker.status(st);
        return;
      }
      stopStream();
      const target = st.current_step || st.steps[st.steps.length - 1].name;
      const here = st.steps.find(function (s) { return s.name === view.stepName; }) || {};
      const there = st.steps.find(function (s) { return s.name === target; }) || {};
      // The end of a step is said unless it failed or was cancelled (an alert says so on its page).
      if (target === view.stepName ? ["failed", "cancelled"].indexOf(here.state) < 0 :
        speaker.started() && ["failed", "cancelled"].indexOf(there.state) < 0) {
        announce(st.state === "complete" ? "This run is complete." : "The step has finished.");
      }
      if (target !== view.stepName || st.state === "complete") navigate(runPath(view.runId, target), target === view.stepName);
      else renderStep(view.runId, view.stepName);
    });
    source.addEventListener("deleted", function () { stopStream(); renderNotFound("This run was deleted."); });
    source.addEventListener("logout", function () { stopStream(); app.me = null; app.csrf = null; goLogin(); });
  }

  // What a screen reader hears of a running step, through the announcer: that it started, then
  // its progress only on crossing 25, 50 or 75 % or, between those, at most every
  // PROGRESS_QUIET_MS; follow() says when it ends. A step reporting progress many times a second
  // is not read out on every report. Next first runs the action of the step the user is on (it is
  // "acting"), then the following step: the first is said as "Finishing <step>…", so that only
  // the step that runs is said to be worked on; Back's action reopens the step before.
  const PROGRESS_QUIET_MS = 10000;
  function progressSpeaker(view) {
    const said = { step: null, at: 0, quarter: 0, text: "" };
    function quarter(value) { return Math.min(3, Math.floor((Number(value) || 0) / 25)); }
    function start(name, value) {
      const st = view.status;
      const s = st.steps.find(function (x) { return x.name === name; });
      const title = (s && (s.title || s.name)) || name;
      said.step = name;
      said.at = Date.now();
      said.quarter = quarter(value);
      said.text = "";
      if (s && s.state === "acting" && st.busy_action === "back") announce("Going back to " + title + "…");
      else if (s && s.state === "acting" && name === view.stepName) announce("Finishing " + title + "…");
      else announce("Working on " + title + "…");
    }
    return {
      started: function () { return said.step !== null; },
      status: function (st) {
        const name = runningStepName(st);
        if (name && name !== said.step) start(name, currentProgress(st));
      },
      progress: function (name, value, message) {
        if (name && name !== said.step) { start(name, value); return; }
        const text = value + "% done" + (message ? ": " + message : "");
        const now = Date.now();
        if (quarter(value) > said.quarter || (now - said.at >= PROGRESS_QUIET_MS && text !== said.text)) {
          said.quarter = Math.max(said.quarter, quarter(value));
          said.at = now;
          said.text = text;
          announce(text);
        }
      },
    };
  }

  // --- page rendering ------------------------------------------------------------------------------

  // Every card is drawn into a node of its own (data-card-id), so that a callback's outcome can
  // replace just the cards it changed. view.cards keeps the JSON each node was drawn from.
  function renderPage(view, body) {
    const page = view.page.page;
    let shown = null;
    page.sections.forEach(function (section) {
      const sec = h("section", { class: "page-section", dataset: { sectionId: section.id || "" } });
      if (section.title) append(sec, h("h2", { class: "section-title", text: section.title }));
      if (section.description) append(sec, h("p", { class: "muted", text: section.description }));
      const grid = h("div", { class: "section-cards" });
      section.content.forEach(function (card) {
        // A container is a modal: shown only while a callback has made it visible.
        if (card.card_type === "container") {
          view.cards[card.id] = JSON.stringify(card);
          if (card.visible) shown = card;
          return;
        }
        append(grid, renderCard(view, card));
      });
      append(sec, grid);
      append(body, sec);
    });
    if (!page.sections.length) append(body, h("p", { class: "muted", text: "This page is empty." }));
    if (shown) setTimeout(function () { openContainer(view, shown, null); }, 0);
  }

  function gatingCards(page) {
    const titles = [];
    (page.sections || []).forEach(function (section) {
      (section.content || []).forEach(function (card) { if (card.disable_next) titles.push(card.title || "(untitled card)"); });
    });
    return titles;
  }

  function flatElements(items) {
    const out = [];
    (items || []).forEach(function (item) {
      if (item.kind === "Row" || item.kind === "Column") flatElements(item.elements).forEach(function (e) { out.push(e); });
      else out.push(item);
    });
    return out;
  }

  function renderCard(view, card, opts) {
    const o = opts || {};
    const wide = flatElements(card.content).some(function (e) {
      return ["Table", "PlotlyPlot", "Dashboard", "SegmentedControl"].indexOf(e.kind) >= 0;
    });
    const kind = card.card_type === "container" ? " container-card" : card.card_type === "segment" ? " segment-card" : "";
    const live = canAct(view) && !o.temporary;
    if (!o.temporary && card.id) view.cards[card.id] = JSON.stringify(card);
    const el = h("article", {
      class: "card page-card" + (wide ? " wide" : "") + kind + (card.disable_next && live ? " gating" : ""),
      id: card.id && !o.temporary ? "card-" + card.id : null,
      "data-card-id": o.temporary ? null : card.id,
    });
    const tools = h("div", { class: "card-tools" });
    if (card.page_update && live) {
      append(tools, h("button", { type: "button", class: "button small", id: "update-" + card.id, text: card.updater_text || "Update",
        onclick: function (event) { fireCallback(view, { kind: "update_card", target: card.id }, { cardId: card.id, opener: event.currentTarget }); } }));
    }
    if (card.title && card.show_title !== false && !o.bare) {
      append(el, h("div", { class: "card-head" }, h("h3", { class: "card-title", id: "card-title-" + card.id, text: card.title }), tools));
    } else if (tools.firstChild) append(el, h("div", { class: "card-head" }, tools));
    if (card.subtitle) append(el, h("p", { class: "card-subtitle", text: card.subtitle }));
    if (card.description && card.show_description !== false) append(el, h("p", { class: "muted", text: card.description }));
    if (card.disable_next && live) append(el, h("p", { class: "gate-badge", text: "Next waits for this card" }));
    if ((card.filters || []).length) {
      const filters = h("div", { class: "card-filters", role: "group", "aria-label": "Filters of " + (card.title || "this card") });
      card.filters.forEach(function (f) {
        if (!o.temporary) view.filterOwner[f.id] = card;
        append(filters, renderElement(view, f, o.temporary));
      });
      append(el, filters);
    }
    (card.content || []).forEach(function (item) { append(el, renderItem(view, item, o.temporary)); });
    if (card.show_comments && !o.temporary) append(el, renderComments(view, card));
    return el;
  }

  function renderItem(view, item, temporary) {
    if (item.kind !== "Row" && item.kind !== "Column") return renderElement(view, item, temporary);
    const box = h("div", { class: "layout layout-" + item.kind.toLowerCase() });
    (item.elements || []).forEach(function (child, i) {
      const cell = h("div", { class: "layout-cell" }, renderItem(view, child, temporary));
      if (item.ratio && item.ratio[i]) cell.style.flex = String(Number(item.ratio[i]));
      append(box, cell);
    });
    return box;
  }

  function renderElement(view, element, temporary) {
    // A drilldown's card is temporary: drawn read-only, with ids of its own.
    const key = temporary ? "dd-" + element.id : element.id;
    const wrap = h("div", { class: "element element-" + String(element.kind).toLowerCase(), id: "element-" + key, dataset: { title: element.title, kind: element.kind } });
    const inputId = "input-" + key;
    const isInput = Object.prototype.hasOwnProperty.call(element, "required") && Object.prototype.hasOwnProperty.call(element, "value");
    if (element.title && !isInput && element.show_title !== false && element.kind !== "Button") append(wrap, h("h4", { class: "element-title", text: element.title }));
    if (isInput) {
      append(wrap, h("label", { class: "element-title", for: inputId, id: "label-" + element.id },
        element.title, element.required ? h("span", { class: "required", "aria-hidden": "true", text: " *" }) : null));
    }
    if (element.description && element.show_description !== false) append(wrap, h("p", { class: "muted small", id: "desc-" + element.id, text: element.description }));
    const error = h("p", { class: "field-error", role: "alert", id: "error-" + element.id });
    const editable = view.page.editable && !temporary;
    const renderer = RENDERERS[element.kind];
    if (renderer) append(wrap, renderer(view, element, { inputId: inputId, editable: editable, error: error, wrap: wrap, temporary: !!temporary, key: key }));
    else append(wrap, h("p", { class: "muted", text: "(" + element.kind + " elements are not shown in the browser)" }));
    append(wrap, error);
    return wrap;
  }

  async function saveValue(view, element, value, ctx) {
    ctx.error.textContent = "";
    ctx.wrap.classList.remove("invalid");
    try {
      const result = await api("PUT", apiRun(view.runId) + "/steps/" + encodeURIComponent(view.stepName) + "/elements/" + encodeURIComponent(element.id) + "/value", { value: value });
      ctx.wrap.classList.add("saved");
      announce("Saved " + (element.title || "the value"));
      setTimeout(function () { ctx.wrap.classList.remove("saved"); }, 1200);
      return result.element;
    } catch (err) {
      ctx.error.textContent = err.message;
      ctx.wrap.classList.add("invalid");
      return null;
    }
  }

  const RENDERERS = {
    DataSource: renderUpload,
    Dropdown: function (view, element, ctx) {
      const select = h("select", { id: ctx.inputId, multiple: element.multiselect, disabled: !ctx.editable, "aria-describedby": "error-" + element.id, required: element.required });
      if (!element.multiselect) append(select, h("option", { value: "", text: "— choose —" }));
      element.options.forEach(function (option, i) {
        const chosen = element.multiselect ? (element.value || []).some(function (v) { return v === option; }) : element.value === option;
        append(select, h("option", { value: String(i), selected: chosen, text: String(option) }));
      });
      select.addEventListener("change", function () {
        const picked = Array.from(select.selectedOptions).filter(function (o) { return o.value !== ""; }).map(function (o) { return element.options[Number(o.value)]; });
        commitValue(view, element, element.multiselect ? picked : (picked.length ? picked[0] : null), ctx);
      });
      return select;
    },
    TextInput: function (view, element, ctx) {
      const input = h("input", { id: ctx.inputId, type: "text", value: element.value || "", disabled: !ctx.editable, "aria-describedby": "error-" + element.id, required: element.required });
      input.addEventListener("change", function () { commitValue(view, element, input.value, ctx); });
      return input;
    },
    NumericRange: renderNumericRange,
    NumericSlider: renderNumericRange,
    NumericRangeSlider: renderNumericRange,
    DateTimeRange: renderDateRange,
    Table: renderTable,
    PlotlyPlot: renderPlot,
    Image: function (view, element) {
      const mime = /^image\/(png|jpeg|gif|webp|bmp|tiff|x-icon|svg\+xml)$/.test(element.mime) ? element.mime : "application/octet-stream";
      return h("img", { class: "element-image", src: "data:" + mime + ";base64," + element.data, alt: element.alt || element.title || "" });
    },
    RichText: function (view, element, ctx) {
      const box = h("div", { class: "rich-text" + (element.border ? " bordered" : "") });
      append(box, window.FlowdeckMarkdown.render(element.content !== undefined ? element.content : element.markdown));
      // Clickable parts (marked data-virt-clickable, as RichTextClickable writes them, or by
      // flowdeck's earlier fd-clickable class; markdown.js made them buttons) run the element's
      // on_click with their data-params.
      const live = element.on_click && ctx.editable;
      box.querySelectorAll("button.fd-clickable, button[data-virt-clickable]").forEach(function (button, i) {
        button.id = "click-" + ctx.key + "-" + i;
        if (!live) { button.disabled = true; return; }
        button.addEventListener("click", function () {
          let params = null;
          try { params = JSON.parse(button.getAttribute("data-params") || "null"); } catch (e) { params = null; }
          clickElement(view, element, button, params);
        });
      });
      return box;
    },
    InfographData: renderInfographData,
    Infographic: function (view, element, ctx) {
      const items = h("div", { class: "infographic infographic-" + (element.layout || "row") });
      (element.data || []).forEach(function (item) { append(items, renderInfographData(view, item, ctx)); });
      if (element.on_click && ctx && ctx.editable) {
        // The infographic's own on_click: a click anywhere on it but on an item with an on_click of its own.
        items.classList.add("clickable");
        items.setAttribute("role", "button");
        items.tabIndex = 0;
        items.id = "infographic-" + element.id;
        const fire = function () { clickElement(view, element, items, null); };
        items.addEventListener("click", function (event) {
          if (event.target.closest && event.target.closest(".infograph-item.clickable")) return;
          fire();
        });
        items.addEventListener("keydown", function (event) {
          if (event.target === items && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); fire(); }
        });
      }
      const parts = [items];
      if ((element.recommendation || []).length) {
        const recs = h("div", { class: "infographic infographic-recommendations" });
        element.recommendation.forEach(function (item) { append(recs, renderInfographData(view, item, ctx)); });
        parts.push(h("p", { class: "muted small", text: "Recommendations" }), recs);
      }
      if (element.event) parts.push(RENDERERS.Button(view, element.event, ctx));
      return parts;
    },
    Button: function (view, element, ctx) {
      const live = element.on_click && ctx && ctx.editable;
      const button = h("button", {
        type: "button",
        id: "button-" + (ctx ? ctx.key : element.id),
        class: "sdk-button style-" + (element.style || "primary") + " color-" + (element.color || "accent") + (element.rounded ? " rounded" : ""),
        title: element.tooltip || null,
        disabled: !live,
        text: element.label || element.title || "Button",
      });
      if (live) {
        button.addEventListener("click", async function () {
          if (element.confirmation_text && element.show_confirmation !== false && !window.confirm(element.confirmation_text)) return;
          button.disabled = true;
          try { await clickElement(view, element, button, null); } finally { button.disabled = false; }
        });
      }
      return button;
    },
    SegmentedControl: function (view, element, ctx) {
      // Tabs: the chosen one is kept in the browser (view.ui), so a redraw of the card keeps it.
      const segments = element.segments || [];
      const state = uiState(view, ctx.key, { tab: element.active_segment_index || 0 });
      const tabs = h("div", { class: "segment-tabs", role: "tablist", "aria-label": element.title || "Tabs" });
      const panels = h("div", { class: "segment-panels" });
      const buttons = [], bodies = [];
      function show(index, focus) {
        state.tab = index;
        buttons.forEach(function (b, i) {
          b.setAttribute("aria-selected", String(i === index));
          b.setAttribute("tabindex", i === index ? "0" : "-1");
          b.classList.toggle("active", i === index);
        });
        bodies.forEach(function (p, i) { p.hidden = i !== index; });
        if (focus) buttons[index].focus();
      }
      segments.forEach(function (segment, i) {
        const tabId = "tab-" + ctx.key + "-" + i, panelId = "tabpanel-" + ctx.key + "-" + i;
        const button = h("button", { type: "button", role: "tab", id: tabId, "aria-controls": panelId, class: "segment-tab", text: segment.label || segment.title || "Tab " + (i + 1) });
        button.addEventListener("click", function () { show(i, false); });
        button.addEventListener("keydown", function (event) {
          const n = segments.length;
          const to = { ArrowRight: (i + 1) % n, ArrowLeft: (i - 1 + n) % n, Home: 0, End: n - 1 }[event.key];
          if (to === undefined) return;
          event.preventDefault();
          show(to, true);
        });
        buttons.push(button);
        append(tabs, button);
        const body = h("div", { role: "tabpanel", id: panelId, "aria-labelledby": tabId, class: "segment-panel" }, renderCard(view, segment, { temporary: ctx.temporary, bare: true }));
        bodies.push(body);
        append(panels, body);
      });
      show(Math.min(state.tab, Math.max(segments.length - 1, 0)), false);
      return [tabs, panels];
    },
    Dashboard: function (view, element, ctx) {
      const parts = [];
      if ((element.filters || []).length) {
        const filters = h("div", { class: "dashboard-filters" });
        element.filters.forEach(function (f) { append(filters, renderElement(view, f, ctx.temporary)); });
        parts.push(filters);
      }
      parts.push(renderItem(view, element.content || { kind: "Row", elements: [] }, ctx.temporary));
      return parts;
    },
  };
  RENDERERS.SingleDropdown = RENDERERS.Dropdown;
  RENDERERS.MultiDropdown = RENDERERS.Dropdown;
  RENDERERS.DataSourceDropdown = RENDERERS.Dropdown;

  function renderInfographData(view, item, ctx) {
    const tone = item.infograph_type || "info";
    const live = item.on_click && ctx && ctx.editable;
    const box = h("div", { class: "infograph-item tone-" + tone + (item.display_compact ? " compact" : "") + (live ? " clickable" : ""),
      id: live ? "infograph-" + item.id : null, role: live ? "button" : null, tabindex: live ? 0 : null },
      h("p", { class: "infograph-label", text: item.label || item.title || "" }),
      h("div", { class: "figure" }, h("span", { class: "value", text: item.main_text === "" ? "—" : String(item.main_text) }), item.unit ? h("span", { class: "unit", text: item.unit }) : null),
      item.supporting_text ? h("p", { class: "muted small", text: item.supporting_text }) : null);
    if (live) {
      const run = function () { clickElement(view, item, box, null); };
      box.addEventListener("click", run);
      box.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); run(); }
      });
    }
    return box;
  }

  function renderUpload(view, element, ctx) {
    const accept = (element.options || []).map(function (o) { return "." + o; }).join(",");
    const input = h("input", { id: ctx.inputId, type: "file", class: "file-input", accept: accept || null, disabled: !ctx.editable, "aria-describedby": "drop-help-" + element.id + " error-" + element.id });
    const current = h("p", { class: "current-file", id: "current-" + element.id });
    function showValue(value) {
      // The page may have been drawn again while the file was on its way: show it on the page as it is now.
      const target = document.body.contains(current) ? current : (document.getElementById("current-" + element.id) || current);
      clear(target);
      if (value && value.filename) append(target, [h("span", { class: "file-icon", "aria-hidden": "true", text: "📄" }), h("strong", { text: value.filename }), " · " + fmtBytes(value.size) + " · uploaded " + fmtTime(value.uploaded_at)]);
    }
    showValue(element.value);
    const progress = h("progress", { max: 100, value: 0, class: "upload-progress", hidden: true, "aria-label": "Upload progress" });
    const zone = h("div", { class: "dropzone" + (ctx.editable ? "" : " disabled"), id: "drop-" + element.id },
      h("p", { id: "drop-help-" + element.id }, ctx.editable ? "Drag a file here, or " : "Uploads are closed for this step.",
        ctx.editable ? h("label", { for: ctx.inputId, class: "linklike", text: "choose a file" }) : null),
      h("p", { class: "muted small", text: "Accepted: " + ((element.options || []).join(", ") || "any file") }),
      input, progress);
    function send(file) {
      if (!file || !ctx.editable) return;
      ctx.error.textContent = "";
      ctx.wrap.classList.remove("invalid");
      progress.hidden = false;
      progress.value = 0;
      const form = new FormData();
      form.append("file", file, file.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", apiRun(view.runId) + "/steps/" + encodeURIComponent(view.stepName) + "/elements/" + encodeURIComponent(element.id) + "/upload");
      xhr.setRequestHeader("X-CSRF-Token", app.csrf || "");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (e) { if (e.lengthComputable) progress.value = Math.round((e.loaded / e.total) * 100); });
      xhr.addEventListener("load", function () {
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
        if (xhr.status === 200) {
          // A drawing of the page under way read it before this upload was stored: draw it again after.
          if (app.drawing) app.drawAgain = true;
          progress.value = 100;
          setTimeout(function () { progress.hidden = true; }, 600);
          if (document.body.contains(current) || document.getElementById("current-" + element.id)) {
            showValue(data && data.element ? data.element.value : null);
          } else {
            // The page was being drawn again (its step just finished) from a copy read before this
            // upload was stored: read it again so that the upload shows.
            renderStep(view.runId, view.stepName);
          }
          toast("Uploaded " + file.name);
          const holder = document.getElementById("element-" + element.id);
          const cardId = holder && holder.closest("[data-card-id]") ? holder.closest("[data-card-id]").dataset.cardId : null;
          if (data && data.outcome) applyOutcome(app.view || view, data.outcome, {});
          else if (element.on_upload_completion) fireCallback(app.view || view, { kind: "upload", target: element.id }, { cardId: cardId });
        } else {
          progress.hidden = true;
          ctx.error.textContent = (data && data.detail) || ("The upload failed (" + xhr.status + ").");
          ctx.wrap.classList.add("invalid");
          if (xhr.status === 401) goLogin();
        }
        input.value = "";
      });
      xhr.addEventListener("error", function () { progress.hidden = true; ctx.error.textContent = "The upload failed: the server could not be reached."; });
      xhr.send(form);
    }
    input.addEventListener("change", function () { send(input.files[0]); });
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (e) { e.preventDefault(); if (ctx.editable) zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (type) { zone.addEventListener(type, function () { zone.classList.remove("over"); }); });
    zone.addEventListener("drop", function (e) { e.preventDefault(); if (e.dataTransfer && e.dataTransfer.files.length) send(e.dataTransfer.files[0]); });
    return [zone, current];
  }

  function renderNumericRange(view, element, ctx) {
    const min = Number(element.min_range), max = Number(element.max_range);
    const step = element.step_size || element.step || (Number.isInteger(min) && Number.isInteger(max) && max - min >= 20 ? 1 : (max - min) / 100 || 1);
    const value = element.value || [null, null];
    const low = value[0] === null ? min : value[0], high = value[1] === null ? max : value[1];
    if (element.single) {
      const one = h("input", { type: "range", id: ctx.inputId, min: min, max: max, step: step, value: low, disabled: !ctx.editable, "aria-label": element.title });
      const shown = h("output", { for: ctx.inputId, text: String(low) });
      one.addEventListener("input", function () { shown.textContent = one.value; });
      one.addEventListener("change", function () { commitValue(view, element, [Number(one.value), Number(one.value)], ctx); });
      return h("div", { class: "range" }, h("div", { class: "range-row" }, h("span", { class: "range-label", text: "Value" }), one, shown), h("p", { class: "muted small", text: "Range " + min + " to " + max }));
    }
    const lowIn = h("input", { type: "range", id: ctx.inputId, min: min, max: max, step: step, value: low, disabled: !ctx.editable, "aria-label": element.title + " from" });
    const highIn = h("input", { type: "range", id: "high-" + element.id, min: min, max: max, step: step, value: high, disabled: !ctx.editable, "aria-label": element.title + " to" });
    const lowNum = h("output", { for: ctx.inputId, text: String(low) });
    const highNum = h("output", { for: "high-" + element.id, text: String(high) });
    function update(save) {
      let a = Number(lowIn.value), b = Number(highIn.value);
      if (a > b) { if (document.activeElement === lowIn) { b = a; highIn.value = b; } else { a = b; lowIn.value = a; } }
      lowNum.textContent = String(a); highNum.textContent = String(b);
      if (save) commitValue(view, element, [a, b], ctx);
    }
    [lowIn, highIn].forEach(function (el) {
      el.addEventListener("input", function () { update(false); });
      el.addEventListener("change", function () { update(true); });
    });
    return h("div", { class: "range" },
      h("div", { class: "range-row" }, h("span", { class: "range-label", text: "From" }), lowIn, lowNum),
      h("div", { class: "range-row" }, h("span", { class: "range-label", text: "To" }), highIn, highNum),
      h("p", { class: "muted small", text: "Range " + min + " to " + max }));
  }

  function toLocalInput(iso) { return iso ? String(iso).slice(0, 16) : ""; }

  function renderDateRange(view, element, ctx) {
    const value = element.value || [null, null];
    const fromId = "from-" + ctx.key, toId = "to-" + ctx.key, titleId = "label-" + element.id;
    if (element.is_range === false) {
      // One moment: a single field, sent as both ends.
      const moment = h("input", { type: "datetime-local", id: ctx.inputId, min: toLocalInput(element.min_range), max: toLocalInput(element.max_range), value: toLocalInput(value[0] || element.min_range), disabled: !ctx.editable,
        "aria-labelledby": titleId });
      moment.addEventListener("change", function () { commitValue(view, element, [moment.value || null, moment.value || null], ctx); });
      return h("div", { class: "date-range" }, moment);
    }
    const start = h("input", { type: "datetime-local", id: ctx.inputId, min: toLocalInput(element.min_range), max: toLocalInput(element.max_range), value: toLocalInput(value[0] || element.min_range), disabled: !ctx.editable,
      "aria-labelledby": titleId + " " + fromId });
    const endId = "end-" + element.id;
    const end = h("input", { type: "datetime-local", id: endId, min: toLocalInput(element.min_range), max: toLocalInput(element.max_range), value: toLocalInput(value[1] || element.max_range), disabled: !ctx.editable,
      "aria-labelledby": titleId + " " + toId });
    function save() { commitValue(view, element, [start.value || null, end.value || null], ctx); }
    start.addEventListener("change", save);
    end.addEventListener("change", save);
    return h("div", { class: "date-range" },
      h("div", {}, h("label", { for: ctx.inputId, id: fromId, class: "small muted", text: "From" }), start),
      h("div", {}, h("label", { for: endId, id: toId, class: "small muted", text: "To" }), end));
  }

  function compare(a, b) {
    if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;
    if (b === null || b === undefined) return -1;
    if (typeof a === "number" && typeof b === "number") return a - b;
    return String(a).localeCompare(String(b), undefined, { numeric: true });
  }

  function cellText(cell) {
    const numeric = typeof cell === "number";
    return cell === null || cell === undefined ? "" : numeric && !Number.isInteger(cell) ? String(Math.round(cell * 10000) / 10000) : String(cell);
  }

  // Which columns a user may edit in place: only where a change can go somewhere (an on_edit_update
  // callback, or editable columns the flow named), and only while the step takes input.
  function editableColumns(element, ctx) {
    const options = element.options || {};
    if (!ctx.editable || options.editable === false) return [];
    const named = Array.isArray(options.editable_columns) ? options.editable_columns.map(String) : null;
    if (!element.on_edit_update && !named) return [];
    const defined = ((element.data_grid_features || {}).column_definitions || []).filter(function (c) { return c.editable; }).map(function (c) { return String(c.field); });
    return (element.columns || []).map(String).filter(function (c) {
      return named ? named.indexOf(c) >= 0 || defined.indexOf(c) >= 0 : options.editable_columns !== false;
    });
  }

  function rowActions(element) {
    return (element.row_actions || []).map(function (action) {
      const title = (action.meta && action.meta.row_action_title) || action.title || "Action";
      return { title: String(title), description: action.description || "" };
    });
  }

  function renderTable(view, element, ctx) {
    if (element.extra && element.extra.paged) return renderPagedTable(view, element, ctx);
    const columns = element.columns || [];
    const rows = (element.records || []).map(function (r, i) { return { i: i, r: r }; });
    // Sorting and paging live in the browser; kept across redraws of the card.
    const state = uiState(view, ctx.key, { col: null, dir: 1, page: 0, size: 10 });
    const holder = h("div", { class: "table-block" });
    const options = element.options || {};
    const selectable = ctx.editable && (options.selectable || !!element.on_row_select);
    const include = element.selection_type !== "exclude";
    const picked = new Set(include ? (element.selected_rows || []) : rows.map(function (row) { return row.i; }).filter(function (i) { return (element.selected_rows || []).indexOf(i) < 0; }));
    const editCols = editableColumns(element, ctx);
    const actions = ctx.editable ? rowActions(element) : [];
    const label = element.title || "table";

    function cardId() { const card = holder.closest("[data-card-id]"); return card ? card.dataset.cardId : null; }

    function sendSelection() {
      fireCallback(view, function () {
        return { kind: "select_rows", target: element.id, value: Array.from(picked).sort(function (a, b) { return a - b; }) };
      }, { cardId: cardId(), coalesce: "select-" + element.id });
    }

    function editCell(td, row, ci) {
      const column = columns[ci];
      const before = row.r[ci];
      const input = h("input", { type: typeof before === "number" ? "number" : "text", class: "cell-input", value: before === null ? "" : String(before),
        "aria-label": "New " + column + " of row " + (row.i + 1) });
      let done = false;
      function finish(save) {
        if (done) return;
        done = true;
        const raw = input.value;
        const value = typeof before === "number" && raw !== "" && !isNaN(Number(raw)) ? Number(raw) : raw;
        const button = cellButton(row, ci, save ? value : before);
        td.replaceChildren(button);
        button.focus();
        if (save && value !== before) {
          row.r[ci] = value;
          fireCallback(view, { kind: "edit_cell", target: element.id, value: { row: row.i, column: column, value: value } }, { cardId: cardId() });
        }
      }
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { event.preventDefault(); finish(true); }
        else if (event.key === "Escape") { event.preventDefault(); event.stopPropagation(); finish(false); }
      });
      input.addEventListener("blur", function () { finish(true); });
      td.replaceChildren(input);
      input.focus();
      input.select();
    }

    function cellButton(row, ci, value) {
      return h("button", { type: "button", class: "cell-edit", id: "cell-" + ctx.key + "-" + row.i + "-" + ci,
        "aria-label": "Edit " + columns[ci] + " of row " + (row.i + 1) + ": " + (cellText(value) || "empty"), title: "Edit",
        text: cellText(value) || "✎" });
    }

    function actionMenu(row) {
      const id = "actions-" + ctx.key + "-" + row.i;
      const toggle = h("button", { type: "button", class: "button small row-actions-toggle", id: id, "aria-haspopup": "menu", "aria-expanded": "false",
        "aria-label": "Actions for row " + (row.i + 1), text: "⋯" });
      toggle.addEventListener("click", function () {
        openMenu(toggle, actions.map(function (action) {
          return { label: action.title, hint: action.description, run: function () {
            const values = {};
            columns.forEach(function (c, ci) { values[String(c)] = row.r[ci]; });
            fireCallback(view, { kind: "drilldown", target: element.id, input_data: { row: row.i, action: action.title, values: values } },
              { cardId: cardId(), opener: toggle });
          } };
        }));
      });
      return toggle;
    }

    function draw() {
      clear(holder);
      let sorted = rows;
      if (state.col !== null) sorted = rows.slice().sort(function (a, b) { return compare(a.r[state.col], b.r[state.col]) * state.dir || a.i - b.i; });
      const pages = Math.max(1, Math.ceil(sorted.length / state.size));
      state.page = Math.min(state.page, pages - 1);
      const shown = sorted.slice(state.page * state.size, (state.page + 1) * state.size);
      const heads = columns.map(function (c, ci) {
        const sortedHere = state.col === ci;
        return h("th", { scope: "col", "aria-sort": sortedHere ? (state.dir > 0 ? "ascending" : "descending") : "none" },
          h("button", { type: "button", class: "sort", onclick: function () { state.dir = state.col === ci ? -state.dir : 1; state.col = ci; draw(); holder.querySelectorAll("th button.sort")[ci].focus(); } },
            String(c), h("span", { class: "sort-icon", "aria-hidden": "true", text: sortedHere ? (state.dir > 0 ? " ▲" : " ▼") : " ↕" })));
      });
      if (selectable) {
        const all = h("input", { type: "checkbox", id: "select-all-" + ctx.key, "aria-label": "Select every row of " + label,
          checked: rows.length > 0 && picked.size === rows.length });
        all.indeterminate = picked.size > 0 && picked.size < rows.length;
        all.addEventListener("change", function () {
          picked.clear();
          if (all.checked) rows.forEach(function (row) { picked.add(row.i); });
          draw();
          holder.querySelector("#select-all-" + CSS.escape(ctx.key)).focus();
          sendSelection();
        });
        heads.unshift(h("th", { scope: "col", class: "select-col" }, all));
      }
      if (actions.length) heads.push(h("th", { scope: "col", class: "actions-col" }, h("span", { class: "visually-hidden", text: "Row actions" })));
      const bodyRows = shown.map(function (row) {
        const cells = row.r.map(function (cell, ci) {
          const numeric = typeof cell === "number";
          if (editCols.indexOf(String(columns[ci])) >= 0) {
            const td = h("td", { class: "editable" + (numeric ? " num" : "") });
            const button = cellButton(row, ci, cell);
            button.addEventListener("click", function () { editCell(td, row, ci); });
            td.appendChild(button);
            td.addEventListener("click", function (event) {
              if (event.target !== td) return;
              editCell(td, row, ci);
            });
            return td;
          }
          return h("td", { class: numeric ? "num" : null, text: cellText(cell) });
        });
        if (selectable) {
          const box = h("input", { type: "checkbox", id: "select-" + ctx.key + "-" + row.i, checked: picked.has(row.i), "aria-label": "Select row " + (row.i + 1) });
          box.addEventListener("change", function () {
            if (box.checked) picked.add(row.i); else picked.delete(row.i);
            box.closest("tr").classList.toggle("selected", box.checked);
            sendSelection();
          });
          cells.unshift(h("td", { class: "select-col" }, box));
        }
        if (actions.length) cells.push(h("td", { class: "actions-col" }, actionMenu(row)));
        return h("tr", { class: picked.has(row.i) && selectable ? "selected" : null, "data-row": row.i }, cells);
      });
      append(holder, h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": element.title || "Table" },
        h("table", { class: "data" }, element.title ? h("caption", { class: "visually-hidden", text: element.title }) : null, h("thead", {}, h("tr", {}, heads)), h("tbody", {}, bodyRows))));
      const total = element.total_rows !== undefined && element.total_rows !== null ? element.total_rows : rows.length;
      const pager = h("div", { class: "pager" },
        h("span", { class: "muted small", text: (rows.length ? "Rows " + (state.page * state.size + 1) + "–" + (state.page * state.size + shown.length) + " of " + rows.length + (total > rows.length ? " shown (" + total + " in all)" : "") : "No rows") + (selectable && picked.size ? " · " + picked.size + " selected" : "") }),
        h("div", { class: "pager-buttons" },
          element.downloadable ? h("button", { type: "button", class: "button small", text: "Download CSV", onclick: function () { downloadCsv(element); } }) : null,
          h("label", { class: "small muted", for: "size-" + ctx.key, text: "Rows per page" }),
          h("select", { id: "size-" + ctx.key, class: "small-select", onchange: function (e) { state.size = Number(e.target.value); state.page = 0; draw(); } },
            [10, 25, 50, 100].map(function (n) { return h("option", { value: n, selected: n === state.size, text: String(n) }); })),
          h("button", { type: "button", class: "button small", text: "‹ Previous", disabled: state.page === 0, onclick: function () { state.page -= 1; draw(); } }),
          h("span", { class: "small", text: "Page " + (state.page + 1) + " of " + pages }),
          h("button", { type: "button", class: "button small", text: "Next ›", disabled: state.page >= pages - 1, onclick: function () { state.page += 1; draw(); } })));
      append(holder, pager);
    }
    draw();
    return holder;
  }

  // A table too big for the page: the server pages, sorts and filters it, and streams downloads.
  // Its paging, sort and filter are kept across redraws of the card (a stream event, a callback
  // answer), for as long as the page shows the same stored table (its paged version).
  function renderPagedTable(view, element, ctx) {
    const base = apiRun(view.runId) + "/steps/" + encodeURIComponent(view.stepName) + "/tables/" + encodeURIComponent(element.id);
    const state = uiState(view, ctx.key + "|paged|" + String(element.extra.paged.version || ""), {
      col: null, desc: false, offset: 0, size: 25, q: "", total: element.extra.paged.rows,
      columns: element.columns || [], records: (element.records || []).slice(0, 25), seq: 0 });
    const holder = h("div", { class: "table-block", "data-paged": "true" });
    // An answer that arrives after a redraw is drawn into the card on the page now.
    state.holder = holder;
    state.draw = draw;
    const filterId = "filter-" + element.id;
    const filter = h("input", { id: filterId, type: "search", class: "small-input", placeholder: "Filter rows", value: state.q,
      onchange: function (e) { state.q = e.target.value; state.offset = 0; load(); } });
    async function load() {
      state.seq += 1;
      const seq = state.seq;
      const params = new URLSearchParams({ offset: state.offset, limit: state.size, q: state.q });
      if (state.col !== null) { params.set("sort", state.col); params.set("desc", state.desc ? "true" : "false"); }
      state.holder.setAttribute("aria-busy", "true");
      try {
        const data = await api("GET", base + "/rows?" + params.toString());
        if (seq !== state.seq) return;
        state.columns = data.columns; state.records = data.records; state.total = data.total_rows;
        state.draw();
      } catch (err) {
        toast(err.message || String(err), "error");
      } finally {
        if (seq === state.seq) state.holder.removeAttribute("aria-busy");
      }
    }
    function draw() {
      clear(holder);
      const pages = Math.max(1, Math.ceil(state.total / state.size));
      const page = Math.floor(state.offset / state.size);
      const head = h("tr", {}, state.columns.map(function (c) {
        const here = state.col === c;
        return h("th", { scope: "col", "aria-sort": here ? (state.desc ? "descending" : "ascending") : "none" },
          h("button", { type: "button", class: "sort", onclick: function () { state.desc = state.col === c ? !state.desc : false; state.col = c; state.offset = 0; load(); } },
            String(c), h("span", { class: "sort-icon", "aria-hidden": "true", text: here ? (state.desc ? " ▼" : " ▲") : " ↕" })));
      }));
      const bodyRows = state.records.map(function (row) {
        return h("tr", {}, row.map(function (cell) {
          const numeric = typeof cell === "number";
          return h("td", { class: numeric ? "num" : null, text: cell === null ? "" : numeric && !Number.isInteger(cell) ? String(Math.round(cell * 10000) / 10000) : String(cell) });
        }));
      });
      append(holder, h("div", { class: "pager" }, h("label", { class: "small muted", for: filterId, text: "Filter" }), filter));
      append(holder, h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": element.title || "Table" },
        h("table", { class: "data" }, element.title ? h("caption", { class: "visually-hidden", text: element.title }) : null, h("thead", {}, head), h("tbody", {}, bodyRows))));
      const first = state.total ? state.offset + 1 : 0;
      append(holder, h("div", { class: "pager" },
        h("span", { class: "muted small table-range", text: state.total ? "Rows " + first.toLocaleString() + "–" + (state.offset + state.records.length).toLocaleString() + " of " + state.total.toLocaleString() : "No rows" }),
        h("div", { class: "pager-buttons" },
          element.downloadable ? h("a", { class: "button small", href: base + "/download?format=csv", download: "", text: "Download CSV" }) : null,
          element.downloadable ? h("a", { class: "button small", href: base + "/download?format=parquet", download: "", text: "Download Parquet" }) : null,
          h("label", { class: "small muted", for: "size-" + element.id, text: "Rows per page" }),
          h("select", { id: "size-" + element.id, class: "small-select", onchange: function (e) { state.size = Number(e.target.value); state.offset = 0; load(); } },
            [10, 25, 50, 100].map(function (n) { return h("option", { value: n, selected: n === state.size, text: String(n) }); })),
          h("button", { type: "button", class: "button small", text: "‹ Previous", disabled: page === 0, onclick: function () { state.offset = Math.max(0, state.offset - state.size); load(); } }),
          h("span", { class: "small", text: "Page " + (page + 1).toLocaleString() + " of " + pages.toLocaleString() }),
          h("button", { type: "button", class: "button small", text: "Next ›", disabled: page >= pages - 1, onclick: function () { state.offset += state.size; load(); } }))));
    }
    draw();
    return holder;
  }

  function downloadCsv(element) {
    function cell(v) {
      if (v === null || v === undefined) return "";
      let s = String(v);
      // Spreadsheets run text starting with = + - @ (or a tab or CR) as a formula: make it text.
      if (typeof v === "string" && /^[=+\-@\t\r]/.test(s)) s = "'" + s;
      return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
    }
    const lines = [element.columns.map(cell).join(",")].concat(element.records.map(function (r) { return r.map(cell).join(","); }));
    const blob = new Blob([lines.join("\n") + "\n"], { type: "text/csv" });
    const a = h("a", { href: URL.createObjectURL(blob), download: (element.title || "table").replace(/[^\w.-]+/g, "_") + ".csv" });
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  function loadPlotly() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (!app.plotly) {
      app.plotly = new Promise(function (resolve, reject) {
        const script = h("script", { src: "/vendor/plotly.min.js" });
        script.addEventListener("load", function () { resolve(window.Plotly); });
        script.addEventListener("error", function () { reject(new Error("plotly.js could not be loaded")); });
        document.head.appendChild(script);
      });
    }
    return app.plotly;
  }

  function renderPlot(view, element, ctx) {
    const name = element.title || "Plot";
    const box = h("div", { class: "plot loading", role: "figure", "aria-label": name, "aria-busy": "true" },
      h("span", { class: "plot-placeholder", text: "Loading chart…" }));
    const figure = element.figure || {};
    loadPlotly().then(function (Plotly) {
      const layout = Object.assign({ autosize: true, margin: { t: 48, r: 16, b: 48, l: 56 }, font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif" } }, figure.layout || {});
      clear(box);
      box.classList.remove("loading");
      box.removeAttribute("aria-busy");
      Plotly.newPlot(box, figure.data || [], layout, {
        responsive: true, displaylogo: false, showSendToCloud: false, showEditInChartStudio: false,
        modeBarButtonsToRemove: ["sendDataToCloud", "editInChartStudio"],
      });
    }).catch(function (err) { box.classList.remove("loading"); box.textContent = err.message; });
    return h("div", { class: "plot-block" }, box, plotData(view, element, ctx, name));
  }

  // --- a plot's data as a table: its text alternative -----------------------------------------------
  //
  // Under every plot a button shows (and hides) a table of the figure's data: a row per point, with
  // the trace's name and the point's x, y (z, labels, values, text, ...). The table is built the first
  // time it is shown, with at most PLOT_DATA_ROWS rows per trace (a note says how many were left
  // out), so a plot of millions of points costs nothing until asked for. Plotly writes numpy arrays
  // as base64 typed arrays ({dtype, bdata, shape}): only the part shown is decoded. Every value is
  // set as text.

  const PLOT_DATA_ROWS = 1000;
  // The columns a trace may have, in their order: the header and the trace keys read for it.
  const PLOT_DATA_COLUMNS = [
    ["x", ["x"]], ["y", ["y"]], ["z", ["z"]],
    ["Open", ["open"]], ["High", ["high"]], ["Low", ["low"]], ["Close", ["close"]],
    ["Latitude", ["lat"]], ["Longitude", ["lon"]], ["Location", ["locations"]],
    ["a", ["a"]], ["b", ["b"]], ["c", ["c"]], ["r", ["r"]], ["θ", ["theta"]],
    ["Label", ["labels"]], ["Parent", ["parents"]], ["Value", ["values", "value"]], ["Text", ["text"]],
  ];
  const TYPED_ARRAYS = {
    i1: Int8Array, int8: Int8Array, u1: Uint8Array, uint8: Uint8Array, u1c: Uint8ClampedArray, uint8c: Uint8ClampedArray,
    i2: Int16Array, int16: Int16Array, u2: Uint16Array, uint16: Uint16Array,
    i4: Int32Array, int32: Int32Array, u4: Uint32Array, uint32: Uint32Array,
    f4: Float32Array, float32: Float32Array, f8: Float64Array, float64: Float64Array,
  };

  function plotData(view, element, ctx, name) {
    const key = (ctx && ctx.key) || element.id || newId("plot");
    const panelId = "plot-data-" + key;
    const state = view && view.ui ? uiState(view, "plot-data|" + key, { open: false }) : { open: false };
    const label = h("span", { text: "Show data" });
    const toggle = h("button", { type: "button", class: "button small plot-data-toggle", id: "plot-data-toggle-" + key,
      "aria-expanded": "false", "aria-controls": panelId }, label, h("span", { class: "visually-hidden", text: " of " + name }));
    const panel = h("div", { class: "plot-data", id: panelId, hidden: true });
    let built = false;
    function show(open) {
      if (open && !built) {
        built = true;
        try {
          append(panel, plotDataTable(element.figure || {}, name, panelId));
        } catch (err) {
          append(panel, h("p", { class: "muted small", text: "The data of this plot could not be listed." }));
        }
      }
      state.open = open;
      panel.hidden = !open;
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      label.textContent = open ? "Hide data" : "Show data";
    }
    toggle.addEventListener("click", function () { show(panel.hidden); });
    if (state.open) show(true);
    return h("div", { class: "plot-data-block" }, toggle, panel);
  }

  // The figure's traces as one table (a caption naming the plot, a column header per kind of value,
  // a row per point) and the notes on points left out; then a table of its own for each table trace.
  function plotDataTable(figure, name, id) {
    const traces = (Array.isArray(figure.data) ? figure.data : []).filter(function (t) { return t && typeof t === "object"; });
    const layout = figure.layout && typeof figure.layout === "object" ? figure.layout : {};
    const isTable = function (t) { return t.type === "table"; };
    const plotted = traces.filter(function (t) { return !isTable(t); });
    const read = traces.map(function (trace, i) { return isTable(trace) ? null : plotTrace(trace, i); })
      .filter(function (t) { return t !== null; });
    const used = PLOT_DATA_COLUMNS.filter(function (column, c) {
      return read.some(function (t) { return t.columns[c] !== null; });
    });
    const rows = [];
    const notes = [];
    read.forEach(function (t) {
      const cols = PLOT_DATA_COLUMNS.map(function (column, c) { return used.indexOf(column) >= 0 ? t.columns[c] : undefined; })
        .filter(function (col) { return col !== undefined; });
      for (let k = 0; k < t.shown; k++) {
        rows.push(h("tr", {}, h("th", { scope: "row", text: t.name }), cols.map(function (col) {
          const value = col === null ? null : col(k);
          return h("td", { class: typeof value === "number" ? "num" : null, text: plotCell(value) });
        })));
      }
      if (t.total > t.shown) {
        notes.push(h("li", { text: "“" + t.name + "”: the first " + fmtCount(t.shown) + " of its " + fmtCount(t.total) +
          " points are listed; " + fmtCount(t.total - t.shown) + " are left out." }));
      }
    });
    const parts = [];
    if (rows.length) {
      const heads = [h("th", { scope: "col", text: "Trace" })].concat(used.map(function (column) {
        return h("th", { scope: "col", text: plotHeader(column[0], layout, plotted) });
      }));
      parts.push(plotDataBlock(id, "Data of " + name, heads, rows, notes));
    }
    traces.forEach(function (trace, i) {
      if (!isTable(trace)) return;
      const title = "Data of " + name + (traces.length > 1 ? ": " + traceName(trace, i) : "");
      const block = plotTableTrace(trace, title, id + "-" + (i + 1));
      if (block) parts.push(block);
    });
    return parts.length ? parts : h("p", { class: "muted small", text: "This plot has no data to list." });
  }

  // A table with its caption in a scrolling region named like it, described by the notes under it.
  function plotDataBlock(id, title, heads, rows, notes) {
    const noteId = id + "-notes";
    const table = h("table", { class: "data plot-data-table", "aria-describedby": notes.length ? noteId : null },
      h("caption", { text: title }),
      h("thead", {}, h("tr", {}, heads)), h("tbody", {}, rows));
    return [
      h("div", { class: "table-wrap plot-data-wrap", id: id + "-table", tabindex: 0, role: "region", "aria-label": title }, table),
      notes.length ? h("ul", { class: "plot-data-notes muted small", id: noteId }, notes) : null,
    ];
  }

  // A table trace (go.Table) as the table it draws: a column header per header.values entry (the
  // lines of a multi-line header joined by spaces) and a row per cell of cells.values, which lists
  // columns (each a list, a typed array, or a single value: one cell, as plotly draws it) or is a
  // typed matrix of a column per row. Columns of unequal length end in blank cells; at most
  // PLOT_DATA_ROWS rows and columns are listed.
  function plotTableTrace(trace, title, id) {
    const header = trace.header && typeof trace.header === "object" ? trace.header : {};
    const cells = trace.cells && typeof trace.cells === "object" ? trace.cells : {};
    const columns = tableColumns(cells.values);
    const typedLabels = Array.isArray(header.values) ? null : plotArray(header.values);
    const labels = Array.isArray(header.values) ? header.values : [];
    if (typedLabels) {
      const label = typedLabels.head(Math.min(typedLabels.length, PLOT_DATA_ROWS));
      for (let j = 0; j < Math.min(typedLabels.length, PLOT_DATA_ROWS); j++) labels.push(label(j));
      labels.length = typedLabels.length;
    }
    const width = Math.max(labels.length, columns.count);
    if (!width) return null;
    const listed = Math.min(width, PLOT_DATA_ROWS);
    const cols = [];
    for (let j = 0; j < listed; j++) cols.push(j < columns.count ? columns.column(j) : { length: 0 });
    const total = cols.reduce(function (most, col) { return Math.max(most, col.length); }, 0);
    const shown = Math.min(total, PLOT_DATA_ROWS);
    const values = cols.map(function (col) { return col.length ? col.read(Math.min(shown, col.length)) : null; });
    const heads = cols.map(function (col, j) {
      const text = (Array.isArray(labels[j]) ? labels[j] : [labels[j]]).map(plotCell)
        .filter(function (line) { return line.trim(); }).join(" ");
      return h("th", { scope: "col", text: text || "Column " + (j + 1) });
    });
    const rows = [];
    for (let k = 0; k < shown; k++) {
      rows.push(h("tr", {}, cols.map(function (col, j) {
        const value = k < col.length ? values[j](k) : undefined;
        return h("td", { class: typeof value === "number" ? "num" : null, text: plotCell(value) });
      })));
    }
    const notes = [];
    if (total > shown) {
      notes.push(h("li", { text: "The first " + fmtCount(shown) + " of the table's " + fmtCount(total) +
        " rows are listed; " + fmtCount(total - shown) + " are left out." }));
    }
    if (width > listed) {
      notes.push(h("li", { text: "The first " + fmtCount(listed) + " of the table's " + fmtCount(width) +
        " columns are listed; " + fmtCount(width - listed) + " are left out." }));
    }
    return plotDataBlock(id, title, heads, rows, notes);
  }

  // A table trace's cells.values as { count, column(j) }: column j's length and read(n), which reads
  // its first n cells only and returns cell k's value.
  function tableColumns(raw) {
    if (Array.isArray(raw)) {
      return { count: raw.length, column: function (j) {
        const value = raw[j];
        const array = Array.isArray(value) ? { length: value.length, head: function () { return function (k) { return value[k]; }; } } :
          plotArray(value);
        if (array) return { length: array.length, read: function (n) { return array.head(n); } };
        return { length: 1, read: function () { return function () { return value; }; } };  // one cell
      } };
    }
    const typed = plotArray(raw);
    if (!typed) return { count: 0 };
    if (typed.cols) {
      // A matrix (a 2-d numpy array): a column per row.
      return { count: Math.ceil(typed.length / typed.cols), column: function (j) {
        return { length: Math.min(typed.cols, typed.length - j * typed.cols), read: function (n) { return typed.head(n, j * typed.cols); } };
      } };
    }
    // A flat typed array: a column of one cell per value.
    let head = null;
    return { count: typed.length, column: function (j) {
      if (!head) head = typed.head(Math.min(typed.length, PLOT_DATA_ROWS));
      return { length: 1, read: function () { return function () { return head(j); }; } };
    } };
  }

  function traceName(trace, index) {
    return typeof trace.name === "string" && trace.name.trim() ? trace.name :
      typeof trace.name === "number" ? String(trace.name) : "Trace " + (index + 1);
  }

  // One trace: its name, how many points it has and how many are listed, and for each column of
  // PLOT_DATA_COLUMNS a function giving the value of the k-th listed point (null: no such values).
  function plotTrace(trace, index) {
    const name = traceName(trace, index);
    const values = PLOT_DATA_COLUMNS.map(function (column) {
      const k = column[1].find(function (key) { return trace[key] !== undefined && trace[key] !== null; });
      return k === undefined ? null : { key: k, raw: trace[k], array: plotArray(trace[k]) };
    });
    // x or y as a list of lists, beside a z that is not a matrix, is a multi-category axis: a point's
    // categories, outermost first.
    const zGrid = values[2] && values[2].array && values[2].array.cols;
    [0, 1].forEach(function (c) {
      const v = values[c];
      if (zGrid || !v || !v.array || !v.array.cols || !Array.isArray(v.raw)) return;
      const levels = v.raw.filter(Array.isArray);
      v.array = { length: Math.max.apply(null, levels.map(function (l) { return l.length; })), head: function () {
        return function (k) { return levels.map(function (l) { return plotCell(l[k]); }).join(" / "); };
      } };
    });
    // A matrix (a heatmap's or contour's z): a point per cell, row by row; x and y say the column and
    // row (their positions when the trace has none).
    const grid = values.find(function (v) { return v && v.array && v.array.cols; });
    const arrays = values.filter(function (v) { return v && v.array; });
    let total;
    if (grid) total = grid.array.length;
    else if (arrays.length) total = Math.max.apply(null, arrays.map(function (v) { return v.array.length; }));
    else total = values.some(function (v) { return v && isScalar(v.raw); }) ? 1 : 0;
    const shown = Math.min(total, PLOT_DATA_ROWS);
    const columns = values.map(function (v, c) {
      const axis = PLOT_DATA_COLUMNS[c][1][0];
      if (grid && (axis === "x" || axis === "y") && !(v && v.array && v.array.cols)) {
        const width = grid.array.cols;
        const position = axis === "x" ? function (k) { return k % width; } : function (k) { return Math.floor(k / width); };
        if (v && v.array) { const head = v.array.head(shown); return function (k) { return head(position(k)); }; }
        return position;
      }
      if (!v) return implicitPosition(trace, axis, values);
      if (!v.array) return arrays.length || !isScalar(v.raw) ? null : function () { return v.raw; };
      return v.array.head(shown);
    });
    return { name: name, total: total, shown: shown, columns: columns };
  }

  // A scatter or bar trace given only y (a horizontal bar only x) is drawn at x0, x0 + dx, ...: those
  // positions are its x (or y).
  function implicitPosition(trace, axis, values) {
    if (["scatter", "scattergl", "bar"].indexOf(trace.type || "scatter") < 0 || (axis !== "x" && axis !== "y")) return null;
    const other = values[PLOT_DATA_COLUMNS.findIndex(function (column) { return column[1][0] === (axis === "x" ? "y" : "x"); })];
    if (!other || !other.array) return null;
    const start = typeof trace[axis + "0"] === "number" ? trace[axis + "0"] : 0;
    const step = typeof trace["d" + axis] === "number" ? trace["d" + axis] : 1;
    return function (k) { return start + k * step; };
  }

  function isScalar(value) { return ["string", "number", "boolean"].indexOf(typeof value) >= 0; }

  // An array of a figure (a list, a list of lists, or a typed array spec) as { length, cols (for a
  // matrix), head(n, from) }: head(n, from) reads the n points from point `from` (0 when not given)
  // only, and returns the value of point from + k.
  function plotArray(value) {
    if (Array.isArray(value)) {
      if (value.some(Array.isArray)) {
        const cols = Math.max.apply(null, value.map(function (row) { return Array.isArray(row) ? row.length : 1; }).concat([0]));
        return { length: value.length * cols, cols: cols || 1, head: function (n, from) {
          const start = from || 0;
          return function (i) {
            const k = start + i;
            const row = value[Math.floor(k / cols)];
            return Array.isArray(row) ? row[k % cols] : k % cols === 0 ? row : undefined;
          };
        } };
      }
      return { length: value.length, head: function (n, from) {
        const start = from || 0;
        return function (k) { return value[start + k]; };
      } };
    }
    if (!value || typeof value !== "object" || typeof value.bdata !== "string" || !TYPED_ARRAYS[value.dtype]) return null;
    const Kind = TYPED_ARRAYS[value.dtype];
    const size = Kind.BYTES_PER_ELEMENT;
    const text = value.bdata;
    const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
    const count = Math.floor((Math.floor(text.length / 4) * 3 - padding) / size);
    const shape = typeof value.shape === "string" ? value.shape.split(",").map(Number) :
      Array.isArray(value.shape) ? value.shape.map(Number) : [];
    const cols = shape.length === 2 && shape[1] > 0 ? shape[1] : 0;
    const length = cols ? Math.min(count, shape[0] * cols) : count;
    return { length: length, cols: cols || undefined, head: function (n, from) {
      // Only the bytes of values from .. from + n - 1 are decoded (base64 by groups of 3 bytes).
      const start = Math.min(Math.max(0, from || 0), length);
      const wanted = Math.max(0, Math.min(n, length - start));
      const first = start * size;
      const bytes = atob(text.slice(Math.floor(first / 3) * 4, Math.min(text.length, Math.ceil((first + wanted * size) / 3) * 4)));
      const skip = first % 3;
      const buffer = new Uint8Array(wanted * size);
      for (let i = 0; i < buffer.length; i++) buffer[i] = bytes.charCodeAt(skip + i);
      const numbers = new Kind(buffer.buffer);
      const single = Kind === Float32Array;
      return function (k) {
        if (k >= wanted) return undefined;
        return single ? Number(numbers[k].toPrecision(7)) : numbers[k];
      };
    } };
  }

  function plotCell(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  // The header of x or y names the axis when every trace with such values is drawn on one axis that
  // has a title: "x (Month)".
  function plotHeader(head, layout, traces) {
    if (head !== "x" && head !== "y") return head;
    const axes = traces.filter(function (t) { return t[head] !== undefined || t.z !== undefined; })
      .map(function (t) { return (typeof t[head + "axis"] === "string" && t[head + "axis"]) || head; });
    if (!axes.length || axes.some(function (a) { return a !== axes[0]; })) return head;
    const axis = layout[axes[0].replace(/^([xy])(\d*)$/, "$1axis$2")];
    const title = axis && typeof axis === "object" ? axis.title : null;
    const text = title && typeof title === "object" ? title.text : title;
    return typeof text === "string" && text.trim() ? head + " (" + text.trim() + ")" : head;
  }

  function fmtCount(n) { return Number(n).toLocaleString("en"); }

  // --- callbacks: a page that changes in place ----------------------------------------------------
  //
  // Every action (a value with a page_update, a click, an "Update" button, a table selection, edit or
  // row action, a card filter, an upload, the page's auto-refresh) is one POST to the run's callbacks
  // route. The answer says what changed: only those cards' nodes are drawn again. The same outcome
  // arrives as an SSE `callback` event in every other browser showing the run.

  function uiState(view, key, initial) {
    if (!view.ui[key]) view.ui[key] = initial;
    return view.ui[key];
  }

  function canAct(view) { return !!(view.page && view.page.editable); }

  function pageBody() { return document.getElementById("page-body"); }

  function cardNode(id) {
    const body = pageBody();
    return body && id ? body.querySelector('[data-card-id="' + CSS.escape(id) + '"]') : null;
  }

  function cardIdOf(node) {
    const card = node && node.closest ? node.closest("[data-card-id]") : null;
    return card ? card.dataset.cardId : null;
  }

  // A changed input value: through its page_update (or its card's filter_update) when it has one,
  // else saved as before.
  function commitValue(view, element, value, ctx) {
    const owner = view.filterOwner[element.id];
    if (owner && owner.filter_update) {
      const values = {};
      (owner.filters || []).forEach(function (f) { values[f.title] = f.id === element.id ? value : f.value; });
      const own = {};
      own[element.id] = value;
      element.value = value;
      return fireCallback(view, { kind: "filter", target: owner.id, value: values }, { cardId: owner.id, own: own, ctx: ctx });
    }
    if (element.page_update) {
      const own = {};
      own[element.id] = value;
      return fireCallback(view, { kind: "set_value", target: element.id, value: value }, { cardId: cardIdOf(ctx.wrap), own: own, ctx: ctx }).then(function (outcome) {
        if (outcome) {
          element.value = value;
          ctx.wrap.classList.add("saved");
          announce("Saved " + (element.title || "the value"));
          setTimeout(function () { ctx.wrap.classList.remove("saved"); }, 1200);
        }
        return outcome;
      });
    }
    return saveValue(view, element, value, ctx);
  }

  function clickElement(view, element, opener, params) {
    return fireCallback(view, { kind: "click", target: element.id, input_data: params || null }, { cardId: cardIdOf(opener), opener: opener });
  }

  // A run takes one action at a time: this browser sends its callbacks one after another (a second
  // one sent while the first runs would be refused as busy). An event whose ``coalesce`` key is
  // queued again before it was sent is dropped for the newer one (a burst of ticked rows sends the
  // last selection once).
  function fireCallback(view, event, opts) {
    const o = opts || {};
    view.queued = view.queued || {};
    const key = o.coalesce || null;
    const seq = (view.sent = (view.sent || 0) + 1);
    if (key) view.queued[key] = seq;
    const go = function () {
      if (key && view.queued[key] !== seq) return null;
      return sendCallback(view, typeof event === "function" ? event() : event, o);
    };
    const next = (view.chain || Promise.resolve()).then(go, go);
    view.chain = next.catch(function () { return null; });
    return next;
  }

  async function sendCallback(view, event, opts) {
    const o = opts || {};
    clearCallbackError(o.cardId);
    if (o.ctx) { o.ctx.error.textContent = ""; o.ctx.wrap.classList.remove("invalid"); }
    const node = cardNode(o.cardId);
    if (node) node.setAttribute("aria-busy", "true");
    const body = { kind: event.kind, target: event.target === undefined ? null : event.target,
      value: event.value === undefined ? null : event.value, input_data: event.input_data === undefined ? null : event.input_data };
    // The run's event stream echoes this callback's outcome too, and may bring it before the
    // answer does: until then, the values given here are the user's own for that echo as well.
    view.ownInFlight = o.own || null;
    try {
      const outcome = await api("POST", apiRun(view.runId) + "/callbacks", body);
      if (app.view !== view) return null;  // the user has moved on to another page meanwhile
      applyOutcome(view, outcome || {}, { own: o.own, opener: o.opener });
      return outcome || {};
    } catch (err) {
      if (app.view === view) showCallbackError(err, o);
      return null;
    } finally {
      view.ownInFlight = null;
      if (node) node.removeAttribute("aria-busy");
    }
  }

  function clearCallbackError(cardId) {
    const host = cardNode(cardId) || document.getElementById("page-alerts");
    if (!host) return;
    host.querySelectorAll(":scope > .callback-error").forEach(function (box) { box.remove(); });
  }

  // A callback that raised left the page as it was: say so where it happened, with the traceback
  // (sent only to the run's owner and admins) folded away.
  function showCallbackError(err, o) {
    if (err.status === 401) return;
    const body = err.body || {};
    if (o.ctx && err.status === 422 && body.error !== "CallbackError") {
      o.ctx.error.textContent = err.message;
      o.ctx.wrap.classList.add("invalid");
      return;
    }
    const title = err.status === 409 ? "Not now" : body.error === "CallbackError" ? "The page could not be updated" : "That did not work";
    const box = h("div", { class: "callback-error", role: "alert" },
      h("p", {}, h("strong", { text: title + ": " }), h("span", { class: "error-text", text: err.message })),
      body.traceback ? h("details", {}, h("summary", { text: "Technical details" }), h("pre", { class: "traceback", text: body.traceback })) : null,
      h("button", { type: "button", class: "button small", text: "Dismiss", onclick: function () { box.remove(); } }));
    const host = cardNode(o.cardId) || document.getElementById("page-alerts");
    if (host) {
      host.querySelectorAll(":scope > .callback-error").forEach(function (old) { old.remove(); });
      host.insertBefore(box, host.querySelector(":scope > .comments"));
    }
    toast(err.message, "error");
  }

  // The JSON a card node was drawn from, with the values the user has just given (own) put in:
  // a card that differs from it only by those values needs no redraw (the controls show them).
  function withValues(json, own) {
    if (!own) return json;
    const card = JSON.parse(json);
    (function walk(node) {
      if (Array.isArray(node)) { node.forEach(walk); return; }
      if (!node || typeof node !== "object") return;
      if (node.id && Object.prototype.hasOwnProperty.call(own, node.id) && Object.prototype.hasOwnProperty.call(node, "value")) node.value = own[node.id];
      Object.keys(node).forEach(function (k) { if (node[k] && typeof node[k] === "object") walk(node[k]); });
    })(card);
    return JSON.stringify(card);
  }

  function applyOutcome(view, outcome, opts) {
    const o = opts || {};
    const y = window.scrollY;
    const missing = [];
    (outcome.changed_cards || []).forEach(function (card) {
      if (!card || !card.id) return;
      const json = JSON.stringify(card);
      if (card.card_type === "container") {
        view.cards[card.id] = json;
        if (card.visible) openContainer(view, card, o.opener);
        else closeOverlay("container-" + card.id, true);
        return;
      }
      const node = cardNode(card.id);
      if (!node) { missing.push(card); return; }
      const before = view.cards[card.id];
      if (before === json || (before && withValues(before, o.own) === json)) { view.cards[card.id] = json; return; }
      replaceCard(view, node, card);
    });
    (outcome.removed_cards || []).forEach(function (id) {
      const node = cardNode(id);
      if (node) node.remove();
      closeOverlay("container-" + id, true);
      delete view.cards[id];
    });
    if (missing.length) insertCards(view, missing);
    if (outcome.page_title) {
      const title = document.getElementById("step-title");
      if (title) title.textContent = outcome.page_title;
      document.title = outcome.page_title + " · flowdeck";
    }
    if (Array.isArray(outcome.next_disabled)) {
      const changed = outcome.next_disabled.join("\n") !== (view.gates || []).join("\n");
      view.gates = outcome.next_disabled.slice();
      if (changed) renderActions(view);
    }
    if (window.scrollY !== y) window.scrollTo(window.scrollX, y);
    if (outcome.message) toast(outcome.message, "message");
    if (outcome.drilldown) openDrilldown(view, outcome.drilldown, o.opener);
    if (outcome.download) startDownload(outcome.download);
  }

  // Draw a card again in place of its node; focus stays on the same control when it is still there.
  function replaceCard(view, node, card) {
    const active = document.activeElement;
    const focusId = active && active !== document.body && node.contains(active) ? active.id : null;
    const fresh = renderCard(view, card);
    node.replaceWith(fresh);
    if (focusId) {
      const again = document.getElementById(focusId);
      if (again) again.focus({ preventScroll: true });
    }
    return fresh;
  }

  // Cards a callback added: read the page once to learn where they go.
  async function insertCards(view, cards) {
    let page;
    try { page = await api("GET", apiRun(view.runId) + "/steps/" + encodeURIComponent(view.stepName) + "/page"); } catch (err) { return; }
    if (app.view !== view) return;
    const wanted = {};
    cards.forEach(function (card) { wanted[card.id] = card; });
    page.page.sections.forEach(function (section) {
      const secNode = pageBody().querySelector('[data-section-id="' + CSS.escape(section.id || "") + '"] .section-cards');
      let previous = null;
      section.content.forEach(function (card) {
        if (card.card_type === "container") return;
        const existing = cardNode(card.id);
        if (existing) { previous = existing; return; }
        if (!wanted[card.id] || !secNode) return;
        const fresh = renderCard(view, wanted[card.id]);
        if (previous) previous.after(fresh); else secNode.prepend(fresh);
        previous = fresh;
      });
    });
  }

  // --- live: other browsers' callbacks, and the page's auto-refresh ------------------------------

  // While a page that takes input is shown, listen on the run's event stream: a `callback` event
  // (someone changed the page) is applied like our own outcome; a change of the run's state (someone
  // pressed Next or Back) draws the step again.
  function watch(view) {
    stopStream();
    const source = new EventSource(apiRun(view.runId) + "/events");
    app.stream = source;
    source.addEventListener("callback", function (event) {
      if (app.view !== view) return;
      let data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      applyOutcome(view, data, { own: view.ownInFlight || undefined });
    });
    source.addEventListener("status", function (event) {
      if (app.view !== view) return;
      const st = JSON.parse(event.data);
      const was = view.status;
      const mine = function (status) { return (status.steps.find(function (s) { return s.name === view.stepName; }) || {}); };
      const moved = st.current_step !== was.current_step || st.state !== was.state && !isCallbackBusy(st) ||
        mine(st).attempt !== mine(was).attempt || (mine(st).state !== mine(was).state && !isCallbackBusy(st));
      if (moved) { renderStep(view.runId, view.stepName); return; }
      // The page shows what the stream says now: marked for anything (a test, a script) that must
      // not act on a page about to be drawn again.
      const body = pageBody();
      if (body) body.dataset.live = "true";
    });
    source.addEventListener("comment", function (event) {
      if (app.view !== view) return;
      let data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      const cardId = data && data.comment && data.comment.card_id;
      const reload = cardId && view.commentLoaders && view.commentLoaders[cardId];
      if (reload) reload();
    });
    source.addEventListener("deleted", function () { stopStream(); renderNotFound("This run was deleted."); });
    source.addEventListener("logout", function () { stopStream(); app.me = null; app.csrf = null; goLogin(); });
    startAutoRefresh(view);
  }

  function isCallbackBusy(status) {
    return !!status.busy && /callback/i.test(String(status.busy_action || ""));
  }

  // Page(on_auto_refresh=...): fire the page's refresh every N seconds while the page is open and
  // visible; a hidden tab fires nothing, and leaving the page stops it.
  function startAutoRefresh(view) {
    stopAutoRefresh();
    const callback = view.page && view.page.page.on_auto_refresh;
    if (!callback || !canAct(view)) return;
    const seconds = Number((callback.meta || {}).refresh_rate_seconds) || 500;
    let inFlight = false;
    app.refreshTimer = setInterval(async function () {
      if (app.view !== view) { stopAutoRefresh(); return; }
      if (document.visibilityState !== "visible" || inFlight || document.querySelector(".modal-backdrop")) return;
      inFlight = true;
      try { await fireCallback(view, { kind: "refresh" }, {}); } finally { inFlight = false; }
    }, Math.max(1, seconds) * 1000);
  }

  function stopAutoRefresh() {
    if (app.refreshTimer) { clearInterval(app.refreshTimer); app.refreshTimer = null; }
  }

  // --- overlays: modals (drilldowns, containers), popovers and menus -------------------------------

  const overlays = [];

  function focusables(root) {
    return Array.prototype.filter.call(root.querySelectorAll(
      'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])'),
    function (el) { return el.offsetParent !== null || el === document.activeElement; });
  }

  // A modal: aria-modal, the page behind it inert, Tab kept inside, Esc or the close button closes it,
  // and focus goes back to what opened it.
  function openModal(key, title, content, opts) {
    const o = opts || {};
    closeOverlay(key, true);
    const titleId = "modal-title-" + key;
    const close = h("button", { type: "button", class: "button small modal-close", "aria-label": "Close", text: "✕" });
    const box = h("div", { class: "modal size-" + (o.size || "medium"), role: "dialog", "aria-modal": "true", "aria-labelledby": titleId, tabindex: -1, id: "modal-" + key },
      h("div", { class: "modal-head" }, h("h2", { id: titleId, class: "modal-title", text: title || "Details" }), close),
      h("div", { class: "modal-body" }, content));
    const backdrop = h("div", { class: "modal-backdrop" }, box);
    const entry = { key: key, node: backdrop, opener: o.opener || document.activeElement, openerId: null, onClose: o.onClose, modal: true };
    entry.openerId = entry.opener && entry.opener.id ? entry.opener.id : null;
    close.addEventListener("click", function () { closeOverlay(key); });
    backdrop.addEventListener("mousedown", function (event) { if (event.target === backdrop) closeOverlay(key); });
    backdrop.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); event.stopPropagation(); closeOverlay(key); return; }
      if (event.key !== "Tab") return;
      const items = focusables(box);
      if (!items.length) { event.preventDefault(); box.focus(); return; }
      const first = items[0], last = items[items.length - 1];
      if (event.shiftKey && (document.activeElement === first || document.activeElement === box)) { event.preventDefault(); last.focus(); }
      else if (!event.shiftKey && document.activeElement === last) { event.preventDefault(); first.focus(); }
    });
    overlays.push(entry);
    document.body.appendChild(backdrop);
    setInert(true);
    const first = focusables(box).filter(function (el) { return el !== close; })[0];
    (first || box).focus();
    return entry;
  }

  // A popover: next to what opened it, not modal; Esc, a click elsewhere or focus leaving closes it.
  // Tab past its last control (or Shift+Tab before its first) goes back to what opened it, so the
  // keyboard carries on from there; o.host is where it is put (the page body unless said).
  function openPopover(key, title, content, opts) {
    const o = opts || {};
    closeOverlay(key, true);
    const titleId = "popover-title-" + key;
    const box = h("div", { class: "popover size-" + (o.size || "small"), role: "dialog", "aria-labelledby": titleId, tabindex: -1, id: "popover-" + key },
      h("div", { class: "modal-head" }, h("h2", { id: titleId, class: "modal-title", text: title || "Details" }),
        h("button", { type: "button", class: "button small modal-close", "aria-label": "Close", text: "✕", onclick: function () { closeOverlay(key); } })),
      h("div", { class: "modal-body" }, content));
    const entry = { key: key, node: box, opener: o.opener || document.activeElement, openerId: null, modal: false };
    entry.openerId = entry.opener && entry.opener.id ? entry.opener.id : null;
    (o.host || document.body).appendChild(box);
    const anchor = entry.opener && entry.opener.getBoundingClientRect ? entry.opener.getBoundingClientRect() : { left: 16, bottom: 80 };
    const left = Math.max(8, Math.min(anchor.left + window.scrollX, window.scrollX + document.documentElement.clientWidth - box.offsetWidth - 8));
    box.style.left = left + "px";
    box.style.top = (anchor.bottom + window.scrollY + 6) + "px";
    box.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); event.stopPropagation(); closeOverlay(key); return; }
      if (event.key !== "Tab") return;
      const items = focusables(box);
      const at = document.activeElement;
      if (event.shiftKey && (!items.length || at === items[0] || at === box)) { event.preventDefault(); closeOverlay(key); }
      else if (!event.shiftKey && (!items.length || at === items[items.length - 1])) closeOverlay(key);
    });
    entry.outside = function (event) {
      if (!box.contains(event.target) && !(entry.opener && entry.opener.contains && entry.opener.contains(event.target))) closeOverlay(key, true);
    };
    setTimeout(function () { document.addEventListener("mousedown", entry.outside); }, 0);
    overlays.push(entry);
    box.focus();
    return entry;
  }

  function setInert(on) {
    const modal = on || overlays.some(function (e) { return e.modal; });
    ["topbar", "main"].forEach(function (id) {
      const el = document.getElementById(id);
      if (!el) return;
      if (modal) el.setAttribute("inert", ""); else el.removeAttribute("inert");
    });
  }

  // Close the overlay ``key``; ``quiet`` skips its on-close action (it was closed by the page itself).
  function closeOverlay(key, quiet) {
    const index = overlays.findIndex(function (e) { return e.key === key; });
    if (index < 0) return;
    const entry = overlays.splice(index, 1)[0];
    entry.node.remove();
    if (entry.outside) document.removeEventListener("mousedown", entry.outside);
    setInert(false);
    if (entry.opener && entry.opener.getAttribute && entry.opener.getAttribute("aria-expanded") === "true") entry.opener.setAttribute("aria-expanded", "false");
    if (entry.onClose && !quiet) entry.onClose();
    const back = entry.opener && document.body.contains(entry.opener) ? entry.opener : (entry.openerId && document.getElementById(entry.openerId));
    if (back && back.focus && !quiet) back.focus();
    else if (back && back.focus && document.activeElement === document.body) back.focus();
  }

  function closeOverlays() {
    overlays.slice().forEach(function (e) { closeOverlay(e.key, true); });
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !overlays.length) return;
    const top = overlays[overlays.length - 1];
    closeOverlay(top.key);
  });

  // A drilldown's temporary card: a modal (or fast modal) or a popover, never part of the page.
  function openDrilldown(view, drilldown, opener) {
    const card = drilldown.card || {};
    const content = renderCard(view, card, { temporary: true, bare: true });
    const type = drilldown.type || "modal";
    if (type === "popover") openPopover("drilldown", card.title, content, { opener: opener, size: drilldown.size });
    else openModal("drilldown", card.title, content, { opener: opener, size: drilldown.size || "medium" });
  }

  // A Container made visible by a callback: a modal; closing it tells the server (its on_close runs).
  function openContainer(view, card, opener) {
    const key = "container-" + card.id;
    const content = renderCard(view, card, { bare: true });
    content.removeAttribute("id");
    openModal(key, card.title, content, { opener: opener, size: card.size || "medium", onClose: function () {
      fireCallback(view, { kind: "toggle", target: card.id, value: false }, {});
    } });
  }

  // A menu of actions under a button (the row actions of a table): arrow keys, Home and End move
  // between its items, Tab leaves it (closed) for the control after its button.
  function openMenu(toggle, items) {
    const key = "menu";
    const list = h("div", { class: "menu-list", role: "menu", "aria-label": toggle.getAttribute("aria-label") || "Actions" });
    items.forEach(function (item) {
      append(list, h("button", { type: "button", role: "menuitem", class: "menu-item", tabindex: -1, title: item.hint || null, text: item.label,
        onclick: function () { closeOverlay(key, true); toggle.setAttribute("aria-expanded", "false"); item.run(); } }));
    });
    list.addEventListener("keydown", function (event) {
      const buttons = Array.prototype.slice.call(list.querySelectorAll("button"));
      const at = buttons.indexOf(document.activeElement);
      if (event.key === "ArrowDown") { event.preventDefault(); buttons[(at + 1) % buttons.length].focus(); }
      else if (event.key === "ArrowUp") { event.preventDefault(); buttons[(at - 1 + buttons.length) % buttons.length].focus(); }
      else if (event.key === "Home" || event.key === "End") { event.preventDefault(); buttons[event.key === "Home" ? 0 : buttons.length - 1].focus(); }
      else if (event.key === "Tab") {
        event.stopPropagation();
        if (event.shiftKey) event.preventDefault();
        closeOverlay(key);
      }
    });
    // Inside the page's main landmark, like the table it belongs to.
    const entry = openPopover(key, null, list, { opener: toggle, host: main });
    entry.node.classList.add("menu-popover");
    entry.node.querySelector(".modal-head").remove();
    entry.node.removeAttribute("role");
    toggle.setAttribute("aria-expanded", "true");
    const first = list.querySelector("button");
    if (first) first.focus();
  }

  function startDownload(download) {
    if (!download || !download.asset_id) return;
    const a = h("a", { href: "/api/assets/" + encodeURIComponent(download.asset_id) + "/download", download: download.filename || "" });
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { a.remove(); }, 1000);
    toast("Downloading " + (download.filename || "the asset"));
  }

  // --- comments on cards (show_comments=True) ------------------------------------------------------

  function renderComments(view, card) {
    const state = uiState(view, "comments-" + card.id, { open: false });
    const list = h("ul", { class: "comment-list", "aria-live": "polite" });
    const error = h("p", { class: "field-error", role: "alert" });
    const base = apiRun(view.runId) + "/cards/" + encodeURIComponent(card.id) + "/comments";
    const textId = "comment-text-" + card.id;
    const text = h("textarea", { id: textId, rows: 2, class: "comment-input", placeholder: "Write a comment" });
    const form = h("form", { class: "comment-form" },
      h("label", { for: textId, class: "visually-hidden", text: "New comment on " + (card.title || "this card") }), text,
      h("button", { type: "submit", class: "button small primary", text: "Add comment" }));
    const panel = h("details", { class: "comments", id: "comments-" + card.id, open: state.open },
      h("summary", { text: "Comments" }), list, form, error);
    async function load() {
      error.textContent = "";
      let comments;
      try { comments = await api("GET", base); } catch (err) { error.textContent = err.message; return; }
      clear(list);
      panel.querySelector("summary").textContent = "Comments (" + comments.length + ")";
      if (!comments.length) append(list, h("li", { class: "muted small", text: "No comments yet." }));
      comments.forEach(function (c) { append(list, commentItem(c)); });
    }
    function commentItem(c) {
      const mine = c.author === app.me.name;
      const mayDelete = mine || view.status.user === app.me.name || app.me.role === "admin";
      const body = h("p", { class: "comment-text", text: c.text });
      const li = h("li", { class: "comment", id: "comment-" + c.id },
        h("p", { class: "comment-meta small muted" }, h("strong", { text: c.author }), " · " + fmtTime(c.created_at) + (c.updated_at && c.updated_at !== c.created_at ? " (edited)" : "")),
        body);
      const tools = h("div", { class: "comment-tools" });
      if (mine) append(tools, h("button", { type: "button", class: "linklike small", text: "Edit", "aria-label": "Edit comment by " + c.author, onclick: function () {
        const editId = "comment-edit-" + c.id;
        const area = h("textarea", { id: editId, rows: 2, class: "comment-input" });
        area.value = c.text;
        const save = h("button", { type: "button", class: "button small primary", text: "Save" });
        const cancel = h("button", { type: "button", class: "button small", text: "Cancel", onclick: load });
        save.addEventListener("click", async function () {
          try { await api("PATCH", apiRun(view.runId) + "/comments/" + encodeURIComponent(c.id), { text: area.value }); load(); } catch (err) { error.textContent = err.message; }
        });
        body.replaceWith(h("div", { class: "comment-edit" }, h("label", { for: editId, class: "visually-hidden", text: "Edit comment" }), area, save, cancel));
        tools.remove();
        area.focus();
      } }));
      if (mayDelete) append(tools, h("button", { type: "button", class: "linklike small danger-text", text: "Delete", "aria-label": "Delete comment by " + c.author, onclick: async function () {
        if (!window.confirm("Delete this comment?")) return;
        try { await api("DELETE", apiRun(view.runId) + "/comments/" + encodeURIComponent(c.id)); load(); } catch (err) { error.textContent = err.message; }
      } }));
      append(li, tools);
      return li;
    }
    panel.addEventListener("toggle", function () { state.open = panel.open; if (panel.open) load(); });
    // Another browser's comment (an SSE `comment` event) reloads an open thread.
    view.commentLoaders = view.commentLoaders || {};
    view.commentLoaders[card.id] = function () { if (panel.open && document.body.contains(panel) && !panel.querySelector(".comment-edit")) load(); };
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (!text.value.trim()) return;
      try { await api("POST", base, { text: text.value }); text.value = ""; load(); } catch (err) { error.textContent = err.message; }
    });
    if (state.open) load();
    return panel;
  }

  // --- share dialog ----------------------------------------------------------------------------------

  // base: the resource's API path; query: "" or "?owner=..." (connections of others).
  // Lists whom the resource is shared with, each with a Remove button, and shares with more.
  function shareDialog(what, base, query) {
    const q = query || "";
    const dialog = h("dialog", { class: "dialog", "aria-labelledby": "share-title" });
    const users = h("input", { id: "share-users", placeholder: "bob, carol" });
    const groups = h("input", { id: "share-groups", placeholder: "analysts" });
    const error = h("p", { class: "field-error", role: "alert" });
    const current = h("ul", { class: "share-list", "aria-label": "Shared with" });
    async function refresh() {
      clear(current);
      let shares;
      try { shares = await api("GET", base + "/shares" + q); } catch (err) { error.textContent = err.message; return; }
      if (!shares.length) append(current, h("li", { class: "muted", text: "Not shared with anyone." }));
      shares.forEach(function (share) {
        const label = share.kind + " " + share.name;
        append(current, h("li", {},
          h("span", { text: label }),
          h("button", { type: "button", class: "button small danger-outline", text: "Remove", "aria-label": "Stop sharing with " + label, onclick: async function () {
            try {
              await api("DELETE", base + "/shares/" + encodeURIComponent(share.kind) + "/" + encodeURIComponent(share.name) + q);
              toast("Stopped sharing with " + label); refresh();
            } catch (err) { error.textContent = err.message; }
          } })));
      });
    }
    const form = h("form", { method: "dialog" },
      h("h2", { id: "share-title", text: "Share this " + what }),
      h("h3", { text: "Shared with" }), current,
      h("label", { for: "share-users", text: "Users (comma-separated)" }), users,
      h("label", { for: "share-groups", text: "Groups (comma-separated)" }), groups, error,
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", class: "button", text: "Close", onclick: function () { dialog.close(); } }),
        h("button", { type: "submit", class: "button primary", text: "Share" })));
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const split = function (s) { return s.split(",").map(function (x) { return x.trim(); }).filter(Boolean); };
      error.textContent = "";
      try {
        await api("POST", base + "/share" + q, { users: split(users.value), groups: split(groups.value) });
        users.value = ""; groups.value = ""; toast("Shared"); refresh();
      } catch (err) { error.textContent = err.message; }
    });
    dialog.addEventListener("close", function () { dialog.remove(); });
    append(dialog, form);
    document.body.appendChild(dialog);
    dialog.showModal();
    refresh();
    users.focus();
  }

  // --- assets ------------------------------------------------------------------------------------------

  async function renderAssets() {
    const params = new URLSearchParams(location.search);
    const form = h("form", { class: "filters", role: "search", "aria-label": "Filter assets" },
      field("f-label", "Label", h("input", { id: "f-label", name: "label", value: params.get("label") || "" })),
      field("f-type", "Type", h("select", { id: "f-type", name: "type" }, ["", "dataset", "model", "explainer", "schema", "other"].map(function (t) {
        return h("option", { value: t, selected: (params.get("type") || "") === t, text: t || "any type" });
      }))),
      field("f-name", "Name", h("input", { id: "f-name", name: "name", value: params.get("name") || "" })),
      h("button", { type: "submit", class: "button primary", text: "Filter" }));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const q = new URLSearchParams();
      ["label", "type", "name"].forEach(function (k) { if (form[k].value) q.set(k, form[k].value); });
      navigate("/assets" + (q.toString() ? "?" + q : ""));
    });
    const detail = h("aside", { class: "panel asset-detail", id: "asset-detail", "aria-live": "polite" }, h("p", { class: "muted", text: "Choose an asset to see its metadata and versions." }));
    let list;
    try {
      const assets = await api("GET", "/api/assets?" + params.toString());
      list = assets.length ? h("div", { class: "table-wrap" }, h("table", { class: "data" },
        h("thead", {}, h("tr", {}, ["Label", "Type", "Name", "Version", "Owner", "Created"].map(function (t) { return h("th", { scope: "col", text: t }); }))),
        h("tbody", {}, assets.map(function (a) {
          return h("tr", {},
            h("td", {}, h("button", { type: "button", class: "linklike", text: a.label, onclick: function () { showAsset(a.id, detail); } })),
            h("td", { text: a.type }), h("td", { text: a.name || "" }), h("td", { text: a.version }), h("td", { text: a.owner }), h("td", { text: fmtTime(a.time_created) }));
        })))) : h("p", { class: "muted", text: "No assets match." });
    } catch (err) {
      list = h("p", { class: "field-error", role: "alert", text: err.message });
    }
    setMain("Assets",
      h("div", { class: "page-head" }, h("h1", { text: "Assets" }), h("p", { class: "muted", text: "Datasets, models, explainers and schemas saved by flows, yours and those shared with you." })),
      form, h("div", { class: "split" }, h("section", { class: "panel", "aria-label": "Asset list" }, list), detail));
  }

  function field(id, label, control) {
    return h("div", { class: "field" }, h("label", { for: id, text: label }), control);
  }

  async function showAsset(id, detail) {
    clear(detail);
    try {
      const [asset, versions] = await Promise.all([api("GET", "/api/assets/" + encodeURIComponent(id)), api("GET", "/api/assets/" + encodeURIComponent(id) + "/versions")]);
      const meta = h("dl", { class: "meta" });
      [["Type", asset.type], ["Name", asset.name], ["Version", asset.version], ["Owner", asset.owner], ["Description", asset.description], ["Made by run", asset.flow_id], ["Step", asset.step_name], ["Created", fmtTime(asset.time_created)], ["Updated", fmtTime(asset.time_updated)]].forEach(function (pair) {
        if (pair[1] !== null && pair[1] !== undefined && pair[1] !== "") append(meta, [h("dt", { text: pair[0] }), h("dd", { text: String(pair[1]) })]);
      });
      append(detail, [
        h("h2", { text: asset.label }), meta,
        h("h3", { text: "Metadata" }), h("pre", { class: "json", text: JSON.stringify(asset.metadata, null, 2) }),
        h("h3", { text: "Versions" }),
        h("ul", { class: "versions" }, versions.map(function (v) { return h("li", {}, h("button", { type: "button", class: "linklike", text: "v" + v.version + " · " + fmtTime(v.time_created), onclick: function () { showAsset(v.id, detail); } })); })),
        h("div", { class: "button-row" },
          h("a", { class: "button", href: "/api/assets/" + encodeURIComponent(id) + "/download", download: "", text: "Download" }),
          h("button", { type: "button", class: "button", text: "Share", onclick: function () { shareDialog("asset", "/api/assets/" + encodeURIComponent(id)); } }),
          h("button", { type: "button", class: "button danger-outline", text: "Delete", onclick: async function () {
            if (!confirm("Delete version " + asset.version + " of " + asset.label + "?")) return;
            try { await api("DELETE", "/api/assets/" + encodeURIComponent(id)); toast("Asset deleted"); renderAssets(); } catch (err) { toast(err.message, "error"); }
          } })),
      ]);
    } catch (err) {
      append(detail, h("p", { class: "field-error", role: "alert", text: err.message }));
    }
  }

  // --- triggers --------------------------------------------------------------------------------------

  async function renderTriggers() {
    const triggers = await api("GET", "/api/triggers");
    const detail = h("section", { class: "panel", "aria-live": "polite", hidden: true });
    async function showTicks(name) {
      const t = await api("GET", "/api/triggers/" + encodeURIComponent(name));
      clear(detail);
      detail.hidden = false;
      append(detail, [h("h2", { text: "Ticks of " + t.name }),
        h("p", { class: "muted", text: t.kind + " → " + t.flow_name + (t.dry_run ? " (dry run: records firings, starts nothing)" : "") }),
        t.ticks.length ? h("div", { class: "table-wrap" }, h("table", { class: "data" },
          h("thead", {}, h("tr", {}, ["Time", "Outcome", "Reason", "Run", "Error", "ms"].map(function (x) { return h("th", { scope: "col", text: x }); }))),
          h("tbody", {}, t.ticks.map(function (k) {
            return h("tr", {},
              h("td", { text: fmtTime(k.created_at) }), h("td", {}, stateBadge(k.outcome)), h("td", { text: k.reason || "" }),
              h("td", {}, k.run_id ? h("a", { href: "/runs/" + encodeURIComponent(k.run_id), text: k.run_id.slice(0, 8) }) : ""),
              h("td", { text: k.error || "" }), h("td", { text: k.duration_ms === null ? "" : String(Math.round(k.duration_ms)) }));
          })))) : h("p", { class: "muted", text: "No firings yet." })]);
    }
    const list = triggers.length ? h("div", { class: "table-wrap" }, h("table", { class: "data" },
      h("thead", {}, h("tr", {}, ["Name", "Kind", "Flow", "Owner", "State", "Next check", "Last result"].map(function (x) { return h("th", { scope: "col", text: x }); }).concat(actionsHead()))),
      h("tbody", {}, triggers.map(function (t) {
        const path = "/api/triggers/" + encodeURIComponent(t.name);
        return h("tr", {},
          h("td", {}, h("button", { type: "button", class: "button small", text: t.name, "aria-label": "Show ticks of " + t.name, onclick: function () { showTicks(t.name).catch(function (err) { toast(err.message, "error"); }); } })),
          h("td", { text: t.kind }), h("td", { text: t.flow_name }), h("td", { text: t.owner }),
          h("td", { text: (t.active ? "active" : "paused") + (t.dry_run ? " · dry run" : "") }),
          h("td", { text: t.active ? fmtTime(t.next_check_at) : "" }), h("td", { text: t.last_reason || "" }),
          h("td", { class: "actions" }, h("button", {
            type: "button", class: "button small", text: t.active ? "Pause" : "Resume", "aria-label": (t.active ? "Pause " : "Resume ") + t.name,
            onclick: async function () {
              try { await api("POST", path + (t.active ? "/pause" : "/resume")); toast(t.active ? "Trigger paused" : "Trigger resumed"); renderTriggers(); } catch (err) { toast(err.message, "error"); }
            },
          })));
      })))) : h("p", { class: "muted", text: "No triggers yet. Create them from Python (flowdeck.triggers) and start flowdeck scheduler." });
    setMain("Triggers",
      h("div", { class: "page-head" }, h("h1", { text: "Triggers" }), h("p", { class: "muted", text: "What starts flows without a person: objects in S3, query results, new assets, schedules." })),
      h("section", { class: "panel", "aria-label": "Your triggers" }, list), detail);
  }

  // --- connections -----------------------------------------------------------------------------------

  async function renderConnections() {
    let list;
    try {
      const conns = await api("GET", "/api/connections");
      list = conns.length ? h("div", { class: "table-wrap" }, h("table", { class: "data" },
        h("thead", {}, h("tr", {}, ["Name", "Type", "Host", "Database", "User", "Owner"].map(function (t) { return h("th", { scope: "col", text: t }); }).concat(actionsHead()))),
        h("tbody", {}, conns.map(function (c) {
          const mine = !c.owner || c.owner === app.me.name;
          const manage = mine || app.me.role === "admin";
          const ownerQ = mine ? "" : "?owner=" + encodeURIComponent(c.owner);
          const result = h("span", { class: "small test-result", role: "status" });
          return h("tr", {},
            h("td", { text: c.name }), h("td", { text: c.type || "" }), h("td", { text: [c.host, c.port].filter(function (x) { return x !== null && x !== undefined && x !== ""; }).join(":") }),
            h("td", { text: c.database || "" }), h("td", { text: c.username || "" }), h("td", { text: c.owner || "" }),
            h("td", { class: "actions" },
              h("button", { type: "button", class: "button small", text: "Test", "aria-label": "Test connection " + c.name, onclick: async function () {
                result.textContent = "testing…"; result.className = "small test-result muted";
                try {
                  const q = mine ? "" : "?owner=" + encodeURIComponent(c.owner);
                  const r = await api("POST", "/api/connections/" + encodeURIComponent(c.name) + "/test" + q);
                  result.textContent = (r.ok ? "✓ " : "✗ ") + r.message; result.className = "small test-result " + (r.ok ? "ok" : "field-error");
                } catch (err) { result.textContent = "✗ " + err.message; result.className = "small test-result field-error"; }
              } }),
              manage ? h("button", { type: "button", class: "button small", text: "Share", "aria-label": "Share connection " + c.name, onclick: function () { shareDialog("connection", "/api/connections/" + encodeURIComponent(c.name), ownerQ); } }) : null,
              manage ? h("button", { type: "button", class: "button small danger-outline", text: "Remove", "aria-label": "Remove connection " + c.name, onclick: async function () {
                if (!confirm("Remove connection " + c.name + "?")) return;
                try { await api("DELETE", "/api/connections/" + encodeURIComponent(c.name) + ownerQ); toast("Connection removed"); renderConnections(); } catch (err) { toast(err.message, "error"); }
              } }) : null,
              result));
        })))) : h("p", { class: "muted", text: "No connections yet." });
    } catch (err) {
      list = h("p", { class: "field-error", role: "alert", text: err.message });
    }
    const types = ["postgresql", "mysql", "mariadb", "mssql", "sqlite", "databricks", "snowflake", "s3", "api", "other"];
    const error = h("p", { class: "field-error", role: "alert" });
    const form = h("form", { class: "panel form-grid", "aria-labelledby": "add-conn-title" },
      h("h2", { id: "add-conn-title", class: "span-all", text: "Add a connection" }),
      field("c-name", "Name", h("input", { id: "c-name", name: "cname", required: true })),
      field("c-type", "Type", h("select", { id: "c-type", name: "ctype" }, types.map(function (t) { return h("option", { value: t, text: t }); }))),
      field("c-host", "Host", h("input", { id: "c-host", name: "host" })),
      field("c-port", "Port", h("input", { id: "c-port", name: "port", type: "number", min: 1, max: 65535 })),
      field("c-db", "Database (a file path for sqlite)", h("input", { id: "c-db", name: "database" })),
      field("c-user", "User", h("input", { id: "c-user", name: "username", autocomplete: "off" })),
      field("c-pass", "Password", h("input", { id: "c-pass", name: "password", type: "password", autocomplete: "new-password" })),
      h("div", { class: "span-all" }, error, h("button", { type: "submit", class: "button primary", text: "Add connection" })));
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      error.textContent = "";
      const body = { name: form.cname.value, type: form.ctype.value, host: form.host.value || null, port: form.port.value ? Number(form.port.value) : null,
        database: form.database.value || null, username: form.username.value || null, password: form.password.value || null };
      try { await api("POST", "/api/connections", body); toast("Connection added"); renderConnections(); } catch (err) { error.textContent = err.message; }
    });
    setMain("Connections",
      h("div", { class: "page-head" }, h("h1", { text: "Connections" }), h("p", { class: "muted", text: "Named database connections flows can use. Passwords are encrypted and never shown again." })),
      h("section", { class: "panel", "aria-label": "Your connections" }, list), form);
  }

  // --- account -------------------------------------------------------------------------------------

  async function renderAccount() {
    const tokens = await api("GET", "/api/tokens");
    const shown = h("div", { "aria-live": "polite" });
    const label = h("input", { id: "token-label", placeholder: "nightly import" });
    const readOnly = h("input", { id: "token-read-only", type: "checkbox" });
    const tokenForm = h("form", { class: "inline-form" }, h("label", { for: "token-label", text: "Label" }), label,
      h("label", { for: "token-read-only", class: "check" }, readOnly, "read only"),
      h("button", { type: "submit", class: "button primary", text: "Create API token" }));
    tokenForm.addEventListener("submit", async function (event) {
      event.preventDefault();
      try {
        const made = await api("POST", "/api/tokens", { label: label.value || null, scopes: readOnly.checked ? ["read"] : ["read", "write"] });
        clear(shown);
        append(shown, h("p", { class: "notice success" }, "Copy this token now; it is not shown again: ", h("code", { class: "token", text: made.token })));
        label.value = ""; readOnly.checked = false;
        renderTokenList();
      } catch (err) { toast(err.message, "error"); }
    });
    const tokenList = h("div", {});
    function renderTokenList(list) {
      const load = list ? Promise.resolve(list) : api("GET", "/api/tokens");
      load.then(function (items) {
        clear(tokenList);
        append(tokenList, items.length ? h("div", { class: "table-wrap" }, h("table", { class: "data" },
          h("thead", {}, h("tr", {}, ["Label", "Scopes", "Created", "Last used"].map(function (t) { return h("th", { scope: "col", text: t }); }).concat(actionsHead()))),
          h("tbody", {}, items.map(function (t) {
            return h("tr", {}, h("td", { text: t.label || "(no label)" }), h("td", { text: (t.scopes || []).join(", ") }), h("td", { text: fmtTime(t.created_at) }), h("td", { text: t.last_used_at ? fmtTime(t.last_used_at) : "never" }),
              h("td", {}, h("button", { type: "button", class: "button small danger-outline", text: "Revoke", "aria-label": "Revoke token " + (t.label || "(no label)") + " from " + fmtTime(t.created_at),
                onclick: async function () {
                  try { await api("DELETE", "/api/tokens/" + encodeURIComponent(t.id)); toast("Token revoked"); renderTokenList(); } catch (err) { toast(err.message, "error"); }
                } })));
          })))) : h("p", { class: "muted", text: "No API tokens." }));
      }).catch(function (err) { clear(tokenList); append(tokenList, h("p", { class: "field-error", role: "alert", text: err.message })); });
    }
    renderTokenList(tokens);
    const passError = h("p", { class: "field-error", role: "alert" });
    const passForm = h("form", { class: "form-grid" },
      field("p-current", "Current password", h("input", { id: "p-current", name: "current", type: "password", required: true, autocomplete: "current-password" })),
      field("p-new", "New password (8+ characters)", h("input", { id: "p-new", name: "fresh", type: "password", required: true, minlength: 8, autocomplete: "new-password" })),
      h("div", { class: "span-all" }, passError, h("button", { type: "submit", class: "button primary", text: "Change password" })));
    passForm.addEventListener("submit", async function (event) {
      event.preventDefault();
      passError.textContent = "";
      try {
        const session = await api("POST", "/api/password", { current_password: passForm.current.value, new_password: passForm.fresh.value });
        app.csrf = session.csrf_token;
        toast("Password changed; every other session and all API tokens have ended");
        renderAccount();
      } catch (err) { passError.textContent = err.message; }
    });
    const everywhere = h("button", { type: "button", class: "button danger-outline", id: "logout-everywhere", text: "Log out everywhere",
      onclick: async function () {
        if (!window.confirm("End every session of yours, in every browser, and revoke all your API tokens?")) return;
        try { await api("POST", "/api/logout-everywhere"); } catch (err) { /* the session is gone either way */ }
        app.me = null; app.csrf = null;
        clear(document.getElementById("topbar"));
        navigate("/login", true);
      } });
    const sections = [
      h("div", { class: "page-head" }, h("h1", { text: "Account" }), h("p", { class: "muted", text: app.me.name + " · role " + app.me.role + (app.me.groups.length ? " · groups " + app.me.groups.join(", ") : "") })),
      h("section", { class: "panel" }, h("h2", { text: "API tokens" }), h("p", { class: "muted", text: "Scripts send a token as 'Authorization: Bearer <token>'. A read-only token can only read." }), tokenForm, shown, tokenList),
      h("section", { class: "panel" }, h("h2", { text: "Security" }), h("h3", { text: "Change password" }), passForm,
        h("h3", { text: "Sessions" }), h("p", { class: "muted", text: "Ends every session of yours (other browsers and devices too) and revokes all your API tokens." }), everywhere),
    ];
    if (app.me.role === "admin") {
      const users = await api("GET", "/api/users");
      const error = h("p", { class: "field-error", role: "alert" });
      const form = h("form", { class: "form-grid" },
        field("u-name", "User name", h("input", { id: "u-name", name: "uname", required: true })),
        field("u-role", "Role", h("select", { id: "u-role", name: "role" }, h("option", { value: "user", text: "user" }), h("option", { value: "admin", text: "admin" }))),
        field("u-groups", "Groups (comma-separated)", h("input", { id: "u-groups", name: "groups" })),
        field("u-pass", "Password (8+ characters)", h("input", { id: "u-pass", name: "password", type: "password", autocomplete: "new-password" })),
        h("div", { class: "span-all" }, error, h("button", { type: "submit", class: "button primary", text: "Add user" })));
      form.addEventListener("submit", async function (event) {
        event.preventDefault();
        error.textContent = "";
        try {
          await api("POST", "/api/users", { name: form.uname.value, role: form.role.value, password: form.password.value || null,
            groups: form.groups.value.split(",").map(function (g) { return g.trim(); }).filter(Boolean) });
          toast("User added"); renderAccount();
        } catch (err) { error.textContent = err.message; }
      });
      sections.push(h("section", { class: "panel" }, h("h2", { text: "Users" }),
        h("div", { class: "table-wrap" }, h("table", { class: "data" }, h("thead", {}, h("tr", {}, ["User", "Role", "Groups"].map(function (t) { return h("th", { scope: "col", text: t }); }))),
          h("tbody", {}, users.map(function (u) { return h("tr", {}, h("td", { text: u.name }), h("td", { text: u.role }), h("td", { text: u.groups.join(", ") })); })))),
        h("h3", { text: "Add a user" }), form));
    }
    setMain.apply(null, ["Account"].concat(sections));
  }

  route();
})();
