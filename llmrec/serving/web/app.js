// The llmrec page: ask, show ranked items with their images as soon as they are ranked, fill in each justification
// (evidence highlighted) as it is written, then the audit's verdict per item. Every piece of catalog or model text goes into the page through textContent (or as a
// text node): never innerHTML, so a title like "<script>…" is shown, not run.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "llmrec.token";

// Mirrors llmrec.explain.evidence.content_words: evidence is linked by shared content words, so these are the words
// to highlight.
const STOPWORDS = new Set((
  "a about above after again against all also am an and any are as at be because been before being below between " +
  "both but by can could did do does doing down during each few for from further had has have having he her here " +
  "hers herself him himself his how i if in into is it its itself just like more most my myself no nor not now of " +
  "off on once only or other our ours out over own same she should so some such than that the their theirs them " +
  "then there these they this those through to too under until up very was we were what when where which while who " +
  "whom why will with would you your yours item items fits fit film films movie movies option request requests " +
  "recommend recommended recommendation great good perfect enjoy enjoyed enjoys something someone really make " +
  "makes made one two title card shows show story stories lots many much well even"
).split(" "));
const WORD = /[a-z0-9][a-z0-9'-]*/g;

function stem(word) {
  return word.length > 4 && word.endsWith("s") ? word.slice(0, -1) : word;
}

function contentWords(text) {
  const out = new Set();
  for (const w of (text || "").toLowerCase().match(WORD) || []) {
    if (w.length >= 4 && !STOPWORDS.has(w)) out.add(stem(w));
  }
  return out;
}

function token() {
  return $("token").value.trim() || sessionStorage.getItem(TOKEN_KEY) || "";
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  const t = token();
  if (t) headers["Authorization"] = "Bearer " + t;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) message = body.error.message;
    } catch (_) { /* not JSON: keep the status line */ }
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return response;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

// Split text into plain text nodes and <mark> elements for the words in `words` (a Map word -> label).
function highlighted(text, words) {
  const fragment = document.createDocumentFragment();
  const lower = text.toLowerCase();
  let last = 0;
  for (const match of lower.matchAll(WORD)) {
    const w = match[0];
    const label = w.length >= 4 && !STOPWORDS.has(w) ? words.get(stem(w)) : undefined;
    if (label === undefined) continue;
    if (match.index > last) fragment.appendChild(document.createTextNode(text.slice(last, match.index)));
    const mark = el("mark", text.slice(match.index, match.index + w.length), "evidence");
    mark.title = label;
    fragment.appendChild(mark);
    last = match.index + w.length;
  }
  if (last < text.length) fragment.appendChild(document.createTextNode(text.slice(last)));
  return fragment;
}

async function loadItem(itemId) {
  try {
    return await (await api(`/v1/items/${encodeURIComponent(itemId)}`)).json();
  } catch (_) {
    return null;
  }
}

async function showMedia(container, item, title) {
  container.replaceChildren();
  const media = item && item.media ? item.media.filter((m) => m.content_type) : [];
  const image = media.find((m) => m.kind === "image");
  const audio = media.find((m) => m.kind === "audio");
  if (!image && !audio) {
    container.appendChild(el("div", "no image", "placeholder"));
    return;
  }
  for (const m of [image, audio].filter(Boolean)) {
    try {
      const blob = await (await api(m.url)).blob();
      const node = document.createElement(m.kind === "image" ? "img" : "audio");
      node.src = URL.createObjectURL(blob);
      if (m.kind === "image") node.alt = title; else node.controls = true;
      container.appendChild(node);
    } catch (_) {
      container.appendChild(el("div", "media unavailable", "placeholder"));
    }
  }
}

async function showJustification(node, recItem, item) {
  const words = new Map();
  const evidenceList = node.querySelector(".evidence");
  evidenceList.replaceChildren();
  const fields = (item && item.card_fields) || {};
  for (const ref of recItem.evidence || []) {
    const [kind, name] = [ref.slice(0, ref.indexOf(":")), ref.slice(ref.indexOf(":") + 1)];
    const li = el("li");
    if (kind === "card") {
      const value = fields[name] || "";
      for (const w of contentWords(value)) if (!words.has(w)) words.set(w, `card: ${name}`);
      li.appendChild(el("span", `card · ${name}`, "tag"));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(highlighted(value, new Map([...contentWords(recItem.justification)].map((w) => [w, name]))));
    } else if (kind === "history") {
      const seen = await loadItem(name);
      const seenTitle = seen ? seen.title : name;
      for (const w of contentWords(seenTitle)) words.set(w, `history: ${seenTitle}`);
      li.appendChild(el("span", "history", "tag"));
      li.appendChild(document.createTextNode(" " + seenTitle));
    } else {
      li.textContent = ref;
    }
    evidenceList.appendChild(li);
  }
  const p = node.querySelector(".justification");
  p.replaceChildren(highlighted(recItem.justification || "", words));
}

// A ranked item, its justification still being written: the placeholder is replaced by fillJustification.
function renderItem(rankedItem) {
  const node = $("result-template").content.firstElementChild.cloneNode(true);
  node.dataset.itemId = rankedItem.item_id;
  node.dataset.justified = "false";
  node.classList.add("pending");
  node.querySelector(".rank").textContent = `${rankedItem.rank}.`;
  node.querySelector(".title").textContent = rankedItem.title;
  node.querySelector(".item-id").textContent = rankedItem.item_id;
  node.querySelector(".score").textContent = Number(rankedItem.score).toFixed(2);
  node.querySelector(".justification").textContent = "writing the justification…";
  return node;
}

async function fillJustification(node, line, itemView) {
  node.querySelector(".source").textContent = line.generated ? "" : "· justification from card facts";
  await showJustification(node, line, await itemView);
  node.classList.remove("pending");
  node.dataset.justified = "true";
}

const FLAG_TEXT = {
  hallucination: "a claim the card or history does not support",
  non_candidate_mention: "names an item that was not among the candidates",
  wrong_year_or_number: "a year or number the card does not have",
  invented_person_or_title: "a name or title that is not in the card",
  unseen_history: "cites something the user never saw",
};

// POST /v1/audits for this answer and show each item's verdict; the page works without it when it is unavailable.
async function showAudit(requestId, nodes) {
  const summary = $("audit-summary");
  summary.textContent = "checking the justifications…";
  let report;
  try {
    report = await (await api("/v1/audits", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ request_ids: [requestId], faithfulness: false }),
    })).json();
  } catch (error) {
    summary.textContent = `audit unavailable: ${error.message}`;
    return;
  }
  const perItem = new Map((report.explanations || []).map((v) => [v.item_id, v]));
  let flagged = 0;
  for (const node of nodes) {
    const verdict = perItem.get(node.dataset.itemId);
    if (!verdict) continue;
    const box = node.querySelector(".audit");
    const head = node.querySelector(".audit-verdict");
    const list = node.querySelector(".audit-flags");
    list.replaceChildren();
    const raised = Object.entries(verdict.flags || {}).filter(([, on]) => on).map(([name]) => name);
    const failing = (verdict.claims || []).filter((c) => c.label !== "supported");
    if (raised.length) {
      flagged += 1;
      head.textContent = "audit: " + raised.map((f) => FLAG_TEXT[f] || f).join("; ");
      head.className = "audit-verdict flagged";
      for (const claim of failing) {
        const why = (claim.findings || []).map((f) => f.message).join("; ");
        list.appendChild(el("li", `${claim.label}: “${claim.text}”${why ? " — " + why : ""}`));
      }
    } else {
      const n = (verdict.claims || []).length;
      head.textContent = n ? `audit: ${n} claim${n > 1 ? "s" : ""}, all supported by the card or history`
                           : "audit: nothing checkable in this justification";
      head.className = "audit-verdict ok";
    }
    box.hidden = false;
  }
  summary.textContent = flagged ? `— the audit flagged ${flagged} of ${nodes.length} justification(s)`
                                : "— the audit found no problems";
}

// The last request sent, so that removing a condition chip can ask the same again without that condition.
let lastBody = null;

async function ask(event) {
  event.preventDefault();
  const t = $("token").value.trim();
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  const body = { query: $("query").value, k: Math.max(1, parseInt($("k").value, 10) || 5) };
  const user = $("user").value.trim();
  if (user) body.user_id = user;
  await send(body);
}

async function send(body) {
  showError("");
  lastBody = body;
  const button = $("ask");
  button.disabled = true;
  button.textContent = "Asking…";
  try {
    const response = await api("/v1/recommendations/stream", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    await render(jsonLines(response));
  } catch (error) {
    if (!error.afterList) $("answer").hidden = true;
    showError(error.message);
  } finally {
    button.disabled = false;
    button.textContent = "Ask";
  }
}

function chip(text, onRemove) {
  const node = el("span", text, "chip");
  if (onRemove) {
    const remove = el("button", "×", "chip-remove");
    remove.type = "button";
    remove.title = `ask again without “${text}”`;
    remove.setAttribute("aria-label", `remove ${text}`);
    remove.addEventListener("click", onRemove);
    node.appendChild(remove);
  }
  return node;
}

// "understood as": each hard condition and "like" anchor as a removable chip; removing one re-asks with it ignored.
function showInterpretation(reading) {
  const box = $("understood");
  const chips = $("chips");
  chips.replaceChildren();
  if (!reading || !reading.parsed) { box.hidden = true; return; }
  const without = (expression) => () => {
    const body = Object.assign({}, lastBody);
    body.ignore = [...(body.ignore || []), expression];
    send(body);
  };
  for (const c of reading.conditions || []) chips.appendChild(chip(c.label, without(c.expression)));
  for (const a of reading.anchors || []) chips.appendChild(chip(`like ${a.title}`, without(`like=${a.title}`)));
  if ((reading.about || []).length) chips.appendChild(chip(`about: ${reading.about.join(" ")}`));
  if ((reading.avoid || []).length) chips.appendChild(chip(`less: ${reading.avoid.join(", ")}`));
  box.hidden = !chips.childElementCount;
}

// The objects of a JSON-lines response body, each as soon as its line is complete.
async function* jsonLines(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end).trim();
      buffer = buffer.slice(end + 1);
      if (line) yield JSON.parse(line);
    }
    if (done) break;
  }
  if (buffer.trim()) yield JSON.parse(buffer);
}

// A streamed answer (POST /v1/recommendations/stream): the ranked items are shown as soon as their line arrives,
// each justification fills its item when its own line does, then the audit's verdicts follow.
async function render(lines) {
  let nodes = new Map();
  let views = new Map();
  let media = [];
  const filling = [];
  let ranked = null;
  for await (const line of lines) {
    if (line.event === "ranked") {
      ranked = line;
      ({ nodes, views, media } = renderRanked(line));
      document.body.dataset.state = "ranked";
    } else if (line.event === "justification" && nodes.has(line.item_id)) {
      filling.push(fillJustification(nodes.get(line.item_id), line, views.get(line.item_id)));
    } else if (line.event === "done") {
      await Promise.all([...filling, ...media]);
      const t = line.timings || {};
      $("summary").textContent += `; justified in ${Number(t.justify_s || 0).toFixed(2)} s`;
      document.body.dataset.state = "answered";
      await showAudit(line.request_id, [...nodes.values()]);
      document.body.dataset.state = "audited";
      return;
    } else if (line.event === "error") {
      await Promise.all(filling);
      for (const node of nodes.values()) {
        if (node.dataset.justified !== "true") {
          node.querySelector(".justification").textContent = "no justification: " + line.error.message;
        }
      }
      throw afterList(line.error.message);
    }
  }
  if (ranked !== null) throw afterList("the answer was cut off before its justifications were all written");
}

// An error once the ranked list is shown: the list stays, the error is shown above it.
function afterList(message) {
  const error = new Error(message);
  error.afterList = true;
  return error;
}

function renderRanked(ranked) {
  const results = $("results");
  results.replaceChildren();
  showInterpretation(ranked.interpretation);
  const notices = $("notices");
  notices.replaceChildren(...(ranked.notices || []).map((n) => el("li", n)));
  const t = ranked.timings || {};
  $("summary").textContent = `${ranked.items.length} item(s) for “${ranked.query || "(no request text)"}”` +
    (ranked.user_id ? ` as user ${ranked.user_id}` : "") +
    ` — ${ranked.model}${ranked.adapter ? " + " + ranked.adapter : ""} via ${ranked.backend}, ` +
    `ranked in ${Number(t.total_s || 0).toFixed(2)} s`;
  if (!ranked.items.length) results.appendChild(el("li", "No items matched.", "empty"));
  const nodes = new Map(ranked.items.map((it) => [it.item_id, renderItem(it)]));
  results.append(...nodes.values());
  const recordUrl = `/v1/recommendations/${encodeURIComponent(ranked.request_id)}`;
  $("audit-link").href = `${recordUrl}/audit`;
  $("record-link").href = recordUrl;
  $("record-link").textContent = `recorded request ${ranked.request_id} (JSON)`;
  $("audit-summary").textContent = "";
  $("answer").hidden = false;
  const views = new Map();
  const media = [];
  for (const it of ranked.items) {
    const view = loadItem(it.item_id);
    views.set(it.item_id, view);
    media.push(view.then((item) => showMedia(nodes.get(it.item_id).querySelector(".media"), item, it.title)));
  }
  return { nodes, views, media };
}

// With a token configured, a plain link cannot carry it: fetch the document and open it as a blob instead.
async function openWithToken(event) {
  if (!token()) return;
  event.preventDefault();
  try {
    const blob = await (await api(event.currentTarget.getAttribute("href"))).blob();
    window.open(URL.createObjectURL(blob), "_blank", "noopener");
  } catch (error) {
    showError(error.message);
  }
}

async function start() {
  $("ask-form").addEventListener("submit", ask);
  $("audit-link").addEventListener("click", openWithToken);
  $("record-link").addEventListener("click", openWithToken);
  try {
    const health = await (await fetch("/healthz")).json();
    $("token-row").hidden = health.auth !== "bearer";
    $("status").textContent = `${health.items} items · model ${health.model} · v${health.version}`;
  } catch (_) {
    $("status").textContent = "server unreachable";
  }
  document.body.dataset.state = "ready";
}

start();
