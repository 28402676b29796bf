#include "server/chat_page.h"

namespace qwen3::server {
namespace {

// Element ids used by tests/server/chat_page_test.mjs: #input, #send, #messages, #model;
// replies are .msg.assistant with .reasoning and .content children and data-done set at
// the end; window.__sseEvents counts stream events, window.__qwen3Ready marks start-up.
constexpr std::string_view kChatPageHtml = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>qwen3.cpp chat</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; display: flex; flex-direction: column;
         height: 100vh; background: #f6f6f4; color: #222; }
  header { padding: 8px 16px; background: #fff; border-bottom: 1px solid #ddd; display: flex;
           gap: 12px; align-items: center; flex-wrap: wrap; font-size: 14px; }
  header b { font-size: 16px; }
  #messages { flex: 1; overflow-y: auto; padding: 16px; }
  .msg { max-width: 800px; margin: 0 auto 12px; padding: 10px 14px; border-radius: 8px;
         white-space: pre-wrap; word-wrap: break-word; }
  .user { background: #dbe9ff; }
  .assistant { background: #fff; border: 1px solid #e2e2e2; }
  .reasoning { color: #777; font-size: 13px; border-left: 3px solid #ccc; padding-left: 8px;
               margin-bottom: 6px; }
  .reasoning:empty { display: none; }
  .tools { font-family: monospace; font-size: 13px; color: #365; }
  .tools:empty { display: none; }
  .error { color: #b00020; }
  footer { display: flex; gap: 8px; padding: 12px 16px; background: #fff;
           border-top: 1px solid #ddd; }
  #input { flex: 1; resize: none; height: 56px; font: inherit; padding: 8px; }
  button { padding: 0 18px; font: inherit; }
  input[type=number] { width: 70px; }
</style>
</head>
<body>
<header>
  <b>qwen3.cpp</b>
  <span id="model">model: ?</span>
  <label>max tokens <input id="max_tokens" type="number" value="512" min="1"></label>
  <label>temperature <input id="temperature" type="number" value="0.7" step="0.1" min="0"
         max="2"></label>
  <label><input id="thinking" type="checkbox" checked> thinking</label>
  <label>API key <input id="api_key" type="password" size="12"></label>
  <button id="clear" type="button">clear</button>
</header>
<div id="messages"></div>
<footer>
  <textarea id="input" placeholder="Message (Enter to send, Shift+Enter for a new line)"></textarea>
  <button id="send" type="button">Send</button>
</footer>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const history = [];
let busy = false;
$("api_key").value = localStorage.getItem("qwen3_api_key") || "";
$("api_key").onchange = () => localStorage.setItem("qwen3_api_key", $("api_key").value);

function headers() {
  const h = { "Content-Type": "application/json" };
  if ($("api_key").value) h["Authorization"] = "Bearer " + $("api_key").value;
  return h;
}

function bubble(role) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  if (role === "assistant") {
    for (const part of ["reasoning", "content", "tools"]) {
      const el = document.createElement("div");
      el.className = part;
      div.appendChild(el);
    }
  }
  $("messages").appendChild(div);
  return div;
}

// Reads an SSE body and calls onEvent with each parsed "data:" JSON.
async function readSse(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const event = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") return;
        window.__sseEvents = (window.__sseEvents || 0) + 1;
        onEvent(JSON.parse(data));
      }
    }
  }
}

async function send() {
  const text = $("input").value.trim();
  if (!text || busy) return;
  busy = true;
  $("send").disabled = true;
  $("input").value = "";
  bubble("user").textContent = text;
  history.push({ role: "user", content: text });
  const reply = bubble("assistant");
  const out = { content: "", reasoning: "", tools: [] };
  const scroll = () => { $("messages").scrollTop = $("messages").scrollHeight; };
  try {
    const body = {
      messages: history, stream: true,
      max_tokens: Number($("max_tokens").value) || 512,
      temperature: Number($("temperature").value),
      chat_template_kwargs: { enable_thinking: $("thinking").checked },
    };
    const res = await fetch("/v1/chat/completions",
                            { method: "POST", headers: headers(), body: JSON.stringify(body) });
    if (!res.ok) {
      const err = await res.json().catch(() => ({}));
      throw new Error((err.error && err.error.message) || res.statusText);
    }
    await readSse(res, (chunk) => {
      if (chunk.error) throw new Error(chunk.error.message);
      for (const choice of chunk.choices || []) {
        const d = choice.delta || {};
        if (d.reasoning_content) out.reasoning += d.reasoning_content;
        if (d.content) out.content += d.content;
        for (const t of d.tool_calls || []) {
          out.tools[t.index] = out.tools[t.index] || { name: "", arguments: "" };
          const f = t.function || {};
          if (f.name) out.tools[t.index].name = f.name;
          if (f.arguments) out.tools[t.index].arguments += f.arguments;
        }
      }
      reply.querySelector(".reasoning").textContent = out.reasoning;
      reply.querySelector(".content").textContent = out.content;
      reply.querySelector(".tools").textContent =
          out.tools.map((t) => "tool call: " + t.name + "(" + t.arguments + ")").join("\n");
      scroll();
    });
    history.push({ role: "assistant", content: out.content });
    reply.dataset.done = "1";
  } catch (e) {
    const err = document.createElement("div");
    err.className = "error";
    err.textContent = "Error: " + e.message;
    reply.appendChild(err);
    reply.dataset.done = "error";
    history.pop();
  }
  busy = false;
  $("send").disabled = false;
  scroll();
}

$("send").onclick = send;
$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(); }
});
$("clear").onclick = () => { history.length = 0; $("messages").innerHTML = ""; };
fetch("/v1/models", { headers: headers() }).then((r) => r.json()).then((j) => {
  if (j.data && j.data.length) $("model").textContent = "model: " + j.data[0].id;
}).catch(() => {}).finally(() => { window.__qwen3Ready = true; });
</script>
</body>
</html>
)HTML";

}  // namespace

std::string_view chat_page_html() { return kChatPageHtml; }

}  // namespace qwen3::server
