// The key server configuration the demo writes next to a dev PKI: both edges of the PKI get a
// rule, edge-1 every key, edge-2 only TLS 1.3 with the keys for *.demo.localhost-style names.
export interface DevConfigOptions {
  /** The PKI directory (as written by generateDevPki). */
  readonly pkiDir: string;
  readonly auditDir: string;
  readonly listen: string;
  readonly observability: string;
}

export function devKeyServerConfigYaml(o: DevConfigOptions): string {
  return `# Development key server configuration, written by 'keyless demo'. See README "Key server configuration".
listen: ${o.listen}
observability: { listen: ${o.observability} }
tls:
  cert: ${o.pkiDir}/keyserver/server.crt
  key: ${o.pkiDir}/keyserver/server.key
  clientCa: ${o.pkiDir}/keyserver/edge-ca.crt
keyStores:
  - type: file
    dir: ${o.pkiDir}/keyserver/keys
audit:
  dir: ${o.auditDir}
policy:
  edges:
    - identity: spiffe://keyless/edge/edge-1
      keys: ['*']
      rateLimit: { perSecond: 20000, burst: 40000 }
    - identity: spiffe://keyless/edge/edge-2
      keys: [{ hostname: localhost }, { hostname: '*.demo.localhost' }, { hostname: 127.0.0.1 }]
      operations: [tls13-certificate-verify]
      rateLimit: { perSecond: 100, burst: 200 }
`;
}
