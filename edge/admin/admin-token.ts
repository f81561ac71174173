// The admin API's bearer token: from a file or an environment variable, never the config file.
import { readFile } from 'node:fs/promises';
import type { EdgeConfig } from '../config.js';

export async function readAdminToken(admin: NonNullable<EdgeConfig['admin']>): Promise<string> {
  if (admin.tokenEnv !== undefined) {
    const token = process.env[admin.tokenEnv];
    if (!token) throw new Error(`field 'admin.tokenEnv': the environment variable ${admin.tokenEnv} is not set`);
    return token.trim();
  }
  return (await readFile(admin.tokenFile!, 'utf8')).trim();
}
