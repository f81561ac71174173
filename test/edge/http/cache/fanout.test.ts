// The tee of a miss: every reader gets every byte, backpressure is honoured, a failing source
// reaches every reader as an error and is never committed, and the store survives its clients.
import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BodyFanout } from '../../../../edge/http/cache/fanout.js';

async function collect(r: Readable): Promise<string> {
  let s = '';
  for await (const c of r) s += String(c);
  return s;
}

function sink(): Writable & { data: string; committed: boolean } {
  const w = new Writable({
    write(chunk: Buffer, _e, cb) {
      w.data += chunk.toString();
      cb();
    },
    final(cb) {
      w.committed = true;
      cb();
    },
  }) as Writable & { data: string; committed: boolean };
  w.data = '';
  w.committed = false;
  return w;
}

describe('BodyFanout', () => {
  it('gives every branch and the sink the whole body', async () => {
    const f = new BodyFanout(Readable.from(['a', 'b', 'c'].map((s) => Buffer.from(s))), { maxStoredBytes: 100, expectedLength: 3 });
    const [x, y] = [f.branch(), f.branch()];
    const s = sink();
    f.store(s);
    const [result, tx, ty] = await Promise.all([f.run(), collect(x), collect(y)]);
    expect(result).toEqual({ complete: true, bytes: 3, stored: true });
    expect([tx, ty, s.data]).toEqual(['abc', 'abc', 'abc']);
  });

  it('a body shorter than Content-Length errors the branches and is not committed', async () => {
    const f = new BodyFanout(Readable.from([Buffer.from('ab')]), { maxStoredBytes: 100, expectedLength: 5 });
    const b = f.branch();
    const s = sink();
    f.store(s);
    const [result, text] = await Promise.all([f.run(), collect(b).catch((e: { code: string }) => e.code)]);
    expect(result.complete).toBe(false);
    expect(text).toBe('CACHE_ERR_INCOMPLETE_BODY');
    expect(s.committed).toBe(false);
  });

  it('drops the sink past maxStoredBytes and keeps streaming to the branches', async () => {
    const dropped: string[] = [];
    const f = new BodyFanout(Readable.from(['12345', '67890'].map((s) => Buffer.from(s))), { maxStoredBytes: 7, expectedLength: undefined, onSinkDropped: (e) => dropped.push((e as { code?: string }).code ?? '') });
    const b = f.branch();
    f.store(sink());
    const [result, text] = await Promise.all([f.run(), collect(b)]);
    expect(result).toEqual({ complete: true, bytes: 10, stored: false });
    expect(text).toBe('1234567890');
    expect(dropped).toEqual(['CACHE_ERR_TOO_LARGE']);
  });

  it('keeps filling the store after every client left; stops the origin when nobody reads or stores', async () => {
    const source = new PassThrough();
    const f = new BodyFanout(source, { maxStoredBytes: 100, expectedLength: undefined });
    const b = f.branch();
    const s = sink();
    f.store(s);
    const run = f.run();
    source.write('a');
    b.destroy();
    source.end('b');
    expect(await run).toEqual({ complete: true, bytes: 2, stored: true });
    expect(s.data).toBe('ab');

    const idle = new PassThrough();
    const g = new BodyFanout(idle, { maxStoredBytes: 100, expectedLength: undefined });
    const only = g.branch();
    const running = g.run();
    idle.write('x');
    await new Promise((resolve) => setImmediate(resolve));
    only.destroy();
    expect((await running).complete).toBe(false);
    expect(idle.destroyed).toBe(true);
  });

  it('reads the origin at the pace of the slowest branch', async () => {
    let pulled = 0;
    const source = new Readable({
      read() {
        pulled += 1;
        this.push(Buffer.alloc(64 * 1024));
        if (pulled === 100) this.push(null);
      },
    });
    const f = new BodyFanout(source, { maxStoredBytes: 0, expectedLength: undefined });
    const slow = f.branch();
    void f.run();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Nothing reads the branch: only a few buffers' worth may have been pulled.
    expect(pulled).toBeLessThan(10);
    slow.resume();
    await new Promise((resolve) => slow.once('end', resolve));
    expect(pulled).toBe(100);
  });
});
