// The edge configuration, and the keyless invariant it enforces: no field can hold a site
// private key, a chain file that holds one is refused, and the edge's own client key cannot be a
// site key.
import { execFile } from 'node:child_process';
import { chmod, copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevPki, type DevPkiLayout } from '../../certs/index.js';
import { ConfigError } from '../../common/config-file.js';
import { edgeConfigSchema, loadEdgeConfig } from '../../edge/config.js';
import { checkClientCredential, loadServedChains } from '../../edge/served-chains.js';
import { loadSessionTickets } from '../../edge/session-ticket-keys.js';
import { writeEdgeConfig } from '../helpers/edge-fixture.js';
import { tempDir } from '../helpers/tmp.js';

let pki: DevPkiLayout;
let dir: string;
let cleanup: () => Promise<void>;
const noSign = { sign: () => Promise.reject(new Error('not used')) };

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('edge-config'));
  pki = await generateDevPki(path.join(dir, 'pki'));
});
afterAll(async () => cleanup?.());

async function configWith(mutate: (doc: Record<string, unknown>) => void, name = 'edge.yaml'): Promise<string> {
  const base = await writeEdgeConfig(dir, { pki, keyServers: ['127.0.0.1:2407'] });
  const doc = parse(await readFile(base, 'utf8')) as Record<string, unknown>;
  mutate(doc);
  const file = path.join(dir, name);
  await writeFile(file, stringify(doc));
  return file;
}

async function problems(file: string): Promise<string[]> {
  try {
    await loadEdgeConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

/** Every property path of the schema, e.g. "keyServers.clientKey", "tls.certificates[].chain". */
function schemaPaths(schema: unknown, prefix = ''): string[] {
  const node = schema as { type?: string; properties?: Record<string, unknown>; items?: unknown; anyOf?: unknown[]; oneOf?: unknown[] };
  const out: string[] = [];
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const p = prefix ? `${prefix}.${name}` : name;
    out.push(p, ...schemaPaths(child, p));
  }
  if (node.items) out.push(...schemaPaths(node.items, `${prefix}[]`));
  for (const alt of [...(node.anyOf ?? []), ...(node.oneOf ?? [])]) out.push(...schemaPaths(alt, prefix));
  return out;
}

describe('the keyless invariant', () => {
  it('the only key-shaped fields are the edge’s own client keys (toward the key servers and for origin pulls), the ticket key and the rate-limit key', () => {
    const paths = schemaPaths(z.toJSONSchema(edgeConfigSchema, { io: 'input' }));
    expect(paths.length).toBeGreaterThan(20);
    expect([...new Set(paths.filter((p) => /(?<!per)key$|keyfile$|pem|secret|pkcs|private|password|pin$/i.test(p.split('.').pop()!)))]).toEqual([
      'tls.sessionTickets.keyFile',
      'keyServers.clientKey',
      'origins[].clientKey',
      'waf.rateLimits[].key',
    ]);
  });

  it('the session-ticket key file cannot hold a site private key', async () => {
    const file = path.join(dir, 'tickets-from-site.key');
    await copyFile(pki.sites['site-ecdsa-p256'].key, file);
    await chmod(file, 0o600);
    await expect(loadSessionTickets({ enabled: true, lifetimeSeconds: 60, rotationSeconds: 60, keyFile: file })).rejects.toMatchObject({ code: 'EDGE_TICKET_KEY_INVALID' });
  });

  it('the rate-limit "key" is what requests are counted by, and cannot hold key material', async () => {
    for (const value of [pki.sites['site-ecdsa-p256'].key, '-----BEGIN PRIVATE KEY-----']) {
      const file = await configWith((doc) => {
        doc.waf = { rateLimits: [{ name: 'r', key: value, limit: 1, windowSeconds: 1 }] };
      }, 'waf-key.yaml');
      expect((await problems(file)).join('\n')).toMatch(/field 'waf\.rateLimits\[0\]\.key'/);
    }
  });

  it('refuses any unknown field, such as a key beside a certificate', async () => {
    const file = await configWith((doc) => {
      (doc.tls as { certificates: Record<string, unknown>[] }).certificates[0]!.key = pki.sites['site-ecdsa-p256'].key;
    });
    expect((await problems(file)).join('\n')).toMatch(/field 'tls\.certificates\[0\]'.*key/);
    const top = await configWith((doc) => {
      doc.privateKey = 'x';
    }, 'top.yaml');
    expect((await problems(top)).join('\n')).toMatch(/privateKey/);
  });

  it('refuses PEM text in place of a path', async () => {
    const file = await configWith((doc) => {
      (doc.keyServers as Record<string, unknown>).clientKey = '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n';
    });
    expect(await problems(file)).toEqual(["field 'keyServers.clientKey': a path to a PEM file, not PEM text"]);
  });

  it('refuses a chain file that holds a private key', async () => {
    const chain = path.join(dir, 'chain-with-key.pem');
    await writeFile(chain, (await readFile(pki.sites['site-ecdsa-p256'].chain, 'utf8')) + (await readFile(pki.sites['site-ecdsa-p256'].key, 'utf8')));
    const file = await configWith((doc) => {
      (doc.tls as { certificates: Record<string, unknown>[] }).certificates[0]!.chain = chain;
    });
    const config = await loadEdgeConfig(file);
    await expect(loadServedChains(config, noSign)).rejects.toMatchObject({ code: 'EDGE_CHAIN_INVALID', message: expect.stringMatching(/tls\.certificates\[0\]\.chain.*PRIVATE KEY/) });
  });

  it('refuses a site key given as the edge’s client key', async () => {
    // A "client certificate" that is really the site certificate, with the site key beside it.
    const cert = path.join(dir, 'site-as-client.crt');
    const key = path.join(dir, 'site-as-client.key');
    await copyFile(pki.sites['site-ecdsa-p256'].cert, cert);
    await copyFile(pki.sites['site-ecdsa-p256'].key, key);
    const file = await configWith((doc) => {
      Object.assign(doc.keyServers as Record<string, unknown>, { clientCert: cert, clientKey: key });
    });
    const config = await loadEdgeConfig(file);
    const chains = await loadServedChains(config, noSign);
    await expect(checkClientCredential(config, chains)).rejects.toMatchObject({ code: 'EDGE_SITE_KEY_AS_CLIENT_KEY' });
  });

  it('the dev edge directory holds no site private key', async () => {
    const { readdir } = await import('node:fs/promises');
    const files = await readdir(path.join(pki.dir, 'edge'), { recursive: true, withFileTypes: true });
    for (const f of files.filter((e) => e.isFile())) {
      const text = await readFile(path.join(f.parentPath, f.name), 'utf8');
      if (/PRIVATE KEY/.test(text)) expect(f.name).toBe('client.key');
    }
  });
});

describe('validation', () => {
  it('names the field of each problem', async () => {
    const file = await configWith((doc) => {
      doc.listen = 'nowhere';
      (doc.limits as unknown) = { handshakeTimeoutMs: -1 };
      (doc.tls as Record<string, unknown>).cipherSuites = ['TLS_RSA_WITH_RC4_128_SHA'];
    });
    const found = (await problems(file)).join('\n');
    expect(found).toContain("field 'listen'");
    expect(found).toContain("field 'limits.handshakeTimeoutMs'");
    expect(found).toContain("field 'tls.cipherSuites[0]'");
  });

  it('names the field of HTTP settings that contradict each other or the protocols served', async () => {
    const file = await configWith((doc) => {
      doc.http = { headersTimeoutMs: 30_000, requestTimeoutMs: 10_000, maxConcurrentStreams: 0 };
      (doc.tls as Record<string, unknown>).alpn = ['h2', 'h2', 'spdy/3'];
    });
    const found = (await problems(file)).join('\n');
    expect(found).toContain("field 'http.headersTimeoutMs'");
    expect(found).toContain("field 'http.maxConcurrentStreams'");
    expect(found).toContain("field 'tls.alpn[2]'");
  });

  it('resolves paths relative to the config file and fills the limits with numbers', async () => {
    const config = await loadEdgeConfig(await writeEdgeConfig(dir, { pki, keyServers: ['127.0.0.1:2407'] }));
    expect(path.isAbsolute(config.keyServers.ca)).toBe(true);
    expect(config.limits).toEqual({ handshakeTimeoutMs: 10_000, maxHandshakeMessageBytes: 65_536, maxPendingSignatures: 4_096, maxConnections: 20_000, idleTimeoutMs: 120_000 });
  });

  it('keyless edge --check lists what would be served', async () => {
    const file = await writeEdgeConfig(dir, { pki, keyServers: ['127.0.0.1:2407'] });
    const { stdout } = await promisify(execFile)('node', ['bin/keyless.js', 'edge', '--config', file, '--check'], { cwd: path.resolve(import.meta.dirname, '../..') });
    expect(stdout).toContain(`site-ecdsa-p256  key ${pki.sites['site-ecdsa-p256'].keyId}`);
    expect(stdout).toContain('is valid');
  });
});

describe('reload: what needs a restart', () => {
  it('names every setting a running edge cannot change, the cache ones by name, and not the cache rules', async () => {
    const { settingsNeedingRestart } = await import('../../edge/edge.js');
    const running = await loadEdgeConfig(await configWith((doc) => void (doc.cache = { store: { type: 'memory' } }), 'running.yaml'));
    expect(settingsNeedingRestart(running, running)).toEqual([]);
    const rulesOnly = await loadEdgeConfig(await configWith((doc) => void (doc.cache = { store: { type: 'memory' }, rules: [{ name: 'x', host: 'localhost', pathPrefix: '/x', action: 'bypass' }] }), 'rules.yaml'));
    expect(settingsNeedingRestart(running, rulesOnly)).toEqual([]);
    const changed = await loadEdgeConfig(
      await configWith((doc) => {
        doc.listen = '127.0.0.1:9443';
        doc.http = { maxHeaderBytes: 4096 };
        doc.log = { level: 'debug' };
        doc.cache = { store: { type: 'memory' }, maxObjectBytes: 1024 };
        (doc.tls as Record<string, unknown>).sessionTickets = { lifetimeSeconds: 600 };
      }, 'changed.yaml'),
    );
    expect(settingsNeedingRestart(running, changed)).toEqual(['listen', 'http', 'log', 'tls.sessionTickets', 'cache.maxObjectBytes']);
  });
});
