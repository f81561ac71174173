// Reads a raw HTTP/1.x request (as captured, or written by hand) into what the WAF inspects, for
// `keyless waf test` and tests: request line, header lines, an empty line, the body. Lines may
// end in CRLF or LF (hand-written files); a chunked body is decoded; without Content-Length the
// rest of the file is the body.
import { randomUUID } from 'node:crypto';
import type { HeaderMap } from '../types.js';
import { WafError, WafErrorCode } from './errors.js';
import type { WafRequest } from './request.js';

export interface RawRequestOptions {
  readonly clientIp?: string;
  readonly clientPort?: number;
  readonly requestId?: string;
}

export interface ParsedRawRequest {
  readonly request: WafRequest;
  readonly body: Buffer | null;
}

export function parseRawRequest(raw: Buffer, options: RawRequestOptions = {}): ParsedRawRequest {
  const fail = (message: string): never => {
    throw new WafError(WafErrorCode.RAW_REQUEST, message);
  };
  let headEnd = raw.indexOf('\r\n\r\n');
  let sep = 4;
  const lfEnd = raw.indexOf('\n\n');
  if (lfEnd >= 0 && (headEnd < 0 || lfEnd < headEnd)) {
    headEnd = lfEnd;
    sep = 2;
  }
  const head = (headEnd < 0 ? raw : raw.subarray(0, headEnd)).toString('latin1');
  const rest = headEnd < 0 ? Buffer.alloc(0) : raw.subarray(headEnd + sep);
  const lines = head.split(/\r?\n/);
  // Leading blank lines are tolerated (RFC 9112 §2.2).
  while (lines.length > 0 && lines[0] === '') lines.shift();
  const requestLine = lines.shift() ?? fail('the file is empty');
  const m = /^(\S+) (\S+)(?: HTTP\/(\d\.\d|\d))?$/.exec(requestLine);
  if (!m) fail(`line 1 is not a request line ("METHOD /target HTTP/1.1"): ${JSON.stringify(requestLine.slice(0, 80))}`);
  const [, method, url, version] = m!;
  const headers: Record<string, string | string[]> = {};
  lines.forEach((line, i) => {
    if (line === '') return;
    const colon = line.indexOf(':');
    if (colon <= 0) fail(`line ${i + 2} is not a header line ("Name: value"): ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const existing = headers[name];
    // As Node joins them: set-cookie stays a list, cookie joins with "; ", others with ", ".
    if (existing === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(existing)) existing.push(value);
    else headers[name] = `${existing}${name === 'cookie' ? '; ' : ', '}${value}`;
  });
  let body: Buffer | null = rest.length > 0 ? rest : null;
  const te = headers['transfer-encoding'];
  if (typeof te === 'string' && /chunked/i.test(te) && body !== null) body = dechunk(body);
  else {
    const cl = headers['content-length'];
    if (typeof cl === 'string' && /^\d+$/.test(cl) && body !== null) body = body.subarray(0, Number(cl));
  }
  const host = typeof headers.host === 'string' ? headers.host.toLowerCase().replace(/:(?:443|80)$/, '') : '';
  const request: WafRequest = {
    requestId: options.requestId ?? randomUUID(),
    method: method!,
    url: url!,
    host,
    httpVersion: version ?? '1.1',
    headers: headers as HeaderMap,
    clientIp: options.clientIp ?? '192.0.2.10',
    clientPort: options.clientPort ?? 50000,
    servername: host,
  };
  return { request, body };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = data.indexOf('\n', pos);
    if (eol < 0) break;
    const size = parseInt(data.subarray(pos, eol).toString('latin1').split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(data.subarray(eol + 1, eol + 1 + size));
    pos = eol + 1 + size;
    if (data[pos] === 0x0d) pos++;
    if (data[pos] === 0x0a) pos++;
  }
  return Buffer.concat(parts);
}
