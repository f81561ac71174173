// The edge end to end with real key servers over loopback mTLS: handshakes signed remotely and
// audited, a key server that goes away (fast internal_error, then recovery), and failover
// between two key servers without losing a handshake (the cut made with signatures in flight),
// and an edge started while no key server is reachable.
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEdgeFixture, type EdgeFixture } from '../helpers/edge-fixture.js';
import { startKeyServerFixture, type KeyServerFixture } from '../helpers/keyserver-fixture.js';
import { startRealStack, type RealStack } from '../interop/real-stack.js';

interface Answer {
  readonly status: number;
  readonly json: { tls: { handshakeId: string; certificate: string; cipher: string } };
}

/** One TLS 1.3 connection with Node's client, one GET. Rejects with the TLS error on failure. */
function get(port: number, ca: Buffer, options: tls.ConnectionOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca, minVersion: 'TLSv1.3', ...options }, () => {
      socket.write('GET /e2e HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (data += d));
    socket.on('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1]);
      const body = data.slice(data.indexOf('\r\n\r\n') + 4);
      try {
        resolve({ status, json: JSON.parse(body) as Answer['json'] });
      } catch {
        reject(new Error(`not JSON: ${data.slice(0, 200)}`));
      }
    });
    socket.on('error', reject);
  });
}

describe('the edge with one key server', () => {
  let stack: RealStack;
  let keyServer: KeyServerFixture;
  let edge: EdgeFixture;
  let ca: Buffer;

  beforeAll(async () => {
    stack = await startRealStack();
    ({ keyServer, edge, ca } = stack);
  });
  afterAll(async () => stack?.stop());

  it('completes a handshake whose signature the key server made and audited', async () => {
    const answer = await get(edge.port, ca);
    expect(answer.status).toBe(200);
    const lines = await keyServer.auditLines();
    // The key server's request id is the edge's handshake id and an attempt number.
    const line = lines.find((l) => l.requestId?.startsWith(`${answer.json.tls.handshakeId}/`));
    expect(line).toMatchObject({ decision: 'allowed', outcome: 'OK', operation: 'tls13-certificate-verify', sni: 'localhost', clientIp: '127.0.0.1' });
    expect(line?.identity?.sans).toContain('URI:spiffe://keyless/edge/edge-1');
  });

  it('serves the RSA chain to a client that cannot verify ECDSA', async () => {
    const answer = await get(edge.port, ca, { sigalgs: 'rsa_pss_rsae_sha256' });
    expect(answer.json.tls.certificate).toBe('site-rsa-2048');
  });

  it('fails fast with internal_error while the key server is down, keeps running, and recovers when it is back', async () => {
    await keyServer.stopServer();
    const started = performance.now();
    const error = await get(edge.port, ca).then(
      () => null,
      (err: Error) => err,
    );
    const elapsed = performance.now() - started;
    expect(error?.message).toMatch(/internal error|alert number 80/i);
    expect(elapsed).toBeLessThan(3_000);
    await keyServer.start();
    // The channel reconnects with a short backoff; handshakes succeed again within a few seconds.
    let answer: Answer | null = null;
    for (let i = 0; i < 50 && !answer; i++) {
      answer = await get(edge.port, ca).catch(() => null);
      if (!answer) await new Promise((r) => setTimeout(r, 200));
    }
    expect(answer?.status).toBe(200);
  });
});

describe('the edge with two key servers', () => {
  let first: KeyServerFixture;
  let second: KeyServerFixture;
  let edge: EdgeFixture;
  let ca: Buffer;

  beforeAll(async () => {
    first = await startKeyServerFixture();
    second = await startKeyServerFixture({ pki: first.pki });
    edge = await startEdgeFixture({ pki: first.pki, keyServers: [first.address, second.address] });
    ca = await readFile(first.pki.edge.ca);
  });
  afterAll(async () => {
    await edge?.close();
    await second?.stop();
    await first?.stop();
  });

  it('loses no handshake when one key server stops in the middle of a run, handshakes in flight', async () => {
    // Eight clients handshake back to back; the first key server is stopped (not awaited by the
    // clients) once a third of the run is done, so signatures are on the wire when it goes.
    const total = 160;
    let started = 0;
    let done = 0;
    let cut: Promise<void> | undefined;
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (started < total) {
          started++;
          const ok = await get(edge.port, ca).then(
            (a) => (a.status === 200 ? null : `status ${a.status}`),
            (err: Error) => err.message,
          );
          if (ok !== null) failures.push(ok);
          done++;
          if (cut === undefined && done >= total / 3) cut = first.stopServer();
        }
      }),
    );
    await cut;
    expect(failures).toEqual([]);
    // Both served some: the run really failed over.
    const [a, b] = await Promise.all([first.auditLines(), second.auditLines()]);
    expect(a.filter((l) => l.outcome === 'OK').length).toBeGreaterThan(0);
    expect(b.filter((l) => l.outcome === 'OK').length).toBeGreaterThan(0);
  });
});

describe('an edge whose key servers were never reachable', () => {
  let keyServer: KeyServerFixture;
  let edge: EdgeFixture;
  let ca: Buffer;

  beforeAll(async () => {
    // A PKI and a key server address, but the key server is not running when the edge starts.
    keyServer = await startKeyServerFixture();
    await keyServer.stopServer();
    edge = await startEdgeFixture({ pki: keyServer.pki, keyServers: [keyServer.address] });
    ca = await readFile(keyServer.pki.edge.ca);
  });
  afterAll(async () => {
    await edge?.close();
    await keyServer?.stop();
  });

  it('starts, answers handshakes quickly with internal_error, and serves once a key server appears', async () => {
    const startedAt = performance.now();
    const error = await get(edge.port, ca).then(
      () => null,
      (err: Error) => err,
    );
    expect(error?.message).toMatch(/internal error|alert number 80/i);
    expect(performance.now() - startedAt).toBeLessThan(3_000);
    await keyServer.start();
    let answer: Answer | null = null;
    for (let i = 0; i < 75 && !answer; i++) {
      answer = await get(edge.port, ca).catch(() => null);
      if (!answer) await new Promise((r) => setTimeout(r, 200));
    }
    expect(answer?.status).toBe(200);
  });
});

describe('reload', () => {
  let stack: RealStack;
  let keyServer: KeyServerFixture;
  let edge: EdgeFixture;
  let ca: Buffer;

  beforeAll(async () => {
    stack = await startRealStack();
    ({ keyServer, edge, ca } = stack);
  });
  afterAll(async () => stack?.stop());

  it('swaps in new certificate chains for new connections, keeping open ones', async () => {
    const { writeFile } = await import('node:fs/promises');
    const open = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: edge.port, servername: 'localhost', ca }, () => resolve(s));
      s.on('error', reject);
    });
    const original = await readFile(edge.configFile, 'utf8');
    // Serve only the RSA chain from now on.
    await writeFile(edge.configFile, original.replace(/    - \{ name: site-ecdsa.*\n/g, '').replace('default: site-ecdsa-p256', 'default: site-rsa-2048'));
    expect(await edge.edge.reload()).toEqual({ applied: true });
    expect((await get(edge.port, ca)).json.tls.certificate).toBe('site-rsa-2048');
    // The connection opened before the reload still works.
    const reply = await new Promise<string>((resolve) => {
      let data = '';
      open.on('data', (d) => (data += d));
      open.on('end', () => resolve(data));
      open.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    expect(reply).toContain('"certificate":"site-ecdsa-p256"');
  });

  it('rejects a bad configuration and keeps serving with the old one', async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(edge.configFile, 'listen: [not, a, string]\n');
    const result = await edge.edge.reload();
    expect(result.applied).toBe(false);
    expect(result.reason).toMatch(/listen/);
    expect((await get(edge.port, ca)).status).toBe(200);
  });
});

describe('an edge on several listen addresses', () => {
  let stack: RealStack;
  let edge: EdgeFixture;

  beforeAll(async () => {
    stack = await startRealStack();
    edge = await startEdgeFixture({ pki: stack.keyServer.pki, keyServers: [stack.keyServer.address], replace: [[/^listen: .*$/m, 'listen: [127.0.0.1:0, "[::1]:0", 127.0.0.2:0]']] });
  });
  afterAll(async () => {
    await edge?.close();
    await stack?.stop();
  });

  it('serves the same edge on every address (IPv4 and IPv6)', async () => {
    expect(edge.edge.listening).toHaveLength(3);
    expect(edge.edge.listening[1]).toMatch(/^\[::1\]:\d+$/);
    for (const address of edge.edge.listening) {
      const host = address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, '');
      const port = Number(address.slice(address.lastIndexOf(':') + 1));
      const answer = await new Promise<Answer>((resolve, reject) => {
        const socket = tls.connect({ host, port, servername: 'localhost', ca: stack.ca, minVersion: 'TLSv1.3' }, () => socket.write('GET /e2e HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'));
        let data = '';
        socket.setEncoding('utf8');
        socket.on('data', (d: string) => (data += d));
        socket.on('end', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1]), json: JSON.parse(data.slice(data.indexOf('\r\n\r\n') + 4)) as Answer['json'] }));
        socket.on('error', reject);
      });
      expect(answer.status, address).toBe(200);
    }
  });

  it('listens on 0.0.0.0 and [::] with the same port (the IPv6 listener is IPv6 only beside the other)', async () => {
    const net = await import('node:net');
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as { port: number }).port;
        probe.close(() => resolve(p));
      });
    });
    const both = await startEdgeFixture({ pki: stack.keyServer.pki, keyServers: [stack.keyServer.address], replace: [[/^listen: .*$/m, `listen: [0.0.0.0:${port}, "[::]:${port}"]`]] });
    try {
      expect(both.edge.listening).toEqual([`0.0.0.0:${port}`, `[::]:${port}`]);
      for (const host of ['127.0.0.1', '::1']) {
        const ok = await new Promise<boolean>((resolve) => {
          const socket = tls.connect({ host, port, servername: 'localhost', ca: stack.ca, minVersion: 'TLSv1.3' }, () => {
            socket.end();
            resolve(true);
          });
          socket.on('error', () => resolve(false));
        });
        expect(ok, host).toBe(true);
      }
    } finally {
      await both.close();
    }
  });

  it('refuses the same address twice, naming the field', async () => {
    const { edgeConfigSchema } = await import('../../edge/config.js');
    const result = edgeConfigSchema.shape.listen.safeParse(['127.0.0.1:8443', '127.0.0.1:8443']);
    expect(result.success).toBe(false);
  });
});
