// `keyless demo-origin`: the demo's HTTPS origin site on its own (demo/origin/), the way
// `keyless demo` runs it: its own process, a pino log line when it is ready.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { parseHostPort } from '../common/config-file.js';
import { startDemoOrigin } from '../demo/origin/index.js';
import type { Command } from './command.js';
import { UsageError } from './command.js';
import { untilStopSignal } from './stop-signal.js';

export const demoOriginCommand: Command = {
  name: 'demo-origin',
  summary: 'run the demo origin site (HTTPS, with its own certificate from the dev CA)',
  help: `usage: keyless demo-origin --cert FILE --key FILE [--listen HOST:PORT] [--client-ca FILE] [--max-age SECONDS]

Serves the demo site over HTTPS: a page with CSS and an image, a JSON API, cacheable and
non-cacheable routes, a WebSocket echo at /ws and request counts at /__origin/stats.

options:
  --cert FILE, --key FILE   its certificate and key (certs/dev/origin/server.crt|key)
  --listen HOST:PORT        default 127.0.0.1:9443; port 0 picks a free one
  --client-ca FILE          require client certificates from this CA (authenticated origin pulls)
  --max-age SECONDS         freshness of the cacheable routes (default 60)`,

  async run(args) {
    const { values } = parseArgs({
      args,
      options: { cert: { type: 'string' }, key: { type: 'string' }, listen: { type: 'string', default: '127.0.0.1:9443' }, 'client-ca': { type: 'string' }, 'max-age': { type: 'string', default: '60' } },
      strict: true,
      allowPositionals: false,
    });
    if (!values.cert || !values.key) throw new UsageError('--cert FILE and --key FILE are required');
    const listen = parseHostPort(values.listen);
    if (!listen) throw new UsageError('--listen needs HOST:PORT');
    const maxAge = Number(values['max-age']);
    if (!Number.isInteger(maxAge) || maxAge < 0) throw new UsageError('--max-age needs a number of seconds');
    const log = pino({ base: { service: 'keyless-demo-origin' } });
    const origin = await startDemoOrigin({ cert: values.cert, key: values.key, host: listen.host, port: listen.port, maxAgeSeconds: maxAge, log, ...(values['client-ca'] ? { clientCa: values['client-ca'] } : {}) });
    log.info({ listen: `${listen.host}:${origin.port}`, url: origin.url, clientCertificates: Boolean(values['client-ca']) }, 'demo origin ready');
    await untilStopSignal();
    await origin.close();
    return 0;
  },
};
