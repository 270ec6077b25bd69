/**
 * Worker containers from the evix image (docker/Dockerfile), started with
 * testcontainers, evaluating for a master in this process. Needs the image
 * `evix:test` (scripts/docker-image builds it; CI does) and a Docker engine;
 * skipped, saying why, otherwise.
 */
import { execa } from 'execa';
import { afterAll, expect, test } from 'vitest';
import { collect, config, derivationSet, derivations, errors } from '../helpers.js';

// No registry is reachable: no Ryuk reaper (its image cannot be pulled), and
// no helper container to find the host.
process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
process.env.TESTCONTAINERS_HOST_OVERRIDE = '127.0.0.1';

const IMAGE = 'evix:test';
const TOKEN = 'container-token';

async function whyNot(): Promise<string | undefined> {
  const info = await execa('docker', ['image', 'inspect', IMAGE], { reject: false });
  return info.exitCode === 0 ? undefined : `no ${IMAGE} image (scripts/docker-image builds it)`;
}
const skip = await whyNot();

afterAll(async () => {
  if (skip) return;
  const { stdout } = await execa('docker', ['ps', '-aq', '--filter', 'label=org.testcontainers=true'], { reject: false });
  const ids = stdout.split('\n').filter((id) => id !== '');
  if (ids.length > 0) await execa('docker', ['rm', '-f', ...ids], { reject: false });
});

async function workerContainer() {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer(IMAGE)
    .withEnvironment({ EVIX_TOKEN: TOKEN })
    .withExposedPorts(7357)
    .withWaitStrategy(Wait.forLogMessage(/listening on/))
    .withStartupTimeout(60_000)
    .start();
  return { container, endpoint: { host: container.getHost(), port: container.getMappedPort(7357) } };
}

// A self-contained tree (workers see no files of ours): systems alternate.
const expr = `let
  mk = i: derivation { name = "c-\${toString i}"; system = if i - (i / 2) * 2 == 0 then "x86_64-linux" else "aarch64-linux"; builder = "/bin/sh"; };
  group = g: builtins.listToAttrs (builtins.genList (i: { name = "d\${toString i}"; value = mk (g * 10 + i); }) 10) // { recurseForDerivations = true; };
in builtins.listToAttrs (builtins.genList (g: { name = "g\${toString g}"; value = group g; }) 40)`;
const tree = config({ kind: 'expr', expr });

test.skipIf(skip !== undefined)(`two worker containers owning different systems evaluate what a local worker does${skip ? ` (skipped: ${skip})` : ''}`, async () => {
  const [x86, arm] = await Promise.all([workerContainer(), workerContainer()]);
  try {
    const local = await collect(tree, 1);
    const run = await collect(tree, 0, {
      remotes: [
        { endpoint: x86.endpoint, systems: ['x86_64-linux'], connections: 2 },
        { endpoint: arm.endpoint, systems: ['aarch64-linux'], connections: 1 },
      ],
      remoteToken: Buffer.from(TOKEN),
    });
    expect(run.fatal).toBeUndefined();
    expect(derivations(run.events)).toHaveLength(400);
    expect(derivationSet(run.events)).toEqual(derivationSet(local.events));
  } finally {
    await Promise.all([x86.container.stop(), arm.container.stop()]);
  }
}, 180_000);

test.skipIf(skip !== undefined)(`a worker container stopped mid-run loses nothing${skip ? ` (skipped: ${skip})` : ''}`, async () => {
  const worker = await workerContainer();
  let seen = 0;
  let stopped: Promise<unknown> | undefined;
  const run = await collect(tree, 1, {
    remotes: [{ endpoint: worker.endpoint, systems: [], connections: 2 }],
    remoteToken: Buffer.from(TOKEN),
    remoteTimeouts: { pingAfterMs: 500, deadAfterMs: 2_000, reconnectAttempts: 3 },
    onEvent: () => {
      if (++seen === 60) stopped = worker.container.stop({ timeout: 0 });
    },
  });
  await stopped;
  expect(stopped).toBeDefined();
  expect(run.fatal).toBeUndefined();
  expect(errors(run.events)).toEqual([]);
  expect(derivations(run.events)).toHaveLength(400);
}, 180_000);
