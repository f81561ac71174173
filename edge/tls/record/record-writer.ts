// The sending side of a connection's record layer: what is queued is protected with the key in
// force when it was queued, and a key change seals everything queued before it. Handshake
// messages are coalesced into as few records as the fragment limit allows (RFC 8446 §5.1 lets
// them share and span records); application data is packed into full records.
import { AlertLevel, ContentType, MAX_PLAINTEXT } from '../enums.js';
import type { TrafficSecret } from '../key-schedule.js';
import { RecordEncrypter } from './encrypter.js';
import { CHANGE_CIPHER_SPEC_RECORD, encodePlaintextRecords } from './plaintext.js';

export class RecordWriter {
  #encrypter: RecordEncrypter | null = null;
  /** Handshake messages queued under the current key, not yet sealed into records. */
  #pendingHandshake: Buffer[] = [];
  #out: Buffer[] = [];
  /** Content bytes per protected record (RFC 8449 record_size_limit - 1, at most 2^14). */
  #maxFragment = MAX_PLAINTEXT;

  /** Records are protected (a key has been installed). */
  get protected(): boolean {
    return this.#encrypter !== null;
  }

  /** The encrypter of the current key; null before the first key. */
  get encrypter(): RecordEncrypter | null {
    return this.#encrypter;
  }

  /** RFC 8449 §4: TLSInnerPlaintext of at most `limit` bytes, the content type byte included. */
  setPeerRecordSizeLimit(limit: number): void {
    this.#sealHandshake();
    this.#maxFragment = Math.max(1, Math.min(MAX_PLAINTEXT, limit - 1));
  }

  queueHandshake(message: Buffer): void {
    this.#pendingHandshake.push(message);
  }

  queueChangeCipherSpec(): void {
    this.#sealHandshake();
    this.#out.push(CHANGE_CIPHER_SPEC_RECORD);
  }

  /** RFC 8446 §6: close_notify and user_canceled go as warnings, every other alert is fatal. */
  queueAlert(description: number): void {
    this.#sealHandshake();
    const level = description === 0 || description === 90 ? AlertLevel.warning : AlertLevel.fatal;
    const alert = Buffer.from([level, description]);
    if (this.#encrypter) this.#encrypter.encryptTo(ContentType.alert, alert, this.#out);
    else this.#out.push(...encodePlaintextRecords(ContentType.alert, alert));
  }

  /** Packs the chunks into records of at most the fragment limit, in order. */
  queueApplicationData(chunks: readonly Buffer[]): void {
    this.#sealHandshake();
    const encrypter = this.#encrypter;
    if (!encrypter) throw new Error('application data before the traffic keys');
    const max = this.#maxFragment;
    // Small chunks are gathered into one record; a chunk of a full record or more is sealed from
    // the caller's buffer directly. (No closure here: this runs for every write.)
    let pending: Buffer[] = [];
    let pendingLength = 0;
    for (let chunk of chunks) {
      while (chunk.length > 0) {
        if (pendingLength === 0 && chunk.length >= max) {
          encrypter.encryptTo(ContentType.application_data, chunk.subarray(0, max), this.#out);
          chunk = chunk.subarray(max);
          continue;
        }
        const piece = chunk.subarray(0, max - pendingLength);
        pending.push(piece);
        pendingLength += piece.length;
        chunk = chunk.subarray(piece.length);
        if (pendingLength === max) {
          encrypter.encryptTo(ContentType.application_data, pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLength), this.#out);
          pending = [];
          pendingLength = 0;
        }
      }
    }
    if (pendingLength > 0) encrypter.encryptTo(ContentType.application_data, pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLength), this.#out);
  }

  /** Seals what is queued under the old key, then protects everything after with the new one. */
  installKey(secret: TrafficSecret): void {
    this.#sealHandshake();
    if (this.#encrypter) this.#encrypter.rekey(secret);
    else this.#encrypter = new RecordEncrypter(secret);
  }

  /** Every record ready to go, in order; the writer keeps nothing. */
  take(): Buffer[] {
    this.#sealHandshake();
    const out = this.#out;
    this.#out = [];
    return out;
  }

  #sealHandshake(): void {
    if (this.#pendingHandshake.length === 0) return;
    const data = Buffer.concat(this.#pendingHandshake);
    this.#pendingHandshake = [];
    if (!this.#encrypter) {
      this.#out.push(...encodePlaintextRecords(ContentType.handshake, data));
      return;
    }
    for (let offset = 0; offset < data.length; offset += this.#maxFragment) {
      this.#encrypter.encryptTo(ContentType.handshake, data.subarray(offset, offset + this.#maxFragment), this.#out);
    }
  }
}
