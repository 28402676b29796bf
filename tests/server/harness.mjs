// Shared pieces of the server integration tests: start/stop a server process on a free
// loopback port, a tiny sequential test runner, skips (exit 77), raw HTTP helpers.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

export const SKIP = 77;

export function skip(why) {
  console.log(`SKIPPED: ${why}`);
  process.exit(SKIP);
}

export function env(name) {
  const v = process.env[name];
  if (!v) skip(`${name} is not set (run through ctest)`);
  return v;
}

// An npm package from tools/npm (scripts/setup.sh installs them).
export function npmPackage(name) {
  const req = createRequire(path.join(env("QWEN3_NPM_DIR"), "package.json"));
  try {
    return req(name);
  } catch {
    skip(`npm package '${name}' is missing: run scripts/setup.sh`);
  }
}

const tests = [];
export function test(name, fn) {
  tests.push({ name, fn });
}

// Runs the registered tests in order; exits 1 if any failed. `after` always runs.
export async function run(after) {
  let failed = 0;
  const t0 = Date.now();
  for (const { name, fn } of tests) {
    const t = Date.now();
    try {
      await fn();
      console.log(`ok   ${name} (${Date.now() - t} ms)`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name} (${Date.now() - t} ms)\n${e && e.stack ? e.stack : e}`);
    }
  }
  if (after) await after();
  console.log(`${tests.length - failed}/${tests.length} passed in ${Date.now() - t0} ms`);
  process.exit(failed ? 1 : 0);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts `binary args...` (which must log "listening on http://HOST:PORT") and waits until
// GET /health answers 200. Returns { url, port, proc, log(), healthSeen, stop(signal) }.
export async function startServer(binary, args, { timeoutMs = 60000 } = {}) {
  const proc = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const onData = (d) => {
    log += d.toString();
    if (process.env.QWEN3_SERVER_LOG) process.stderr.write(d);
  };
  proc.stdout.on("data", onData);
  proc.stderr.on("data", onData);
  const exited = new Promise((resolve) => proc.on("exit", (code, sig) => resolve({ code, sig })));
  const deadline = Date.now() + timeoutMs;
  let port = 0;
  while (!port) {
    const m = log.match(/listening on http:\/\/[^:]+:(\d+)/);
    if (m) port = Number(m[1]);
    else if (proc.exitCode !== null) throw new Error(`server exited early:\n${log}`);
    else if (Date.now() > deadline) throw new Error(`server did not start:\n${log}`);
    else await sleep(10);
  }
  const url = `http://127.0.0.1:${port}`;
  const healthSeen = [];
  for (;;) {
    let status = 0;
    try {
      status = (await fetch(`${url}/health`)).status;
    } catch {}
    healthSeen.push(status);
    if (status === 200) break;
    if (proc.exitCode !== null) throw new Error(`server exited while loading:\n${log}`);
    if (Date.now() > deadline) throw new Error(`server not healthy:\n${log}`);
    await sleep(20);
  }
  return {
    url,
    port,
    proc,
    healthSeen,
    log: () => log,
    rss: () => rssKiB(proc.pid),
    cpuSeconds: () => cpuSeconds(proc.pid),
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null) proc.kill(signal);
      return exited;
    },
    exited,
  };
}

// User + system CPU time the process used so far (from /proc/PID/stat).
export function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;  // utime, stime in clock ticks
}

export function rssKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(status.match(/VmRSS:\s+(\d+)/)[1]);
}

// Sends raw bytes on a fresh connection; resolves with everything the server sent until
// it closed the connection (or `waitMs` passed). `steps` may interleave strings and delays.
export function rawExchange(port, steps, { waitMs = 5000, endWrite = false } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    let data = Buffer.alloc(0);
    let closed = false;
    const t0 = Date.now();
    const timer = setTimeout(() => finish(), waitMs);
    function finish() {
      clearTimeout(timer);
      sock.destroy();
      resolve({ text: data.toString("latin1"), closed, ms: Date.now() - t0 });
    }
    sock.on("data", (d) => (data = Buffer.concat([data, d])));
    sock.on("close", () => {
      closed = true;
      finish();
    });
    sock.on("error", () => {});
    sock.on("connect", async () => {
      for (const s of steps) {
        if (typeof s === "number") await sleep(s);
        else if (!sock.destroyed) sock.write(Buffer.from(s, "latin1"));  // bytes as given
      }
      if (endWrite && !sock.destroyed) sock.end();
    });
  });
}

// Parses the first HTTP response in `text`: { status, headers, body } (body de-chunked).
export function parseResponse(text) {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const lines = text.slice(0, end).split("\r\n");
  const status = Number(lines[0].split(" ")[1]);
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = text.slice(end + 4);
  if (headers["content-length"] !== undefined) {
    body = body.slice(0, Number(headers["content-length"]));
  }
  return { status, headers, body };
}

// POSTs JSON with fetch; resolves { status, json }.
export async function postJson(url, body, headers = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text, headers: res.headers };
}

// Reads one Prometheus sample value: metric('vllm:num_requests_running') etc.
export function metricValue(text, name, labelPart = "") {
  for (const line of text.split("\n")) {
    if (line.startsWith(name + "{") && line.includes(labelPart)) {
      return Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return NaN;
}

// Checks the OpenAI error body shape and returns body.error.
export function openAiError(json) {
  if (!json || typeof json.error !== "object") throw new Error(`not an OpenAI error: ${json}`);
  for (const k of ["message", "type", "param", "code"]) {
    if (!(k in json.error)) throw new Error(`error body lacks '${k}': ${JSON.stringify(json)}`);
  }
  return json.error;
}
