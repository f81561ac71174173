// The origin client: undici pools to the configured origins over strictly verified TLS (modes
// strict, pinned, full), the Upgrade pass-through, readiness probes and metrics.
export { createOriginClient } from './origin-client.js';
export type { OriginClient, OriginClientOptions } from './origin-client.js';
export { OriginError, isOriginError, toOriginError } from './errors.js';
export type { OriginErrorCode } from './errors.js';
export { OriginSettingsError, resolveOrigin, DEFAULT_TIMEOUTS, DEFAULT_CONNECTIONS, DEFAULT_MAX_RESPONSE_HEADER_BYTES } from './settings.js';
export type { IncomingForwarded, OriginMode, OriginSettings, OriginTimeouts, ResolvedOrigin } from './settings.js';
export { originsSchema, originEntrySchema, loadOrigins } from './config.js';
export type { LoadOriginsOptions, OriginsConfig, OriginEntryConfig } from './config.js';
export { forwardRequestHeaders, forwardResponseHeaders, endToEnd } from './forward-headers.js';
export type { ForwardRequestOptions, OutgoingHeaders } from './forward-headers.js';
export { parsePin, pinOf } from './pins.js';
export { originWarnings } from './readiness.js';
export type { OriginProbe, OriginReadiness } from './readiness.js';
export { plainErrorRenderer } from './upgrade.js';
export type { ErrorRenderer, UpgradeOutcome } from './upgrade.js';
