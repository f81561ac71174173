// The demo's key server: `keyless keyserver --config <dir>/keyserver.yaml` in a child process,
// with the configuration keyserver/dev-config.ts writes for a dev PKI (relative paths, so the
// directory can be moved). Its JSON log lines are shown one per line, prefixed with its name.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { devKeyServerConfigYaml } from '../../keyserver/dev-config.js';
import type { ProcessExit } from '../keyless-process.js';
import type { ComponentReady, DemoComponent } from './component.js';
import { ProcessComponent } from './process-component.js';

export interface KeyServerComponentOptions {
  /** The dev PKI directory; keyserver.yaml and audit/ are written into it. */
  readonly dir: string;
  /** "host:port" for gRPC and for /metrics; port 0 picks a free one. */
  readonly listen: string;
  readonly observability: string;
  /** Shows one line of the key server's output. */
  readonly show: (line: string) => void;
}


export class KeyServerComponent implements DemoComponent {
  readonly name = 'keyserver';
  readonly configFile: string;
  readonly auditDir: string;
  private readonly process: ProcessComponent;
  /** The addresses the key server actually bound (ports chosen when 0 was asked). */
  address = '';
  metricsAddress = '';

  constructor(private readonly options: KeyServerComponentOptions) {
    this.configFile = path.join(options.dir, 'keyserver.yaml');
    this.auditDir = path.join(options.dir, 'audit');
    this.process = new ProcessComponent({
      name: this.name,
      args: ['keyserver', '--config', this.configFile],
      readyMessage: 'key server ready',
      show: options.show,
      // Paths relative to the config file, which sits in the PKI directory.
      prepare: () => writeFile(this.configFile, devKeyServerConfigYaml({ pkiDir: '.', auditDir: './audit', listen: options.listen, observability: options.observability })),
      describe: (ready) => {
        this.address = String(ready.listen);
        this.metricsAddress = String(ready.observability);
        return [
          `key server   ${this.address}  (gRPC over mutual TLS 1.3; policy: edge-1 every key, edge-2 TLS 1.3 only)`,
          `metrics      http://${this.metricsAddress}/metrics  (/healthz, /readyz)`,
          `config       ${this.configFile}`,
          `audit log    ${path.join(this.auditDir, 'audit.jsonl')}`,
        ];
      },
    });
  }

  get exited(): Promise<ProcessExit> {
    return this.process.exited;
  }

  start(): Promise<ComponentReady> {
    return this.process.start();
  }

  /** SIGTERM: the key server finishes running calls, flushes the audit log and exits 0. */
  stop(): Promise<ProcessExit> {
    return this.process.stop();
  }
}
