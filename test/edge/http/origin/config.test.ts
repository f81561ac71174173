// The `origins:` config section: defaults, every refusal naming its field, paths relative to the
// config file, and the files checked when loaded.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../../../../common/config-file.js';
import { spkiSha256Hex } from '../../../../common/key-id.js';
import { loadOrigins, originsSchema, pinOf } from '../../../../edge/http/origin/index.js';
import { tempDir } from '../../../helpers/tmp.js';
import { makeTestPki, type TestPki } from './origin-fixture.js';

const schema = z.strictObject({ origins: originsSchema });
const file = '/etc/keyless/edge.yaml';

function problems(origins: unknown): string[] {
  try {
    validateConfig(schema, { origins }, file);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

const base = { hostnames: ['www.example.com'], url: 'https://origin.example.com:9443' };

let pki: TestPki;
let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  pki = await makeTestPki();
  ({ dir, cleanup } = await tempDir('origin-config'));
  await mkdir(path.join(dir, 'certs'));
  await writeFile(path.join(dir, 'certs', 'ca.crt'), pki.ca.certPem);
  await writeFile(path.join(dir, 'certs', 'client.crt'), pki.edgeClient.certPem);
  await writeFile(path.join(dir, 'certs', 'client.key'), pki.edgeClient.keyPem, { mode: 0o600 });
  await writeFile(path.join(dir, 'certs', 'other.key'), pki.server.keyPem, { mode: 0o600 });
});
afterAll(async () => cleanup?.());

describe('origins schema', () => {
  it('fills in mode strict and every limit', () => {
    const { origins } = validateConfig(schema, { origins: [base] }, file);
    expect(origins[0]).toMatchObject({
      mode: 'strict',
      pinOnly: false,
      incomingForwarded: 'drop',
      connections: 32,
      maxResponseHeaderBytes: 16_384,
      http2: false,
      maxConcurrentStreams: 100,
      timeouts: { connectMs: 5_000, headersMs: 30_000, bodyMs: 30_000, keepAliveMs: 4_000, upgradeIdleMs: 600_000 },
    });
  });

  it.each([
    ['an http URL', { ...base, url: 'http://origin.example.com' }, "field 'origins[0].url': the origin URL must be https://host:port"],
    ['a URL with a path', { ...base, url: 'https://origin.example.com/app' }, "field 'origins[0].url': the origin URL is https://host:port, without a path or query"],
    ['mode pinned without pins', { ...base, mode: 'pinned' }, "field 'origins[0].pins': mode pinned needs at least one pin"],
    ['a malformed pin', { ...base, mode: 'pinned', pins: ['a'.repeat(64), 'nothex'] }, "field 'origins[0].pins[1]'"],
    ['pins outside mode pinned', { ...base, pins: ['a'.repeat(64)] }, "field 'origins[0].pins': pins are checked only in mode pinned (this origin is strict)"],
    ['mode full with a CA', { ...base, mode: 'full', ca: 'ca.crt' }, "field 'origins[0].ca': mode full does not verify the certificate"],
    ['pinOnly with a CA', { ...base, mode: 'pinned', pinOnly: true, pins: ['a'.repeat(64)], ca: 'ca.crt' }, "field 'origins[0].ca': with pinOnly the pin replaces CA trust"],
    ['a client certificate without its key', { ...base, clientCert: 'c.crt' }, "field 'origins[0].clientKey': clientCert and clientKey go together"],
    ['inline PEM', { ...base, ca: '-----BEGIN CERTIFICATE-----\nMII' }, "field 'origins[0].ca': a path to a PEM file, not PEM text"],
    ['an unknown field', { ...base, sslMode: 'strict' }, "field 'origins[0]': Unrecognized key"],
    ['a zero timeout', { ...base, timeouts: { headersMs: 0 } }, "field 'origins[0].timeouts.headersMs'"],
    ['a hostHeader with a line break', { ...base, hostHeader: 'a\r\nx-injected: 1' }, "field 'origins[0].hostHeader'"],
    ['no hostnames', { ...base, hostnames: [] }, "field 'origins[0].hostnames'"],
    ['http2 that is not a boolean', { ...base, http2: 'yes' }, "field 'origins[0].http2'"],
    ['maxConcurrentStreams of 0', { ...base, http2: true, maxConcurrentStreams: 0 }, "field 'origins[0].maxConcurrentStreams'"],
  ])('refuses %s, naming the field', (_what, entry, expected) => {
    const found = problems([entry]);
    expect(found.some((p) => p.startsWith(expected)), found.join('\n')).toBe(true);
  });

  it('refuses one hostname served by two origins', () => {
    expect(problems([base, { ...base, hostnames: ['other.example.com', 'WWW.example.com'] }])).toEqual([
      "field 'origins[1].hostnames[1]': WWW.example.com is already served by origins[0]",
    ]);
  });

  it('accepts pins in base64, hex and sha256/ spellings', () => {
    const pins = [pinOf(pki.server.certPem), spkiSha256Hex(pki.server.certPem).toUpperCase(), `sha256/${pinOf(pki.ca.certPem)}`];
    expect(problems([{ ...base, mode: 'pinned', pins }])).toEqual([]);
  });
});

describe('loadOrigins', () => {
  const configFile = (): string => path.join(dir, 'edge.yaml');

  it('reads the files relative to the config file', async () => {
    const { origins } = validateConfig(schema, { origins: [{ ...base, ca: 'certs/ca.crt', clientCert: 'certs/client.crt', clientKey: 'certs/client.key' }] }, configFile());
    const [loaded] = await loadOrigins(origins, configFile());
    expect(loaded!.ca).toBe(pki.ca.certPem);
    expect(loaded!.clientCert).toBe(pki.edgeClient.certPem);
    expect(loaded!.clientKey).toBe(pki.edgeClient.keyPem);
  });

  it('names the field of a missing file, a key that does not match, and a site key', async () => {
    const { origins } = validateConfig(
      schema,
      {
        origins: [
          { ...base, ca: 'certs/missing.crt' },
          { ...base, hostnames: ['b.example.com'], clientCert: 'certs/client.crt', clientKey: 'certs/other.key' },
          { ...base, hostnames: ['c.example.com'], ca: 'certs/client.key' },
        ],
      },
      configFile(),
    );
    const err = await loadOrigins(origins, configFile()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      `field 'origins[0].ca': cannot read ${path.join(dir, 'certs', 'missing.crt')}: ENOENT`,
      "field 'origins[1].clientKey': does not match clientCert",
      "field 'origins[2].ca': no PEM certificate in the file",
      "field 'origins[2].ca': a CA bundle must not contain a private key",
    ]);

    const siteKeyId = spkiSha256Hex(pki.edgeClient.certPem);
    const { origins: withSiteKey } = validateConfig(schema, { origins: [{ ...base, clientCert: 'certs/client.crt', clientKey: 'certs/client.key' }] }, configFile());
    const refused = await loadOrigins(withSiteKey, configFile(), { forbiddenKeyIds: new Set([siteKeyId]) }).catch((e: unknown) => e);
    expect((refused as ConfigError).problems).toEqual(["field 'origins[0].clientKey': this is the private key of a site certificate; the edge must never hold site keys"]);
  });
});
