// Session resumption in the server handshake (RFC 8446 §2.2, §4.2.11, §4.6.1), against the
// scriptable client: what real clients never send (a wrong binder, psk_ke only, a ticket for
// another suite's hash) and what they cannot show (no signature asked, the ticket's contents).
import { describe, expect, it } from 'vitest';
import type { Signer } from '../../../../edge/signer.js';
import { AlertDescription, CipherSuite, ContentType, NamedGroup, PskKeyExchangeMode } from '../../../../edge/tls/enums.js';
import { SessionTickets } from '../../../../edge/tls/resumption/session-tickets.js';
import { TicketKeys } from '../../../../edge/tls/resumption/ticket-keys.js';
import { TestTlsClient, type ClientTicket } from '../../../helpers/tls13-test-client.js';
import { startTlsServerFixture, useTlsServerSuite, type TlsServerFixture } from '../../../helpers/tls-server-fixture.js';

const suite = useTlsServerSuite('resumption');

/** Signers that count their signatures. */
function counting(signers: Map<string, Signer>): { signers: Map<string, Signer>; count: () => number } {
  let n = 0;
  const wrapped = new Map<string, Signer>();
  for (const [id, s] of signers) {
    wrapped.set(id, { ...s, sign: (...args: Parameters<Signer['sign']>) => (n++, s.sign(...args)) } as Signer);
  }
  return { signers: wrapped, count: () => n };
}

async function withTickets(signers = suite.signers): Promise<TlsServerFixture> {
  const tickets = new SessionTickets(TicketKeys.random({ rotationSeconds: 3600, lifetimeSeconds: 7200 }), 7200);
  const fixture = await startTlsServerFixture({ pki: suite.pki, signers, settings: { sessionTickets: tickets } });
  suite.onCleanup(() => fixture.close());
  return fixture;
}

async function fullHandshakeTicket(port: number, options: { cipherSuites?: number[]; serverName?: string } = {}): Promise<ClientTicket> {
  const c = await suite.client(port);
  const result = await c.handshakeWith({ serverName: options.serverName ?? 'localhost', ...(options.cipherSuites ? { cipherSuites: options.cipherSuites } : {}) });
  expect(result.resumed).toBe(false);
  const ticket = await c.readTicket();
  c.close();
  return ticket;
}

async function roundTrip(c: TestTlsClient): Promise<string> {
  c.sendProtected(ContentType.application_data, Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
  for (;;) {
    const event = await c.next();
    if (event.kind === 'data') return event.content.toString();
    if (event.kind !== 'handshake') throw new Error(`expected data, got ${JSON.stringify(event)}`);
  }
}

describe('session tickets', () => {
  it('without tickets configured no NewSessionTicket is sent and a PSK offer gets a full handshake', async () => {
    const c = await suite.client();
    await c.handshakeWith({ serverName: 'localhost' });
    // The next record is the answer to our request, not a ticket.
    expect(await roundTrip(c)).toMatch(/^HTTP\/1\.1 200/);
    const fixture = await withTickets();
    const ticket = await fullHandshakeTicket(fixture.port);
    const again = await suite.client();
    expect((await again.handshakeWith({ serverName: 'localhost', resume: { ticket } })).resumed).toBe(false);
  });

  it('a ticket resumes: no Certificate, no signature, a fresh ticket, and HTTP works', async () => {
    const count = counting(suite.signers);
    const fixture = await withTickets(count.signers);
    const ticket = await fullHandshakeTicket(fixture.port);
    expect(ticket.lifetime).toBe(7200);
    expect(count.count()).toBe(1);
    const c = await suite.client(fixture.port);
    const result = await c.handshakeWith({ serverName: 'localhost', resume: { ticket } });
    expect(result.resumed).toBe(true);
    expect(result.certificate).toBeUndefined();
    expect(result.serverHello.extensions).toContainEqual({ name: 'pre_shared_key', selectedIdentity: 0 });
    const fresh = await c.readTicket();
    expect(fresh.ticket.equals(ticket.ticket)).toBe(false);
    expect(await roundTrip(c)).toMatch(/"resumed":true/);
    expect(count.count()).toBe(1);
    expect(fixture.secured.at(-1)?.negotiatedParameters).toMatchObject({ resumed: true, certificate: 'site-ecdsa-p256' });
  });

  it('a wrong binder aborts with decrypt_error (§4.2.11)', async () => {
    const fixture = await withTickets();
    const ticket = await fullHandshakeTicket(fixture.port);
    const c = await suite.client(fixture.port);
    // The client reads the alert where it expects the ServerHello.
    await expect(c.handshakeWith({ serverName: 'localhost', resume: { ticket, corruptBinder: true } })).rejects.toThrow(`"description":${AlertDescription.decrypt_error}`);
    expect(fixture.failures.at(-1)?.error).toMatchObject({ code: 'TLS_ERR_BAD_PSK_BINDER' });
  });

  it('psk_ke alone (no ECDHE) is not resumed: full handshake', async () => {
    const fixture = await withTickets();
    const ticket = await fullHandshakeTicket(fixture.port);
    const c = await suite.client(fixture.port);
    const result = await c.handshakeWith({ serverName: 'localhost', resume: { ticket, pskModes: [PskKeyExchangeMode.psk_ke] } });
    expect(result.resumed).toBe(false);
    expect(result.certificate).toBeDefined();
  });

  it('a ticket from a SHA-384 suite does not resume a SHA-256 one (§4.2.11), but does another SHA-384 one', async () => {
    const fixture = await withTickets();
    const ticket = await fullHandshakeTicket(fixture.port, { cipherSuites: [CipherSuite.TLS_AES_256_GCM_SHA384] });
    const c = await suite.client(fixture.port);
    // The binder is computed with the ticket's hash, so a server that resumed here would fail it.
    expect((await c.handshakeWith({ serverName: 'localhost', cipherSuites: [CipherSuite.TLS_AES_128_GCM_SHA256], resume: { ticket } })).resumed).toBe(false);
    const same = await suite.client(fixture.port);
    expect((await same.handshakeWith({ serverName: 'localhost', cipherSuites: [CipherSuite.TLS_AES_256_GCM_SHA384], resume: { ticket } })).resumed).toBe(true);
  });

  it('a ticket for one name does not resume another, even on the same certificate', async () => {
    const fixture = await withTickets();
    const ticket = await fullHandshakeTicket(fixture.port, { serverName: 'localhost' });
    const c = await suite.client(fixture.port);
    expect((await c.handshakeWith({ serverName: 'www.demo.localhost', resume: { ticket } })).resumed).toBe(false);
  });

  it('a ticket from another server (other keys) gets a full handshake', async () => {
    const one = await withTickets();
    const other = await withTickets();
    const ticket = await fullHandshakeTicket(one.port);
    const c = await suite.client(other.port);
    expect((await c.handshakeWith({ serverName: 'localhost', resume: { ticket } })).resumed).toBe(false);
  });

  it('resumption after a HelloRetryRequest: the binder covers the retried hello', async () => {
    const fixture = await withTickets();
    const ticket = await fullHandshakeTicket(fixture.port);
    const c = await suite.client(fixture.port);
    // No key share at all, and secp521r1 (which the server does not take) listed first: a HelloRetryRequest for X25519.
    const result = await c.handshakeWith({ serverName: 'localhost', groups: [0x0019, NamedGroup.x25519], shareGroups: [], resume: { ticket } });
    expect(result.helloRetryRequest).toBeDefined();
    expect(result.resumed).toBe(true);
  });
});
