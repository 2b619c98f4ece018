// elkit annotate: the browser side. Every text goes into the page through textContent, never as HTML.
"use strict";

const state = {
  config: null,
  session: new URLSearchParams(window.location.search).get("session") || "default",
  queue: [],
  current: null,
  spans: [],
  label: null,
  anchor: null,
  selected: null,
  history: [],
  busy: false,
  done: false,
};

const $ = (id) => document.getElementById(id);

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail || response.status);
    throw new Error(detail);
  }
  return data;
}

function status(message, isError) {
  const node = $("status");
  node.textContent = message || "";
  node.classList.toggle("error", Boolean(isError));
}

function labelClass(label) {
  const index = state.config.labels.indexOf(label);
  return "label-" + (index < 0 ? 0 : index % 10);
}

function showProgress(progress) {
  if (!progress) return;
  $("progress-bar").value = progress.progress || 0;
  const total = progress.source_total ? " · " + Math.round((progress.progress || 0) * 100) + "% of the source" : "";
  $("progress").textContent = progress.session_answers + " answered" + total;
}

// --- rendering ------------------------------------------------------------------------------------------------

function gap(text) {
  // Whitespace between tokens; newlines get a visible marker.
  const fragment = document.createDocumentFragment();
  const parts = text.split("\n");
  parts.forEach((part, index) => {
    if (index > 0) {
      fragment.appendChild(element("span", "newline", "↵"));
      fragment.appendChild(document.createTextNode("\n"));
    }
    if (part) fragment.appendChild(document.createTextNode(part));
  });
  return fragment;
}

function renderText(container, task, spans, editable) {
  container.replaceChildren();
  const tokens = task.tokens || [];
  const byStart = new Map(spans.map((span, index) => [span.token_start, { span, index }]));
  let position = 0;
  let index = 0;
  while (index < tokens.length) {
    const token = tokens[index];
    container.appendChild(gap(task.text.slice(position, token.start)));
    const found = byStart.get(index);
    if (found) {
      const span = found.span;
      const mark = element("mark", "entity " + labelClass(span.label));
      mark.dataset.start = span.start;
      mark.dataset.end = span.end;
      for (let inner = span.token_start; inner <= span.token_end; inner += 1) {
        if (inner > span.token_start) mark.appendChild(gap(task.text.slice(tokens[inner - 1].end, tokens[inner].start)));
        mark.appendChild(tokenNode(tokens[inner], inner, editable));
      }
      mark.appendChild(element("span", "tag", span.label));
      if (span.kb_id) mark.appendChild(element("span", "tag", span.kb_id));
      if (editable) {
        const remove = element("button", "remove", "×");
        remove.title = "remove";
        remove.addEventListener("click", (event) => {
          event.stopPropagation();
          state.spans.splice(found.index, 1);
          render();
        });
        mark.appendChild(remove);
      }
      container.appendChild(mark);
      position = tokens[span.token_end].end;
      index = span.token_end + 1;
    } else {
      container.appendChild(tokenNode(token, index, editable));
      position = token.end;
      index += 1;
    }
  }
  container.appendChild(gap(task.text.slice(position)));
}

function tokenNode(token, index, editable) {
  const node = element("span", "token", state.current.text.slice(token.start, token.end));
  node.dataset.i = index;
  if (editable) {
    node.addEventListener("mousedown", (event) => {
      event.preventDefault();
      state.anchor = index;
      node.classList.add("selecting");
    });
    node.addEventListener("mouseup", (event) => {
      event.preventDefault();
      if (state.anchor === null) return;
      addSpan(Math.min(state.anchor, index), Math.max(state.anchor, index));
      state.anchor = null;
    });
  }
  return node;
}

function addSpan(first, last) {
  const tokens = state.current.tokens;
  const label = state.label;
  if (!label) {
    status("Pick a label first.", true);
    render();
    return;
  }
  const overlaps = state.spans.some((span) => !(last < span.token_start || first > span.token_end));
  if (overlaps) {
    status("That overlaps an entity: remove it first.", true);
    render();
    return;
  }
  state.spans.push({
    start: tokens[first].start, end: tokens[last].end, token_start: first, token_end: last, label,
  });
  state.spans.sort((a, b) => a.start - b.start);
  status("");
  render();
}

function renderLabels() {
  const bar = $("labels");
  bar.replaceChildren();
  const editable = ["spans", "review"].includes(state.config.view);
  bar.classList.toggle("hidden", !editable);
  state.config.labels.forEach((label, index) => {
    const button = element("button", "label-button " + labelClass(label), label + (index < 9 ? " " + (index + 1) : ""));
    button.dataset.label = label;
    button.classList.toggle("active", label === state.label);
    button.addEventListener("click", () => { state.label = label; renderLabels(); });
    bar.appendChild(button);
  });
}

function renderOptions(options) {
  const list = $("options");
  list.replaceChildren();
  options.forEach((option, index) => {
    const item = element("li", "option");
    item.dataset.id = option.id;
    item.classList.toggle("selected", option.id === state.selected);
    if (option.score !== undefined) item.appendChild(element("span", "score", Number(option.score).toFixed(3)));
    item.appendChild(element("span", "name", (index < 9 ? index + 1 + ". " : "") + option.name));
    if (option.type) item.appendChild(element("span", "type", option.type));
    item.appendChild(element("span", "type", option.id));
    if (option.description) item.appendChild(element("div", "description", option.description));
    item.addEventListener("click", () => { state.selected = option.id; renderOptions(options); });
    list.appendChild(item);
  });
}

function renderVersions(task) {
  const box = $("versions");
  box.replaceChildren();
  (task.versions || []).forEach((version, index) => {
    const card = element("div", "version");
    card.appendChild(element("div", "sessions",
      "version " + (index + 1) + " · " + version.answer + " · " + version.sessions.join(", ")));
    const text = element("div", "text");
    renderText(text, task, version.spans || [], false);
    card.appendChild(text);
    const use = element("button", "use-version", "use this version");
    use.addEventListener("click", () => { state.spans = JSON.parse(JSON.stringify(version.spans || [])); render(); });
    card.appendChild(use);
    box.appendChild(card);
  });
}

function render() {
  const task = state.current;
  $("empty").classList.toggle("hidden", Boolean(task));
  $("text").classList.toggle("hidden", !task);
  $("choice").classList.toggle("hidden", !task || state.config.view !== "choice");
  $("versions").classList.toggle("hidden", !task || state.config.view !== "review");
  $("task-label").replaceChildren();
  if (!task) {
    $("text").replaceChildren();
    return;
  }
  const view = state.config.view;
  renderText($("text"), task, state.spans, view === "spans" || view === "review");
  if (view === "binary" && task.spans.length) {
    const span = task.spans[0];
    $("task-label").textContent = span.label + (task.meta && task.meta.score !== undefined
      ? " · model score " + Number(task.meta.score).toFixed(2) : "");
  }
  if (view === "choice") {
    renderOptions(state.options);
    const span = task.spans[0];
    $("task-label").textContent = "“" + task.text.slice(span.start, span.end) + "” (" + span.label + ")";
  }
  if (view === "review") renderVersions(task);
}

function renderHistory() {
  const list = $("history");
  list.replaceChildren();
  state.history.slice(0, 20).forEach((entry) => {
    const snippet = entry.task.text.length > 60 ? entry.task.text.slice(0, 60) + "…" : entry.task.text;
    const item = element("li", entry.answer, snippet);
    item.title = "change this answer";
    item.addEventListener("click", () => reopen(entry));
    list.appendChild(item);
  });
}

// --- flow -----------------------------------------------------------------------------------------------------

function show(task, answered) {
  state.current = task;
  state.anchor = null;
  if (!task) { render(); return; }
  const spans = answered && answered.spans ? answered.spans : task.spans || [];
  state.spans = state.config.view === "binary" ? spans : JSON.parse(JSON.stringify(spans));
  state.options = (task.options || []).slice();
  const suggested = task.meta && task.meta.suggested;
  state.selected = answered && answered.accept ? answered.accept[0]
    : (suggested || (state.options.length ? state.options[0].id : null));
  render();
}

async function fetchTasks() {
  const data = await api("/api/tasks", { session: state.session });
  showProgress(data.progress);
  const held = new Set(state.queue.map((task) => task._task_hash));
  if (state.current) held.add(state.current._task_hash);
  data.tasks.forEach((task) => { if (!held.has(task._task_hash)) state.queue.push(task); });
  state.done = data.tasks.length === 0;
}

async function next() {
  if (!state.queue.length) await fetchTasks();
  show(state.queue.shift() || null);
}

function answerPayload(verdict) {
  const task = state.current;
  const payload = { task_hash: task._task_hash, answer: verdict };
  const view = state.config.view;
  if ((view === "spans" || view === "review") && verdict === "accept") {
    payload.spans = state.spans.map((span) => ({ start: span.start, end: span.end, label: span.label }));
  }
  if (view === "choice" && verdict === "accept") payload.accept = [state.selected];
  return payload;
}

async function answer(verdict) {
  if (!state.current || state.busy) return;
  if (state.config.view === "choice" && verdict === "accept" && !state.selected) {
    status("Pick an entity (or NIL) first.", true);
    return;
  }
  state.busy = true;
  const task = state.current;
  const payload = answerPayload(verdict);
  try {
    const data = await api("/api/answers", { session: state.session, answers: [payload] });
    showProgress(data.progress);
    state.history = state.history.filter((entry) => entry.task._task_hash !== task._task_hash);
    state.history.unshift({ task, answer: verdict, spans: payload.spans, accept: payload.accept });
    renderHistory();
    status("saved: " + verdict);
    await next();
  } catch (error) {
    status("Not saved: " + error.message, true);
  } finally {
    state.busy = false;
  }
}

function reopen(entry) {
  if (state.current && state.current._task_hash !== entry.task._task_hash) state.queue.unshift(state.current);
  state.queue = state.queue.filter((task) => task._task_hash !== entry.task._task_hash);
  show(entry.task, entry);
  status("Changing an earlier answer: answer again to replace it.");
}

function undo() {
  if (state.history.length) reopen(state.history[0]);
}

async function search(event) {
  event.preventDefault();
  const query = $("search-input").value.trim();
  if (!query) return;
  try {
    const data = await api("/api/search?q=" + encodeURIComponent(query));
    const known = new Set(state.options.map((option) => option.id));
    data.entities.forEach((entity) => { if (!known.has(entity.id)) state.options.splice(-1, 0, entity); });
    if (data.entities.length) state.selected = data.entities[0].id;
    status(data.entities.length + " entities found");
    renderOptions(state.options);
  } catch (error) {
    status("Search failed: " + error.message, true);
  }
}

function onKey(event) {
  if (event.target && ["INPUT", "TEXTAREA"].includes(event.target.tagName)) return;
  const view = state.config.view;
  if (event.key === "a") answer("accept");
  else if (event.key === "x") answer("reject");
  else if (event.key === " ") answer("ignore");
  else if (event.key === "Backspace") undo();
  else if (/^[1-9]$/.test(event.key)) {
    const index = Number(event.key) - 1;
    if (view === "choice" && state.options[index]) { state.selected = state.options[index].id; renderOptions(state.options); }
    else if (state.config.labels[index]) { state.label = state.config.labels[index]; renderLabels(); }
  } else return;
  event.preventDefault();
}

async function start() {
  state.config = await api("/api/config");
  state.label = state.config.labels[0] || null;
  $("recipe").textContent = state.config.recipe;
  $("dataset").textContent = "dataset: " + state.config.dataset;
  $("session").textContent = "session: " + state.session;
  $("instructions").textContent = state.config.instructions;
  $("reject").classList.toggle("hidden", state.config.view === "spans");
  renderLabels();
  $("accept").addEventListener("click", () => answer("accept"));
  $("reject").addEventListener("click", () => answer("reject"));
  $("ignore").addEventListener("click", () => answer("ignore"));
  $("undo").addEventListener("click", undo);
  $("search-form").addEventListener("submit", search);
  document.addEventListener("keydown", onKey);
  document.addEventListener("mouseup", () => { if (state.anchor !== null) { state.anchor = null; render(); } });
  try {
    const past = await api("/api/history?session=" + encodeURIComponent(state.session));
    state.history = past.answers.map((task) => ({ task, answer: task.answer, spans: task.spans, accept: task.accept }));
    renderHistory();
    await next();
  } catch (error) {
    status("Could not load tasks: " + error.message, true);
  }
}

document.addEventListener("DOMContentLoaded", start);
