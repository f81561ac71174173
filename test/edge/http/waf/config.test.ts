import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../common/config-file.js';
import { loadWafConfigFile, parseWafConfig } from '../../../../edge/http/waf/config.js';

function problems(raw: unknown): string[] {
  try {
    parseWafConfig(raw, '/etc/keyless/edge.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('the waf: config section', () => {
  it('has defaults for everything', () => {
    const c = parseWafConfig(undefined, '/etc/keyless/edge.yaml');
    expect(c).toMatchObject({
      enabled: true,
      mode: 'block',
      body: { limit: 1048576, onLimit: 'reject', onParseError: 'block' },
      managed: { crs: 'auto', paranoiaLevel: 1, inboundAnomalyThreshold: 5, outboundAnomalyThreshold: 4 },
      blockResponse: { status: 403 },
    });
  });

  it('resolves paths relative to the config file', () => {
    const c = parseWafConfig({ managed: { crs: 'crs4', setup: 'crs4/crs-setup.conf', before: ['excl/before.conf'], after: ['/abs/after.conf'] } }, '/etc/keyless/edge.yaml');
    expect(c.managed).toMatchObject({ crs: '/etc/keyless/crs4', setup: '/etc/keyless/crs4/crs-setup.conf', before: ['/etc/keyless/excl/before.conf'], after: ['/abs/after.conf'] });
  });

  it('errors name the field, with the line and column of a bad expression', () => {
    expect(problems({ rules: [{ name: 'a', expression: 'http.host eq', action: 'block' }] })).toEqual([
      "field 'waf.rules[0].expression': line 1, column 13: expected a value (\"text\", a number or an IP address), found the end of the expression",
    ]);
    expect(problems({ ipLists: { block: ['10.0.0.0/33'] } })[0]).toMatch(/^field 'waf\.ipLists\.block\[0\]': an IP address or CIDR block/);
    expect(problems({ managed: { paranoiaLevel: 5 } })[0]).toMatch(/^field 'waf\.managed\.paranoiaLevel'/);
    expect(problems({ rateLimits: [{ name: 'r', limit: 1, windowSeconds: 1, key: 'field:http.request.headers' }] })[0]).toMatch(/^field 'waf\.rateLimits\[0\]\.key'/);
    expect(problems({ unknown: 1 })[0]).toMatch(/^field 'waf'/);
  });

  it('checks skip rules: they need skip:, name rules that exist; names are unique', () => {
    expect(problems({ rules: [{ name: 's', expression: 'http.host eq "a"', action: 'skip' }] })[0]).toMatch(/^field 'waf\.rules\[0\]\.skip': action skip needs/);
    expect(problems({ rules: [{ name: 's', expression: 'http.host eq "a"', action: 'skip', skip: { rules: ['ghost'] } }] })[0]).toMatch(/'waf\.rules\[0\]\.skip\.rules\[0\]': no rule or rate limit is named "ghost"/);
    expect(problems({ rules: [{ name: 'x', expression: 'http.host eq "a"', action: 'log' }], rateLimits: [{ name: 'x', limit: 1, windowSeconds: 1 }] })[0]).toMatch(/'waf\.rateLimits\[0\]\.name': "x" is already the name of rules\[0\]/);
    expect(problems({ managed: { paranoiaLevel: 2, executingParanoiaLevel: 1 } })[0]).toMatch(/executingParanoiaLevel': must be at least paranoiaLevel/);
  });

  it('reads the waf: section of an edge config file, or a file that is only that section', async () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'waf-cfg-'));
    writeFileSync(path.join(d, 'edge.yaml'), 'listen: 127.0.0.1:8443\nwaf:\n  mode: detect\n  managed: { crs: ./crs }\n');
    writeFileSync(path.join(d, 'waf.yaml'), 'mode: off\n');
    writeFileSync(path.join(d, 'bad.yaml'), 'waf:\n  mode: [\n');
    expect(await loadWafConfigFile(path.join(d, 'edge.yaml'))).toMatchObject({ mode: 'detect', managed: { crs: path.join(d, 'crs') } });
    expect((await loadWafConfigFile(path.join(d, 'waf.yaml'))).mode).toBe('off');
    await expect(loadWafConfigFile(path.join(d, 'bad.yaml'))).rejects.toThrow(/YAML syntax at line/);
  });
});
