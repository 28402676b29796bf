// The built-in chat page (GET /) in headless Chromium against the real `qwen3 serve`:
// types a message, presses Enter, and watches the reply stream in. Chromium is driven
// over the DevTools protocol on a pipe (--remote-debugging-pipe), so no npm package is
// needed.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import { env, run, skip, sleep, startServer, test } from "./harness.mjs";

function findChromium() {
  for (const name of [process.env.CHROMIUM, "chromium-headless-shell", "chromium",
                      "chromium-browser"]) {
    if (!name) continue;
    try {
      return execFileSync("sh", ["-c", `command -v ${name}`]).toString().trim();
    } catch {}
  }
  return null;
}

const chromiumPath = findChromium();
if (!chromiumPath) skip("no chromium-headless-shell / chromium on PATH");

// Minimal CDP client over Chromium's pipe: JSON messages separated by NUL bytes.
class Cdp {
  constructor(child) {
    this.out = child.stdio[3];
    this.pending = new Map();
    this.nextId = 1;
    let buf = Buffer.alloc(0);
    child.stdio[4].on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      let end;
      while ((end = buf.indexOf(0)) >= 0) {
        const msg = JSON.parse(buf.subarray(0, end).toString("utf8"));
        buf = buf.subarray(end + 1);
        const p = this.pending.get(msg.id);
        if (!p) continue;
        this.pending.delete(msg.id);
        if (msg.error) p.reject(new Error(JSON.stringify(msg.error)));
        else p.resolve(msg.result);
      }
    });
  }
  send(method, params = {}, sessionId = undefined) {
    const id = this.nextId++;
    this.out.write(JSON.stringify({ id, method, params, sessionId }) + "\0");
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }
}

const server = await startServer(env("QWEN3_BINARY"), [
  "serve", env("QWEN3_SERVER_MODEL"), "--host", "127.0.0.1", "--port", "0",
  "--served-model-name", "tiny", "--max-model-len", "256", "--kv-cache-memory", "32MiB",
  "--threads", "2",
]);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "qwen3-chromium-"));
const chromium = spawn(chromiumPath, [
  "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
  `--user-data-dir=${profile}`, "--remote-debugging-pipe", "about:blank",
], { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] });
let chromiumLog = "";
chromium.stderr.on("data", (d) => (chromiumLog += d));
const cdp = new Cdp(chromium);

async function evaluate(session, expression) {
  const r = await cdp.send("Runtime.evaluate", { expression, returnByValue: true }, session);
  if (r.exceptionDetails) throw new Error(JSON.stringify(r.exceptionDetails));
  return r.result.value;
}

test("the page types a message and shows a streamed reply", async () => {
  const { targetId } = await cdp.send("Target.createTarget", { url: `${server.url}/` });
  const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
  for (let i = 0; ; i++) {
    if (await evaluate(sessionId, "document.readyState === 'complete' && !!window.__qwen3Ready")) {
      break;
    }
    if (i > 200) throw new Error("page did not load");
    await sleep(25);
  }
  assert.match(await evaluate(sessionId, "document.getElementById('model').textContent"), /tiny/);
  await evaluate(sessionId, `document.getElementById('max_tokens').value = '32';
                             document.getElementById('temperature').value = '0';
                             document.getElementById('input').focus(); true`);
  await cdp.send("Input.insertText", { text: "Hello there" }, sessionId);
  for (const type of ["keyDown", "keyUp"]) {
    await cdp.send("Input.dispatchKeyEvent", { type, key: "Enter", code: "Enter",
                                               windowsVirtualKeyCode: 13, text: "\r" }, sessionId);
  }
  const states = new Set();
  let state;
  for (let i = 0; ; i++) {
    state = await evaluate(sessionId, `(() => {
      const r = document.querySelector('.msg.assistant');
      const u = document.querySelector('.msg.user');
      return { done: r ? r.dataset.done || '' : '', user: u ? u.textContent : '',
               text: r ? r.querySelector('.reasoning').textContent +
                         r.querySelector('.content').textContent : '',
               error: r && r.querySelector('.error') ? r.querySelector('.error').textContent : '',
               events: window.__sseEvents || 0 };
    })()`);
    if (!state.done) states.add(state.text.length);
    if (state.done) break;
    if (i > 600) throw new Error(`no reply: ${JSON.stringify(state)}`);
    await sleep(20);
  }
  assert.equal(state.error, "");
  assert.equal(state.done, "1");
  assert.equal(state.user, "Hello there");
  assert.ok(state.text.length > 0, "empty reply");
  assert.ok(state.events >= 3, `only ${state.events} SSE events`);
  console.log(`  ${state.events} SSE events; partial lengths seen: ${[...states].join(",")}`);
});

await run(async () => {
  chromium.kill("SIGKILL");
  await server.stop();
  fs.rmSync(profile, { recursive: true, force: true });
});
