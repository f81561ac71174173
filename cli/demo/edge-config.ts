// The demo's edge configuration, written next to the dev PKI (paths relative to it), and the admin
// token it reads: random, 0600, kept across runs.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { devEdgeConfigYaml, devEdgeDemoSections } from '../../edge/dev-config.js';

/** The OWASP CRS when it is installed (Debian's modsecurity-crs), one custom rule and one rate limit, as examples. */
const DEMO_WAF = `waf:
  mode: block
  managed: { crs: auto, paranoiaLevel: 1 }   # the OWASP CRS when installed; the edge says at start-up which rule set is active, or why none is
  rules:
    - name: no-wp-admin
      description: an example custom rule (nobody runs WordPress here)
      expression: http.request.uri.path starts_with "/wp-admin" or http.request.uri.path eq "/xmlrpc.php"
      action: block
  rateLimits:
    - name: api-per-ip
      description: an example rate limit on the JSON API
      expression: http.request.uri.path starts_with "/api/"
      key: ip
      limit: 60
      windowSeconds: 60
`;

async function ensureToken(file: string): Promise<void> {
  const existing = await readFile(file, 'utf8').catch(() => '');
  if (existing.trim().length >= 16) return;
  await writeFile(file, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
}

export async function writeDemoEdgeConfig(file: string, pkiDir: string, keyServer: string, originUrl: string, listen: string, adminListen: string): Promise<void> {
  await ensureToken(path.join(pkiDir, 'admin.token'));
  // The config sits in the PKI directory: every path in it is relative to it.
  const extra = devEdgeDemoSections({ originUrl, adminListen, adminTokenFile: 'admin.token', waf: DEMO_WAF }, '.');
  await writeFile(file, devEdgeConfigYaml({ pkiDir: '.', listen, keyServers: [keyServer], extra }));
}
