/**
 * `npm run bench`: evix against nix-instantiate on the same attributes, in
 * one run, on this machine. Prints median wall time over interleaved rounds,
 * ratios to nix-instantiate and peak memory (resident, summed over the
 * process tree), and checks the targets of the foundation issue.
 *
 * evix runs as its installed links do: the launcher in dist/bin, as a
 * program (see scripts/bundle.ts). Every .drv is written in a warm-up
 * round first, so both sides find the store in the same state. Runs with Node 24's type stripping: only
 * erasable TypeScript here, and only Node's own modules.
 */
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = `${ROOT}dist/bin/evix.js`;
const ROUNDS = Number(process.env.EVIX_BENCH_ROUNDS ?? 3);

interface Fixture {
  /** Its first word selects it in EVIX_BENCH_FIXTURES. */
  name: string;
  file: string;
  args: string[];
  /** The heavy targets apply to this fixture. */
  heavy: boolean;
  /** Many small attributes: the per-item targets apply (issue 13). */
  small: boolean;
}

const ALL_FIXTURES: Fixture[] = [
  { name: 'tree (6^4 = 1296 drvs)', file: 'bench/fixtures/tree.nix', args: [], heavy: false, small: true },
  { name: 'fixpoint (3000 pkgs)', file: 'bench/fixtures/fixpoint.nix', args: [], heavy: false, small: false },
  { name: 'machines (12 heavy)', file: 'bench/fixtures/machines.nix', args: ['--arg', 'modules', '1000', '--arg', 'options', '60'], heavy: true, small: false },
  { name: 'flat (100k drvs)', file: 'bench/fixtures/flat.nix', args: [], heavy: false, small: true },
  // Half of flat, for the scaling target: twice the attributes should take about twice the time.
  { name: 'flat50 (50k drvs)', file: 'bench/fixtures/flat.nix', args: ['--arg', 'count', '50000'], heavy: false, small: false },
  { name: 'tree6 (6^6 = 46656)', file: 'bench/fixtures/tree.nix', args: ['--arg', 'depth', '5'], heavy: false, small: true },
];
/** EVIX_BENCH_FIXTURES=tree,flat runs only those (the remote, daemon and cache parts need tree and machines). */
const chosen = process.env.EVIX_BENCH_FIXTURES?.split(',');
const FIXTURES = chosen ? ALL_FIXTURES.filter((f) => chosen.includes(f.name.split(' ')[0]!)) : ALL_FIXTURES;
const fixture = (name: string) => ALL_FIXTURES.find((f) => f.name.startsWith(name))!;

interface Measurement {
  seconds: number;
  /** Peak resident memory of the whole process tree, and of the command's own process. */
  peakMiB: number;
  masterPeakMiB: number;
  /** CPU seconds of the command's own process, and of its descendants. */
  masterCpu: number;
  childrenCpu: number;
  /** What it printed, read back from its file once it ended. */
  stdout: () => string;
}

const TICKS_PER_SECOND = 100; // Linux's USER_HZ, in which /proc/PID/stat counts CPU time.

/**
 * Where a measured command's stdout goes: a file, as in `time evix eval ... > jobs.json`.
 * Read through a pipe instead, the bench's own decoding of evix's 25 MB of
 * lines (flat 100k) shared the two cores with what it measured and added
 * 0.3-0.5 s to evix's time (nix-instantiate prints 6 MB).
 */
const STDOUT_FILE = `${tmpdir()}/evix-bench-stdout`;

/** Runs a command to completion, sampling the resident memory of its process tree. */
function measure(command: string, args: string[]): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const out = openSync(STDOUT_FILE, 'w');
    const start = process.hrtime.bigint();
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', out, 'pipe'] });
    closeSync(out);
    const stdout = () => readFileSync(STDOUT_FILE, 'utf8');
    let stderr = '';
    let peak = 0;
    let masterPeak = 0;
    // CPU ticks per process, the latest reading: a process's count only grows.
    const ticks = new Map<number, number>();
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const sampler = setInterval(() => {
      if (child.pid === undefined) return;
      const tree = sampleTree(child.pid, ticks);
      peak = Math.max(peak, tree.residentMiB);
      masterPeak = Math.max(masterPeak, tree.rootResidentMiB);
    }, 10);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(sampler);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(0, 500)}`));
      else {
        let childrenTicks = 0;
        for (const [pid, t] of ticks) if (pid !== child.pid) childrenTicks += t;
        const masterCpu = (ticks.get(child.pid!) ?? 0) / TICKS_PER_SECOND;
        resolve({ seconds, peakMiB: peak, masterPeakMiB: masterPeak, masterCpu, childrenCpu: childrenTicks / TICKS_PER_SECOND, stdout });
      }
    });
  });
}

/** Resident memory of a process tree (and of its root); records each process's CPU ticks in `ticks`. */
function sampleTree(pid: number, ticks: Map<number, number>): { residentMiB: number; rootResidentMiB: number } {
  let total = 0;
  let own = 0;
  try {
    own = (Number(readFileSync(`/proc/${pid}/statm`, 'latin1').split(' ')[1]) * 4096) / 2 ** 20;
    // Fields after the command name: utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
    ticks.set(pid, Number(fields[11]) + Number(fields[12]));
    total = own;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${task}/children`, 'latin1').trim();
      for (const child of children === '' ? [] : children.split(' ')) total += sampleTree(Number(child), ticks).residentMiB;
    }
  } catch {
    // The process ended between listing and reading.
  }
  return { residentMiB: total, rootResidentMiB: own };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Row {
  fixture: string;
  tool: string;
  seconds: number;
  ratio: number;
  peakMiB: number;
  masterPeakMiB: number;
  /** CPU µs per derivation found, of the command's own process and of its children. */
  masterUsPerItem: number;
  childrenUsPerItem: number;
  derivations: number;
}

async function benchFixture(f: Fixture): Promise<Row[]> {
  const tools: Array<[string, string, string[]]> = [
    ['nix-instantiate', 'nix-instantiate', [f.file, ...f.args]],
    ['evix --workers 1', CLI, ['eval', '--file', f.file, ...f.args, '--workers', '1']],
    ['evix --workers 2', CLI, ['eval', '--file', f.file, ...f.args, '--workers', '2']],
    ...(nixEvalJobs ? [['nix-eval-jobs', nixEvalJobs, ['--workers', '2', ...f.args, f.file]] as [string, string, string[]]] : []),
  ];
  const counts = new Map<string, number>();
  for (const [tool, command, args] of tools) {
    const stdout = (await measure(command, args)).stdout(); // warm-up: writes every .drv
    counts.set(tool, tool === 'nix-instantiate' ? stdout.trim().split('\n').length : stdout.split('\n').filter((l) => l.includes('"drvPath"')).length);
  }
  const samples = new Map<string, Measurement[]>(tools.map(([t]) => [t, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [tool, command, args] of tools) samples.get(tool)!.push(await measure(command, args));
  }
  const base = median(samples.get('nix-instantiate')!.map((m) => m.seconds));
  return tools.map(([tool]) => {
    const ms = samples.get(tool)!;
    const seconds = median(ms.map((m) => m.seconds));
    const derivations = counts.get(tool)!;
    const perItem = (cpu: number) => (cpu / derivations) * 1e6;
    return {
      fixture: f.name,
      tool,
      seconds,
      ratio: seconds / base,
      peakMiB: Math.max(...ms.map((m) => m.peakMiB)),
      masterPeakMiB: Math.max(...ms.map((m) => m.masterPeakMiB)),
      masterUsPerItem: perItem(median(ms.map((m) => m.masterCpu))),
      childrenUsPerItem: perItem(median(ms.map((m) => m.childrenCpu))),
      derivations,
    };
  });
}

/** nix-eval-jobs, when on PATH, runs beside the others. */
const nixEvalJobs = process.env.PATH?.split(':')
  .map((dir) => `${dir}/nix-eval-jobs`)
  .find((path) => existsSync(path));

const rows: Row[] = [];
for (const fixture of FIXTURES) {
  process.stderr.write(`bench: ${fixture.name}...\n`);
  rows.push(...(await benchFixture(fixture)));
}

/** Starts `evix worker` on loopback; resolves its port and a stop function. */
function startWorker(): Promise<{ port: number; stop: () => void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLI, ['worker', '--listen', '127.0.0.1:0', '-q'], { cwd: ROOT, env: { ...process.env, EVIX_TOKEN: 'bench' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      const match = /listening on [^:]+:(\d+)/.exec(stderr);
      if (match) resolve({ port: Number(match[1]), stop: () => child.kill('SIGKILL') });
    });
    child.on('exit', () => reject(new Error(`worker exited: ${stderr}`)));
  });
}

/**
 * Remote workers on loopback against the same number of local ones, on the
 * tree fixture: what the protocol and the extra process cost per item.
 */
async function benchRemote(): Promise<{ local: number; remote: number; ratio: number; perItemUs: number; codecUs: number }> {
  const worker = await startWorker();
  const tree = fixture('tree');
  const local = ['eval', '--file', tree.file, '--workers', '2'];
  const remote = ['eval', '--file', tree.file, '--workers', '0', '--remote', `127.0.0.1:${worker.port}`, '', '2'];
  process.env.EVIX_REMOTE_TOKEN = 'bench';
  const localTimes: number[] = [];
  const remoteTimes: number[] = [];
  let items = 0;
  try {
    await measure(CLI, remote);
    for (let round = 0; round < ROUNDS; round++) {
      localTimes.push((await measure(CLI, local)).seconds);
      const r = await measure(CLI, remote);
      remoteTimes.push(r.seconds);
      items = r.stdout().split('\n').filter((l) => l !== '').length;
    }
  } finally {
    worker.stop();
  }
  const l = median(localTimes);
  const r = median(remoteTimes);
  return { local: l, remote: r, ratio: r / l, perItemUs: ((r - l) / items) * 1e6, codecUs: await codecCost() };
}

/**
 * CPU time of the messages of a chunk (Work, Event, Status) encoded and
 * decoded, per attribute, in µs: a chunk of 100 siblings, each a derivation.
 */
async function codecCost(): Promise<number> {
  const codec = await import(`${ROOT}dist/protocol/codec.js`);
  const names = Array.from({ length: 100 }, (_, i) => `n${i}`);
  const store = '/nix/store/00000000000000000000000000000000';
  const events = names.map((name) => ({ attr: `n1.n2.${name}`, attrPath: ['n1', 'n2', name], name: `tree-${name}`, system: 'x86_64-linux', drvPath: `${store}-tree-${name}.drv`, outputs: { out: `${store}-tree-${name}` }, requiredSystemFeatures: [] }));
  const chunk = [{ kind: 'siblings', parent: ['n1', 'n2'], from: 0, names }];
  const n = 200;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    codec.decodeClient(codec.encodeClient({ kind: 'work', id: i, chunk, budget: names.length }));
    codec.decodeServer(codec.encodeServer({ kind: 'event', id: i, events }));
    codec.decodeServer(codec.encodeServer({ kind: 'status', id: i, restart: false }));
  }
  return Number(process.hrtime.bigint() - start) / 1e3 / (n * names.length);
}

// A chosen subset of fixtures skips the remote, daemon and cache parts: it is for working on those fixtures.
const everything = chosen === undefined;
if (everything) process.stderr.write('bench: remote workers on loopback...\n');
const remote = everything ? await benchRemote() : undefined;

/**
 * The daemon: a warm `evix query` of the whole tree and of a prefix, CLI
 * start included, against a cold `evix eval --no-daemon` of it.
 */
async function benchDaemon(): Promise<{ cold: number; warm: number; prefix: number }> {
  const socket = `${mkdtempSync(`${tmpdir()}/evix-bench-`)}/evix.sock`;
  const daemon = spawn(`${ROOT}dist/bin/evixd.js`, ['--foreground', '--socket', socket, '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve) => daemon.stderr.setEncoding('utf8').on('data', (c: string) => c.includes('listening') && resolve()));
  process.env.EVIX_SOCKET = socket;
  const tree = fixture('tree');
  try {
    await measure(CLI, ['eval', '--file', tree.file]);
    const cold: number[] = [];
    const warm: number[] = [];
    const prefix: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      cold.push((await measure(CLI, ['eval', '--file', tree.file, '--no-daemon'])).seconds);
      warm.push((await measure(CLI, ['query', '--file', tree.file])).seconds);
      prefix.push((await measure(CLI, ['query', '--file', tree.file, '--attr-prefix', 'n0.n1'])).seconds);
    }
    return { cold: median(cold), warm: median(warm), prefix: median(prefix) };
  } finally {
    delete process.env.EVIX_SOCKET;
    daemon.kill('SIGTERM');
  }
}

if (everything) process.stderr.write('bench: daemon...\n');
const daemon = everything ? await benchDaemon() : undefined;

/** The heavy fixture as a flake: a cold walk (--refresh) against a cached one, side by side. */
async function benchEvalCache(): Promise<{ cold: number; cached: number; speedup: number }> {
  const root = mkdtempSync(`${tmpdir()}/evix-bench-cache-`);
  const flake = `${root}/flake`;
  mkdirSync(flake);
  for (const file of ['machines.nix', 'fixpoint.nix']) copyFileSync(`${ROOT}bench/fixtures/${file}`, `${flake}/${file}`);
  writeFileSync(`${flake}/flake.nix`, '{ outputs = { self }: { hydraJobs = import ./machines.nix { modules = 1000; options = 60; }; }; }\n');
  const args = ['eval', '--flake', `${flake}#hydraJobs`, '--no-daemon', '--eval-cache', `${root}/cache`];
  await measure(CLI, args);
  const cold: number[] = [];
  const cached: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    cold.push((await measure(CLI, [...args, '--refresh'])).seconds);
    cached.push((await measure(CLI, args)).seconds);
  }
  return { cold: median(cold), cached: median(cached), speedup: median(cold) / median(cached) };
}

if (everything) process.stderr.write('bench: evaluation cache...\n');
const evalCache = everything ? await benchEvalCache() : undefined;

console.log(`evix bench: median of ${ROUNDS} interleaved rounds after a warm-up; ratio = time / nix-instantiate time`);
console.log('peak MiB: the process tree (own: the command alone); CPU µs per derivation of the command and of its children');
console.log('fixture                   tool               seconds   ratio   peak MiB   own MiB   own µs  child µs    drvs');
for (const r of rows) {
  console.log(
    `${r.fixture.padEnd(25)} ${r.tool.padEnd(18)} ${r.seconds.toFixed(3).padStart(7)} ${r.ratio.toFixed(2).padStart(7)} ${r.peakMiB.toFixed(0).padStart(10)} ` +
      `${r.masterPeakMiB.toFixed(0).padStart(9)} ${r.masterUsPerItem.toFixed(0).padStart(8)} ${r.childrenUsPerItem.toFixed(0).padStart(9)} ${String(r.derivations).padStart(7)}`,
  );
}

const row = (name: string, tool: string) => rows.find((r) => r.fixture === fixture(name).name && r.tool === tool);
const w1 = row('machines', 'evix --workers 1');
const w2 = row('machines', 'evix --workers 2');
if (remote) {
  console.log(
    `remote on loopback, tree: 2 local workers ${remote.local.toFixed(3)} s, 1 remote x 2 connections ${remote.remote.toFixed(3)} s; ` +
      `protocol cost ${remote.perItemUs.toFixed(1)} µs per item end to end, ${remote.codecUs.toFixed(1)} µs of it encoding and decoding`,
  );
}
if (daemon) {
  console.log(
    `daemon, tree: cold eval ${daemon.cold.toFixed(3)} s, warm query ${daemon.warm.toFixed(3)} s (${(daemon.warm / daemon.cold).toFixed(2)}x), ` +
      `prefix query ${daemon.prefix.toFixed(3)} s (${(daemon.prefix / daemon.cold).toFixed(2)}x)`,
  );
}
if (evalCache) console.log(`eval cache, heavy fixture as a flake: cold ${evalCache.cold.toFixed(3)} s, cached ${evalCache.cached.toFixed(3)} s (${evalCache.speedup.toFixed(1)}x faster)`);
const smallTargets = ALL_FIXTURES.filter((f) => f.small).flatMap((f) => {
  const two = row(f.name.split(' ')[0]!, 'evix --workers 2');
  const one = row(f.name.split(' ')[0]!, 'evix --workers 1');
  if (!two || !one) return [];
  return [
    { name: `--workers 2 at most 0.60x of nix-instantiate (${f.name})`, ok: two.ratio <= 0.6, value: two.ratio },
    { name: `--workers 2 faster than --workers 1 (${f.name})`, ok: two.seconds < one.seconds, value: two.seconds / one.seconds },
  ];
});
const flat = row('flat', 'evix --workers 2');
const flat50 = row('flat50', 'evix --workers 2');
interface Target {
  name: string;
  ok: boolean;
  value: number;
  unit?: string;
}
const targets: Target[] = [
  ...(w1 ? [{ name: '--workers 1 within 1.15x of nix-instantiate (heavy)', ok: w1.ratio <= 1.15, value: w1.ratio }] : []),
  ...(w2 ? [{ name: '--workers 2 at most 0.65x of nix-instantiate (heavy)', ok: w2.ratio <= 0.65, value: w2.ratio }] : []),
  ...smallTargets,
  ...(flat ? [{ name: "the master's own peak RSS at most 150 MB (flat 100k), in MB", ok: flat.masterPeakMiB * 1.048576 <= 150, value: flat.masterPeakMiB * 1.048576, unit: ' MB' }] : []),
  ...(flat && flat50 ? [{ name: '100k attributes at most 2.2x the time of 50k (flat, --workers 2)', ok: flat.seconds <= 2.2 * flat50.seconds, value: flat.seconds / flat50.seconds }] : []),
  ...(remote ? [{ name: 'remote on loopback within 1.10x of local (tree)', ok: remote.ratio <= 1.1, value: remote.ratio }] : []),
  ...(daemon
    ? [
        { name: 'warm query at most 0.25x of the cold eval (tree)', ok: daemon.warm / daemon.cold <= 0.25, value: daemon.warm / daemon.cold },
        { name: 'prefix query faster than the whole query (tree)', ok: daemon.prefix < daemon.warm, value: daemon.prefix / daemon.cold },
      ]
    : []),
  ...(evalCache ? [{ name: 'cached re-evaluation at least 20x faster than cold (heavy flake)', ok: evalCache.speedup >= 20, value: evalCache.speedup }] : []),
];
for (const t of targets) console.log(`${t.ok ? 'MET   ' : 'MISSED'} ${t.name}: ${t.value.toFixed(2)}${t.unit ?? 'x'}`);
const mismatched = rows.filter((r) => r.derivations !== rows.find((b) => b.fixture === r.fixture && b.tool === 'nix-instantiate')!.derivations);
for (const r of mismatched) console.log(`MISMATCH ${r.fixture}: ${r.tool} found ${r.derivations} derivations`);

mkdirSync(`${ROOT}bench/out`, { recursive: true });
writeFileSync(`${ROOT}bench/out/results.json`, JSON.stringify({ rows, remote, daemon, evalCache, targets }, null, 2));
if (mismatched.length > 0) process.exitCode = 1;
