// newsrag chat page: no build step, no dependencies.
// Article text is data: it is only ever put on the page with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const turns = [];  // earlier turns, for follow-up questions
let busy = false;

const REASONS = {
  no_relevant_sources: "no article answers this question",
  not_in_sources: "the articles on this topic do not say",
  not_yet_reportable: "it asks about a time no article can report on yet",
  no_sources_in_date_range: "no article in the chosen date range answers it",
  sources_conflict: "the sources contradict each other",
  empty_store: "no articles have been ingested yet",
  model_declined: "the model found no answer in the sources",
};

function headers() {
  const h = { "Content-Type": "application/json", "Accept": "text/event-stream" };
  const key = localStorage.getItem("newsrag-api-key");
  if (key) h["X-API-Key"] = key;
  return h;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function safeUrl(url) {
  if (typeof url !== "string") return null;
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch (_) {
    return null;
  }
}

function day(iso) {
  return iso ? String(iso).slice(0, 10) : "undated";
}

function showKeyField() {
  $("key-label").classList.remove("hidden");
  $("api-key").value = localStorage.getItem("newsrag-api-key") || "";
}

async function loadCorpus() {
  try {
    const response = await fetch("/v1/sources", { headers: headers() });
    if (response.status === 401) { showKeyField(); return; }
    if (!response.ok) return;
    const info = await response.json();
    const select = $("source");
    while (select.options.length > 1) select.remove(1);
    for (const outlet of info.sources) {
      const option = el("option", null, `${outlet.name} (${outlet.articles})`);
      option.value = outlet.name;
      select.appendChild(option);
    }
    const range = info.oldest ? `, ${day(info.oldest)} to ${day(info.newest)}` : "";
    $("corpus").textContent = `${info.articles} articles from ${info.sources.length} outlets${range}; answers: ${info.mode}`;
  } catch (_) {
    $("corpus").textContent = "The service is not reachable.";
  }
}

// Answer text with [n] markers as links to the footnotes; everything else as plain text nodes.
function renderAnswer(container, text, citations, turnId) {
  container.textContent = "";
  container.classList.remove("draft");
  const known = new Set(citations.map((c) => c.n));
  const parts = String(text).split(/(\[\d+\])/);
  for (const part of parts) {
    const m = /^\[(\d+)\]$/.exec(part);
    if (m && known.has(Number(m[1]))) {
      const sup = el("sup", "marker");
      const a = el("a", null, `[${m[1]}]`);
      a.href = `#${turnId}-cite-${m[1]}`;
      sup.appendChild(a);
      container.appendChild(sup);
    } else if (part) {
      container.appendChild(document.createTextNode(part));
    }
  }
}

// "Newest source cited: 2025-09-12, 3 days before 2025-09-15", from the answer's fields.
function newestNote(answer) {
  if (!answer.newest_source_at || !answer.as_of) return "";
  const newest = new Date(answer.newest_source_at);
  const asOf = new Date(answer.as_of);
  const days = Math.max(0, Math.floor((asOf - newest) / 86400000));
  let age;
  if (days < 1) age = "less than a day";
  else if (days < 60) age = `${days} day${days === 1 ? "" : "s"}`;
  else if (days < 730) age = `${Math.floor(days / 30)} months`;
  else age = `${Math.floor(days / 365)} years`;
  return `Newest source cited: ${day(answer.newest_source_at)}, ${age} before ${day(answer.as_of)}.`;
}

function renderFootnotes(list, citations, turnId) {
  list.textContent = "";
  for (const c of citations) {
    const item = el("li", c.supported ? "footnote" : "footnote weak");
    item.id = `${turnId}-cite-${c.n}`;
    item.value = c.n;
    const head = el("div", "meta");
    const link = safeUrl(c.url);
    const title = link ? el("a", "title", c.title) : el("span", "title", c.title);
    if (link) {
      title.href = link;
      title.target = "_blank";
      title.rel = "noopener noreferrer";
    }
    head.appendChild(title);
    head.appendChild(el("span", "outlet", ` — ${c.source || "unknown outlet"}, ${day(c.published_at)}`));
    if (!c.supported) head.appendChild(el("span", "flag", " (weak support)"));
    item.appendChild(head);
    item.appendChild(el("blockquote", "quote", c.quote));
    list.appendChild(item);
  }
}

function renderClosest(box, sources) {
  const list = box.querySelector("ul");
  list.textContent = "";
  const seen = new Set();
  for (const s of sources) {
    if (seen.has(s.article_id) || seen.size >= 3) continue;
    seen.add(s.article_id);
    const li = el("li");
    const link = safeUrl(s.url);
    const title = link ? el("a", null, s.title) : el("span", null, s.title);
    if (link) { title.href = link; title.target = "_blank"; title.rel = "noopener noreferrer"; }
    li.appendChild(title);
    li.appendChild(el("span", "outlet", ` — ${s.source || "unknown outlet"}, ${day(s.published_at)}`));
    list.appendChild(li);
  }
  box.classList.toggle("hidden", seen.size === 0);
}

// Server-sent events over fetch (EventSource cannot POST).
async function* readEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

function filters() {
  const f = { sources: [] };
  if ($("source").value) f.sources.push($("source").value);
  if ($("since").value) f.since = $("since").value;
  if ($("until").value) f.until = $("until").value;
  return f;
}

async function ask(question) {
  const turnId = `t${Date.now()}`;
  const node = $("turn-template").content.firstElementChild.cloneNode(true);
  node.id = turnId;
  node.querySelector(".question").textContent = question;
  const status = node.querySelector(".status");
  const text = node.querySelector(".text");
  const refusal = node.querySelector(".refusal");
  const footnotes = node.querySelector(".footnotes");
  const short = node.querySelector(".short");
  const note = node.querySelector(".note");
  const closest = node.querySelector(".closest");
  $("conversation").appendChild(node);
  node.scrollIntoView({ behavior: "smooth", block: "end" });
  status.textContent = "Searching the articles…";
  text.classList.add("draft");

  let response;
  try {
    response = await fetch("/v1/ask/stream", {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({ question, history: turns.slice(-10), filters: filters() }),
    });
  } catch (_) {
    status.textContent = "The service is not reachable.";
    status.classList.add("error");
    return;
  }
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try { message = (await response.json()).error.message; } catch (_) { /* keep the status */ }
    if (response.status === 401 || response.status === 403) showKeyField();
    status.textContent = `Error: ${message}`;
    status.classList.add("error");
    return;
  }

  const citations = [];
  try {
    for await (const { event, data } of readEvents(response)) {
      if (event === "sources") {
        status.textContent = `Found ${data.sources.length} passages; writing the answer…`;
      } else if (event === "token") {
        text.textContent += data.text;  // raw model text while it is written
      } else if (event === "citation") {
        citations.push(data.citation);
      } else if (event === "done") {
        const answer = data.answer;
        status.textContent = "";
        if (answer.refused) {
          text.textContent = "";
          text.classList.remove("draft");
          refusal.textContent = "";
          refusal.appendChild(el("strong", null, "No answer: "));
          refusal.appendChild(document.createTextNode(`${REASONS[answer.refusal_reason] || answer.refusal_reason}. `));
          refusal.appendChild(el("span", "detail", answer.answer));
          refusal.classList.remove("hidden");
          renderClosest(closest, answer.sources || []);
        } else {
          if (answer.short_answer) {
            const { text: span, citation } = answer.short_answer;
            renderAnswer(short, `${span} [${citation}]`, answer.citations, turnId);
            short.classList.remove("hidden");
          }
          renderAnswer(text, answer.answer, answer.citations, turnId);
          renderFootnotes(footnotes, answer.citations, turnId);
          const age = newestNote(answer);
          if (age) {
            note.textContent = age;
            note.classList.remove("hidden");
          }
        }
        turns.push({ role: "user", content: question });
        turns.push({ role: "assistant", content: answer.answer });
      } else if (event === "error") {
        status.textContent = `Error: ${data.message}`;
        status.classList.add("error");
      }
    }
  } catch (err) {
    status.textContent = `The answer stream broke off (${err.message || err}).`;
    status.classList.add("error");
  }
}

$("ask-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question || busy) return;
  busy = true;
  $("ask-button").disabled = true;
  $("question").value = "";
  try {
    await ask(question);
  } finally {
    busy = false;
    $("ask-button").disabled = false;
    $("question").focus();
  }
});

$("question").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("ask-form").requestSubmit();
  }
});

$("new-chat").addEventListener("click", () => {
  turns.length = 0;
  $("conversation").textContent = "";
  $("question").focus();
});

$("api-key").addEventListener("change", () => {
  localStorage.setItem("newsrag-api-key", $("api-key").value.trim());
  loadCorpus();
});

loadCorpus();
