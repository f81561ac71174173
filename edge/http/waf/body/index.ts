// Picks the body processor for a request and runs it. ModSecurity chooses URLENCODED and MULTIPART
// from the Content-Type itself and JSON / XML through the recommended configuration's rules
// (200000, 200001); we choose all four from the Content-Type, and a ctl:requestBodyProcessor
// from a phase-1 rule overrides the choice, as in ModSecurity.
import { bytesOf } from '../bytes.js';
import { parseJsonBody } from './json.js';
import { parseMultipart } from './multipart.js';
import type { BodyLimits, BodyProcessorName, ParsedBody } from './types.js';
import { emptyBody } from './types.js';
import { parseUrlEncoded } from './urlencoded.js';
import { parseXmlBody } from './xml.js';

export type { BodyLimits, BodyProcessorName, ParsedBody, UploadedFile, MultipartFlags } from './types.js';
export { DEFAULT_BODY_LIMITS, emptyBody } from './types.js';

/** The processor ModSecurity (with its recommended rules) would pick for a Content-Type. */
export function processorFor(contentType: string | undefined): BodyProcessorName | null {
  if (contentType === undefined) return null;
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') return 'URLENCODED';
  if (type === 'multipart/form-data' || type === 'multipart/related') return 'MULTIPART';
  if (type === 'application/json' || /^application\/[a-z0-9.+-]*\+json$/.test(type) || type === 'text/json') return 'JSON';
  if (/^(?:application|text)\/(?:[a-z0-9.+-]*\+)?xml$/.test(type)) return 'XML';
  return null;
}

export function parseBody(body: Buffer, contentType: string | undefined, processor: BodyProcessorName | null, limits: BodyLimits): ParsedBody {
  const bytes = bytesOf(body);
  switch (processor) {
    case null:
      return emptyBody(null);
    case 'URLENCODED': {
      const { args, truncated } = parseUrlEncoded(bytes, limits.maxArgs);
      return { ...emptyBody('URLENCODED', truncated ? `more than ${limits.maxArgs} arguments` : null), args };
    }
    case 'JSON':
      return parseJsonBody(bytes, limits);
    case 'XML':
      return parseXmlBody(bytes);
    case 'MULTIPART':
      return parseMultipart(bytes, contentType ?? '', limits);
  }
}
