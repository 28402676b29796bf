// The real HTTP server on a scripted engine (qwen3_fake_server): the reply is the text
// after "SCRIPT:" in the last message, so tool calls and reasoning are checked exactly
// through the official `openai` client, streamed and not, including a Qwen-Agent style
// tool loop.
import assert from "node:assert/strict";

import { env, npmPackage, run, startServer, test } from "./harness.mjs";

const { OpenAI } = npmPackage("openai");
const server = await startServer(env("QWEN3_FAKE_SERVER"), [env("QWEN3_TOKENIZER_DIR"), "0"]);
const client = new OpenAI({ apiKey: "none", baseURL: `${server.url}/v1`, maxRetries: 0 });

const tools = [{ type: "function", function: { name: "get_weather", description: "Weather now",
    parameters: { type: "object", properties: { city: { type: "string" } } } } }];
const CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>';

function ask(script, extra = {}) {
  return { model: "fake", messages: [{ role: "user", content: `SCRIPT:${script}` }], ...extra };
}

// Accumulates a chat stream the way an OpenAI client does, per choice index.
async function streamChat(params) {
  const stream = await client.chat.completions.create({ ...params, stream: true });
  const choices = [];
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      const o = (choices[c.index] ??= { content: "", reasoning: "", calls: [], finish: null,
                                        reasoningAlias: "" });
      o.content += c.delta.content ?? "";
      o.reasoning += c.delta.reasoning_content ?? "";
      o.reasoningAlias += c.delta.reasoning ?? "";
      for (const t of c.delta.tool_calls ?? []) {
        const call = (o.calls[t.index] ??= { id: "", name: "", arguments: "" });
        if (t.id) call.id = t.id;
        call.name += t.function?.name ?? "";
        call.arguments += t.function?.arguments ?? "";
      }
      if (c.finish_reason) o.finish = c.finish_reason;
    }
  }
  return choices;
}

test("tool call, whole response", async () => {
  const r = await client.chat.completions.create(ask(`Checking.\n\n${CALL}`, { tools }));
  const c = r.choices[0];
  assert.equal(c.finish_reason, "tool_calls");
  assert.equal(c.message.content, "Checking.");
  assert.equal(c.message.tool_calls.length, 1);
  const call = c.message.tool_calls[0];
  assert.equal(call.type, "function");
  assert.match(call.id, /^call_/);
  assert.equal(call.function.name, "get_weather");
  assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris" });
});

test("tool calls streamed as deltas, n = 2, two calls each", async () => {
  const two = `${CALL}\n${CALL.replace("Paris", "Oslo")}`;
  const choices = await streamChat(ask(two, { tools, n: 2 }));
  assert.equal(choices.length, 2);
  for (const c of choices) {
    assert.equal(c.content, "");
    assert.equal(c.finish, "tool_calls");
    assert.equal(c.calls.length, 2);
    assert.equal(c.calls[0].name, "get_weather");
    assert.deepEqual(JSON.parse(c.calls[1].arguments), { city: "Oslo" });
    assert.notEqual(c.calls[0].id, c.calls[1].id);
  }
});

test("tool_choice none: the text stays content", async () => {
  const r = await client.chat.completions.create(ask(CALL, { tools, tool_choice: "none" }));
  assert.equal(r.choices[0].message.tool_calls, undefined);
  assert.equal(r.choices[0].message.content, CALL);
  assert.equal(r.choices[0].finish_reason, "stop");
});

test("tool_choice named: the call is forced, the model writes the arguments", async () => {
  const named = { type: "function", function: { name: "get_weather" } };
  const params = ask('{"city": "Rome"}}\n</tool_call>', { tools, tool_choice: named });
  const r = await client.chat.completions.create(params);
  const call = r.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, "get_weather");
  assert.deepEqual(JSON.parse(call.function.arguments), { city: "Rome" });
  assert.equal(r.choices[0].finish_reason, "stop");
  const s = await streamChat(params);
  assert.equal(s[0].calls[0].name, "get_weather");
});

test("tool_choice required: the model names the function", async () => {
  const r = await client.chat.completions.create(
      ask('get_weather", "arguments": {"city": "Lima"}}\n</tool_call>',
          { tools, tool_choice: "required" }));
  assert.deepEqual(JSON.parse(r.choices[0].message.tool_calls[0].function.arguments),
                   { city: "Lima" });
  assert.equal(r.choices[0].finish_reason, "tool_calls");
});

test("malformed tool call stays content", async () => {
  const bad = '<tool_call>\n{"name": "get_weather", "arguments": {oops}\n</tool_call>';
  const r = await client.chat.completions.create(ask(bad, { tools }));
  assert.equal(r.choices[0].message.tool_calls, undefined);
  assert.equal(r.choices[0].message.content, bad);
});

test("reasoning split: reasoning_content and reasoning, streamed and whole", async () => {
  const script = "<think>\nLet me plan.\n</think>\n\nThe answer is 4.";
  const r = await client.chat.completions.create(ask(script));
  assert.equal(r.choices[0].message.reasoning_content, "Let me plan.");
  assert.equal(r.choices[0].message.reasoning, "Let me plan.");
  assert.equal(r.choices[0].message.content, "The answer is 4.");
  const s = await streamChat(ask(script));
  assert.equal(s[0].reasoning, "Let me plan.");
  assert.equal(s[0].reasoningAlias, "Let me plan.");
  assert.equal(s[0].content, "The answer is 4.");
});

test("enable_thinking=false: everything is content", async () => {
  const script = "<think>\nnot reasoning\n</think>\n\nanswer";
  const params = ask(script, { chat_template_kwargs: { enable_thinking: false } });
  const r = await client.chat.completions.create(params);
  assert.equal(r.choices[0].message.reasoning_content, null);
  assert.equal(r.choices[0].message.content, script);
  const s = await streamChat(params);
  assert.equal(s[0].reasoning, "");
  assert.equal(s[0].content, script);
});

test("include_reasoning=false drops the reasoning", async () => {
  const r = await client.chat.completions.create(
      ask("<think>hidden</think>shown", { include_reasoning: false }));
  assert.equal(r.choices[0].message.content, "shown");
  assert.equal(r.choices[0].message.reasoning_content, undefined);
});

test("tool loop: assistant tool_calls + tool result render and answer", async () => {
  const first = await client.chat.completions.create(ask(CALL, { tools }));
  const msg = first.choices[0].message;
  const r = await client.chat.completions.create({
    model: "fake", tools,
    messages: [
      { role: "user", content: "Weather in Paris?" },
      { role: msg.role, content: msg.content, tool_calls: msg.tool_calls },
      { role: "tool", tool_call_id: msg.tool_calls[0].id, content: '{"temp": 21}' },
      { role: "user", content: "SCRIPT:It is 21 degrees." },
    ],
  });
  assert.equal(r.choices[0].message.content, "It is 21 degrees.");
});

test("max_tokens cut-off: finish_reason length, unclosed call is content", async () => {
  const r = await client.chat.completions.create(ask(CALL, { tools, max_tokens: 5 }));
  assert.equal(r.choices[0].finish_reason, "length");
  assert.equal(r.choices[0].message.tool_calls, undefined);
  assert.ok(r.choices[0].message.content.startsWith("<tool_call>"));
});

test("stream logprobs carried per chunk", async () => {
  const stream = await client.chat.completions.create(
      ask("one two three", { stream: true, logprobs: true, top_logprobs: 1 }));
  let n = 0;
  for await (const chunk of stream) {
    for (const c of chunk.choices) n += c.logprobs?.content?.length ?? 0;
  }
  assert.equal(n, 3);
});

await run(() => server.stop());
