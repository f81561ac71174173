// Header rewriting as an intermediary (RFC 9110 §7.6), without any network.
import { describe, expect, it } from 'vitest';
import { endToEnd, forwardRequestHeaders, forwardResponseHeaders } from '../../../../edge/http/origin/index.js';
import { edgeRequest } from './origin-fixture.js';

const drop = { via: 'keyless-edge', incomingForwarded: 'drop' } as const;

describe('forwardRequestHeaders', () => {
  it('removes the fields Connection names, case-insensitively and across repeated Connection fields', () => {
    const out = endToEnd({ connection: ['Keep-Alive, X-A', ' x-b '], 'x-a': '1', 'x-b': '2', 'x-c': '3', 'keep-alive': 'timeout=1' }, []);
    expect(out).toEqual({ 'x-c': '3' });
  });

  it('never forwards HTTP/2 pseudo-header fields', () => {
    expect(endToEnd({ ':authority': 'a', 'x-c': '3' }, [])).toEqual({ 'x-c': '3' });
  });

  it('quotes an IPv6 client in Forwarded (RFC 7239 §6) and a host with a port', () => {
    const out = forwardRequestHeaders(edgeRequest({ clientIp: '2001:db8::1', host: 'www.example.test:8443' }), drop);
    expect(out.forwarded).toBe('for="[2001:db8::1]";host="www.example.test:8443";proto=https');
    expect(out['x-forwarded-for']).toBe('2001:db8::1');
  });

  it('writes HTTP/2 as "2" in Via and appends to earlier hops', () => {
    const out = forwardRequestHeaders(edgeRequest({ httpVersion: '2.0', headers: { via: ['1.1 a', '1.1 b'] } }), drop);
    expect(out.via).toBe('1.1 a, 1.1 b, 2 keyless-edge');
  });

  it('keeps repeated end-to-end fields as lists and does not alias the input', () => {
    const headers = { 'accept-language': ['fr', 'en'] };
    const out = forwardRequestHeaders(edgeRequest({ headers }), drop);
    expect(out['accept-language']).toEqual(['fr', 'en']);
    (out['accept-language'] as string[]).push('de');
    expect(headers['accept-language']).toEqual(['fr', 'en']);
  });

  it('drops the client’s X-Forwarded-Host and -Proto even in append mode: the edge knows them', () => {
    const out = forwardRequestHeaders(edgeRequest({ headers: { 'x-forwarded-host': 'evil.test', 'x-forwarded-proto': 'http' } }), { ...drop, incomingForwarded: 'append' });
    expect(out['x-forwarded-host']).toBe('www.example.test');
    expect(out['x-forwarded-proto']).toBe('https');
  });
});

describe('forwardResponseHeaders', () => {
  it('removes hop-by-hop fields and adds the edge to Via', () => {
    const out = forwardResponseHeaders({ 'transfer-encoding': 'chunked', trailer: 'x', upgrade: 'h2c', 'content-type': 'text/html' }, '1.1', 'edge-7');
    expect(out).toEqual({ 'content-type': 'text/html', via: '1.1 edge-7' });
  });
});
