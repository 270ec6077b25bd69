/**
 * Nix's settings, by name, and whether each is a boolean: every setting is
 * a command-line flag of Nix's commands (`--NAME VALUE`, `--NAME` and
 * `--no-NAME` for a boolean), so a drop-in for one of them must know them.
 * Asked of the Nix on PATH, which knows its own (`nix config show` since
 * Nix 2.20, `nix show-config` before).
 */
import { NixCommandError, runNix } from './commands.js';

/** How a setting is given as a flag: a boolean takes no word. */
export type SettingKind = 'bool' | 'value';

const FEATURES = ['--extra-experimental-features', 'nix-command'];

export async function nixSettings(cwd: string): Promise<Map<string, SettingKind>> {
  let json: string;
  try {
    json = await runNix('nix', [...FEATURES, 'config', 'show', '--json'], { cwd });
  } catch (error) {
    if (!(error instanceof NixCommandError)) throw error;
    json = await runNix('nix', [...FEATURES, 'show-config', '--json'], { cwd });
  }
  const settings = new Map<string, SettingKind>();
  for (const [name, setting] of Object.entries(JSON.parse(json) as Record<string, { value: unknown; aliases?: string[] }>)) {
    const kind = typeof setting.value === 'boolean' ? 'bool' : 'value';
    for (const alias of [name, ...(setting.aliases ?? [])]) settings.set(alias, kind);
  }
  return settings;
}
