// The dev PKI generator: generic CA and certificate issuing for tests, and the fixed layout of
// development credentials the demo runs on. Nothing here is for production keys.
export { CertsError } from './errors.js';
export type { CertsErrorCode } from './errors.js';
export type { CaKeyAlgorithm, LeafKeyAlgorithm } from './key-pair.js';
export { createCa, issueCert } from './issue.js';
export type { CertIssuer, CertUsage, CreateCaOptions, IssueCertOptions, IssuedCert } from './issue.js';
export { DEV_CA_COMMON_NAME, DEV_EDGES, DEV_SITES, DEV_SITE_DNS_NAMES, DEV_SITE_IP_ADDRESSES, devEdgeIdentity, generateDevPki, loadDevCa } from './dev-pki.js';
export type { DevEdgeName, DevPkiEdgeClient, DevPkiLayout, DevPkiSite, DevSiteName, GenerateDevPkiOptions } from './dev-pki.js';
export { spkiSha256Hex } from '../common/key-id.js';
