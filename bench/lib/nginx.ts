// nginx (Debian's package) as the baseline of the proxy benchmarks: TLS 1.3 with the same site
// certificate and key (nginx holds the key itself), proxy_cache in a temporary directory, and
// verified TLS to the same origin the edge uses. One worker process by default, as the issue's
// reference figures were measured.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { DevPkiLayout } from '../../certs/index.js';
import { stopChild } from './bench-server-process.js';

export interface NginxUnderTest {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** `http2`: also serve HTTP/2 (ALPN h2) on the listener, for the HTTP/2 cells of bench:proxy. */
export async function startNginx(dir: string, pki: DevPkiLayout, originPort: number, workers = 1, options: { http2?: boolean } = {}): Promise<NginxUnderTest> {
  const port = await freePort();
  await mkdir(path.join(dir, 'logs'), { recursive: true });
  await mkdir(path.join(dir, 'cache'), { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  await writeFile(
    conf,
    `worker_processes ${workers};
user root;
error_log ${dir}/logs/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=edge:10m max_size=256m inactive=1h use_temp_path=off;
  upstream origin { server 127.0.0.1:${originPort}; keepalive 64; }
  ${options.http2 ? 'keepalive_requests 100000000;  # h2load does not reconnect after GOAWAY' : ''}
  server {
    listen 127.0.0.1:${port} ssl${options.http2 ? ' http2' : ''};
    server_name localhost;
    ssl_protocols TLSv1.3;
    ssl_certificate ${pki.sites['site-ecdsa-p256'].chain};
    ssl_certificate_key ${pki.sites['site-ecdsa-p256'].key};
    location / {
      proxy_pass https://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_ssl_server_name on;
      proxy_ssl_name localhost;
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate ${pki.edge.ca};
      proxy_ssl_session_reuse on;
      proxy_cache edge;
      # No proxy_cache_lock: nginx holds every concurrent request for a URL behind the lock and
      # polls it every 500 ms, so for a response it may not cache (the pass-through route's
      # no-store) 32 connections on one URL measured 4,000-9,000 req/s with a 1 s p99 and wrk
      # timeouts, against 34,455 req/s without it (2026-12-04). The issue's reference figures
      # (about 50,000 cached, 30,000 pass-through) are nginx without the lock; hits measure the same.
      add_header Cache-Status $upstream_cache_status;
    }
  }
}
`,
  );
  const child: ChildProcess = spawn('nginx', ['-c', conf, '-p', dir, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] });
  // Ready when the port accepts connections.
  for (let i = 0; i < 100; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (open) break;
    if (child.exitCode !== null) throw new Error('nginx exited at start (see its error log)');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    pid: child.pid!,
    // SIGQUIT: nginx's graceful shutdown.
    stop: () => stopChild(child, 'SIGQUIT'),
  };
}
