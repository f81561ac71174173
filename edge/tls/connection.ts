// One TLS 1.3 server connection: the socket below, the record layer and the handshake states
// in the middle, and a plaintext Duplex on top with what HTTP servers read from a socket
// (remoteAddress, remotePort, encrypted, servername, alpnProtocol, setTimeout...). The HTTP
// server receives it with `server.emit('connection', connection)` once 'secure' fires.
//
// Reading is one loop (pump) that takes records off the socket's bytes and hands each to the
// handshake state, or to the reader once the handshake is done. While a state's handler is
// running (the remote signature), the loop does not run: nothing the client sends is processed
// until the server flight is out, and once RECEIVE_PAUSE_BYTES wait unprocessed the socket is
// paused (TCP backpressure) until it is. Every failure goes through fail(), which sends the one
// alert alertFor() picks and closes.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { SigningContext } from '../signer.js';
import { decodeAlert } from './codecs/alert.js';
import { DEFAULT_MAX_HANDSHAKE_MESSAGE, encodeHandshake, HandshakeDeframer, type HandshakeMessage } from './codecs/handshake-framing.js';
import { Transcript } from './crypto/transcript.js';
import { AlertDescription, alertName, ContentType } from './enums.js';
import { alertFor, errorCode, localFailure, TlsError, timedOut, unexpectedMessage } from './errors.js';
import { ExpectClientHello } from './handshake/expect-client-hello.js';
import type { HandshakeIo, HandshakeSettings, NegotiatedParameters } from './handshake/handshake-io.js';
import type { HandshakeState } from './handshake/state.js';
import { Traffic } from './handshake/traffic.js';
import type { TrafficSecret } from './key-schedule.js';
import { checkChangeCipherSpec } from './record/change-cipher-spec.js';
import { RecordDecrypter } from './record/decrypter.js';
import { RecordDeframer } from './record/deframer.js';
import type { PlaintextRecord, TlsRecord } from './record/record.js';
import { RecordWriter } from './record/record-writer.js';
import type { SignatureSlots } from './signature-slots.js';

export interface TlsConnectionLimits {
  /** From the first byte to the client's Finished; a client that is slower is disconnected. */
  readonly handshakeTimeoutMs: number;
  /** Largest handshake message body accepted (RFC 8446 messages can be 2^24 - 1 bytes). */
  readonly maxHandshakeMessageBytes?: number;
  /** Without any traffic for this long, the connection is closed (unless the HTTP server set its own timeout). 0: never. */
  readonly idleTimeoutMs: number;
  /** 0-RTT bytes we skip before giving up (RFC 8446 §4.2.10 "up to the configured max_early_data_size"). */
  readonly maxEarlyDataSkipBytes?: number;
}

export interface TlsConnectionOptions {
  readonly settings: HandshakeSettings;
  readonly limits: TlsConnectionLimits;
  readonly signatureSlots: SignatureSlots;
}

/** RFC 8446 leaves the number of empty application_data records open; like OpenSSL, we stop a flood of them. */
const MAX_CONSECUTIVE_EMPTY_RECORDS = 32;
const DEFAULT_EARLY_DATA_SKIP = 1 << 16;
/**
 * While a state's handler runs (the remote signature, up to its deadline), the socket is still
 * read, so that a client that goes away is noticed and its signature request cancelled, but only
 * until this many received bytes wait unprocessed; then it is paused and TCP backpressure holds
 * the rest in the client's and the kernel's buffers. 64 KiB: more than an honest client sends
 * before our ServerHello in anything but 0-RTT data (a ClientHello is at most 2^16 bytes with the
 * default maxHandshakeMessageBytes, a change_cipher_spec 6), and paused 0-RTT data only waits.
 */
const RECEIVE_PAUSE_BYTES = 1 << 16;
/**
 * Backstop, should bytes arrive after the pause anyway: more unprocessed bytes than this fail the
 * connection. Pausing allows RECEIVE_PAUSE_BYTES plus one socket read (libuv reads at most
 * 64 KiB), i.e. under 2^17; 2^18 (256 KiB) leaves a factor of two and is still a bound that
 * thousands of pending handshakes can afford. RFC 8446 has no alert for "too much to buffer";
 * this is the local resource failure §6.2 describes for internal_error.
 */
const RECEIVE_BUFFER_LIMIT_BYTES = 1 << 18;
/**
 * The abort reason of a connection that went away. A fixed object: abort() without a reason makes
 * a DOMException, whose stack trace costs more than the rest of the abort.
 */
const CONNECTION_CLOSED = Object.freeze({ name: 'AbortError', code: 'TLS_CONNECTION_CLOSED', message: 'the TLS connection closed' });
/** How long a failed connection waits for its alert to leave before the socket is destroyed. */
const ALERT_LINGER_MS = 1_000;
/** Up to this many bytes, a flush is joined into one buffer before it is written. */
const SMALL_FLUSH_BYTES = 16 * 1024;

/** For messages: the record types whose outer type is their real one. */
const OUTER_TYPE_NAMES: Record<number, string> = {
  [ContentType.change_cipher_spec]: 'change_cipher_spec',
  [ContentType.alert]: 'alert',
  [ContentType.handshake]: 'handshake',
  [ContentType.application_data]: 'unprotected application_data',
};

export interface TlsConnectionEvents {
  /** The handshake completed: hand the connection to the HTTP server. */
  secure: [];
  /** The handshake failed (before 'secure'); the connection is already closing. */
  tlsClientError: [error: unknown];
}

export class TlsServerConnection extends Duplex {
  /** What HTTP servers and fastify read off a socket. */
  readonly encrypted = true;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: string | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  /** Random id of this handshake, sent to the key server as the request id: it ties HTTP logs to the audit log. */
  readonly handshakeId = randomBytes(8).toString('hex');
  servername: string | false = false;
  alpnProtocol: string | false = false;
  negotiatedParameters: NegotiatedParameters | undefined;
  /** Milliseconds from the first byte to the verified client Finished. */
  handshakeDurationMs: number | undefined;

  readonly #socket: Socket;
  readonly #options: TlsConnectionOptions;
  readonly #records = new RecordDeframer();
  readonly #handshakeMessages: HandshakeDeframer;
  readonly #writer = new RecordWriter();
  readonly #transcript = new Transcript();
  readonly #abort = new AbortController();
  readonly #io: HandshakeIo;
  #decrypter: RecordDecrypter | null = null;
  #state: HandshakeState = new ExpectClientHello();
  /** A state handler (the server flight) is running: no record is processed meanwhile. */
  #busy = false;
  #secure = false;
  #failed = false;
  #peerClosed = false;
  #closeSent = false;
  #clientHelloSeen = false;
  #changeCipherSpecsDropped = 0;
  #changeCipherSpecSent = false;
  #earlyDataSkip: 'unprotected' | 'undecryptable' | null = null;
  #earlyDataSkipped = 0;
  #emptyRecords = 0;
  #pausedForReader = false;
  /** Paused while a state's handler runs, with RECEIVE_PAUSE_BYTES waiting (see there). */
  #pausedWhileBusy = false;
  /** Whether socket.pause() is in effect: either reason above. */
  #socketPaused = false;
  #startedAt: number | undefined;
  #handshakeTimer: NodeJS.Timeout | undefined;
  #userTimeout = false;

  constructor(socket: Socket, options: TlsConnectionOptions) {
    super({ allowHalfOpen: true });
    this.#socket = socket;
    this.#options = options;
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort;
    this.remoteFamily = socket.remoteFamily;
    this.localAddress = socket.localAddress;
    this.localPort = socket.localPort;
    this.#handshakeMessages = new HandshakeDeframer({ maxMessageSize: options.limits.maxHandshakeMessageBytes ?? DEFAULT_MAX_HANDSHAKE_MESSAGE });
    this.#io = this.#createIo();

    socket.setNoDelay(true);
    socket.on('data', this.#onSocketData);
    socket.on('end', this.#onSocketEnd);
    socket.on('error', this.#onSocketError);
    socket.on('close', this.#onSocketClose);
    socket.on('timeout', this.#onSocketTimeout);
    this.#handshakeTimer = setTimeout(
      () => this.#fail(timedOut(`no complete handshake within ${options.limits.handshakeTimeoutMs} ms`, 'TLS_ERR_HANDSHAKE_TIMEOUT')),
      options.limits.handshakeTimeoutMs,
    );
    this.#handshakeTimer.unref();
  }

  /** True once the client's Finished verified. */
  get secure(): boolean {
    return this.#secure;
  }

  /** Node TLSSocket compatibility: the negotiated protocol. */
  getProtocol(): string | null {
    return this.#secure ? 'TLSv1.3' : null;
  }

  /** Node TLSSocket compatibility: the cipher suite in its IANA and OpenSSL-style names. */
  getCipher(): { name: string; standardName: string; version: string } | undefined {
    const suite = this.negotiatedParameters?.cipherSuite;
    return suite ? { name: suite.name, standardName: suite.name, version: 'TLSv1.3' } : undefined;
  }

  /** RFC 8446 §7.5 / RFC 5705 keying material exporter; available once the handshake completed. */
  exportKeyingMaterial(length: number, label: string, context?: Buffer): Buffer {
    if (!(this.#state instanceof Traffic)) throw new Error('keying material is available after the handshake');
    return this.#state.exporter.export(label, context, length);
  }

  address(): ReturnType<Socket['address']> {
    return this.#socket.address();
  }

  setNoDelay(noDelay?: boolean): this {
    this.#socket.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable?: boolean, initialDelay?: number): this {
    this.#socket.setKeepAlive(enable, initialDelay);
    return this;
  }

  /** Like net.Socket#setTimeout; while set, it replaces the connection's own idle timeout. */
  setTimeout(ms: number, callback?: () => void): this {
    this.#userTimeout = ms > 0;
    this.#socket.setTimeout(ms > 0 ? ms : this.#secure ? this.#options.limits.idleTimeoutMs : 0);
    if (callback) this.once('timeout', callback);
    return this;
  }

  ref(): this {
    this.#socket.ref();
    return this;
  }

  unref(): this {
    this.#socket.unref();
    return this;
  }

  // ---------------------------------------------------------------------------------------
  // Reading: socket bytes → records → handshake states or the readable side.

  #onSocketData = (chunk: Buffer): void => {
    this.#startedAt ??= performance.now();
    if (this.#failed || this.#peerClosed) return;
    this.#records.push(chunk);
    this.#pump();
    if (this.#busy && !this.#failed) this.#boundUnprocessedBytes();
  };

  /** Bytes received while a handler runs are not processed: bound them (RECEIVE_PAUSE_BYTES). */
  #boundUnprocessedBytes(): void {
    const unprocessed = this.#records.bufferedBytes;
    if (unprocessed > RECEIVE_BUFFER_LIMIT_BYTES) {
      this.#fail(localFailure(`more than ${RECEIVE_BUFFER_LIMIT_BYTES} bytes received while the handshake was waiting`, 'TLS_ERR_RECEIVE_BUFFER_FULL'));
    } else if (unprocessed >= RECEIVE_PAUSE_BYTES && !this.#pausedWhileBusy) {
      this.#pausedWhileBusy = true;
      this.#updateSocketFlow();
    }
  }

  /** The socket reads unless the reader is behind or a handler runs with enough bytes waiting. */
  #updateSocketFlow(): void {
    const pause = this.#pausedForReader || this.#pausedWhileBusy;
    if (pause === this.#socketPaused) return;
    this.#socketPaused = pause;
    if (pause) this.#socket.pause();
    else this.#socket.resume();
  }

  #pump(): void {
    try {
      while (!this.#busy && !this.#failed && !this.#peerClosed) {
        if (this.#drainHandshakeMessages()) continue;
        const record = this.#records.next();
        if (!record) break;
        this.#onRecord(record);
      }
      if (this.#state instanceof Traffic && this.#state.owesKeyUpdate) this.#state.updateSendingKey(this.#io, false);
      this.#flushOutput();
    } catch (err) {
      this.#fail(err);
    }
  }

  #onRecord(record: TlsRecord): void {
    // §5.1: "Handshake messages MUST NOT be interleaved with other record types." Checked here
    // for every record whose type is its outer type: change_cipher_spec, a plaintext alert, and
    // 0-RTT data that would be skipped unread. A protected record's type is known once it is
    // decrypted (#onProtectedRecord). When this runs, complete messages have all been handed
    // out (pump drains them first), so hasPartial() means a message in pieces.
    if (record.type !== ContentType.handshake && !(record.type === ContentType.application_data && this.#decrypter) && this.#handshakeMessages.hasPartial()) {
      throw unexpectedMessage(`a ${OUTER_TYPE_NAMES[record.type]} record inside a fragmented handshake message (RFC 8446 §5.1)`);
    }
    switch (record.type) {
      case ContentType.change_cipher_spec:
        // §5: a plaintext CCS between the first ClientHello and the client Finished is dropped,
        // each one ("MUST simply drop it"), up to MAX_DROPPED_CHANGE_CIPHER_SPECS.
        checkChangeCipherSpec(record.fragment, {
          clientHelloReceived: this.#clientHelloSeen,
          clientFinishedReceived: this.#secure,
          changeCipherSpecsDropped: this.#changeCipherSpecsDropped,
        });
        this.#changeCipherSpecsDropped++;
        return;
      case ContentType.alert:
        // A client that failed on our ServerHello may alert before it has keys; afterwards
        // every alert must be protected.
        if (this.#secure) throw unexpectedMessage('plaintext alert after the handshake');
        this.#onAlert(record.fragment);
        return;
      case ContentType.handshake:
        if (this.#decrypter) throw unexpectedMessage('plaintext handshake record after the handshake keys were installed');
        this.#onHandshakeFragment(record.fragment);
        return;
      case ContentType.application_data:
        this.#onProtectedRecord(record);
        return;
    }
  }

  #onProtectedRecord(record: TlsRecord): void {
    const decrypter = this.#decrypter;
    if (!decrypter) {
      if (this.#earlyDataSkip === 'unprotected') return this.#skipEarlyData(record);
      throw unexpectedMessage('application_data record before the handshake keys');
    }
    let plaintext: PlaintextRecord | null;
    if (this.#earlyDataSkip === 'undecryptable') {
      plaintext = decrypter.tryDecrypt(record);
      if (!plaintext) return this.#skipEarlyData(record);
      this.#earlyDataSkip = null;
    } else {
      plaintext = decrypter.decrypt(record);
    }
    if (plaintext.type !== ContentType.handshake && this.#handshakeMessages.hasPartial()) {
      // §5.1: a handshake message in pieces must not be interleaved with other record types.
      throw unexpectedMessage('a protected record of another type inside a fragmented handshake message (RFC 8446 §5.1)');
    }
    switch (plaintext.type) {
      case ContentType.handshake:
        this.#onHandshakeFragment(plaintext.content);
        return;
      case ContentType.alert:
        this.#onAlert(plaintext.content);
        return;
      default:
        this.#onApplicationData(plaintext.content);
    }
  }

  #skipEarlyData(record: TlsRecord): void {
    this.#earlyDataSkipped += record.fragment.length;
    const limit = this.#options.limits.maxEarlyDataSkipBytes ?? DEFAULT_EARLY_DATA_SKIP;
    if (this.#earlyDataSkipped > limit) {
      throw new TlsError('peer-misbehaved', AlertDescription.unexpected_message, `more than ${limit} bytes of rejected 0-RTT data`, 'TLS_ERR_TOO_MUCH_EARLY_DATA');
    }
  }

  #onHandshakeFragment(fragment: Buffer): void {
    this.#handshakeMessages.push(fragment);
    this.#drainHandshakeMessages();
  }

  /** Hands complete handshake messages to the state. Returns true when it handled one. */
  #drainHandshakeMessages(): boolean {
    let handled = false;
    let message: HandshakeMessage | null;
    while (!this.#busy && !this.#failed && (message = this.#handshakeMessages.next())) {
      handled = true;
      if (message.type === 0x01) this.#clientHelloSeen = true;
      const next = this.#state.handle(message, this.#io);
      if (next instanceof Promise) {
        this.#busy = true;
        next.then(
          (state) => {
            this.#busy = false;
            this.#state = state;
            this.#resumeAfterHandler();
            this.#pump();
          },
          (err: unknown) => {
            this.#busy = false;
            this.#fail(err);
          },
        );
        return true;
      }
      this.#state = next;
    }
    return handled;
  }

  /** The handler is done: read again (what waits in the record buffer is pumped first). */
  #resumeAfterHandler(): void {
    if (!this.#pausedWhileBusy) return;
    this.#pausedWhileBusy = false;
    this.#updateSocketFlow();
  }

  #onAlert(payload: Buffer): void {
    const { description } = decodeAlert(payload);
    if (description === AlertDescription.close_notify) {
      this.#onCloseNotify();
      return;
    }
    // §6.1: user_canceled is a warning that a close_notify follows.
    if (description === AlertDescription.user_canceled) return;
    // §6: in TLS 1.3 every other alert is fatal, whatever level it claims.
    throw new TlsError('peer-alert', description as AlertDescription, `the client sent a ${alertName(description)} alert`, `TLS_ERR_PEER_${alertName(description).toUpperCase()}`);
  }

  /** §6.1: the client will send nothing more; data after the alert is ignored. */
  #onCloseNotify(): void {
    if (!this.#secure) {
      throw new TlsError('peer-alert', AlertDescription.close_notify, 'the client closed during the handshake', 'TLS_ERR_PEER_CLOSED_IN_HANDSHAKE');
    }
    this.#peerClosed = true;
    this.push(null);
    if (this.#closeSent) this.#socket.end();
  }

  #onApplicationData(content: Buffer): void {
    if (!this.#state.acceptsApplicationData) throw unexpectedMessage(`application data while waiting for ${this.#state.waitsFor}`);
    if (content.length === 0) {
      if (++this.#emptyRecords > MAX_CONSECUTIVE_EMPTY_RECORDS) {
        throw unexpectedMessage(`more than ${MAX_CONSECUTIVE_EMPTY_RECORDS} empty application_data records in a row`);
      }
      return;
    }
    this.#emptyRecords = 0;
    if (!this.push(content) && !this.#pausedForReader) {
      this.#pausedForReader = true;
      this.#updateSocketFlow();
    }
    if (this.#decrypter?.keyUpdateAdvised && this.#state instanceof Traffic) {
      // The client's key has protected many records: ask it to update (§5.5).
      this.#state.updateSendingKey(this.#io, true);
    }
  }

  override _read(): void {
    if (this.#pausedForReader) {
      this.#pausedForReader = false;
      this.#updateSocketFlow();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Writing: plaintext → records → socket.

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#writeApplicationData([chunk], callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.#writeApplicationData(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  #writeApplicationData(chunks: Buffer[], callback: (error?: Error | null) => void): void {
    if (!this.#secure) {
      // Written before the handshake finished: sent once it has (or failed with it).
      const onSecure = (): void => {
        this.off('close', onClose);
        this.#writeApplicationData(chunks, callback);
      };
      const onClose = (): void => {
        this.off('secure', onSecure);
        callback(new Error('the TLS connection closed before its handshake completed'));
      };
      this.once('secure', onSecure);
      this.once('close', onClose);
      return;
    }
    try {
      const traffic = this.#state instanceof Traffic ? this.#state : undefined;
      if (traffic && (traffic.owesKeyUpdate || this.#writer.encrypter?.keyUpdateAdvised)) traffic.updateSendingKey(this.#io, false);
      this.#writer.queueApplicationData(chunks);
    } catch (err) {
      callback(err as Error);
      this.#fail(err);
      return;
    }
    this.#flushOutput(callback);
  }

  #flushOutput(callback?: (error?: Error | null) => void): void {
    const records = this.#writer.take();
    const socket = this.#socket;
    if (records.length === 0 || socket.destroyed || !socket.writable) {
      if (callback) process.nextTick(callback, records.length > 0 ? new Error('the socket is closed') : null);
      return;
    }
    // Small flushes (a handshake flight, an HTTP response of a few KiB) go out as one buffer: one
    // Writable.write is cheaper than copying nothing and queuing a write per header, ciphertext and tag.
    let total = 0;
    for (const r of records) total += r.length;
    if (total <= SMALL_FLUSH_BYTES && records.length > 1) {
      const joined = Buffer.concat(records, total);
      if (callback) socket.write(joined, callback);
      else socket.write(joined);
      return;
    }
    socket.cork();
    const last = records.length - 1;
    for (let i = 0; i < last; i++) socket.write(records[i]!);
    if (callback) socket.write(records[last]!, callback);
    else socket.write(records[last]!);
    socket.uncork();
  }

  /** Our side is done: close_notify (§6.1), then end the TCP stream. The client may still send. */
  override _final(callback: (error?: Error | null) => void): void {
    if (!this.#closeSent && !this.#failed && this.#secure) {
      this.#closeSent = true;
      this.#writer.queueAlert(AlertDescription.close_notify);
      this.#flushOutput();
    }
    this.#socket.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#handshakeTimer);
    this.#abort.abort(CONNECTION_CLOSED);
    const socket = this.#socket;
    if (this.#failed) {
      // After a failure the socket is closing itself once the alert is out (destroySoon).
    } else if (!error && this.#secure && !this.#closeSent && socket.writable) {
      // Closed without an error (the HTTP server's keep-alive timeout, a server shutdown): say
      // so with close_notify (RFC 8446 §6.1) rather than a bare FIN, then let the socket go.
      this.#closeSent = true;
      try {
        this.#writer.queueAlert(AlertDescription.close_notify);
        this.#flushOutput();
      } catch {
        // The alert could not be sealed: close without it.
      }
      socket.end();
      setTimeout(() => socket.destroy(), ALERT_LINGER_MS).unref();
    } else {
      socket.destroy();
    }
    callback(error);
  }

  // ---------------------------------------------------------------------------------------
  // The socket's own events, and failures.

  #onSocketEnd = (): void => {
    if (this.#failed) return;
    if (!this.#secure) {
      this.#fail(new TlsError('peer-alert', AlertDescription.close_notify, 'the client closed the TCP connection during the handshake', 'TLS_ERR_CLOSED_IN_HANDSHAKE'));
      return;
    }
    // Without close_notify the stream may have been truncated; HTTP framing tells. End the readable side.
    if (!this.#peerClosed) {
      this.#peerClosed = true;
      this.push(null);
    }
    if (this.#closeSent || this.writableFinished) this.#socket.end();
  };

  #onSocketError = (err: Error): void => {
    if (this.#failed) return;
    if (!this.#secure) {
      this.#fail(new TlsError('peer-alert', AlertDescription.close_notify, `socket error during the handshake: ${err.message}`, 'TLS_ERR_SOCKET'));
      return;
    }
    this.destroy(err);
  };

  #onSocketClose = (): void => {
    if (!this.#secure && !this.#failed) {
      this.#fail(new TlsError('peer-alert', AlertDescription.close_notify, 'the connection closed during the handshake', 'TLS_ERR_CLOSED_IN_HANDSHAKE'));
      return;
    }
    this.destroy();
  };

  #onSocketTimeout = (): void => {
    if (this.#userTimeout || this.listenerCount('timeout') > 0) {
      this.emit('timeout');
      return;
    }
    // Our own idle timeout: a graceful close.
    this.end();
    this.#socket.setTimeout(0);
  };

  /** The one way a connection fails: the alert alertFor() picks (if any), then close. */
  #fail(err: unknown): void {
    if (this.#failed || this.destroyed) return;
    this.#failed = true;
    clearTimeout(this.#handshakeTimer);
    const alert = alertFor(err);
    const socket = this.#socket;
    if (alert !== null && !socket.destroyed && socket.writable) {
      try {
        this.#writer.queueAlert(alert);
        this.#closeSent = true;
        this.#flushOutput();
      } catch {
        // The alert could not be sealed (a record limit): close without it.
      }
    }
    this.#abort.abort(CONNECTION_CLOSED);
    socket.destroySoon();
    // A client that does not read its alert must not hold the socket open.
    setTimeout(() => socket.destroy(), ALERT_LINGER_MS).unref();
    if (!this.#secure) {
      this.emit('tlsClientError', err);
      this.destroy();
    } else {
      const error = err instanceof Error ? err : new Error(String(err));
      (error as { code?: string }).code ??= errorCode(err);
      this.destroy(error);
    }
  }

  // ---------------------------------------------------------------------------------------
  // What the handshake states see of the connection.

  #createIo(): HandshakeIo {
    const connection = this;
    const writer = this.#writer;
    return {
      settings: this.#options.settings,
      transcript: this.#transcript,
      signal: this.#abort.signal,
      signingContext(serverName): SigningContext {
        return { sni: serverName ?? '', clientIp: connection.remoteAddress ?? '', requestId: connection.handshakeId };
      },
      sendHandshake(type, body) {
        const message = encodeHandshake(type, body);
        connection.#transcript.add(message);
        writer.queueHandshake(message);
      },
      sendPostHandshake(type, body) {
        writer.queueHandshake(encodeHandshake(type, body));
      },
      sendChangeCipherSpec() {
        if (connection.#changeCipherSpecSent) return;
        connection.#changeCipherSpecSent = true;
        writer.queueChangeCipherSpec();
      },
      flush() {
        connection.#flushOutput();
      },
      installWriteKey(secret: TrafficSecret) {
        writer.installKey(secret);
      },
      installReadKey(secret: TrafficSecret) {
        if (connection.#handshakeMessages.hasPartial()) {
          throw unexpectedMessage('a handshake message spans a key change (RFC 8446 §5.1)');
        }
        if (connection.#decrypter) connection.#decrypter.rekey(secret);
        else connection.#decrypter = new RecordDecrypter(secret);
      },
      setPeerRecordSizeLimit(limit) {
        writer.setPeerRecordSizeLimit(limit);
      },
      skipEarlyData(mode) {
        connection.#earlyDataSkip = mode;
      },
      reserveSignature() {
        return connection.#options.signatureSlots.reserve();
      },
      negotiated(parameters) {
        connection.negotiatedParameters = parameters;
        connection.servername = parameters.serverName ?? false;
        connection.alpnProtocol = parameters.alpnProtocol ?? false;
      },
      handshakeComplete() {
        connection.#onHandshakeComplete();
      },
    };
  }

  #onHandshakeComplete(): void {
    clearTimeout(this.#handshakeTimer);
    this.#secure = true;
    this.#earlyDataSkip = null;
    this.handshakeDurationMs = performance.now() - (this.#startedAt ?? performance.now());
    if (!this.#userTimeout && this.#options.limits.idleTimeoutMs > 0) this.#socket.setTimeout(this.#options.limits.idleTimeoutMs);
    // After the current pump, so that 'secure' listeners see a consistent connection.
    process.nextTick(() => {
      if (!this.destroyed) this.emit('secure');
    });
  }
}
