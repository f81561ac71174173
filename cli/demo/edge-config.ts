// The demo's edge configuration, written next to the dev PKI (paths relative to it), and the admin
// token it reads: random, 0600, kept across runs.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { devEdgeConfigYaml, devEdgeDemoSections } from '../../edge/dev-config.js';

async function ensureToken(file: string): Promise<void> {
  const existing = await readFile(file, 'utf8').catch(() => '');
  if (existing.trim().length >= 16) return;
  await writeFile(file, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
}

export async function writeDemoEdgeConfig(file: string, pkiDir: string, keyServer: string, originUrl: string, listen: string, adminListen: string): Promise<void> {
  await ensureToken(path.join(pkiDir, 'admin.token'));
  // The config sits in the PKI directory: every path in it is relative to it.
  const extra = devEdgeDemoSections({ originUrl, adminListen, adminTokenFile: 'admin.token' }, '.');
  await writeFile(file, devEdgeConfigYaml({ pkiDir: '.', listen, keyServers: [keyServer], extra }));
}
