import { afterEach, expect, test, vi } from 'vitest';
import { MemoryBudget, POLL_MS, type BudgetMember, type BudgetSeat } from '../../src/worker/memory-budget.js';

/** An evaluator as the budget sees it: a child of `mib` MiB, or none. */
class FakeMember implements BudgetMember {
  mib: number | undefined;
  kills: number[] = [];
  releases = 0;

  constructor(mib: number) {
    this.mib = mib;
  }

  residentMiB(): number | undefined {
    return this.mib;
  }

  killForMemory(residentMiB: number): void {
    this.kills.push(residentMiB);
    this.mib = undefined;
  }

  releaseMemory(): void {
    this.releases++;
    this.mib = undefined;
  }
}

/** One request of `seat` whose child is left at `mib` MiB (the child's size when it started, for its first). */
async function answered(seat: BudgetSeat, member: FakeMember, mib: number): Promise<void> {
  await seat.admit();
  member.mib = mib;
  seat.settled();
}

/** Whether `promise` settled by the time queued callbacks have run. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

afterEach(() => vi.useRealTimers());

test('before any growth is measured, evaluators are admitted side by side', async () => {
  const budget = new MemoryBudget(100);
  const a = budget.join(new FakeMember(30));
  const b = budget.join(new FakeMember(30));
  await a.admit();
  expect(await isSettled(b.admit())).toBe(true);
});

test('a request whose measured growth would pass the budget waits until the others settle', async () => {
  const budget = new MemoryBudget(100);
  const first = new FakeMember(20);
  const a = budget.join(first);
  const b = budget.join(new FakeMember(20));
  // Measure a's fresh size, then a growth of 40 MiB.
  await answered(a, first, 20);
  await answered(a, first, 60);
  expect(budget.expectedGrowthMiB).toBe(40);
  await a.admit();
  // 60 + 20 held, plus 40 expected for a's request in flight and 40 for b's: past 100.
  const waiting = b.admit();
  expect(await isSettled(waiting)).toBe(false);
  a.settled();
  expect(await isSettled(waiting)).toBe(true);
});

test('an evaluator that is the only one working is admitted whatever the others hold', async () => {
  const budget = new MemoryBudget(100);
  const a = budget.join(new FakeMember(90));
  budget.join(new FakeMember(90));
  expect(await isSettled(a.admit())).toBe(true);
  expect(await isSettled(a.admit())).toBe(true);
});

test('past the budget the largest busy child is killed, not a larger idle one', async () => {
  const budget = new MemoryBudget(100);
  const idle = new FakeMember(50);
  const small = new FakeMember(10);
  const large = new FakeMember(20);
  const [i, s, l] = [budget.join(idle), budget.join(small), budget.join(large)];
  await i.admit();
  i.settled();
  await Promise.all([s.admit(), l.admit(), s.admit()]);
  large.mib = 45;
  s.settled();
  expect(large.kills).toEqual([45]);
  expect(idle.kills).toEqual([]);
  expect(small.kills).toEqual([]);
  expect(budget.kills).toBe(1);
  expect(budget.peakMiB).toBe(105);
});

test('a child growing past the budget mid-request is killed by the poll, without waiting for an answer', async () => {
  vi.useFakeTimers();
  const budget = new MemoryBudget(100);
  const member = new FakeMember(30);
  const seat = budget.join(member);
  await seat.admit();
  member.mib = 130;
  expect(member.kills).toEqual([]);
  vi.advanceTimersByTime(POLL_MS);
  expect(member.kills).toEqual([130]);
});

test('a request alone waits for the others, holds back later ones and ends idle children first', async () => {
  const budget = new MemoryBudget(100);
  const busy = new FakeMember(40);
  const idle = new FakeMember(30);
  const retrying = new FakeMember(20);
  const [b, i, r] = [budget.join(busy), budget.join(idle), budget.join(retrying)];
  // Every child measured once, so the budget knows it holds memory.
  for (const [seat, member] of [[b, busy], [i, idle], [r, retrying]] as const) await answered(seat, member, member.mib!);
  await b.admit();
  const alone = r.admit(true);
  const later = i.admit();
  expect(await isSettled(alone)).toBe(false);
  b.settled();
  expect(await isSettled(alone)).toBe(true);
  expect(idle.releases).toBe(1);
  expect(busy.releases).toBe(1);
  expect(await isSettled(later)).toBe(false);
  r.settled();
  expect(await isSettled(later)).toBe(true);
});

test('another evaluator is admitted only if one as large as the last fresh one fits', async () => {
  const budget = new MemoryBudget(100);
  const member = new FakeMember(45);
  await answered(budget.join(member), member, 45);
  expect(budget.roomForAnother()).toBe(true);
  member.mib = 60;
  expect(budget.roomForAnother()).toBe(false);
});

test('an evaluator that leaves lets its waiting requests go on and holds nothing back', async () => {
  const budget = new MemoryBudget(100);
  const first = new FakeMember(20);
  const a = budget.join(first);
  const b = budget.join(new FakeMember(20));
  await answered(a, first, 20);
  await answered(a, first, 80);
  await a.admit();
  const waiting = b.admit();
  expect(await isSettled(waiting)).toBe(false);
  b.leave();
  expect(await isSettled(waiting)).toBe(true);
});
