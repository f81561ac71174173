// The edge's web application firewall, as the HTTP pipeline uses it.
//
// Configuration — the `waf:` section of the edge config, validated by `wafConfigSchema` (zod;
// errors name the field, and custom rule expressions are compiled during validation, so an error
// says "field 'waf.rules[0].expression': line 1, column 14: ..."). After validation,
// `resolveWafPaths(config, configFile)` makes the CRS and SecLang paths absolute relative to the
// config file (`parseWafConfig(raw, file)` does both).
//
// Start-up — `await createWaf(config, { log, metrics, clock? })` loads the managed rule set once
// (about a second for CRS 3.3) and compiles our rules. `waf.describe().summary` is the line for
// the start-up output ("WAF blocking: OWASP_CRS/3.3.4 (Debian modsecurity-crs ...) at paranoia
// level 1, ..." or "... no managed rules: <why>"). A reload builds a new Waf and swaps it in;
// requests in flight finish on the old one. Rate-limit counters survive a reload only if the
// same `rateLimitStore` is passed to both.
//
// Per request — two steps, so that the body is read only when it is needed:
//
//   const inspection = await waf.inspectHeaders(request);          // EdgeRequest (types.ts)
//   if (inspection.done) verdict = inspection.verdict;             // decided on the headers
//   else {
//     // read at most inspection.bodyLimit bytes (keep the rest to forward, or stop reading);
//     verdict = await inspection.inspectBody(buffer, { truncated }); // buffer: null when no body
//   }
//   // or, with the body already at hand:  verdict = await waf.evaluate(request, body, { truncated })
//
//   switch (verdict.action) {
//     case 'block': case 'rate-limit':    // send verdict.status, verdict.headers, verdict.body
//     case 'allow': case 'pass':          // forward the request (to the cache, then the origin)
//   }
//
// The verdict also carries `matches` (which rules matched and why, redacted) and `anomalyScore`;
// in detect mode `wouldBlock` says what would have been done. The WAF logs one structured line
// per request on which a rule acted and counts verdicts and matches in Prometheus; the pipeline
// need not log them again. Nothing the network sends makes these calls throw.
export { createWaf } from './waf.js';
export type { BodyOptions, ManagedDescription, Waf, WafDescription, WafInspection, WafOptions } from './waf.js';
export type { WafAction, WafMatch, WafMatchedVariable, WafVerdict } from './verdict.js';
export type { WafRequest } from './request.js';
export { loadWafConfigFile, parseWafConfig, resolveWafPaths, wafConfigSchema } from './config.js';
export type { WafConfig, WafConfigInput } from './config.js';
export { WafError, WafErrorCode, WafExpressionError } from './errors.js';
export type { Clock } from './clock.js';
export { MemoryRateLimitStore } from './rate-limit.js';
export type { RateLimitDecision, RateLimitStore, WindowCounts } from './rate-limit.js';
export { MemoryCollectionStore } from './seclang/collections.js';
export type { CollectionStore } from './seclang/collections.js';
export type { Diagnostic } from './seclang/loader.js';
