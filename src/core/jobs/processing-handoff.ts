// The ack path's side of handing a `process_inbound_event` job to the worker of the same process.

/** A place reserved in a worker pool for one job the ack path is about to commit (see {@link ProcessingHandoff}). */
export interface ProcessingTicket {
  /** The graphile-worker pool id the job must be committed locked by (`locked_by`). */
  poolId: string;
  /** The job was committed locked by `poolId`: process `inboundEventIds` now. Never throws. */
  hand(job: { jobId: string; inboundEventIds: string[] }): void;
  /** No job was committed (nothing new stored): the place is free again. Never throws. */
  cancel(): void;
  /**
   * The statement failed, perhaps after its commit (the connection dropped before the answer): if a job of the
   * inbound events `inboundEventIds` was committed locked by `poolId`, process it; find out as soon as the database
   * answers. Never throws.
   */
  inDoubt(inboundEventIds: readonly string[]): void;
}

/**
 * Where the ack path hands the `process_inbound_event` job it commits, when `switchyard all` runs the worker in
 * the same process: the job is inserted already locked by the worker's pool (enqueue.ts `enqueueHandoff` does the
 * same for first delivery attempts) and processed right after the commit, without a NOTIFY, a fetch or a separate
 * completion; the processing transaction deletes it. Should the process die first, recovery unlocks the job
 * (recovery.ts) and any worker runs it.
 */
export interface ProcessingHandoff {
  /** A ticket for one job, or undefined when no worker takes one now (not started, stopping, or busy): queue it as usual. */
  reserve(): ProcessingTicket | undefined;
}
