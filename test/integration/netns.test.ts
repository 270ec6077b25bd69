/**
 * Two hosts in network namespaces this test makes, joined to this one by
 * veth pairs, each running `evix worker` and owning different systems. One
 * link is cut mid-run (`ip link set ... down`) and restored: the master
 * notices the silence, hands the items back, reconnects, and the run is
 * complete. Needs root and iproute2 (CI has both); skipped otherwise.
 */
import { execFileSync } from 'node:child_process';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { FIXTURES, collect, config, derivationSet, derivations, errors } from '../helpers.js';
import { startWorker, type WorkerProcess } from '../workers.js';

function whyNot(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return 'ip netns is not available';
  }
  return undefined;
}

const skip = whyNot();
const TOKEN = 'netns-token';
const tag = `evix${process.pid % 10000}`;
const hosts = [
  { ns: `${tag}a`, hostIf: `${tag}ha`, nsIf: `${tag}na`, hostIp: '10.213.1.1', nsIp: '10.213.1.2', systems: ['x86_64-linux'] },
  { ns: `${tag}b`, hostIf: `${tag}hb`, nsIf: `${tag}nb`, hostIp: '10.213.2.1', nsIp: '10.213.2.2', systems: ['aarch64-linux'] },
];
const workers: WorkerProcess[] = [];

async function ip(...args: string[]): Promise<void> {
  await execa('ip', args);
}

async function teardown(): Promise<void> {
  await Promise.all(workers.map((w) => w.stop()));
  for (const h of hosts) {
    await execa('ip', ['netns', 'del', h.ns], { reject: false });
    await execa('ip', ['link', 'del', h.hostIf], { reject: false });
  }
}

beforeAll(async () => {
  if (skip) return;
  await teardown();
  for (const h of hosts) {
    await ip('netns', 'add', h.ns);
    await ip('link', 'add', h.hostIf, 'type', 'veth', 'peer', 'name', h.nsIf);
    await ip('link', 'set', h.nsIf, 'netns', h.ns);
    await ip('addr', 'add', `${h.hostIp}/30`, 'dev', h.hostIf);
    await ip('link', 'set', h.hostIf, 'up');
    await ip('netns', 'exec', h.ns, 'ip', 'addr', 'add', `${h.nsIp}/30`, 'dev', h.nsIf);
    await ip('netns', 'exec', h.ns, 'ip', 'link', 'set', h.nsIf, 'up');
    await ip('netns', 'exec', h.ns, 'ip', 'link', 'set', 'lo', 'up');
    workers.push(await startWorker(['--listen', `${h.nsIp}:7357`], { netns: h.ns, env: { EVIX_TOKEN: TOKEN } }));
  }
}, 60_000);

afterAll(async () => {
  if (!skip) await teardown();
});

const mixed = config({ kind: 'file', path: `${FIXTURES}/mixed.nix` }, { autoArgs: [{ name: 'count', kind: 'expr', value: '600' }] });

test.skipIf(skip !== undefined)(`two hosts owning different systems; a link cut mid-run; nothing lost${skip ? ` (skipped: ${skip})` : ''}`, async () => {
  const remotes = hosts.map((h) => ({ endpoint: { host: h.nsIp, port: 7357 }, systems: h.systems, connections: 2 }));
  const reference = await collect(mixed, 2);
  let seen = 0;
  let restored: Promise<void> | undefined;
  const run = await collect(mixed, 0, {
    remotes,
    remoteToken: Buffer.from(TOKEN),
    remoteTimeouts: { pingAfterMs: 500, deadAfterMs: 2_000, reconnectAttempts: 10 },
    onEvent: () => {
      if (++seen !== 120) return;
      restored = ip('link', 'set', hosts[0]!.hostIf, 'down')
        .then(() => new Promise((resolve) => setTimeout(resolve, 4_000)))
        .then(() => ip('link', 'set', hosts[0]!.hostIf, 'up'));
    },
  });
  expect(restored, 'the link was cut during the run').toBeDefined();
  await restored;
  expect(run.fatal).toBeUndefined();
  expect(errors(run.events)).toEqual([]);
  expect(derivations(run.events)).toHaveLength(600);
  expect(derivationSet(run.events)).toEqual(derivationSet(reference.events));
}, 120_000);
