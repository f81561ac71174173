// The demo's key server: `keyless keyserver --config <dir>/keyserver.yaml` in a child process,
// with the configuration keyserver/dev-config.ts writes for a dev PKI (relative paths, so the
// directory can be moved). Its JSON log lines are shown one per line, prefixed with its name.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { devKeyServerConfigYaml } from '../../keyserver/dev-config.js';
import { KeylessProcess } from '../keyless-process.js';
import type { ProcessExit } from '../keyless-process.js';
import type { ComponentReady, DemoComponent } from './component.js';

export interface KeyServerComponentOptions {
  /** The dev PKI directory; keyserver.yaml and audit/ are written into it. */
  readonly dir: string;
  /** "host:port" for gRPC and for /metrics; port 0 picks a free one. */
  readonly listen: string;
  readonly observability: string;
  /** Shows one line of the key server's output. */
  readonly show: (line: string) => void;
}

const PINO_LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
/** Fields every pino line has; the rest are worth showing. */
const PINO_HOUSEKEEPING = new Set(['level', 'time', 'pid', 'hostname', 'service', 'msg']);

/** A pino JSON line as "info key server ready listen=127.0.0.1:2407 ..."; other lines as they are. */
export function formatLogLine(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    const fields = Object.entries(entry)
      .filter(([k]) => !PINO_HOUSEKEEPING.has(k))
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
    return [PINO_LEVELS[entry.level as number] ?? String(entry.level), String(entry.msg ?? ''), ...fields].join(' ');
  } catch {
    return line;
  }
}

export class KeyServerComponent implements DemoComponent {
  readonly name = 'keyserver';
  readonly configFile: string;
  readonly auditDir: string;
  private child: KeylessProcess | undefined;
  private exitedPromise: Promise<ProcessExit> | undefined;
  /** The addresses the key server actually bound (ports chosen when 0 was asked). */
  address = '';
  metricsAddress = '';

  constructor(private readonly options: KeyServerComponentOptions) {
    this.configFile = path.join(options.dir, 'keyserver.yaml');
    this.auditDir = path.join(options.dir, 'audit');
  }

  get exited(): Promise<ProcessExit> {
    if (!this.exitedPromise) throw new Error('the key server was not started');
    return this.exitedPromise;
  }

  async start(): Promise<ComponentReady> {
    // Paths relative to the config file, which sits in the PKI directory.
    await writeFile(this.configFile, devKeyServerConfigYaml({ pkiDir: '.', auditDir: './audit', listen: this.options.listen, observability: this.options.observability }));
    const { process: child, ready } = await KeylessProcess.start({
      args: ['keyserver', '--config', this.configFile],
      readyMessage: 'key server ready',
      onLine: (line) => this.options.show(formatLogLine(line)),
    });
    this.child = child;
    this.exitedPromise = child.exited;
    this.address = String(ready.listen);
    this.metricsAddress = String(ready.observability);
    return {
      lines: [
        `key server   ${this.address}  (gRPC over mutual TLS 1.3; policy: edge-1 every key, edge-2 TLS 1.3 only)`,
        `metrics      http://${this.metricsAddress}/metrics  (/healthz, /readyz)`,
        `config       ${this.configFile}`,
        `audit log    ${path.join(this.auditDir, 'audit.jsonl')}`,
      ],
    };
  }

  async stop(): Promise<ProcessExit> {
    if (!this.child) return { code: 0, signal: null };
    // SIGTERM: the key server finishes running calls, flushes the audit log and exits 0.
    return this.child.stop('SIGTERM');
  }
}
