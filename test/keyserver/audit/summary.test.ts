// The reviewer's summary over a real rotated log: counts per identity, key, operation and outcome,
// the denial list, and the filters.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../keyserver/audit/audit-log.js';
import { renderSummary, summarizeAuditFiles } from '../../../keyserver/audit/summary.js';
import { appendFile } from 'node:fs/promises';
import { tempDir } from '../../helpers/tmp.js';
import { EDGE_1, KEY_A, KEY_B, sampleEntry } from './fixtures/entries.js';

let dir: string;
let cleanup: () => Promise<void>;
let middle: Date;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('audit-summary'));
  const log = await AuditLog.open({ dir, maxFileBytes: 3_000 });
  // 40 entries: 30 allowed (edge-1, key A), 10 denied (edge-2, key B); one unauthenticated refusal.
  for (let i = 0; i < 20; i++) await log.append(sampleEntry(i));
  await new Promise((r) => setTimeout(r, 5));
  middle = new Date();
  await new Promise((r) => setTimeout(r, 5));
  for (let i = 20; i < 40; i++) await log.append(sampleEntry(i));
  await log.append({ ...sampleEntry(40), decision: 'denied', identity: null, keyId: '', scheme: '', operation: 'list-keys', outcome: 'UNAUTHENTICATED', reason: 'no client certificate' });
  await log.close();
});
afterAll(() => cleanup());

describe('summarizeAuditFiles', () => {
  it('counts per identity, key, operation and outcome across rotated files', async () => {
    const s = await summarizeAuditFiles([dir]);
    expect(s.files.length).toBeGreaterThan(1);
    expect(s).toMatchObject({ linesRead: 41, matched: 41, malformed: 0, decisions: { allowed: 30, denied: 11, failed: 0 } });
    expect(s.rows).toEqual([
      { identity: '(no client certificate)', keyId: '', operation: 'list-keys', outcome: 'UNAUTHENTICATED', count: 1 },
      { identity: 'spiffe://keyless/edge/edge-1', keyId: KEY_A, operation: 'tls13-certificate-verify', outcome: 'OK', count: 30 },
      { identity: 'spiffe://keyless/edge/edge-2', keyId: KEY_B, operation: 'tls13-certificate-verify', outcome: 'NOT_ALLOWED', count: 10 },
    ]);
    expect(s.denials).toHaveLength(11);
    expect(s.denials[0]).toMatchObject({ seq: 4, identity: 'spiffe://keyless/edge/edge-2', keyId: KEY_B, outcome: 'NOT_ALLOWED', reason: 'edge-2 may not use this key' });
  });

  it('filters by time, identity (any of its names) and key prefix', async () => {
    expect((await summarizeAuditFiles([dir], { until: middle })).matched).toBe(20);
    expect((await summarizeAuditFiles([dir], { since: middle })).matched).toBe(21);
    for (const name of ['spiffe://keyless/edge/edge-1', 'URI:spiffe://keyless/edge/edge-1', 'edge-1.keyless.test', EDGE_1.subject, EDGE_1.fingerprint]) {
      expect((await summarizeAuditFiles([dir], { identity: name })).decisions).toEqual({ allowed: 30, denied: 0, failed: 0 });
    }
    const byKey = await summarizeAuditFiles([dir], { keyId: KEY_B.slice(0, 8).toUpperCase(), since: middle });
    expect(byKey).toMatchObject({ matched: 5, decisions: { allowed: 0, denied: 5, failed: 0 } });
  });

  it('caps the denial list but still counts every denial', async () => {
    const s = await summarizeAuditFiles([dir], {}, { denialLimit: 3 });
    expect(s.denials).toHaveLength(3);
    expect(s.denialsOmitted).toBe(8);
  });

  it('renders a table and the denials, with control characters neutralized', async () => {
    const text = renderSummary(await summarizeAuditFiles([dir]));
    expect(text).toMatch(/^IDENTITY\s+KEY\s+OPERATION\s+OUTCOME\s+COUNT$/m);
    expect(text).toMatch(new RegExp(`^spiffe://keyless/edge/edge-1\\s+${KEY_A.slice(0, 16)}\\s+tls13-certificate-verify\\s+OK\\s+30$`, 'm'));
    expect(text).toMatch(/^Denials and failures: 11$/m);
    expect(text).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z\s+spiffe:\/\/keyless\/edge\/edge-2\s+b2b2b2b2b2b2b2b2\s+NOT_ALLOWED\s+edge-2 may not use this key$/m);

    const { dir: other, cleanup: done } = await tempDir('audit-summary-esc');
    const log = await AuditLog.open({ dir: other });
    await log.append({ ...sampleEntry(3), reason: 'evil\u001b[2J\nsecond line' });
    await log.close();
    await appendFile(path.join(other, 'audit.jsonl'), 'garbage\n');
    const s = await summarizeAuditFiles([other]);
    expect(s.malformed).toBe(1);
    const rendered = renderSummary(s);
    expect(rendered).toContain('evil?[2J?second line');
    expect(rendered).not.toContain('\u001b');
    await done();
  });
});
