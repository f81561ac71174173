// The lazily made "client went away" signal of one request.
import { describe, expect, it } from 'vitest';
import { ClientGone, clientSignalOf } from '../../../edge/http/client-signal.js';

describe('ClientGone', () => {
  it('reports aborted without making a signal, and a signal made after abort() is already aborted', () => {
    const gone = new ClientGone();
    expect(gone.aborted).toBe(false);
    gone.abort();
    expect(gone.aborted).toBe(true);
    expect(gone.signal.aborted).toBe(true);
  });

  it('fires a signal made before abort(), once', () => {
    const gone = new ClientGone();
    const signal = gone.signal;
    expect(gone.signal).toBe(signal);
    let fired = 0;
    signal.addEventListener('abort', () => fired++);
    gone.abort();
    gone.abort();
    expect(fired).toBe(1);
    expect(signal.aborted).toBe(true);
  });
});

describe('clientSignalOf', () => {
  it('follows the AbortSignal it wraps', () => {
    const controller = new AbortController();
    const client = clientSignalOf(controller.signal);
    expect(client.aborted).toBe(false);
    controller.abort();
    expect(client.aborted).toBe(true);
    expect(client.signal).toBe(controller.signal);
  });
});
