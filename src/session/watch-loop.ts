/**
 * The loop of `watch`: evaluate, then again after each change to the
 * input's files (debounced), yielding what changed each time. Apart from
 * Session so that the walk can be another's: `evix watch` has the daemon
 * walk when one answers, keeping its session current.
 */
import { watch as watchFiles } from 'node:fs';
import type { EvalConfig } from '../config.js';
import type { GraphDiff } from './graph.js';
import { watchedPaths } from './watched-paths.js';

/** One step of watch(): what changed, or why this evaluation failed. */
export type WatchUpdate = { diff: GraphDiff } | { error: string };

export interface WatchOptions {
  debounceMs?: number;
  signal?: AbortSignal;
}

/** Where an update leaves things: the evaluation's failure, or its errors. */
function outcomeOf(update: WatchUpdate): string {
  if ('error' in update) return `failed:${update.error}`;
  return `errors:${JSON.stringify(update.diff.errors.map((e) => [e.attr, e.error]))}`;
}

function hasChanges(update: WatchUpdate): boolean {
  return 'diff' in update && update.diff.added.length + update.diff.removed.length + update.diff.changed.length > 0;
}

/**
 * Runs `refresh` (one walk, compared with the one before) now and after
 * each change to the files of `config`'s input; a failed walk (a syntax
 * error mid-edit) yields its error and watching goes on. Ends when `signal`
 * aborts. Throws NotWatchable for inputs with no local files.
 */
export async function* watchInput(config: EvalConfig, refresh: () => Promise<GraphDiff>, options: WatchOptions = {}): AsyncGenerator<WatchUpdate, void, undefined> {
  const debounceMs = options.debounceMs ?? 200;
  const paths = await watchedPaths(config);
  let changed = true;
  let lastOutcome: string | undefined;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const onChange = (_type: string, file: string | Buffer | null) => {
    if (file && /(^|\/)(\.git|node_modules|result)(\/|$)/.test(String(file))) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      changed = true;
      wake?.();
    }, debounceMs);
  };
  const watchers = paths.map((path) => watchFiles(path, { recursive: true }, onChange));
  const stop = () => wake?.();
  options.signal?.addEventListener('abort', stop);
  try {
    while (!options.signal?.aborted) {
      if (!changed) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      changed = false;
      let update: WatchUpdate;
      try {
        update = { diff: await refresh() };
      } catch (error) {
        update = { error: (error as Error).message };
      }
      // A walk cut short by the signal (^C, stdout's reader gone) says nothing.
      if (options.signal?.aborted) break;
      // A write that changes nothing evaluated (the output written into the
      // watched directory, an editor's backup file) is not reported: else
      // `evix watch > out.json` beside the input would feed on itself.
      const outcome = outcomeOf(update);
      if (hasChanges(update) || outcome !== lastOutcome) yield update;
      lastOutcome = outcome;
    }
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', stop);
    for (const w of watchers) w.close();
  }
}
