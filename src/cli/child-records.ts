/**
 * The JSON records of a child process (one object per line of its stdout; other lines are not
 * records) and a bounded wait for one of them: how the bench reads its peer's replies and the
 * records of the commands it measures.
 *
 * @internal
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export type ChildRecord = Record<string, unknown>;

export class ChildRecords {
  readonly #records: ChildRecord[] = [];
  #exited = false;
  #wake: (() => void) | undefined;

  constructor(child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      let record: ChildRecord;
      try {
        record = JSON.parse(line) as ChildRecord;
      } catch {
        return; // a line that only starts like one: not a record
      }
      this.#records.push(record);
      this.#wake?.();
    });
    // 'close': the process has exited and its last lines have been read.
    child.once('close', () => {
      this.#exited = true;
      this.#wake?.();
    });
  }

  /** Whether the child has exited and all its output has been read. */
  get exited(): boolean {
    return this.#exited;
  }

  /**
   * The first record `pick` accepts (removed from the list with `take`), waiting at most `ms`;
   * `undefined` once the child exited without one or the time ran out.
   */
  async find(
    pick: (r: ChildRecord) => boolean,
    ms: number,
    take = false,
  ): Promise<ChildRecord | undefined> {
    const deadline = performance.now() + ms;
    // Bounded: each pass returns or waits for a new record, the exit, or the deadline.
    for (;;) {
      const i = this.#records.findIndex(pick);
      if (i !== -1) return take ? this.#records.splice(i, 1)[0] : this.#records[i];
      const left = deadline - performance.now();
      if (this.#exited || left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }
}
