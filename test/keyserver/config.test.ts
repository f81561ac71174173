import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/config-file.js';
import { loadKeyServerConfig } from '../../keyserver/config.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('ks-config')));
afterAll(() => cleanup());

const good = `
listen: 127.0.0.1:2407
tls: { cert: server.crt, key: server.key, clientCa: edge-ca.crt }
keyStores:
  - type: file
    dir: keys
audit: { dir: audit }
policy:
  edges:
    - identity: spiffe://keyless/edge/edge-1
      keys: ['*']
`;

async function load(text: string): Promise<unknown> {
  const file = path.join(dir, `c${Math.random()}.yaml`);
  await writeFile(file, text);
  return loadKeyServerConfig(file);
}

async function problems(text: string): Promise<string> {
  try {
    await load(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('CONFIG_INVALID');
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('key server config', () => {
  it('loads a good file, fills defaults, resolves paths from the file', async () => {
    const config = (await load(good)) as Awaited<ReturnType<typeof loadKeyServerConfig>>;
    expect(config.tls.cert).toBe(path.join(dir, 'server.crt'));
    expect(config.keyStores[0]).toMatchObject({ type: 'file', dir: path.join(dir, 'keys'), maxInFlight: 256 });
    expect(config.policy.edges[0]!.operations).toEqual(['tls13-certificate-verify', 'tls12-server-key-exchange']);
    expect(config.limits.defaultDeadlineMs).toBe(2000);
    expect(config.audit).toMatchObject({ maxBatchDelayMs: 0, checkpointBeforeReply: false, checkpointSyncMs: 100 });
  });

  it('takes audit.checkpointBeforeReply as a boolean only', async () => {
    const strict = (await load(good.replace('audit: { dir: audit }', 'audit: { dir: audit, checkpointBeforeReply: true }'))) as Awaited<ReturnType<typeof loadKeyServerConfig>>;
    expect(strict.audit.checkpointBeforeReply).toBe(true);
    expect(await problems(good.replace('audit: { dir: audit }', 'audit: { dir: audit, checkpointBeforeReply: sometimes }'))).toContain("field 'audit.checkpointBeforeReply'");
  });

  it('takes keyStores[].inlineBudgetMs from 0 to 100 ms, default 1', async () => {
    const config = (await load(good)) as Awaited<ReturnType<typeof loadKeyServerConfig>>;
    expect(config.keyStores[0]).toMatchObject({ inlineBudgetMs: 1 });
    const off = (await load(good.replace('    dir: keys', '    dir: keys\n    inlineBudgetMs: 0'))) as Awaited<ReturnType<typeof loadKeyServerConfig>>;
    expect(off.keyStores[0]).toMatchObject({ inlineBudgetMs: 0 });
    for (const bad of ['-1', '101', 'lots']) {
      expect(await problems(good.replace('    dir: keys', `    dir: keys\n    inlineBudgetMs: ${bad}`))).toContain("field 'keyStores[0].inlineBudgetMs'");
    }
  });

  it('takes audit.checkpointSyncMs as whole milliseconds from 0 to 60000', async () => {
    const durable = (await load(good.replace('audit: { dir: audit }', 'audit: { dir: audit, checkpointSyncMs: 0 }'))) as Awaited<ReturnType<typeof loadKeyServerConfig>>;
    expect(durable.audit.checkpointSyncMs).toBe(0);
    for (const bad of ['-1', '60001', '2.5', 'soon']) {
      expect(await problems(good.replace('audit: { dir: audit }', `audit: { dir: audit, checkpointSyncMs: ${bad} }`))).toContain("field 'audit.checkpointSyncMs'");
    }
  });

  it('names the bad field', async () => {
    expect(await problems(good.replace('127.0.0.1:2407', 'nowhere'))).toContain("field 'listen'");
    expect(await problems(good.replace("keys: ['*']", 'keys: [{ id: xyz }]'))).toContain("field 'policy.edges[0].keys[0]");
    expect(await problems(good.replace('type: file', 'type: tape'))).toContain("field 'keyStores[0].type'");
    expect(await problems(good + 'extra: 1\n')).toContain('extra');
    expect(await problems(good.replace('audit: { dir: audit }', ''))).toContain("field 'audit'");
  });

  it('has no field for a PKCS#11 PIN written inline', async () => {
    const pkcs11 = good.replace('  - type: file\n    dir: keys', '  - type: pkcs11\n    module: /usr/lib/softhsm/libsofthsm2.so\n    tokenLabel: t\n    pin: "1234"');
    expect(await problems(pkcs11)).toContain('pin');
  });

  it('reports YAML syntax errors with a line', async () => {
    expect(await problems('listen: [\n')).toMatch(/line \d+/);
  });

  it('reports a missing file clearly', async () => {
    await expect(loadKeyServerConfig(path.join(dir, 'absent.yaml'))).rejects.toThrow(/cannot read the file: ENOENT/);
  });
});
