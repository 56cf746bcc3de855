/**
 * Jobs that must run one after another in call order (sends that share socket state or wait for
 * room in the kernel's send queue), without holding on to finished ones.
 *
 * @module
 * @internal
 */

/** A queue of asynchronous jobs run in order; a failed job does not stop the ones after it. */
export class SendOrder {
  #tail: Promise<unknown> | undefined;

  /** Whether a job is running or queued. */
  get busy(): boolean {
    return this.#tail !== undefined;
  }

  /** Runs `job` once every job queued before it has settled. */
  after<T>(job: () => Promise<T>): Promise<T> {
    return this.track((this.#tail ?? Promise.resolve()).then(job, job));
  }

  /** Makes a job already started the last in the order; returns it. */
  track<T>(job: Promise<T>): Promise<T> {
    const settled = job.then(
      () => undefined,
      () => undefined,
    );
    this.#tail = settled;
    void settled.then(() => {
      if (this.#tail === settled) this.#tail = undefined;
    });
    return job;
  }
}
