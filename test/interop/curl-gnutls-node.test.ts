// curl (OpenSSL backend), gnutls-cli (GnuTLS, an independent TLS 1.3 implementation) and Node's
// tls client against the real edge and key server.
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgeAnswer, hasTool, run, startRealStack, type RealStack } from './real-stack.js';

let stack: RealStack;
beforeAll(async () => {
  stack = await startRealStack();
});
afterAll(async () => stack?.stop());

const curl = await hasTool('curl', 'curl interop tests');
const gnutls = await hasTool('gnutls-cli', 'GnuTLS interop tests');

describe.skipIf(!curl)('curl --tlsv1.3', () => {
  it('fetches a page with the chain verified against the dev CA', async () => {
    const result = await run('curl', ['--silent', '--show-error', '--tlsv1.3', '--cacert', stack.caFile, '--resolve', `localhost:${stack.port}:127.0.0.1`, `https://localhost:${stack.port}/curl?x=1`]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const answer = edgeAnswer(result.stdout);
    expect(answer?.path).toBe('/curl?x=1');
    // curl offers h2 and http/1.1; the edge prefers h2 (tls.alpn's default order).
    expect(answer?.tls.alpn).toBe('h2');
  });

  it('--http1.1 offers only http/1.1 and gets it', async () => {
    const result = await run('curl', ['--silent', '--show-error', '--http1.1', '--tlsv1.3', '--cacert', stack.caFile, '--resolve', `localhost:${stack.port}:127.0.0.1`, `https://localhost:${stack.port}/curl11`]);
    expect(result.code).toBe(0);
    expect(edgeAnswer(result.stdout)?.tls.alpn).toBe('http/1.1');
  });

  it('reuses one TLS connection for several requests (keep-alive)', async () => {
    const url = `https://localhost:${stack.port}/`;
    const result = await run('curl', ['--silent', '--tlsv1.3', '--cacert', stack.caFile, '--resolve', `localhost:${stack.port}:127.0.0.1`, url, url, url]);
    const ids = [...result.stdout.matchAll(/"handshakeId":"([0-9a-f]+)"/g)].map((m) => m[1]);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(1);
  });

  it('fails to verify a name the certificate does not carry', async () => {
    const result = await run('curl', ['--silent', '--tlsv1.3', '--cacert', stack.caFile, '--resolve', `other.example:${stack.port}:127.0.0.1`, `https://other.example:${stack.port}/`]);
    expect(result.code).toBe(60);
  });
});

describe.skipIf(!gnutls)('gnutls-cli', () => {
  it('completes a TLS 1.3 handshake, verifies the chain and fetches a page', async () => {
    const result = await run(
      'gnutls-cli',
      ['--x509cafile', stack.caFile, '--priority', 'NORMAL:-VERS-ALL:+VERS-TLS1.3', '-p', String(stack.port), 'localhost'],
      { input: 'GET /gnutls HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', holdStdinMs: 1_500 },
    );
    const output = result.stdout + result.stderr;
    expect(output).toContain('Handshake was completed');
    expect(output).toMatch(/\(TLS1\.3-X\.509\)/);
    expect(edgeAnswer(result.stdout)?.path).toBe('/gnutls');
  });

  it.each(['SECP256R1', 'SECP384R1', 'X25519'])('with group %s only', async (group) => {
    const result = await run(
      'gnutls-cli',
      ['--x509cafile', stack.caFile, '--priority', `NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-${group}`, '-p', String(stack.port), 'localhost'],
      { input: 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', holdStdinMs: 1_500 },
    );
    expect(result.stdout + result.stderr).toContain('Handshake was completed');
    expect(edgeAnswer(result.stdout)).toBeDefined();
  });
});

describe('node tls.connect', () => {
  it('handshakes with TLS 1.3, checks the certificate, sends a request and reads the answer', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: stack.port, servername: 'localhost', ca: stack.ca, minVersion: 'TLSv1.3', ALPNProtocols: ['http/1.1'] }, () => {
        expect(socket.getProtocol()).toBe('TLSv1.3');
        expect(socket.alpnProtocol).toBe('http/1.1');
        socket.end('GET /node HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      });
      let data = '';
      socket.on('data', (d) => (data += d));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
    });
    // The client half-closed (close_notify + FIN) right after its request: the answer still comes.
    expect(edgeAnswer(text)?.path).toBe('/node');
  });

  it('streams a large upload through one connection', async () => {
    const size = 8 * 1024 * 1024;
    const body = Buffer.alloc(size, 0x61);
    const text = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: stack.port, servername: 'localhost', ca: stack.ca }, () => {
        socket.write(`POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`);
        socket.write(body);
      });
      let data = '';
      socket.on('data', (d) => (data += d));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
    });
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).toContain(`"bodyBytes":${size}`);
  });
});
