/**
 * stdout and stderr on one terminal: the progress line steps aside for
 * every write of output, so no JSON line starts after its text. The CLI
 * runs in a pseudo-terminal made by `script` (util-linux), whose output is
 * everything the terminal was sent; skipped, saying so, without it.
 */
import { execa, execaSync } from 'execa';
import { expect, test } from 'vitest';
import { CLI, FIXTURES } from '../helpers.js';

const skip = execaSync('script', ['--version'], { reject: false }).exitCode === 0 ? undefined : 'no script (util-linux) to make a pseudo-terminal';

/** What a line shows once the terminal has applied its carriage returns and erase-to-end-of-line sequences. */
function shown(line: string): string {
  let text = '';
  let column = 0;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\r') column = 0;
    else if (line.startsWith('\x1b[K', i)) {
      text = text.slice(0, column);
      i += 2;
    } else {
      text = text.slice(0, column) + line[i] + text.slice(column + 1);
      column++;
    }
  }
  return text;
}

const PROGRESS = /^evix: \d+ done · \d+ queued · \d+ errors · \d+\/s · \d+\/\d+ workers busy$/;

test.skipIf(skip !== undefined)(`on a shared terminal every JSON line starts a line of its own${skip ? ` (skipped: ${skip})` : ''}`, async () => {
  // Slow attributes, one at a time: output keeps coming while the line is
  // redrawn (with the fixture's default work, the run ended 60 ms after the
  // first draw on a fast 2-core machine).
  const command = `${CLI} eval --file ${FIXTURES}/slow.nix --arg count 80 --arg work 200000 --workers 2`;
  const run = await execa('script', ['-qfec', command, '/dev/null'], { stdin: 'ignore' });
  const sent = run.stdout;
  // The line was drawn while there was output still to come: the run tests something.
  expect(sent.indexOf('workers busy')).toBeGreaterThan(-1);
  expect(sent.indexOf('workers busy')).toBeLessThan(sent.lastIndexOf('{"attr"'));

  const lines = sent.split('\n').map(shown);
  const mixed = lines.filter((line) => line !== '' && !PROGRESS.test(line) && !isJsonObject(line));
  expect(mixed).toEqual([]);
  const events = lines.filter(isJsonObject).map((line) => JSON.parse(line) as { attr: string; drvPath?: string });
  expect(events.filter((e) => e.drvPath !== undefined)).toHaveLength(80);
  // Erased at the end: the terminal is left with the output alone.
  expect(lines.at(-1)).toBe('');
});

function isJsonObject(line: string): boolean {
  if (!line.startsWith('{')) return false;
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}
