// The cache: section: defaults, paths relative to the config file, and errors that name the field.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../common/config-file.js';
import { parseCacheConfig } from '../../../../edge/http/cache/config.js';

const file = '/etc/keyless/edge.yaml';

function problems(raw: unknown): readonly string[] {
  try {
    parseCacheConfig(raw, file);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('the cache config', () => {
  it('has a default for everything', () => {
    const c = parseCacheConfig(undefined, file);
    expect(c).toMatchObject({ store: { type: 'memory' }, maxObjectBytes: 16 << 20, maxTotalBytes: 256 << 20, maxEntries: 100_000, statusName: 'keyless', rules: [] });
  });

  it('resolves the disk directory relative to the config file', () => {
    expect(parseCacheConfig({ store: { type: 'disk', dir: 'cache' } }, file).store).toEqual({ type: 'disk', dir: path.resolve('/etc/keyless/cache') });
    expect(parseCacheConfig({ store: { type: 'disk', dir: '/var/cache/keyless' } }, file).store).toEqual({ type: 'disk', dir: '/var/cache/keyless' });
  });

  it('parses rules with their defaults, lower-casing hosts', () => {
    const c = parseCacheConfig({ rules: [{ action: 'bypass' }, { host: '*.Example.COM', pathPrefix: '/s/', action: 'cache', edgeTtl: { seconds: 60 } }] }, file);
    expect(c.rules).toEqual([
      { host: '*', pathPrefix: '/', action: 'bypass' },
      { host: '*.example.com', pathPrefix: '/s/', action: 'cache', edgeTtl: { seconds: 60, mode: 'override' } },
    ]);
  });

  it.each([
    [{ store: { type: 'disk' } }, "field 'store.dir'"],
    [{ store: { type: 'sqlite' } }, "field 'store.type'"],
    [{ maxObjectBytes: 10, maxTotalBytes: 5 }, "field 'maxObjectBytes': must not exceed maxTotalBytes"],
    [{ maxEntries: 0 }, "field 'maxEntries'"],
    [{ rules: [{ action: 'cache', edgeTtl: { seconds: -1 } }] }, "field 'rules[0].edgeTtl.seconds'"],
    [{ rules: [{ action: 'bypass', pathPrefix: 'api' }] }, "field 'rules[0].pathPrefix': a path prefix starts with \"/\""],
    [{ rules: [{ action: 'bypass', host: 'a b' }] }, "field 'rules[0].host'"],
    [{ rules: [{ action: 'purge' }] }, "field 'rules[0].action'"],
    [{ statusName: '1bad' }, "field 'statusName'"],
    [{ surprise: true }, 'surprise'],
  ])('refuses %j naming the field', (raw, expected) => {
    expect(problems(raw).join('\n')).toContain(expected);
  });
});
