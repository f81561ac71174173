// What the decrypted-connection server decides before the pipeline: whether a request has a body.
import type http from 'node:http';
import { describe, expect, it } from 'vitest';
import { hasRequestBody } from '../../../edge/http/edge-http.js';

const withHeaders = (headers: http.IncomingHttpHeaders): http.IncomingMessage => ({ headers }) as http.IncomingMessage;

describe('hasRequestBody (RFC 9112 §6.3)', () => {
  it('is true with Transfer-Encoding or a non-zero Content-Length, whatever the method', () => {
    expect(hasRequestBody(withHeaders({ 'transfer-encoding': 'chunked' }))).toBe(true);
    expect(hasRequestBody(withHeaders({ 'content-length': '5' }))).toBe(true);
  });

  it('is false without either, or with Content-Length: 0', () => {
    expect(hasRequestBody(withHeaders({}))).toBe(false);
    expect(hasRequestBody(withHeaders({ 'content-length': '0' }))).toBe(false);
    expect(hasRequestBody(withHeaders({ 'content-length': '00' }))).toBe(false);
  });
});
