// The edge configuration the demo and the tests write next to a dev PKI: every dev site chain
// (ECDSA P-256 first, so clients without SNI get it unless they cannot verify ECDSA), the dev
// key servers, and edge-1's client credential.
export interface DevEdgeConfigOptions {
  /** The PKI directory (as written by generateDevPki). */
  readonly pkiDir: string;
  readonly listen: string;
  /** "host:port" of each key server. */
  readonly keyServers: readonly string[];
  readonly edge?: 'edge-1' | 'edge-2';
  /** YAML appended at the top level (the HTTP pipeline's sections). */
  readonly extra?: string;
  /** tls.alpn, when not the default (HTTP/1.1 only). */
  readonly alpn?: readonly ('h2' | 'http/1.1')[];
}

export function devEdgeConfigYaml(o: DevEdgeConfigOptions): string {
  const edge = o.edge ?? 'edge-1';
  return `# Development edge configuration, written by 'keyless demo'. See README "Edge configuration".
listen: ${o.listen}
tls:
  certificates:
    - { name: site-ecdsa-p256, chain: ${o.pkiDir}/edge/sites/site-ecdsa-p256.chain.pem }
    - { name: site-ecdsa-p384, chain: ${o.pkiDir}/edge/sites/site-ecdsa-p384.chain.pem }
    - { name: site-rsa-2048, chain: ${o.pkiDir}/edge/sites/site-rsa-2048.chain.pem }
    - { name: site-rsa-pss, chain: ${o.pkiDir}/edge/sites/site-rsa-pss.chain.pem }
  default: site-ecdsa-p256
${o.alpn ? `  alpn: [${o.alpn.join(', ')}]\n` : ''}keyServers:
  servers:
${o.keyServers.map((a) => `    - { address: ${a}, serverName: localhost }`).join('\n')}
  ca: ${o.pkiDir}/edge/ca.crt
  clientCert: ${o.pkiDir}/edge/${edge}/client.crt
  clientKey: ${o.pkiDir}/edge/${edge}/client.key
${o.extra ?? ''}`;
}

export interface DevEdgeDemoOptions {
  /** The demo origin's URL, e.g. https://127.0.0.1:9443. */
  readonly originUrl: string;
  readonly adminListen: string;
  /** The admin token file (0600), relative to the config file. */
  readonly adminTokenFile: string;
  /** YAML of the `waf:` section, when the demo runs one. */
  readonly waf?: string;
}

/** The HTTP pipeline of the demo: the demo origin for every dev name, a memory cache, the admin API. */
export function devEdgeDemoSections(o: DevEdgeDemoOptions, pkiDir: string): string {
  return `origins:
  - hostnames: [localhost, '*.demo.localhost', 127.0.0.1]
    url: ${o.originUrl}
    ca: ${pkiDir}/edge/ca.crt          # Full (Strict): the origin's certificate chains to the dev CA
    serverName: localhost
cache:
  store: { type: memory }
  maxTotalBytes: 67108864
admin:
  listen: ${o.adminListen}
  tokenFile: ${o.adminTokenFile}
${o.waf ?? ''}`;
}
