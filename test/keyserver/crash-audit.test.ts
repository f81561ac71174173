// A key server killed with SIGKILL in the middle of a run of signatures: every signature any
// client received has its audit line on disk, because a signature is released only after its
// line is durably written. And the checkpoint the killed process left (written to the page cache
// after each batch, synced later: audit.checkpointSyncMs) never names a line that is not there:
// the log reopens on it, and verifies with it.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevPki } from '../../certs/index.js';
import { AuditLog } from '../../keyserver/audit/audit-log.js';
import { readCheckpoint } from '../../keyserver/audit/checkpoint.js';
import { verifyAuditFiles } from '../../keyserver/audit/verify.js';
import { RawKeyServerClient } from '../helpers/raw-keyserver-client.js';
import { parseJsonLines, tempDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('ks-crash')));
afterAll(() => cleanup());

describe('audit durability under SIGKILL', () => {
  it('every signature a client received has an audit line after the key server is killed', async () => {
    const pki = path.join(dir, 'pki');
    await generateDevPki(pki);
    const configFile = path.join(dir, 'keyserver.yaml');
    await writeFile(
      configFile,
      [
        'listen: 127.0.0.1:0',
        'observability: { listen: 127.0.0.1:0 }',
        `tls: { cert: ${pki}/keyserver/server.crt, key: ${pki}/keyserver/server.key, clientCa: ${pki}/keyserver/edge-ca.crt }`,
        `keyStores: [{ type: file, dir: ${pki}/keyserver/keys }]`,
        `audit: { dir: ${dir}/audit }`,
        'policy: { edges: [{ identity: spiffe://keyless/edge/edge-1, keys: ["*"] }] }',
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['bin/keyless.js', 'keyserver', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    const stderr: string[] = [];
    child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
    const address = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout });
      rl.on('line', (line) => {
        try {
          const entry = JSON.parse(line) as { msg?: string; listen?: string };
          if (entry.msg === 'key server ready' && entry.listen) resolve(entry.listen);
        } catch {
          /* not JSON */
        }
      });
      child.once('exit', (code) => reject(new Error(`key server exited with ${code}: ${stderr.join('')}`)));
    });

    const cert = new (await import('node:crypto')).X509Certificate(await readFile(path.join(pki, 'keyserver/keys/site-ecdsa-p256.crt')));
    const keyId = createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
    const client = new RawKeyServerClient({
      address,
      ca: await readFile(path.join(pki, 'edge/ca.crt')),
      cert: await readFile(path.join(pki, 'edge/edge-1/client.crt')),
      key: await readFile(path.join(pki, 'edge/edge-1/client.key')),
    });

    const received = new Set<string>();
    let sent = 0;
    let stop = false;
    // 16 concurrent signers until the server dies.
    const workers = Array.from({ length: 16 }, async (_, w) => {
      while (!stop) {
        const id = `crash-${w}-${sent++}`;
        try {
          const res = await client.sign({
            key_id: keyId,
            scheme: 0x0403,
            request_id: id,
            input: 'tls13_certificate_verify',
            tls13_certificate_verify: { transcript_hash: createHash('sha256').update(id).digest() },
          });
          if (res.error === 'OK' && res.signature.length > 0) received.add(id);
        } catch {
          return; // the server is gone
        }
      }
    });
    // Kill once a few hundred signatures have been received.
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (received.size >= 300) {
          clearInterval(poll);
          resolve();
        }
      }, 5);
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    stop = true;
    await Promise.all(workers);
    client.close();

    const auditDir = path.join(dir, 'audit');
    const files = (await readdir(auditDir)).filter((f) => f.startsWith('audit') && f.includes('jsonl'));
    let text = '';
    for (const f of files.sort()) text += await readFile(path.join(auditDir, f), 'utf8');
    // A line cut by the kill itself may be partial; it cannot be one a client received.
    const lines = text.split('\n').filter((l) => l.endsWith('}'));
    const audited = new Set(parseJsonLines<{ requestId: string; outcome: string }>(lines.join('\n')).filter((r) => r.outcome === 'OK').map((r) => r.requestId));
    expect(received.size).toBeGreaterThanOrEqual(300);
    const missing = [...received].filter((id) => !audited.has(id));
    expect(missing).toEqual([]);

    // The checkpoint followed the acknowledged lines to the end, or nearly: at most the batches
    // written while its last update was on its way are beyond it.
    const checkpoint = await readCheckpoint(path.join(auditDir, 'audit.head'));
    const lastSeq = Math.max(...parseJsonLines<{ seq: number }>(lines.join('\n')).map((l) => l.seq));
    expect(checkpoint!.seq).toBeLessThanOrEqual(lastSeq);
    expect(checkpoint!.seq).toBeGreaterThanOrEqual(received.size / 2);
    const reopened = await AuditLog.open({ dir: auditDir });
    await reopened.close();
    expect(await verifyAuditFiles([auditDir])).toMatchObject({ ok: true, checkpoint: 'matched' });
  });
});
