// Group commit with the checkpoint update overlapping the next batch's write: the checkpoint never
// names a line that is not yet durable, every append resolves once its line is durable (and, with
// checkpointBeforeReply, only once a checkpoint covers it too), resolution stays in seq order, the
// overlap does happen, and close() leaves the checkpoint on the last line. maxBatchDelayMs 0 writes
// at the end of the event-loop turn.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../keyserver/audit/audit-log.js';
import type { Checkpoint } from '../../../keyserver/audit/checkpoint.js';
import { verifyAuditFiles } from '../../../keyserver/audit/verify.js';
import { tempDir } from '../../helpers/tmp.js';
import { sampleEntry } from './fixtures/entries.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir('group-commit')));
afterEach(() => cleanup());

type Event =
  | { kind: 'write-start' | 'write-end'; lastSeq: number }
  | { kind: 'checkpoint-start' | 'checkpoint-end'; seq: number }
  | { kind: 'resolved'; seq: number };

/** Records the log's file operations, in order, around the real ones. */
function instrument(log: AuditLog, events: Event[]): void {
  const internals = log as unknown as {
    writeDurably(data: Buffer): Promise<void>;
    checkpoint(cp: Checkpoint): Promise<void>;
    stats(): { lastSeq: number };
  };
  const write = internals.writeDurably.bind(log);
  const checkpoint = internals.checkpoint.bind(log);
  internals.writeDurably = async (data) => {
    // The seq of the batch's last line, read from the data itself.
    const lines = data.toString('utf8').trimEnd().split('\n');
    const lastSeq = (JSON.parse(lines[lines.length - 1]!) as { seq: number }).seq;
    events.push({ kind: 'write-start', lastSeq });
    await write(data);
    events.push({ kind: 'write-end', lastSeq });
  };
  internals.checkpoint = async (cp) => {
    events.push({ kind: 'checkpoint-start', seq: cp.seq });
    await checkpoint(cp);
    events.push({ kind: 'checkpoint-end', seq: cp.seq });
  };
}

describe('AuditLog group commit', () => {
  async function run(checkpointBeforeReply: boolean): Promise<{ events: Event[]; log: AuditLog; total: number }> {
    const log = await AuditLog.open({ dir, maxBatchLines: 50, checkpointBeforeReply });
    const events: Event[] = [];
    instrument(log, events);
    const total = 400;
    await Promise.all(Array.from({ length: total }, (_, i) => log.append(sampleEntry(i)).then(() => events.push({ kind: 'resolved', seq: i + 1 }))));
    await log.close();
    return { events, log, total };
  }

  /** Walks the events, checking the order rules every mode keeps; returns what the mode-specific checks need. */
  function replay(events: Event[]): { overlapped: number; resolvedAhead: number; resolved: number; lastCheckpoint: number } {
    let durable = 0;
    let checkpointed = 0;
    let resolved = 0;
    let checkpointInFlight = false;
    let overlapped = 0;
    let resolvedAhead = 0;
    for (const e of events) {
      if (e.kind === 'write-start' && checkpointInFlight) overlapped++;
      if (e.kind === 'write-end') durable = e.lastSeq;
      if (e.kind === 'checkpoint-start') {
        expect(e.seq, 'a checkpoint names only durable lines').toBeLessThanOrEqual(durable);
        checkpointInFlight = true;
      }
      if (e.kind === 'checkpoint-end') {
        checkpointed = e.seq;
        checkpointInFlight = false;
      }
      if (e.kind === 'resolved') {
        expect(e.seq, 'an append resolves only once its line is durable').toBeLessThanOrEqual(durable);
        expect(e.seq, 'appends resolve in seq order').toBe(resolved + 1);
        if (e.seq > checkpointed) resolvedAhead++;
        resolved = e.seq;
      }
    }
    return { overlapped, resolvedAhead, resolved, lastCheckpoint: checkpointed };
  }

  it('resolves appends when their line is durable, checkpoints only durable lines, in order, overlapping writes and checkpoints', async () => {
    const { events, log, total } = await run(false);
    const r = replay(events);
    expect(r.resolved).toBe(total);
    expect(r.resolvedAhead, 'appends did not wait for the checkpoint').toBeGreaterThan(0);
    expect(r.lastCheckpoint, 'close() leaves the checkpoint on the last line').toBe(total);
    expect(r.overlapped, 'a batch was written while the previous checkpoint was being updated').toBeGreaterThan(0);
    expect(log.stats().checkpointWrites, 'one checkpoint can cover several batches').toBeLessThanOrEqual(log.stats().batches);
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: true, lines: total, checkpoint: 'matched' });
  });

  it('with checkpointBeforeReply, resolves only checkpointed lines', async () => {
    const { events, log, total } = await run(true);
    const r = replay(events);
    expect(r.resolved).toBe(total);
    expect(r.resolvedAhead, 'an append resolves only once a checkpoint covers it').toBe(0);
    expect(r.lastCheckpoint).toBe(total);
    expect(r.overlapped, 'a batch was written while the previous checkpoint was being updated').toBeGreaterThan(0);
    expect(log.stats().checkpointWrites).toBeLessThanOrEqual(log.stats().batches);
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: true, lines: total, checkpoint: 'matched' });
  });

  it('with maxBatchDelayMs 0, the appends of one event-loop turn share one batch', async () => {
    const log = await AuditLog.open({ dir, maxBatchDelayMs: 0 });
    await Promise.all(Array.from({ length: 30 }, (_, i) => log.append(sampleEntry(i))));
    expect(log.stats()).toMatchObject({ batches: 1, linesWritten: 30 });
    await log.append(sampleEntry(30));
    expect(log.stats()).toMatchObject({ batches: 2, linesWritten: 31 });
    await log.close();
  });
});
