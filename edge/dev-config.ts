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
keyServers:
  servers:
${o.keyServers.map((a) => `    - { address: ${a}, serverName: localhost }`).join('\n')}
  ca: ${o.pkiDir}/edge/ca.crt
  clientCert: ${o.pkiDir}/edge/${edge}/client.crt
  clientKey: ${o.pkiDir}/edge/${edge}/client.key
${o.extra ?? ''}`;
}
