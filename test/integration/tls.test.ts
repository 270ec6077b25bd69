/** TLS between master and worker, and mutual TLS when the worker is given a CA. */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { FIXTURES, collect, config, derivations, runCli } from '../helpers.js';
import { startWorker, type WorkerProcess } from '../workers.js';

let dir: string;
const workers: WorkerProcess[] = [];
const TOKEN = 'tls-token';

async function openssl(args: string[]): Promise<void> {
  await execa('openssl', args, { cwd: dir });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'evix-tls-'));
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=evix test CA']);
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const name of ['server', 'client']) {
    await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name === 'server' ? '127.0.0.1' : 'evix master'}`]);
    await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', ...(name === 'server' ? ['-extfile', 'server.ext'] : [])]);
  }
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
});

async function worker(args: string[]): Promise<WorkerProcess> {
  const w = await startWorker(['--listen', '127.0.0.1:0', '--tls-cert', join(dir, 'server.pem'), '--tls-key', join(dir, 'server.key'), ...args], { env: { EVIX_TOKEN: TOKEN } });
  workers.push(w);
  return w;
}

const jobs = config({ kind: 'file', path: `${FIXTURES}/wide.nix` }, { autoArgs: [{ name: 'count', kind: 'expr', value: '30' }] });

test('a master that trusts the CA evaluates over TLS; one that does not is refused', async () => {
  const w = await worker([]);
  expect(w.stderr()).toContain('(TLS)');
  const remotes = [{ endpoint: { host: '127.0.0.1', port: w.port }, systems: [], connections: 1 }];
  const ca = await readFile(join(dir, 'ca.pem'));
  const run = await collect(jobs, 0, { remotes, remoteToken: Buffer.from(TOKEN), remoteTls: { ca } });
  expect(derivations(run.events)).toHaveLength(30);

  const untrusting = await runCli(['eval', '--file', `${FIXTURES}/wide.nix`, '--workers', '0', '--remote', `127.0.0.1:${w.port}`, '', '1', '--remote-tls-ca', join(dir, 'server.pem')], {
    env: { EVIX_REMOTE_TOKEN: TOKEN },
  });
  expect(untrusting.exitCode).toBe(1);
  expect(untrusting.stderr).toMatch(/evix: worker 127\.0\.0\.1:\d+: .*(certificate|self.signed|verify)/i);
});

test('with --tls-ca the worker wants a client certificate signed by that CA', async () => {
  const w = await worker(['--tls-ca', join(dir, 'ca.pem')]);
  const base = ['eval', '--file', `${FIXTURES}/wide.nix`, '--arg', 'count', '30', '--workers', '0', '--remote', `127.0.0.1:${w.port}`, '', '1', '--remote-tls-ca', join(dir, 'ca.pem')];
  const withoutCert = await runCli(base, { env: { EVIX_REMOTE_TOKEN: TOKEN } });
  expect(withoutCert.exitCode).toBe(1);
  const withCert = await runCli([...base, '--remote-tls-cert', join(dir, 'client.pem'), '--remote-tls-key', join(dir, 'client.key')], { env: { EVIX_REMOTE_TOKEN: TOKEN } });
  expect(withCert.exitCode, withCert.stderr).toBe(0);
  expect(derivations(withCert.events)).toHaveLength(30);
});
