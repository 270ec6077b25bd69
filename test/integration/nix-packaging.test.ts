/** flake.nix parses; the NixOS module makes the services it should (against a stub module system). */
import { execa } from 'execa';
import { expect, test } from 'vitest';
import { ROOT } from '../helpers.js';

test('flake.nix and the nix/ files parse', async () => {
  for (const file of ['flake.nix', 'nix/package.nix', 'nix/module.nix']) {
    const run = await execa('nix-instantiate', ['--parse', `${ROOT}${file}`], { reject: false });
    expect(run.exitCode, `${file}: ${run.stderr}`).toBe(0);
  }
});

async function moduleConfig(settings: string): Promise<Record<string, any>> {
  const { stdout } = await execa('nix-instantiate', ['--eval', '--strict', '--json', `${ROOT}test/nix/module-stub.nix`, '--arg', 'settings', settings]);
  return JSON.parse(stdout) as Record<string, any>;
}

test('nothing enabled, no services', async () => {
  const config = await moduleConfig('{ }');
  expect(config.systemd ?? {}).toEqual({});
});

test('the worker service: its command line, the token as a credential, the firewall', async () => {
  const config = await moduleConfig('{ services.evix.worker = { enable = true; listen = "0.0.0.0:7400"; tokenFile = "/run/secrets/evix"; allowImpure = true; openFirewall = true; extraArgs = [ "-v" ]; }; }');
  const service = config.systemd.services['evix-worker'];
  expect(service.serviceConfig.ExecStart).toBe(
    "/nix/store/evix-for-x86_64-linux/bin/evix worker '--listen' '0.0.0.0:7400' '--max-connections' '16' '--max-memory' '4096' '--token-file' '%d/token' '--allow-impure' '-v'",
  );
  expect(service.serviceConfig.LoadCredential).toEqual(['token:/run/secrets/evix']);
  expect(service.serviceConfig.DynamicUser).toBe(true);
  expect(service.path).toEqual(['/nix/store/nix']);
  expect(config.networking.firewall.allowedTCPPorts).toEqual([7400]);
  expect(config.systemd.user).toBeUndefined();
});

test('the daemon as a user service', async () => {
  const config = await moduleConfig('{ services.evix.daemon = { enable = true; maxSessions = 3; }; }');
  expect(config.systemd.user.services.evixd.serviceConfig.ExecStart).toBe("/nix/store/evix-for-x86_64-linux/bin/evixd --foreground '--max-sessions' '3'");
  expect(config.systemd.services).toBeUndefined();
});
