// Session resumption (RFC 8446 §2.2, §4.6.1) with real clients against the real edge and key
// server: Node's TLS client, OpenSSL's s_client (-sess_out / -sess_in) and gnutls-cli --resume
// each get a ticket on a full handshake and resume with it; the resumed handshake asks the key
// server for nothing (its audit log is unchanged), and still works while the key server is down,
// when a full handshake cannot.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgeAnswer, hasTool, run, startRealStack, type RealStack } from './real-stack.js';

const haveOpenssl = await hasTool('openssl', 'OpenSSL resumption tests');
const haveGnutls = await hasTool('gnutls-cli', 'GnuTLS resumption test');
const REQUEST = 'GET /resume HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';

interface NodeResult {
  readonly reused: boolean;
  readonly session: Buffer | undefined;
  readonly answer: ReturnType<typeof edgeAnswer>;
}

/** One request over Node's TLS client; resumes `session` when given, and returns the ticket it got. */
function nodeRequest(stack: RealStack, options: { session?: Buffer; servername?: string } = {}): Promise<NodeResult> {
  return new Promise((resolve, reject) => {
    let session: Buffer | undefined;
    let reused = false;
    let body = '';
    const socket = tls.connect({
      host: '127.0.0.1',
      port: stack.port,
      servername: options.servername ?? 'localhost',
      ca: stack.ca,
      minVersion: 'TLSv1.3',
      ...(options.session ? { session: options.session } : {}),
    });
    socket.on('session', (s: Buffer) => (session = s));
    socket.once('secureConnect', () => {
      reused = socket.isSessionReused();
      socket.end(REQUEST.replace('localhost', options.servername ?? 'localhost'));
    });
    socket.setEncoding('utf8').on('data', (d: string) => (body += d));
    socket.once('error', reject);
    socket.once('close', () => resolve({ reused, session, answer: edgeAnswer(body) }));
  });
}

describe('session resumption', () => {
  let stack: RealStack;
  let tmp: string;
  beforeAll(async () => {
    stack = await startRealStack();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'keyless-resume-'));
  });
  afterAll(async () => {
    await stack?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  it('Node: a full handshake gives a ticket; the next connection resumes without a remote signature', async () => {
    const first = await nodeRequest(stack);
    expect(first.reused).toBe(false);
    expect(first.answer?.tls.resumed).toBe(false);
    expect(first.session).toBeDefined();
    const signaturesBefore = (await stack.keyServer.auditLines()).length;
    const second = await nodeRequest(stack, { session: first.session! });
    expect(second.reused).toBe(true);
    expect(second.answer?.tls).toMatchObject({ resumed: true, certificate: first.answer?.tls.certificate, servername: 'localhost' });
    expect((await stack.keyServer.auditLines()).length).toBe(signaturesBefore);
    // A resumed handshake gets a fresh ticket, which resumes too.
    expect(second.session).toBeDefined();
    expect((await nodeRequest(stack, { session: second.session! })).reused).toBe(true);
    const metrics = await stack.edge.edge.registry.getSingleMetricAsString('keyless_edge_tls_handshakes_total');
    expect(metrics).toMatch(/outcome="resumed"\} [2-9]/);
    // One ticket per handshake, resumed ones included: at least the three made here.
    const tickets = await stack.edge.edge.registry.getSingleMetricAsString('keyless_edge_tls_session_tickets_issued_total');
    expect(Number(/^keyless_edge_tls_session_tickets_issued_total (\d+)$/m.exec(tickets)?.[1])).toBeGreaterThanOrEqual(3);
  });

  it('a reload keeps the ticket keys: a ticket from before it resumes after it', async () => {
    const first = await nodeRequest(stack);
    expect(await stack.edge.edge.reload()).toMatchObject({ applied: true });
    expect((await nodeRequest(stack, { session: first.session! })).reused).toBe(true);
  });

  it('a ticket resumes only for the server_name it was issued for', async () => {
    const first = await nodeRequest(stack, { servername: 'localhost' });
    const other = await nodeRequest(stack, { session: first.session!, servername: 'www.demo.localhost' });
    expect(other.reused).toBe(false);
    expect(other.answer?.tls.resumed).toBe(false);
  });

  it.skipIf(!haveOpenssl)('openssl s_client -sess_out, then -sess_in resumes', async () => {
    const file = path.join(tmp, 'openssl.session');
    const base = ['s_client', '-connect', `127.0.0.1:${stack.port}`, '-servername', 'localhost', '-tls1_3', '-CAfile', stack.caFile, '-verify_return_error', '-ign_eof'];
    const first = await run('openssl', [...base, '-sess_out', file], { input: REQUEST });
    expect(first.stdout).toMatch(/^New, TLSv1\.3/m);
    const signaturesBefore = (await stack.keyServer.auditLines()).length;
    const second = await run('openssl', [...base, '-sess_in', file], { input: REQUEST });
    expect(second.stdout).toMatch(/^Reused, TLSv1\.3/m);
    expect(edgeAnswer(second.stdout)?.tls.resumed).toBe(true);
    expect((await stack.keyServer.auditLines()).length).toBe(signaturesBefore);
  });

  it.skipIf(!haveOpenssl)('openssl: resumption after a HelloRetryRequest (binders over the retried hello)', async () => {
    const file = path.join(tmp, 'openssl-hrr.session');
    const base = ['s_client', '-connect', `127.0.0.1:${stack.port}`, '-servername', 'localhost', '-tls1_3', '-CAfile', stack.caFile, '-verify_return_error', '-ign_eof'];
    await run('openssl', [...base, '-sess_out', file], { input: REQUEST });
    // P-521 first: the edge does not take it, asks for X25519, and the second hello carries new binders.
    const second = await run('openssl', [...base, '-groups', 'P-521:X25519', '-sess_in', file], { input: REQUEST });
    expect(second.stdout).toMatch(/^Reused, TLSv1\.3/m);
    expect(edgeAnswer(second.stdout)?.tls).toMatchObject({ resumed: true, helloRetried: true });
  });

  it.skipIf(!haveGnutls)('gnutls-cli --resume', async () => {
    const result = await run(
      'gnutls-cli',
      ['--resume', '--x509cafile', stack.caFile, '--priority', 'NORMAL:-VERS-ALL:+VERS-TLS1.3', '-p', String(stack.port), '--sni-hostname', 'localhost', '--verify-hostname', 'localhost', '127.0.0.1'],
      { input: REQUEST, holdStdinMs: 1_500 },
    );
    expect(result.stdout + result.stderr).toMatch(/This is a resumed session/);
  });

  // Last: the edge's key-server client needs a health check to trust the restarted server again.
  it('resumes while the key server is down, where a full handshake fails cleanly', async () => {
    const first = await nodeRequest(stack);
    await stack.keyServer.stopServer();
    try {
      const resumed = await nodeRequest(stack, { session: first.session! });
      expect(resumed.reused).toBe(true);
      expect(resumed.answer?.path).toBe('/resume');
      await expect(nodeRequest(stack)).rejects.toThrow(/alert|internal error|socket hang up|ECONNRESET/i);
    } finally {
      await stack.keyServer.start();
    }
  });
});
