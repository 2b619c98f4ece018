// elkit annotate: the browser side. Every text goes into the page through textContent, never as HTML.
"use strict";

const state = {
  config: null,
  session: null,
  queue: [],
  current: null,
  editing: null, // the history entry being changed, when the current task is an earlier answer
  spans: [],
  options: [],
  label: null,
  anchor: null, // the mouse drag's first token
  cursor: 0, // the keyboard's token cursor
  selectFrom: null, // the keyboard selection's anchor (Shift+arrows), or null
  selected: null,
  found: [], // ids the last KB search found
  history: [],
  busy: false,
  pending: [], // keys pressed while an answer was on its way
  done: false,
};

const VERDICTS = { accept: "✓", reject: "✗", ignore: "⊘" };
const EDITABLE = ["spans", "review"];

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

function isEditable() {
  return EDITABLE.includes(state.config.view);
}

function copy(value) {
  return JSON.parse(JSON.stringify(value));
}

function showProgress(progress) {
  if (!progress) return;
  const done = Number(progress.session_answers) || 0;
  const left = progress.session_left;
  const parts = [done + " done"];
  if (typeof left === "number") {
    parts.push(left + " left");
    $("progress-bar").value = done + left > 0 ? done / (done + left) : (progress.done ? 1 : 0);
  } else {
    if (progress.source_total) parts.push(Math.round((progress.progress || 0) * 100) + "% of the source");
    $("progress-bar").value = progress.progress || 0;
  }
  if (typeof progress.dataset_answers === "number") parts.push(progress.dataset_answers + " in the dataset");
  $("progress").textContent = parts.join(" · ");
}

// --- spans ----------------------------------------------------------------------------------------------------

function withTokens(task, span) {
  // A span with its token range (inclusive); null when its offsets miss the task's token boundaries.
  const tokens = task.tokens || [];
  let first = Number.isInteger(span.token_start) ? span.token_start : -1;
  let last = Number.isInteger(span.token_end) ? span.token_end : -1;
  const fits = first >= 0 && last >= first && last < tokens.length
    && tokens[first].start === span.start && tokens[last].end === span.end;
  if (!fits) {
    first = tokens.findIndex((token) => token.start === span.start);
    last = tokens.findIndex((token) => token.end === span.end);
    if (first < 0 || last < first) return null;
  }
  const full = { ...span, token_start: first, token_end: last };
  delete full.text;
  return full;
}

function fullSpans(task, spans) {
  return (spans || []).map((span) => withTokens(task, span)).filter(Boolean)
    .sort((a, b) => a.start - b.start);
}

function spanAt(index) {
  return state.spans.findIndex((span) => span.token_start <= index && index <= span.token_end);
}

function selection() {
  // The keyboard selection as [first, last] tokens: the Shift range, else the cursor token.
  const from = state.selectFrom === null ? state.cursor : state.selectFrom;
  return [Math.min(from, state.cursor), Math.max(from, state.cursor)];
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
    if (found && found.span.token_end < tokens.length && found.span.token_end >= index) {
      const span = found.span;
      const mark = element("mark", "entity " + labelClass(span.label));
      mark.dataset.start = span.start;
      mark.dataset.end = span.end;
      mark.dataset.label = span.label;
      for (let inner = span.token_start; inner <= span.token_end; inner += 1) {
        if (inner > span.token_start) mark.appendChild(gap(task.text.slice(tokens[inner - 1].end, tokens[inner].start)));
        mark.appendChild(tokenNode(task, tokens[inner], inner, editable));
      }
      mark.appendChild(element("span", "tag", span.label));
      if (span.kb_id) mark.appendChild(element("span", "tag", span.kb_id));
      if (editable) {
        const remove = element("button", "remove", "×");
        remove.title = "remove (Delete)";
        remove.addEventListener("mousedown", (event) => event.preventDefault());
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
      container.appendChild(tokenNode(task, token, index, editable));
      position = token.end;
      index += 1;
    }
  }
  container.appendChild(gap(task.text.slice(position)));
}

function tokenNode(task, token, index, editable) {
  const node = element("span", "token", task.text.slice(token.start, token.end));
  node.dataset.i = index;
  if (editable) {
    const [first, last] = selection();
    if (index === state.cursor) node.classList.add("cursor");
    if (state.selectFrom !== null && first <= index && index <= last) node.classList.add("in-selection");
    node.addEventListener("mousedown", (event) => {
      event.preventDefault();
      state.anchor = index;
      node.classList.add("selecting");
    });
    node.addEventListener("mouseup", (event) => {
      event.preventDefault();
      if (state.anchor === null) return;
      const from = state.anchor;
      state.anchor = null;
      state.cursor = index;
      state.selectFrom = null;
      addSpan(Math.min(from, index), Math.max(from, index));
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
    return false;
  }
  const overlaps = state.spans.some((span) => !(last < span.token_start || first > span.token_end));
  if (overlaps) {
    status("That overlaps an entity: remove it first.", true);
    render();
    return false;
  }
  state.spans.push({
    start: tokens[first].start, end: tokens[last].end, token_start: first, token_end: last, label,
  });
  state.spans.sort((a, b) => a.start - b.start);
  status("");
  render();
  return true;
}

function renderLabels() {
  const bar = $("labels");
  bar.replaceChildren();
  bar.classList.toggle("hidden", !isEditable());
  state.config.labels.forEach((label, index) => {
    const button = element("button", "label-button " + labelClass(label), label + (index < 9 ? " " + (index + 1) : ""));
    button.dataset.label = label;
    button.classList.toggle("active", label === state.label);
    button.addEventListener("mousedown", (event) => event.preventDefault()); // keep the keys on the page
    button.addEventListener("click", () => { state.label = label; renderLabels(); });
    bar.appendChild(button);
  });
}

function renderOptions() {
  const list = $("options");
  list.replaceChildren();
  state.options.forEach((option, index) => {
    const item = element("li", "option");
    item.dataset.id = option.id;
    item.classList.toggle("selected", option.id === state.selected);
    item.classList.toggle("found", state.found.includes(option.id));
    if (option.score !== undefined) item.appendChild(element("span", "score", Number(option.score).toFixed(3)));
    item.appendChild(element("span", "name", (index < 9 ? index + 1 + ". " : "") + option.name));
    if (option.type) item.appendChild(element("span", "type", option.type));
    item.appendChild(element("span", "type", option.id));
    if (option.description) item.appendChild(element("div", "description", option.description));
    item.addEventListener("click", () => choose(option.id));
    list.appendChild(item);
  });
}

function choose(id) {
  state.selected = id;
  renderOptions();
}

function renderVersions(task) {
  const box = $("versions");
  box.replaceChildren();
  (task.versions || []).forEach((version, index) => {
    const card = element("div", "version");
    card.appendChild(element("div", "sessions",
      "version " + (index + 1) + " · " + version.answer + " · " + version.sessions.join(", ")));
    const text = element("div", "text");
    renderText(text, task, fullSpans(task, version.spans), false);
    card.appendChild(text);
    const use = element("button", "use-version", "use this version");
    use.addEventListener("mousedown", (event) => event.preventDefault());
    use.addEventListener("click", () => { state.spans = fullSpans(task, copy(version.spans || [])); render(); });
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
  renderText($("text"), task, state.spans, isEditable());
  if (view === "binary" && task.spans.length) {
    const span = task.spans[0];
    $("task-label").textContent = span.label + (task.meta && task.meta.score !== undefined
      ? " · model score " + Number(task.meta.score).toFixed(2) : "");
  }
  if (view === "choice") {
    renderOptions();
    const span = task.spans[0];
    $("task-label").textContent = "“" + task.text.slice(span.start, span.end) + "” (" + span.label + ")";
  }
  if (view === "review") {
    renderVersions(task);
    const agreement = task.meta && task.meta.agreement;
    const count = (task.versions || []).length;
    $("task-label").textContent = count + (count === 1 ? " version" : " versions")
      + (agreement !== undefined && agreement !== null ? " · agreement " + Number(agreement).toFixed(2) : "");
  }
}

function snippet(text, length) {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > length ? flat.slice(0, length) + "…" : flat;
}

function entityName(entry, id) {
  if (entry.entityName) return entry.entityName;
  const option = (entry.task.options || []).find((candidate) => candidate.id === id);
  return option && option.id !== "NIL" ? option.name : "";
}

function describe(entry) {
  // What an answer was, in words: the mention and the entity, or the spans, and the start of the text.
  const task = entry.task;
  const view = state.config.view;
  if (view === "choice") {
    const mention = (task.spans || [])[0];
    const quoted = mention ? "“" + task.text.slice(mention.start, mention.end) + "”" : snippet(task.text, 40);
    const chosen = entry.answer === "accept" && entry.accept && entry.accept[0];
    if (!chosen) return quoted;
    const name = entityName(entry, chosen);
    return quoted + " → " + chosen + (name ? " " + name : "");
  }
  if (view === "binary") {
    const span = (task.spans || [])[0];
    const shown = span ? span.label + " “" + task.text.slice(span.start, span.end) + "” · " : "";
    return shown + snippet(task.text, 40);
  }
  if (entry.answer !== "accept") return snippet(task.text, 50);
  const spans = entry.spans || [];
  const labels = [...new Set(spans.map((span) => span.label))];
  const count = spans.length === 0 ? "no spans" : spans.length + (spans.length === 1 ? " span" : " spans");
  return count + (labels.length ? " (" + labels.join(", ") + ")" : "") + " · " + snippet(task.text, 40);
}

function renderHistory() {
  const list = $("history");
  list.replaceChildren();
  state.history.slice(0, 20).forEach((entry) => {
    const item = element("li", entry.answer);
    item.dataset.hash = entry.task._task_hash;
    item.appendChild(element("span", "verdict", VERDICTS[entry.answer] || entry.answer));
    const text = describe(entry);
    item.appendChild(document.createTextNode(" " + text));
    item.title = text + " (click to change this answer)";
    item.classList.toggle("editing", state.editing === entry);
    item.addEventListener("click", () => reopen(entry));
    list.appendChild(item);
  });
}

// --- flow -----------------------------------------------------------------------------------------------------

function show(task, answered) {
  state.current = task;
  state.anchor = null;
  state.cursor = 0;
  state.selectFrom = null;
  state.found = [];
  if (!task) { render(); return; }
  const spans = answered && answered.spans ? answered.spans : task.spans || [];
  state.spans = fullSpans(task, copy(spans));
  state.options = (task.options || []).slice();
  if (answered && answered.extraOptions) {
    const known = new Set(state.options.map((option) => option.id));
    answered.extraOptions.forEach((option) => { if (!known.has(option.id)) state.options.splice(-1, 0, option); });
  }
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
  state.editing = null;
  if (!state.queue.length) await fetchTasks();
  show(state.queue.shift() || null);
  renderHistory();
}

function answerPayload(verdict) {
  const task = state.current;
  const payload = { task_hash: task._task_hash, answer: verdict };
  const view = state.config.view;
  if (isEditable() && verdict === "accept") {
    // A link on a span (el.manual answers under review) is kept; the server checks it was offered on that span.
    payload.spans = state.spans.map((span) => (span.kb_id
      ? { start: span.start, end: span.end, label: span.label, kb_id: span.kb_id }
      : { start: span.start, end: span.end, label: span.label }));
  }
  if (view === "choice" && verdict === "accept") payload.accept = [state.selected];
  return payload;
}

function historyEntry(task, verdict, payload, data) {
  // The history keeps full spans (with their token range) so that a reopened answer shows and edits them. The
  // server's stored copy is preferred; the spans on screen are the fallback.
  const entry = { task, answer: verdict, accept: payload.accept };
  if (isEditable() && verdict === "accept") entry.spans = copy(state.spans);
  const stored = Array.isArray(data.answers)
    ? data.answers.find((item) => item && item._task_hash === task._task_hash)
      || (data.answers.length === 1 ? data.answers[0] : null)
    : null;
  if (stored && stored.answer === verdict) {
    if (isEditable() && verdict === "accept" && Array.isArray(stored.spans)) {
      const spans = fullSpans(task, stored.spans);
      if (spans.length === stored.spans.length) entry.spans = spans;
    }
    if (Array.isArray(stored.accept)) entry.accept = stored.accept;
  }
  if (state.config.view === "choice" && verdict === "accept") {
    const option = state.options.find((candidate) => candidate.id === (entry.accept || [])[0]);
    if (option && option.id !== "NIL") entry.entityName = option.name;
    const offered = new Set((task.options || []).map((candidate) => candidate.id));
    entry.extraOptions = state.options.filter((candidate) => !offered.has(candidate.id));
  }
  return entry;
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
  let data;
  try {
    data = await api("/api/answers", { session: state.session, answers: [payload] });
  } catch (error) {
    status("Not saved: " + error.message, true);
    state.pending = [];
    state.busy = false;
    return;
  }
  try {
    showProgress(data.progress);
    state.history = state.history.filter((entry) => entry.task._task_hash !== task._task_hash);
    state.history.unshift(historyEntry(task, verdict, payload, data));
    renderHistory();
    status("saved: " + verdict);
    await next();
  } catch (error) {
    status("Saved, but the next task did not load: " + error.message, true);
  } finally {
    state.busy = false;
  }
  replayKeys();
}

function reopen(entry) {
  if (state.busy) return;
  // A task not answered yet goes back to the front of the queue; an earlier answer being changed does not.
  if (state.current && !state.editing && state.current._task_hash !== entry.task._task_hash) {
    state.queue.unshift(state.current);
  }
  state.queue = state.queue.filter((task) => task._task_hash !== entry.task._task_hash);
  state.editing = entry;
  show(entry.task, entry);
  renderHistory();
  status("Changing an earlier answer: answer again to replace it.");
}

function undo() {
  // Reopens the latest answer; pressed again, the one before it, and so on.
  const position = state.editing ? state.history.indexOf(state.editing) + 1 : 0;
  if (position < state.history.length) reopen(state.history[position]);
  else if (state.history.length) status("No earlier answer in the history.", true);
}

async function search(event) {
  event.preventDefault();
  const query = $("search-input").value.trim();
  if (!query) return;
  const task = state.current;
  try {
    const data = await api("/api/search?q=" + encodeURIComponent(query));
    if (state.current !== task) return; // the task changed while the search ran
    const known = new Set(state.options.map((option) => option.id));
    data.entities.forEach((entity) => {
      if (known.has(entity.id)) return;
      known.add(entity.id);
      const nil = state.options.findIndex((option) => option.id === "NIL");
      state.options.splice(nil < 0 ? state.options.length : nil, 0, entity);
    });
    // The hits join the options; the selection stays as it was until the annotator picks one.
    state.found = data.entities.map((entity) => entity.id);
    renderOptions();
    if (!data.entities.length) {
      status("No entity found for “" + query + "”.");
      return;
    }
    const keys = state.found.map((id) => state.options.findIndex((option) => option.id === id) + 1)
      .filter((number) => number >= 1 && number <= 9);
    const found = $("options").querySelector(".option.found");
    if (found) found.scrollIntoView({ block: "nearest" });
    $("search-input").blur(); // the number keys now choose among the options
    status(data.entities.length + (data.entities.length === 1 ? " entity" : " entities")
      + " found: pick one with a click or its number key" + (keys.length ? " (" + keys.join(", ") + ")" : "")
      + ".");
  } catch (error) {
    status("Search failed: " + error.message, true);
  }
}

// --- keyboard -------------------------------------------------------------------------------------------------

function moveCursor(step, extend) {
  const count = (state.current.tokens || []).length;
  if (!count) return;
  if (extend && state.selectFrom === null) state.selectFrom = state.cursor;
  if (!extend) state.selectFrom = null;
  state.cursor = Math.max(0, Math.min(count - 1, state.cursor + step));
  render();
  const node = $("text").querySelector(".token.cursor");
  if (node) node.scrollIntoView({ block: "nearest" });
}

function markSelection() {
  const [first, last] = selection();
  if (addSpan(first, last)) {
    state.selectFrom = null;
    render();
  }
}

function removeAtCursor() {
  const index = spanAt(state.cursor);
  if (index < 0) {
    status("No span under the cursor.", true);
    return;
  }
  state.spans.splice(index, 1);
  status("");
  render();
}

function pickNumber(number) {
  const index = number - 1;
  if (state.config.view === "choice") {
    if (state.options[index]) choose(state.options[index].id);
    return;
  }
  const label = state.config.labels[index];
  if (!label) return;
  state.label = label;
  renderLabels();
  if (isEditable() && state.current) {
    const under = spanAt(state.cursor);
    if (under >= 0 && state.spans[under].label !== label) {
      state.spans[under] = { ...state.spans[under], label };
      render();
    }
  }
}

function helpOpen() {
  return !$("help").classList.contains("hidden");
}

function toggleHelp(open) {
  $("help").classList.toggle("hidden", !open);
}

function onKey(event) {
  if (event.target && ["INPUT", "TEXTAREA", "SELECT"].includes(event.target.tagName)) return;
  if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
  const key = event.key;
  if (helpOpen()) {
    if (key === "Escape" || key === "?") {
      toggleHelp(false);
      event.preventDefault();
    }
    return;
  }
  // A button focused from the keyboard (Tab) keeps Enter and space.
  if (event.target && event.target.tagName === "BUTTON" && (key === "Enter" || key === " ")) return;
  const press = { key, shift: event.shiftKey, repeat: event.repeat };
  if (state.busy) {
    // An answer is on its way: the keys wait for the next task (dropped if the answer fails).
    if (!handles(press)) return;
    if (state.pending.length < 50) state.pending.push(press);
  } else if (!handleKey(press)) return;
  event.preventDefault();
}

function handles(press) {
  return ["?", "Escape", "a", "x", " ", "Backspace", "/", "ArrowLeft", "ArrowRight", "Enter", "Delete", "d"]
    .includes(press.key) || /^[1-9]$/.test(press.key);
}

function handleKey(press) {
  // One key press; false when the key means nothing here.
  const { key } = press;
  const view = state.config.view;
  const editing = isEditable() && state.current;
  if (key === "?") toggleHelp(true);
  else if (key === "Escape") {
    if (state.selectFrom !== null && state.current) { state.selectFrom = null; render(); }
  } else if (key === "a" && !press.repeat) answer("accept");
  else if (key === "x" && !press.repeat && view !== "spans") answer("reject"); // no reject in ner.manual
  else if (key === " " && !press.repeat) answer("ignore");
  else if (key === "Backspace") undo();
  else if (key === "/" && view === "choice" && state.current) $("search-input").focus();
  else if (/^[1-9]$/.test(key)) pickNumber(Number(key));
  else if (editing && (key === "ArrowLeft" || key === "ArrowRight")) moveCursor(key === "ArrowLeft" ? -1 : 1, press.shift);
  else if (editing && key === "Enter") markSelection();
  else if (editing && (key === "Delete" || key === "d")) removeAtCursor();
  else return false;
  return true;
}

function replayKeys() {
  while (state.pending.length && !state.busy && !helpOpen()) handleKey(state.pending.shift());
}

async function start() {
  state.config = await api("/api/config");
  const fromUrl = new URLSearchParams(window.location.search).get("session");
  state.session = fromUrl || state.config.user || "default";
  state.label = state.config.labels[0] || null;
  $("recipe").textContent = state.config.recipe;
  $("dataset").textContent = "dataset: " + state.config.dataset;
  $("session").textContent = "session: " + state.session;
  $("instructions").textContent = state.config.instructions;
  $("reject").classList.toggle("hidden", state.config.view === "spans");
  document.body.dataset.view = state.config.view;
  renderLabels();
  ["accept", "reject", "ignore", "undo", "help-button", "help-close"].forEach((id) => {
    $(id).addEventListener("mousedown", (event) => event.preventDefault()); // keep the keys on the page
  });
  $("accept").addEventListener("click", () => answer("accept"));
  $("reject").addEventListener("click", () => answer("reject"));
  $("ignore").addEventListener("click", () => answer("ignore"));
  $("undo").addEventListener("click", undo);
  $("help-button").addEventListener("click", () => toggleHelp(!helpOpen()));
  $("help-close").addEventListener("click", () => toggleHelp(false));
  $("help").addEventListener("click", (event) => { if (event.target === $("help")) toggleHelp(false); });
  $("search-form").addEventListener("submit", search);
  $("search-input").addEventListener("keydown", (event) => {
    if (event.key === "Escape") { event.preventDefault(); $("search-input").blur(); }
  });
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
