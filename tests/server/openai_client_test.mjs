// The real `qwen3 serve` on the tiny random model, driven by the official `openai` npm
// client: completions, chat, streaming (== non-streamed, greedy), n, seed, logprobs,
// stop, usage (incl. cached tokens), tools, errors (401, 404, 400s), tokenize,
// metrics, /health while loading, and SIGTERM draining a request in flight.
import assert from "node:assert/strict";

import { env, metricValue, npmPackage, openAiError, postJson, run, startServer, test } from
    "./harness.mjs";

const { OpenAI } = npmPackage("openai");
const KEY = "sk-qwen3-test";
const server = await startServer(env("QWEN3_BINARY"), [
  "serve", env("QWEN3_SERVER_MODEL"), "--host", "127.0.0.1", "--port", "0",
  "--served-model-name", "tiny", "--api-key", KEY, "--max-model-len", "512",
  "--kv-cache-memory", "64MiB", "--threads", "2",
]);
const client = new OpenAI({ apiKey: KEY, baseURL: `${server.url}/v1`, maxRetries: 0 });
const auth = { Authorization: `Bearer ${KEY}` };
const greedy = { model: "tiny", temperature: 0 };

async function tokenCount(text) {
  const r = await postJson(`${server.url}/tokenize`, { prompt: text }, auth);
  return r.json.count;
}

async function collectChatStream(params) {
  const stream = await client.chat.completions.create({ ...params, stream: true,
                                                        stream_options: { include_usage: true } });
  const out = { content: "", reasoning: "", finish: null, usage: null, chunks: 0, role: null };
  for await (const chunk of stream) {
    out.chunks++;
    if (chunk.usage) out.usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta.role) out.role = c.delta.role;
      out.content += c.delta.content ?? "";
      out.reasoning += c.delta.reasoning_content ?? "";
      if (c.finish_reason) out.finish = c.finish_reason;
    }
  }
  return out;
}

test("/health answered 503 while loading, then 200", () => {
  assert.equal(server.healthSeen.at(-1), 200);
  assert.ok(server.healthSeen.every((s) => s === 503 || s === 200), `${server.healthSeen}`);
  const loadSeconds = Number(server.log().match(/\) in ([\d.]+) s;/)[1]);
  if (loadSeconds > 0.5) assert.equal(server.healthSeen[0], 503, `${server.healthSeen}`);
  assert.match(server.log(), /KV cache: \d+ blocks x 16 tokens = \d+ tokens/);
  assert.match(server.log(), /maximum concurrency for 512-token requests: [\d.]+x/);
});

test("models.list", async () => {
  const models = await client.models.list();
  assert.equal(models.data[0].id, "tiny");
  assert.equal(models.data[0].object, "model");
});

test("completions: text, usage, greedy is deterministic", async () => {
  const a = await client.completions.create({ ...greedy, prompt: "The capital of France is",
                                              max_tokens: 8, ignore_eos: true });
  assert.equal(a.object, "text_completion");
  assert.match(a.id, /^cmpl-/);
  assert.equal(a.choices.length, 1);
  assert.equal(typeof a.choices[0].text, "string");
  assert.equal(a.choices[0].finish_reason, "length");
  assert.equal(a.usage.prompt_tokens, await tokenCount("The capital of France is"));
  assert.equal(a.usage.completion_tokens, 8);
  assert.equal(a.usage.total_tokens, a.usage.prompt_tokens + 8);
  const b = await client.completions.create({ ...greedy, prompt: "The capital of France is",
                                              max_tokens: 8, ignore_eos: true });
  assert.equal(b.choices[0].text, a.choices[0].text);
});

test("completions: streamed text equals the whole response; include_usage", async () => {
  const params = { ...greedy, prompt: "Once upon a time", max_tokens: 12, ignore_eos: true };
  const whole = await client.completions.create(params);
  const stream = await client.completions.create({ ...params, stream: true,
                                                   stream_options: { include_usage: true } });
  let text = "", usage = null, finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.text;
      if (c.finish_reason) finish = c.finish_reason;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, whole.choices[0].text);
  assert.equal(finish, "length");
  assert.deepEqual(usage, whole.usage);
});

test("completions: token-id prompt, echo, batch x n indices", async () => {
  const ids = (await postJson(`${server.url}/tokenize`, { prompt: "Hello there" }, auth)).json;
  const r = await client.completions.create({ ...greedy, prompt: ids.tokens, max_tokens: 3,
                                              echo: true });
  assert.ok(r.choices[0].text.startsWith("Hello there"), r.choices[0].text);
  const batch = await client.completions.create({ ...greedy, prompt: ["a b c", "x y z"], n: 2,
                                                  max_tokens: 2 });
  assert.deepEqual(batch.choices.map((c) => c.index), [0, 1, 2, 3]);
  assert.equal(batch.choices[0].text, batch.choices[1].text);  // greedy: both choices agree
});

test("completions: logprobs (legacy shape)", async () => {
  const r = await client.completions.create({ ...greedy, prompt: "1 2 3", max_tokens: 4,
                                              logprobs: 2, ignore_eos: true });
  const lp = r.choices[0].logprobs;
  assert.equal(lp.tokens.length, 4);
  assert.equal(lp.token_logprobs.length, 4);
  assert.equal(lp.top_logprobs.length, 4);
  assert.equal(lp.text_offset.length, 4);
  for (const v of lp.token_logprobs) assert.ok(v <= 0);
  for (const t of lp.top_logprobs) assert.ok(Object.keys(t).length >= 1);
});

test("completions: stop string cuts the text and is reported", async () => {
  const base = await client.completions.create({ ...greedy, prompt: "Count: one two",
                                                 max_tokens: 16, ignore_eos: true });
  const text = base.choices[0].text;
  const stop = text.slice(6, 9);
  if (stop.length < 3 || text.indexOf(stop) < 1) return;  // degenerate random text
  const r = await client.completions.create({ ...greedy, prompt: "Count: one two",
                                              max_tokens: 16, ignore_eos: true, stop: [stop] });
  assert.equal(r.choices[0].text, text.slice(0, text.indexOf(stop)));
  assert.equal(r.choices[0].finish_reason, "stop");
  assert.equal(r.choices[0].stop_reason, stop);
});

test("chat: message, usage, streamed == whole", async () => {
  const params = { ...greedy, messages: [{ role: "user", content: "Say hi" }], max_tokens: 16,
                   ignore_eos: true };
  const whole = await client.chat.completions.create(params);
  assert.equal(whole.object, "chat.completion");
  assert.match(whole.id, /^chatcmpl-/);
  const m = whole.choices[0].message;
  assert.equal(m.role, "assistant");
  assert.equal(whole.usage.completion_tokens, 16);
  assert.equal(whole.choices[0].finish_reason, "length");
  const s = await collectChatStream(params);
  assert.equal(s.role, "assistant");
  assert.equal(s.content, m.content ?? "");
  assert.equal(s.reasoning, m.reasoning_content ?? "");
  assert.equal(s.finish, "length");
  assert.deepEqual(s.usage, whole.usage);
});

test("chat: enable_thinking=false never fills reasoning", async () => {
  for (const stream of [false, true]) {
    const params = { ...greedy, messages: [{ role: "user", content: "Think about cats" }],
                     max_tokens: 24, ignore_eos: true,
                     chat_template_kwargs: { enable_thinking: false } };
    if (stream) {
      const s = await collectChatStream(params);
      assert.equal(s.reasoning, "");
    } else {
      const r = await client.chat.completions.create(params);
      assert.equal(r.choices[0].message.reasoning_content, null);
      assert.equal(r.choices[0].message.reasoning, null);
    }
  }
});

test("chat: n with seed is reproducible; choices differ by seed", async () => {
  const params = { model: "tiny", messages: [{ role: "user", content: "Pick words" }],
                   max_tokens: 8, n: 3, temperature: 1.0, seed: 1234, ignore_eos: true };
  const a = await client.chat.completions.create(params);
  const b = await client.chat.completions.create(params);
  assert.equal(a.choices.length, 3);
  assert.deepEqual(a.choices.map((c) => c.index), [0, 1, 2]);
  const text = (r) => r.choices.map((c) => (c.message.reasoning_content ?? "") +
                                           (c.message.content ?? ""));
  assert.deepEqual(text(a), text(b));
  assert.equal(a.usage.completion_tokens, 24);
});

test("chat: logprobs with top_logprobs", async () => {
  const r = await client.chat.completions.create({ ...greedy, max_tokens: 5, ignore_eos: true,
      messages: [{ role: "user", content: "x" }], logprobs: true, top_logprobs: 2 });
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, 5);
  for (const t of content) {
    assert.equal(typeof t.token, "string");
    assert.ok(t.logprob <= 0);
    assert.ok(Array.isArray(t.bytes));
    assert.equal(t.top_logprobs.length, 2);
    assert.ok(t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob);
  }
});

test("chat: tools accepted (auto, required, named, none), shapes valid", async () => {
  const tools = [{ type: "function", function: { name: "get_weather", description: "Weather",
      parameters: { type: "object", properties: { city: { type: "string" } } } } }];
  for (const tool_choice of ["auto", "none", "required",
                             { type: "function", function: { name: "get_weather" } }]) {
    const r = await client.chat.completions.create({ ...greedy, max_tokens: 8, tools,
        tool_choice, messages: [{ role: "user", content: "Weather in Paris?" }] });
    const c = r.choices[0];
    assert.ok(["stop", "length", "tool_calls"].includes(c.finish_reason), c.finish_reason);
    if (c.message.tool_calls) {
      for (const t of c.message.tool_calls) JSON.parse(t.function.arguments);
    }
  }
});

test("usage: prompt_tokens_details.cached_tokens counts prefix-cache hits", async () => {
  const long = "The quick brown fox jumps over the lazy dog. ".repeat(12);
  const first = await client.completions.create({ ...greedy, prompt: long, max_tokens: 1 });
  const second = await client.completions.create({ ...greedy, prompt: long, max_tokens: 1 });
  assert.equal(first.usage.prompt_tokens, second.usage.prompt_tokens);
  assert.ok(second.usage.prompt_tokens_details.cached_tokens >= 64,
            JSON.stringify(second.usage));
});

test("errors: 401 bad key, 404 model, 400 context length / params", async () => {
  const bad = new OpenAI({ apiKey: "wrong", baseURL: `${server.url}/v1`, maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e.status === 401 && e.code === "invalid_api_key");
  await assert.rejects(
      client.completions.create({ model: "gpt-4", prompt: "x" }),
      (e) => e.status === 404 && e.code === "model_not_found");
  await assert.rejects(
      client.completions.create({ model: "tiny", prompt: "word ".repeat(600) }),
      (e) => e.status === 400 && e.code === "context_length_exceeded" && /512/.test(e.message));
  await assert.rejects(
      client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "x" }],
                                       max_tokens: 600 }),
      (e) => e.status === 400 && e.code === "context_length_exceeded");
  await assert.rejects(
      client.completions.create({ model: "tiny", prompt: "x", max_tokens: -1 }),
      (e) => e.status === 400 && e.param === "max_tokens");
  await assert.rejects(
      client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "x" }],
                                       response_format: { type: "json_object" } }),
      (e) => e.status === 400 && e.param === "response_format");
  await assert.rejects(
      client.completions.create({ model: "tiny", prompt: "x", preset: "nope" }),
      (e) => e.status === 400 && /math/.test(e.message));
  const r = await postJson(`${server.url}/v1/completions`, "{", auth);
  assert.equal(r.status, 400);
  openAiError(r.json);
});

test("preset extension is accepted", async () => {
  const r = await client.chat.completions.create({ model: "tiny", preset: "code", max_tokens: 2,
                                                   messages: [{ role: "user", content: "x" }] });
  assert.equal(r.choices.length, 1);
});

test("tokenize (prompt and messages) / detokenize", async () => {
  const t = await postJson(`${server.url}/tokenize`, { prompt: "Hello world" }, auth);
  assert.deepEqual(Object.keys(t.json).sort(), ["count", "max_model_len", "token_strs", "tokens"]);
  assert.equal(t.json.max_model_len, 512);
  const d = await postJson(`${server.url}/detokenize`, { tokens: t.json.tokens }, auth);
  assert.equal(d.json.prompt, "Hello world");
  const c = await postJson(`${server.url}/tokenize`, { messages: [{ role: "user", content: "Hi" }],
      add_generation_prompt: true, chat_template_kwargs: { enable_thinking: false } }, auth);
  const text = (await postJson(`${server.url}/detokenize`, { tokens: c.json.tokens }, auth)).json;
  assert.ok(text.prompt.endsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n"), text.prompt);
});

test("metrics after the requests", async () => {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  assert.ok(metricValue(text, "vllm:prompt_tokens_total") > 0);
  assert.ok(metricValue(text, "vllm:generation_tokens_total") > 0);
  assert.ok(metricValue(text, "vllm:request_success_total", 'finished_reason="length"') > 0);
  assert.ok(metricValue(text, "vllm:time_to_first_token_seconds_count") > 0);
  assert.ok(metricValue(text, "vllm:prefix_cache_hits_total") > 0);
  assert.equal(metricValue(text, "vllm:num_requests_running"), 0);
  assert.equal(metricValue(text, "vllm:kv_cache_usage_perc"), 0);
});

test("SIGTERM drains the request in flight, then exits 0", async () => {
  const stream = await client.completions.create({ ...greedy, prompt: "Drain me",
      max_tokens: 16, ignore_eos: true, stream: true });
  let text = "", finish = null, signalled = false;
  for await (const chunk of stream) {
    if (!signalled) {
      server.proc.kill("SIGTERM");
      signalled = true;
    }
    text += chunk.choices[0]?.text ?? "";
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(finish, "length");
  const { code } = await server.exited;
  assert.equal(code, 0);
  assert.match(server.log(), /draining/);
});

await run(async () => {
  const { code } = await server.stop("SIGKILL");
  void code;
});
