/**
 * One memory budget for a set of evaluators: a run's local workers
 * (`--workers` × `--max-memory`), or a remote worker's connections
 * (`--max-connections` × `--max-memory`). `--max-memory` alone bounds one
 * child between requests (it is replaced once past it); the budget bounds
 * what they hold together, including in the middle of a request, where a
 * single attribute can grow a child by gigabytes.
 *
 * - **Admission.** A request is sent only while the total resident memory,
 *   plus the growth expected of the requests in flight and of this one,
 *   fits the budget. The growth expected is measured: the largest growth
 *   of one request seen lately (a spike counts at once and fades over
 *   later requests). A request whose evaluator is the only one working is
 *   always admitted, so the run never stalls on memory held by idle
 *   children.
 * - **Enforcement.** The total is checked after every request and, while
 *   any is in flight, every POLL_MS. Past the budget the largest busy
 *   child is killed; its evaluator retries the attribute alone.
 * - **Alone.** A request admitted alone waits until no other evaluator has
 *   work in flight, holds back every other request while it runs, and has
 *   the idle children ended first, so it has the whole budget. An
 *   attribute that passes the budget even so is the one error this makes.
 *
 * The budget reads and kills through BudgetMember; it knows nothing of Nix
 * or processes, so its rules are tested with plain objects.
 */

/** What the budget needs of an evaluator. */
export interface BudgetMember {
  /** Resident MiB of its child now; undefined when none runs. */
  residentMiB(): number | undefined;
  /** Kills its child, which is busy: the total passed the budget and it holds the most. */
  killForMemory(residentMiB: number, limitMiB: number): void;
  /** Ends its child, which is idle, to give its memory to a request that runs alone. */
  releaseMemory(): void;
}

/**
 * How often the total is read while requests are in flight. Two children
 * that grow at once pass the budget by what both grow between readings:
 * at 20 ms, on a 2-core VM where test/fixtures/memory.nix grows a child by
 * 120 MiB in well under a second, evix read totals up to 50 MiB past the
 * budget before it killed one (memory-budget.test.ts allows a quarter of
 * one attribute's growth, 30 MiB).
 */
export const POLL_MS = 10;

/** Each measured request lets the expected growth fade by this factor (half after about 7). */
const GROWTH_FADE = 0.9;

interface Waiter {
  seat: BudgetSeat;
  alone: boolean;
  admit: () => void;
}

export class MemoryBudget {
  readonly limitMiB: number;
  readonly #seats = new Set<BudgetSeat>();
  /** Requests waiting to be admitted, in order; alone ones first. */
  #waiting: Waiter[] = [];
  /** The seat whose request runs alone now. */
  #alone: BudgetSeat | undefined;
  #growthMiB = 0;
  #freshMiB = 0;
  #peakMiB = 0;
  #kills = 0;
  #poll: ReturnType<typeof setInterval> | undefined;

  constructor(limitMiB: number) {
    this.limitMiB = limitMiB;
  }

  join(member: BudgetMember): BudgetSeat {
    const seat = new BudgetSeat(this, member);
    this.#seats.add(seat);
    return seat;
  }

  /** The highest total resident memory seen, MiB. */
  get peakMiB(): number {
    return this.#peakMiB;
  }

  /** Children killed for passing the budget. */
  get kills(): number {
    return this.#kills;
  }

  /** The growth one request is expected to cause, MiB (see admission). */
  get expectedGrowthMiB(): number {
    return this.#growthMiB;
  }

  /** Whether another evaluator, as large as the last one measured fresh, fits beside those running. */
  roomForAnother(): boolean {
    return this.#total() + this.#freshMiB + this.#growthMiB <= this.limitMiB;
  }

  /** @internal BudgetSeat.admit */
  admit(seat: BudgetSeat, alone: boolean): Promise<void> {
    return new Promise((admit) => {
      const waiter = { seat, alone, admit };
      if (alone) {
        const firstNotAlone = this.#waiting.findIndex((w) => !w.alone);
        this.#waiting.splice(firstNotAlone === -1 ? this.#waiting.length : firstNotAlone, 0, waiter);
      } else this.#waiting.push(waiter);
      this.#wake();
    });
  }

  /** @internal BudgetSeat.settled */
  settled(seat: BudgetSeat): void {
    seat.inFlight--;
    const now = seat.member.residentMiB() ?? 0;
    if (seat.measuredMiB === 0) this.#freshMiB = now || this.#freshMiB;
    else this.#grew(Math.max(0, now - seat.measuredMiB));
    seat.measuredMiB = now;
    if (this.#alone === seat && seat.inFlight === 0) this.#alone = undefined;
    this.#enforce();
    this.#wake();
  }

  /** @internal BudgetSeat.leave */
  leave(seat: BudgetSeat): void {
    this.#seats.delete(seat);
    if (this.#alone === seat) this.#alone = undefined;
    // Its waiting requests go on, to find their evaluator closed.
    for (const waiter of this.#waiting.filter((w) => w.seat === seat)) waiter.admit();
    this.#waiting = this.#waiting.filter((w) => w.seat !== seat);
    this.#wake();
  }

  #grew(growthMiB: number): void {
    this.#growthMiB = Math.max(growthMiB, this.#growthMiB * GROWTH_FADE);
  }

  /** Admits waiting requests in order while the first one fits. */
  #wake(): void {
    while (this.#waiting.length > 0) {
      const waiter = this.#waiting[0]!;
      if (!this.#admits(waiter)) break;
      this.#waiting.shift();
      waiter.seat.inFlight++;
      if (waiter.alone) {
        this.#alone = waiter.seat;
        for (const seat of this.#seats) {
          if (seat === waiter.seat || seat.measuredMiB === 0) continue;
          seat.member.releaseMemory();
          seat.measuredMiB = 0;
        }
      }
      waiter.admit();
    }
    this.#pollWhileBusy();
  }

  #admits({ seat, alone }: Waiter): boolean {
    if (this.#alone !== undefined) return false;
    let othersBusy = false;
    let inFlight = 0;
    for (const s of this.#seats) {
      inFlight += s.inFlight;
      if (s !== seat && s.inFlight > 0) othersBusy = true;
    }
    if (alone) return inFlight === 0;
    if (!othersBusy) return true;
    return this.#total() + (inFlight + 1) * this.#growthMiB <= this.limitMiB;
  }

  /** Past the budget, kills the largest busy child (its evaluator retries alone). */
  #enforce(): void {
    let total = 0;
    let largest: { seat: BudgetSeat; mib: number } | undefined;
    for (const seat of this.#seats) {
      const mib = seat.member.residentMiB() ?? 0;
      total += mib;
      if (seat.inFlight > 0 && !seat.killed && mib > (largest?.mib ?? 0)) largest = { seat, mib };
    }
    this.#peakMiB = Math.max(this.#peakMiB, total);
    if (total <= this.limitMiB || !largest) return;
    const { seat, mib } = largest;
    // What it grew by before the kill is the growth to expect of such requests.
    if (seat.measuredMiB > 0 && mib > seat.measuredMiB) this.#grew(mib - seat.measuredMiB);
    seat.killed = true;
    seat.measuredMiB = 0;
    this.#kills++;
    seat.member.killForMemory(mib, this.limitMiB);
  }

  #total(): number {
    let total = 0;
    for (const seat of this.#seats) total += seat.member.residentMiB() ?? 0;
    this.#peakMiB = Math.max(this.#peakMiB, total);
    return total;
  }

  #pollWhileBusy(): void {
    const busy = [...this.#seats].some((s) => s.inFlight > 0);
    if (busy && this.#poll === undefined) {
      this.#poll = setInterval(() => this.#enforce(), POLL_MS);
      this.#poll.unref();
    } else if (!busy && this.#poll !== undefined) {
      clearInterval(this.#poll);
      this.#poll = undefined;
    }
  }
}

/** One evaluator's place in a budget: it asks before each request and says when the request is over. */
export class BudgetSeat {
  readonly #budget: MemoryBudget;
  readonly member: BudgetMember;
  /** Requests admitted and not yet settled. */
  inFlight = 0;
  /** Its child's resident MiB when last measured; 0 for a child not measured yet (new, or ended). */
  measuredMiB = 0;
  /** Its child was killed for memory and has not settled a request since. */
  killed = false;

  constructor(budget: MemoryBudget, member: BudgetMember) {
    this.#budget = budget;
    this.member = member;
  }

  /** Resolves once the request may be sent; `alone` (see MemoryBudget) once it may run with the whole budget. */
  admit(alone = false): Promise<void> {
    return this.#budget.admit(this, alone);
  }

  /** The request is over (answered or failed). */
  settled(): void {
    this.killed = false;
    this.#budget.settled(this);
  }

  leave(): void {
    this.#budget.leave(this);
  }
}
