// multipart/form-data bodies (RFC 7578 on RFC 2046): fields become ARGS_POST, file parts become
// FILES / FILES_NAMES / FILES_SIZES (their content is not inspected as arguments, as in
// ModSecurity), and each part's header lines become MULTIPART_PART_HEADERS. Anomalies that
// ModSecurity reports separately (quoted boundary, data before the first boundary, LF-only lines,
// header folding, bad quoting, ...) are flags; what cannot be parsed at all is an error.
import type { BodyLimits, MultipartFlags, ParsedBody, UploadedFile } from './types.js';
import { emptyBody } from './types.js';

function newFlags(): MultipartFlags {
  return {
    boundaryQuoted: false,
    boundaryWhitespace: false,
    dataBefore: false,
    dataAfter: false,
    headerFolding: false,
    lfLine: false,
    missingSemicolon: false,
    invalidQuoting: false,
    invalidPart: false,
    invalidHeaderFolding: false,
    fileLimitExceeded: false,
    unmatchedBoundary: false,
  };
}

/** RFC 2046 §5.1.1: 1 to 70 characters from a restricted set, not ending with a blank. */
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

export function multipartBoundary(contentType: string, flags: MultipartFlags): string | null {
  const m = /;\s*boundary(\s*)=(\s*)("([^"]*)"|[^;,\s]*)/i.exec(contentType);
  if (!m) return null;
  if (m[1] !== '' || m[2] !== '') flags.boundaryWhitespace = true;
  let boundary = m[3]!;
  if (boundary.startsWith('"')) {
    flags.boundaryQuoted = true;
    boundary = m[4]!;
  }
  if (!BOUNDARY.test(boundary)) return null;
  return boundary;
}

export function parseMultipart(body: string, contentType: string, limits: BodyLimits): ParsedBody {
  const flags = newFlags();
  const fail = (message: string): ParsedBody => ({ ...emptyBody('MULTIPART', `multipart: ${message}`), multipart: flags });
  const boundary = multipartBoundary(contentType, flags);
  if (boundary === null) return fail('no valid boundary in Content-Type');
  const delimiter = '--' + boundary;
  const args: (readonly [string, string])[] = [];
  const files: UploadedFile[] = [];
  const partHeaders: (readonly [string, string])[] = [];

  let first = body.startsWith(delimiter) ? 0 : body.indexOf('\n' + delimiter);
  if (first < 0) return fail('no boundary found in the body');
  if (first > 0) {
    first += 1;
    if (body.slice(0, first).trim() !== '') flags.dataBefore = true;
  }
  let pos = first + delimiter.length;
  let parts = 0;
  for (;;) {
    if (body.startsWith('--', pos)) {
      // The close delimiter; RFC 2046 allows an epilogue, ModSecurity flags one.
      if (body.slice(pos + 2).trim() !== '') flags.dataAfter = true;
      break;
    }
    // Transport padding (blanks) may follow a delimiter, then CRLF.
    while (body[pos] === ' ' || body[pos] === '\t') pos++;
    if (body.startsWith('\r\n', pos)) pos += 2;
    else if (body[pos] === '\n') {
      flags.lfLine = true;
      pos += 1;
    } else return fail('a boundary is not followed by a line break');
    if (++parts > limits.maxParts) {
      flags.fileLimitExceeded = true;
      return fail(`more than ${limits.maxParts} parts`);
    }
    // Part headers, up to the empty line.
    const headers: string[] = [];
    for (;;) {
      const eol = body.indexOf('\n', pos);
      if (eol < 0) return fail('part headers are not terminated');
      let line = body.slice(pos, eol);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      else flags.lfLine = true;
      pos = eol + 1;
      if (line === '') break;
      if (line[0] === ' ' || line[0] === '\t') {
        flags.headerFolding = true;
        if (headers.length === 0) {
          flags.invalidHeaderFolding = true;
          return fail('a folded header line without a header');
        }
        headers[headers.length - 1] += ' ' + line.trim();
        continue;
      }
      if (line.indexOf(':') <= 0) {
        flags.invalidPart = true;
        return fail('a part header line without a name');
      }
      headers.push(line);
      if (headers.length > 64) return fail('too many part headers');
    }
    // Part content, up to the next delimiter (which is preceded by a line break that belongs to it).
    let next = body.indexOf('\r\n' + delimiter, pos);
    let breakLength = 2;
    const lfNext = body.indexOf('\n' + delimiter, pos);
    if (lfNext >= 0 && (next < 0 || lfNext < next)) {
      next = lfNext;
      breakLength = 1;
      flags.lfLine = true;
    }
    if (next < 0) {
      flags.unmatchedBoundary = true;
      return fail('the final boundary is missing');
    }
    const content = body.slice(pos, next);
    pos = next + breakLength + delimiter.length;

    const disposition = headers.find((h) => /^content-disposition\s*:/i.test(h));
    if (disposition === undefined) {
      flags.invalidPart = true;
      return fail('a part without Content-Disposition');
    }
    const params = dispositionParams(disposition.slice(disposition.indexOf(':') + 1), flags);
    if (params === null) {
      flags.invalidPart = true;
      return fail('a Content-Disposition that is not form-data');
    }
    const name = params.get('name');
    if (name === undefined) {
      flags.invalidPart = true;
      return fail('a part without a name');
    }
    for (const h of headers) partHeaders.push([name, h]);
    const filename = params.get('filename') ?? params.get('filename*');
    if (filename !== undefined) {
      const typeHeader = headers.find((h) => /^content-type\s*:/i.test(h));
      files.push({ field: name, filename, size: content.length, contentType: typeHeader ? typeHeader.slice(typeHeader.indexOf(':') + 1).trim() : '' });
    } else {
      if (args.length >= limits.maxArgs) return { ...fail(`more than ${limits.maxArgs} fields`), args, files, partHeaders };
      args.push([name, content]);
    }
  }
  return { processor: 'MULTIPART', args, files, partHeaders, xml: null, error: null, multipart: flags };
}

/** `form-data; name="a"; filename="b.png"` → { name, filename }, or null when not form-data. */
function dispositionParams(value: string, flags: MultipartFlags): Map<string, string> | null {
  const params = new Map<string, string>();
  let pos = 0;
  const s = value;
  while (pos < s.length && /\s/.test(s[pos]!)) pos++;
  if (!/^form-data\b/i.test(s.slice(pos))) return null;
  pos += 'form-data'.length;
  for (;;) {
    while (pos < s.length && /\s/.test(s[pos]!)) pos++;
    if (pos >= s.length) return params;
    if (s[pos] === ';') pos++;
    else flags.missingSemicolon = true;
    while (pos < s.length && /\s/.test(s[pos]!)) pos++;
    const nm = /^[A-Za-z0-9_*-]+/.exec(s.slice(pos));
    if (!nm) {
      if (pos >= s.length) return params;
      flags.invalidQuoting = true;
      return params;
    }
    const key = nm[0].toLowerCase();
    pos += nm[0].length;
    while (pos < s.length && /\s/.test(s[pos]!)) pos++;
    if (s[pos] !== '=') {
      flags.invalidQuoting = true;
      continue;
    }
    pos++;
    while (pos < s.length && /\s/.test(s[pos]!)) pos++;
    let v = '';
    if (s[pos] === '"') {
      pos++;
      let closed = false;
      while (pos < s.length) {
        const c = s[pos]!;
        if (c === '\\' && pos + 1 < s.length) {
          v += s[pos + 1];
          pos += 2;
          continue;
        }
        if (c === '"') {
          closed = true;
          pos++;
          break;
        }
        v += c;
        pos++;
      }
      if (!closed) flags.invalidQuoting = true;
    } else {
      if (s[pos] === "'") flags.invalidQuoting = true;
      const m = /^[^;\s]*/.exec(s.slice(pos))!;
      v = m[0];
      pos += m[0].length;
    }
    // Later duplicates would let an attacker show the WAF one name and the application another.
    if (params.has(key)) flags.invalidPart = true;
    else params.set(key, v);
  }
}
