// The edge's TLS 1.3 listener: accepts TCP connections (bounded in number), runs the handshake
// of each (pending remote signatures bounded server-wide), and emits 'secureConnection' with the
// plaintext Duplex for the HTTP server. Settings (certificates, signers) can be replaced at run
// time; connections keep the settings they started with.
import { EventEmitter } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { TlsServerConnection, type TlsConnectionLimits } from './connection.js';
import { errorCode, TlsError } from './errors.js';
import type { HandshakeSettings } from './handshake/handshake-io.js';
import { SignatureSlots } from './signature-slots.js';

export interface TlsServerLimits extends TlsConnectionLimits {
  /** TCP connections open at once; more are refused by the kernel backlog / closed at accept. */
  readonly maxConnections: number;
  /** Remote signatures pending at once, server-wide; beyond it new handshakes get internal_error. */
  readonly maxPendingSignatures: number;
}

export interface TlsServerOptions {
  readonly settings: HandshakeSettings;
  readonly limits: TlsServerLimits;
  readonly metrics?: Registry;
  readonly log?: Logger;
}

interface TlsServerEvents {
  secureConnection: [connection: TlsServerConnection];
  tlsClientError: [error: unknown, connection: TlsServerConnection];
}

/** Handshake failures that are the client going away, not a protocol problem: logged at debug. */
const QUIET_CODES = new Set(['TLS_ERR_CLOSED_IN_HANDSHAKE', 'TLS_ERR_PEER_CLOSED_IN_HANDSHAKE', 'TLS_ERR_SOCKET']);

export class TlsServer extends EventEmitter<TlsServerEvents> {
  /** The first listener (listen() opens more). */
  readonly netServer: net.Server;
  private readonly sockets: net.Server[] = [];
  readonly signatureSlots: SignatureSlots;
  private settings: HandshakeSettings;
  private readonly open = new Set<TlsServerConnection>();
  private readonly metrics: ReturnType<typeof createTlsMetrics>;

  constructor(private readonly options: TlsServerOptions) {
    super();
    this.settings = options.settings;
    this.signatureSlots = new SignatureSlots(options.limits.maxPendingSignatures);
    this.metrics = createTlsMetrics(options.metrics ?? new Registry(), this);
    this.netServer = this.createListener();
  }

  /**
   * A listening socket feeding this server. Half-open: a client may send close_notify and FIN
   * right after its request and still read the answer. maxConnections counts the connections
   * of every listener together.
   */
  private createListener(): net.Server {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => {
      if (this.open.size >= this.options.limits.maxConnections) {
        socket.destroy();
        return;
      }
      this.accept(socket);
    });
    this.sockets.push(server);
    return server;
  }

  /** Connections open now (handshaking or established). */
  get connectionCount(): number {
    return this.open.size;
  }

  /** Tickets issued by the current ticket keeper (the same one across reloads). */
  get ticketsIssued(): number {
    return this.settings.sessionTickets?.issued ?? 0;
  }

  /** New connections use these settings (reloaded certificates, signers); running ones keep theirs. */
  updateSettings(settings: HandshakeSettings): void {
    this.settings = settings;
  }

  /** Listens on one more address: the first call uses netServer, each further call a new listener. */
  listen(port: number, host: string, options: { ipv6Only?: boolean } = {}): Promise<AddressInfo> {
    const server = this.netServer.listening ? this.createListener() : this.netServer;
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen({ port, host, ipv6Only: options.ipv6Only === true }, () => {
        server.off('error', onError);
        resolve(server.address() as AddressInfo);
      });
    });
  }

  /** Runs the handshake on a socket accepted elsewhere (tests, or a custom listener). */
  accept(socket: net.Socket): TlsServerConnection {
    const connection = new TlsServerConnection(socket, {
      settings: this.settings,
      limits: this.options.limits,
      signatureSlots: this.signatureSlots,
    });
    this.open.add(connection);
    connection.once('close', () => this.open.delete(connection));
    connection.once('secure', () => {
      this.metrics.handshakes.inc({ outcome: connection.negotiatedParameters?.resumed ? 'resumed' : 'ok' });
      this.metrics.duration.observe((connection.handshakeDurationMs ?? 0) / 1000);
      this.emit('secureConnection', connection);
    });
    connection.once('tlsClientError', (err) => {
      const code = errorCode(err);
      this.metrics.handshakes.inc({ outcome: code });
      const fields = { code, client: connection.remoteAddress, sni: connection.servername || undefined, handshakeId: connection.handshakeId, reason: err instanceof Error ? err.message : String(err) };
      if (QUIET_CODES.has(code)) this.options.log?.debug(fields, 'TLS handshake ended by the client');
      else if (err instanceof TlsError && err.kind === 'local-failure') this.options.log?.warn(fields, 'TLS handshake failed on our side');
      else this.options.log?.info(fields, 'TLS handshake failed');
      this.emit('tlsClientError', err, connection);
    });
    return connection;
  }

  /** Stops accepting; open connections are ended gracefully (close_notify) and destroyed after `graceMs`. */
  async close(graceMs = 2_000): Promise<void> {
    const closed = Promise.all(this.sockets.map((l) => new Promise<void>((resolve) => (l.listening ? l.close(() => resolve()) : resolve()))));
    for (const connection of this.open) {
      if (connection.secure) connection.end();
      else connection.destroy();
    }
    const timer = setTimeout(() => {
      for (const connection of this.open) connection.destroy();
    }, graceMs);
    timer.unref();
    await closed;
    clearTimeout(timer);
  }
}

function createTlsMetrics(registry: Registry, server: TlsServer) {
  return {
    handshakes: new Counter({
      name: 'keyless_edge_tls_handshakes_total',
      help: 'TLS handshakes by outcome: ok (full handshake), resumed (session ticket, no remote signature), or the stable error code (TLS_ERR_*).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'keyless_edge_tls_handshake_duration_seconds',
      help: 'Time from the first byte of a connection to the verified client Finished.',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    connections: new Gauge({
      name: 'keyless_edge_tls_connections',
      help: 'TLS connections open (handshaking or established).',
      registers: [registry],
      collect() {
        this.set(server.connectionCount);
      },
    }),
    ticketsIssued: new Counter({
      name: 'keyless_edge_tls_session_tickets_issued_total',
      help: 'NewSessionTicket messages sent (RFC 8446 §4.6.1); resumptions are handshakes_total{outcome="resumed"}.',
      registers: [registry],
      collect() {
        // The ticket keeper counts (it outlives reloads); the counter shows its count.
        const issued = server.ticketsIssued;
        this.reset();
        if (issued > 0) this.inc(issued);
      },
    }),
    pending: new Gauge({
      name: 'keyless_edge_tls_pending_signatures',
      help: 'Handshakes waiting for their remote CertificateVerify signature.',
      registers: [registry],
      collect() {
        this.set(server.signatureSlots.pending);
      },
    }),
  };
}
