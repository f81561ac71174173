// The responses the edge itself writes when it cannot or will not forward a request: blocked by
// the WAF, rate limited, origin down, origin slow, body too large. Every one carries the request
// id (in the body and in X-Request-Id) and a short public reason; the detailed reason is in the
// edge's log, never in the response (RFC 9110 §15 for the status codes).
import type { HeaderMap } from './types.js';

export interface EdgeErrorResponse {
  readonly status: number;
  readonly headers: HeaderMap;
  readonly body: Buffer;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Content Too Large',
  421: 'Misdirected Request',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * An error response in the form the client asked for: JSON for API clients (Accept names
 * application/json), HTML for browsers, plain text otherwise.
 */
export function errorResponse(status: number, reason: string, requestId: string, accept: string | undefined, extraHeaders: HeaderMap = {}): EdgeErrorResponse {
  const title = TITLES[status] ?? 'Error';
  const wants = accept ?? '';
  let contentType: string;
  let body: string;
  if (/application\/json/.test(wants)) {
    contentType = 'application/json';
    body = JSON.stringify({ status, error: title, reason, requestId });
  } else if (/text\/html/.test(wants)) {
    contentType = 'text/html; charset=utf-8';
    body = `<!doctype html><html><head><meta charset="utf-8"><title>${status} ${title}</title></head><body><h1>${status} ${title}</h1><p>${escapeHtml(reason)}</p><p>Request id: <code>${escapeHtml(requestId)}</code></p></body></html>\n`;
  } else {
    contentType = 'text/plain; charset=utf-8';
    body = `${status} ${title}: ${reason}\nrequest id: ${requestId}\n`;
  }
  const bytes = Buffer.from(body, 'utf8');
  return {
    status,
    headers: { 'content-type': contentType, 'content-length': String(bytes.length), 'cache-control': 'no-store', 'x-request-id': requestId, ...extraHeaders },
    body: bytes,
  };
}
