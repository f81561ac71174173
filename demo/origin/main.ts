// Runs the demo origin on its own (for a look in a browser, or behind an edge started by hand):
//   npx tsx demo/origin/main.ts --cert certs/dev/origin/server.crt --key certs/dev/origin/server.key [--port 9443] [--client-ca certs/dev/origin/edge-pull-ca.crt]
import { parseArgs } from 'node:util';
import { startDemoOrigin } from './server.js';

const { values } = parseArgs({
  options: {
    cert: { type: 'string', default: 'certs/dev/origin/server.crt' },
    key: { type: 'string', default: 'certs/dev/origin/server.key' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '9443' },
    'client-ca': { type: 'string' },
    'max-age': { type: 'string', default: '60' },
  },
});

const port = Number(values.port);
const maxAge = Number(values['max-age']);
if (!Number.isInteger(port) || port < 0 || port > 65535 || !Number.isInteger(maxAge) || maxAge < 0) {
  process.stderr.write('usage: main.ts --cert FILE --key FILE [--host H] [--port N] [--client-ca FILE] [--max-age SECONDS]\n');
  process.exit(2);
}
const origin = await startDemoOrigin({ cert: values.cert, key: values.key, host: values.host, port, clientCa: values['client-ca'], maxAgeSeconds: maxAge });
process.stdout.write(`demo origin on ${origin.url}${values['client-ca'] ? ' (client certificates required)' : ''}\n`);
const stop = (): void => void origin.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
