// The WAF as the pipeline's request filter: headers first, and the body (its first bodyLimit
// bytes) only when a rule needs it. A block or rate-limit verdict becomes the edge's response;
// the WAF itself logs and counts what its rules did.
import type { Waf, WafVerdict } from './waf/index.js';
import type { FilterVerdict, RequestFilter } from './pipeline.js';
import type { EdgeRequest } from './types.js';

function toFilterVerdict(verdict: WafVerdict): FilterVerdict {
  const note = verdict.matches.length > 0 ? `${verdict.action} ${verdict.matches.map((m) => m.rule).join(',')}`.slice(0, 200) : undefined;
  if ((verdict.action === 'block' || verdict.action === 'rate-limit') && verdict.status !== undefined) {
    return { action: 'respond', status: verdict.status, headers: { ...verdict.headers }, body: Buffer.from(verdict.body ?? '', 'utf8'), note: note ?? verdict.action };
  }
  return { action: 'forward', ...(note ? { note } : {}) };
}

export function wafFilter(waf: Waf): RequestFilter {
  return {
    async inspectHeaders(request: EdgeRequest) {
      const inspection = await waf.inspectHeaders(request);
      if (inspection.done) return { done: true, verdict: toFilterVerdict(inspection.verdict) };
      return {
        done: false,
        bodyLimit: inspection.bodyLimit,
        inspectBody: async (body, truncated) => toFilterVerdict(await inspection.inspectBody(body, { truncated })),
      };
    },
  };
}
