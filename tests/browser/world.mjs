// A head office and its terminals, made from nothing with the real command-line programs, for the
// browser tests: `shiftbook-server` in a temporary folder, serving on 127.0.0.1 (a free port), and
// `shiftbook` terminals in temporary folders. Every command and every wait is bounded; a command
// that fails stops the test with what it printed. The paths come from the environment that ctest
// sets (tests/CMakeLists.txt): SHIFTBOOK_SERVER_BIN, SHIFTBOOK_BIN.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const kCommandMs = 60_000; // one command, sanitizers included
const kStartMs = 20_000; // the server's "listening on" line
const kStopMs = 15_000; // SIGTERM to exit

export function required_env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run these tests through ctest (cd build/dev && ctest -R browser), ` +
                    'which names the built programs');
  }
  return value;
}

// Runs `bin args...` with `input` on standard input; its standard output, or an error naming the
// command, its exit status and what it printed.
export function run(bin, args, input = '') {
  const r = spawnSync(bin, args, { input, timeout: kCommandMs, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${bin} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${bin} ${args.join(' ')}: exit ${r.status ?? r.signal}\n${r.stderr}${r.stdout}`);
  }
  return r.stdout; // a Buffer: the payroll is compared byte for byte
}

export class HeadOffice {
  constructor() {
    this.bin = required_env('SHIFTBOOK_SERVER_BIN');
    this.root = mkdtempSync(join(tmpdir(), 'shiftbook-browser-'));
    this.dir = join(this.root, 'head-office');
    this.process = null;
    this.log_file = '';
    this.url = '';
  }

  // `shiftbook-server --dir DIR args...`; standard output as text.
  run(args, input = '') { return run(this.bin, ['--dir', this.dir, ...args], input).toString(); }
  bytes(args) { return run(this.bin, ['--dir', this.dir, ...args]); }
  json(args) { return JSON.parse(this.run([...args, '--json'])); }

  // Starts `serve --listen 127.0.0.1:0` and waits for the address it prints. Its output goes to a
  // file, not a pipe: the commands run synchronously, and a pipe nobody reads meanwhile could fill
  // and stall the server in the middle of a terminal's sync.
  async start() {
    this.log_file = join(this.root, 'server.log');
    const before = this.log().length; // a restart adds to the log
    const out = openSync(this.log_file, 'a');
    const child = spawn(this.bin, ['--dir', this.dir, 'serve', '--listen', '127.0.0.1:0'],
                        { stdio: ['ignore', out, out] });
    closeSync(out);
    this.process = child;
    // Whatever happens to the test, the server does not outlive it.
    const kill = () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
    process.once('exit', kill);
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
    const deadline = Date.now() + kStartMs;
    while (Date.now() < deadline) {
      const m = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(this.log().slice(before));
      if (m) { this.url = m[1]; return this.url; }
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.stop();
    throw new Error(`the server printed no address within ${kStartMs} ms:\n${this.log()}`);
  }

  // What the server printed so far, every run of it.
  log() { return this.log_file && existsSync(this.log_file) ? readFileSync(this.log_file, 'utf8') : ''; }

  // SIGTERM, then SIGKILL if it has not stopped in time; its exit status (or the signal that
  // ended it), undefined when it was not running.
  async stop() {
    const child = this.process;
    if (!child) return undefined;
    this.process = null;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      let timer;
      const late = new Promise((r) => { timer = setTimeout(() => r('timeout'), kStopMs); });
      const how = await Promise.race([this.exited, late]);
      clearTimeout(timer); // or it would keep the test's process alive until it fires
      if (how === 'timeout') {
        child.kill('SIGKILL');
        await this.exited;
      }
    }
    return this.exited;
  }

  // A one-time enrollment code for the units given.
  code(site, units) {
    return this.json(['code', 'create', '--site', site, ...units.flatMap((u) => ['--unit', u])]).code;
  }

  // Removes the folders; the server must be stopped.
  remove() { rmSync(this.root, { recursive: true, force: true }); }
}

export class Terminal {
  constructor(office, name) {
    this.bin = required_env('SHIFTBOOK_BIN');
    this.office = office;
    this.store = join(office.root, name);
  }
  run(args, input = '') { return run(this.bin, ['--store', this.store, ...args], input).toString(); }
  json(args) { return JSON.parse(this.run([...args, '--json'])); }
  device() { return this.json(['status']).device; }
  enroll(units) { this.run(['enroll', '--server', this.office.url, '--code', this.office.code('S1', units)]); }
  // At the address the server has now: a restart on port 0 moves it.
  sync() { this.run(['sync', '--server', this.office.url]); }
}
