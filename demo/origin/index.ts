// The demo origin site, for `keyless demo` and end-to-end tests.
export { startDemoOrigin, STATS_PATH } from './server.js';
export type { DemoOrigin, DemoOriginOptions } from './server.js';
export type { DemoOriginStats } from './stats.js';
