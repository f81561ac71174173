import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Transcript } from '../../../../edge/tls/crypto/transcript.js';
import { TlsError } from '../../../../edge/tls/errors.js';
import { rfc8448 as v } from '../vectors/rfc8448.js';

const sha = (algorithm: string, ...parts: Buffer[]) => createHash(algorithm).update(Buffer.concat(parts)).digest();

describe('Transcript', () => {
  it('buffers messages until the hash is chosen, then hashes them in order', () => {
    const transcript = new Transcript();
    expect(transcript.algorithm).toBeNull();
    transcript.add(v.clientHello);
    transcript.selectHash('sha256');
    transcript.add(v.serverHello);
    expect(transcript.currentHash()).toEqual(v.helloHash);
  });

  it('keeps accumulating after currentHash()', () => {
    const transcript = new Transcript();
    transcript.selectHash('sha384');
    transcript.add(v.clientHello);
    expect(transcript.currentHash()).toEqual(sha('sha384', v.clientHello));
    transcript.add(v.serverHello);
    expect(transcript.currentHash()).toEqual(sha('sha384', v.clientHello, v.serverHello));
  });

  it('copies buffered messages: later changes to the caller buffer do not leak in', () => {
    const transcript = new Transcript();
    const message = Buffer.from(v.clientHello);
    transcript.add(message);
    message.fill(0);
    transcript.selectHash('sha256');
    expect(transcript.currentHash()).toEqual(sha('sha256', v.clientHello));
  });

  it('replaces ClientHello1 with message_hash after a HelloRetryRequest (RFC 8446 §4.4.1)', () => {
    const clientHello1 = Buffer.from(v.clientHello);
    const helloRetryRequest = Buffer.from('0200000603030000', 'hex');
    const clientHello2 = Buffer.from('010000040303abcd', 'hex');
    for (const algorithm of ['sha256', 'sha384'] as const) {
      const transcript = new Transcript();
      transcript.add(clientHello1);
      transcript.selectHash(algorithm);
      transcript.replaceClientHelloWithMessageHash();
      transcript.add(helloRetryRequest);
      transcript.add(clientHello2);
      const inner = sha(algorithm, clientHello1);
      const synthetic = Buffer.concat([Buffer.from([0xfe, 0x00, 0x00, inner.length]), inner]);
      expect(transcript.currentHash()).toEqual(sha(algorithm, synthetic, helloRetryRequest, clientHello2));
    }
  });

  it('refuses misuse with TlsError internal_error', () => {
    const unchosen = new Transcript();
    unchosen.add(v.clientHello);
    expect(() => unchosen.currentHash()).toThrow(TlsError);
    expect(() => unchosen.replaceClientHelloWithMessageHash()).toThrow(TlsError);

    const transcript = new Transcript();
    transcript.selectHash('sha256');
    transcript.selectHash('sha256');
    expect(() => transcript.selectHash('sha384')).toThrow(expect.objectContaining({ alert: 80 }));
    transcript.add(v.clientHello);
    transcript.add(v.serverHello);
    expect(() => transcript.replaceClientHelloWithMessageHash()).toThrow(TlsError);
  });
});
