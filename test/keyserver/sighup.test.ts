// SIGHUP sent to a real `keyless keyserver --config FILE` process: a policy change in the file is
// applied (and seen over gRPC on existing and new connections), a broken file is rejected and the
// previous policy keeps serving, and SIGTERM still stops the process cleanly afterwards.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevPki } from '../../certs/index.js';
import type { DevEdgeName, DevPkiLayout } from '../../certs/index.js';
import { RawKeyServerClient } from '../helpers/raw-keyserver-client.js';
import { tempDir } from '../helpers/tmp.js';
import { KeyServerProcess } from './support/keyserver-process.js';

let dir: string;
let cleanup: () => Promise<void>;
let pki: DevPkiLayout;
let configFile: string;
let ks: KeyServerProcess | undefined;
let port: number;

function configText(edge2Keys: string): string {
  return [
    'listen: 127.0.0.1:0',
    'observability: { listen: 127.0.0.1:0 }',
    `tls: { cert: ${pki.keyServer.cert}, key: ${pki.keyServer.key}, clientCa: ${pki.keyServer.edgeCa} }`,
    `keyStores: [{ type: file, dir: ${pki.keyServer.keysDir}, signingThreads: 1 }]`,
    `audit: { dir: ${dir}/audit }`,
    'log: { level: info }',
    'policy:',
    '  edges:',
    '    - { identity: spiffe://keyless/edge/edge-1, keys: ["*"] }',
    `    - { identity: spiffe://keyless/edge/edge-2, keys: ${edge2Keys} }`,
  ].join('\n');
}

async function client(edge: DevEdgeName): Promise<RawKeyServerClient> {
  const { readFile } = await import('node:fs/promises');
  return new RawKeyServerClient({
    address: `127.0.0.1:${port}`,
    ca: await readFile(pki.edge.ca),
    cert: await readFile(pki.edge.clients[edge].cert),
    key: await readFile(pki.edge.clients[edge].key),
  });
}

const signP256 = (id: string) => ({
  key_id: pki.sites['site-ecdsa-p256'].keyId,
  scheme: 0x0403,
  request_id: id,
  input: 'tls13_certificate_verify' as const,
  tls13_certificate_verify: { transcript_hash: createHash('sha256').update(id).digest() },
});

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('ks-sighup'));
  pki = await generateDevPki(path.join(dir, 'pki'));
  configFile = path.join(dir, 'keyserver.yaml');
  // edge-2 may use only the P-384 key at first.
  await writeFile(configFile, configText(`[{ id: ${pki.sites['site-ecdsa-p384'].keyId} }]`));
  ({ process: ks, port } = await KeyServerProcess.start(configFile));
});

afterAll(async () => {
  await ks?.stop();
  await cleanup?.();
});

describe('SIGHUP to a running key server process', () => {
  it('applies a new policy from the file, then rejects a broken file and keeps the policy it has; SIGTERM exits 0', async () => {
    const server = ks!;
    const edge2 = await client('edge-2');
    try {
      const refused = await edge2.sign(signP256('hup-before'));
      expect(refused.error).toBe('NOT_ALLOWED');

      // Grant edge-2 every key, and tell the process.
      await writeFile(configFile, configText('["*"]'));
      let mark = server.lines.length;
      server.signal('SIGHUP');
      await server.waitForLog((l) => l.msg === 'configuration reloaded', 20_000, mark);
      expect(server.lines.slice(mark).some((l) => l.msg === 'SIGHUP: reloading configuration')).toBe(true);

      // The same connection sees the new decision, and so does a new one.
      const granted = await edge2.sign(signP256('hup-after'));
      expect(granted.error, granted.message).toBe('OK');
      expect(granted.signature.length).toBeGreaterThan(0);
      const fresh = await client('edge-2');
      expect((await fresh.sign(signP256('hup-after-new-conn'))).error).toBe('OK');
      fresh.close();

      // A broken file: rejected, logged, and the policy just applied keeps serving.
      await writeFile(configFile, 'policy: { edges: [ { identity: spiffe://keyless/edge/edge-2, keys: [{ id: not-a-key-id }] } ]');
      mark = server.lines.length;
      server.signal('SIGHUP');
      const rejected = await server.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('configuration reload rejected'), 20_000, mark);
      expect(rejected.level).toBe(50); // pino "error"
      expect((await edge2.sign(signP256('hup-after-broken'))).error).toBe('OK');
      const edge1 = await client('edge-1');
      expect((await edge1.sign(signP256('hup-edge1-after-broken'))).error).toBe('OK');
      edge1.close();
      // The process is still the same one, still running.
      expect(server.lines.filter((l) => l.msg === 'key server ready')).toHaveLength(1);
    } finally {
      edge2.close();
    }

    const exit = await server.stop();
    ks = undefined;
    expect(exit).toEqual({ code: 0, signal: null });
  });
});
