// TLS 1.3 protocol code points, as hex literals the way RFC 8446 writes them.

/** RFC 8446 §5.1 ContentType. */
export const ContentType = {
  invalid: 0,
  change_cipher_spec: 0x14,
  alert: 0x15,
  handshake: 0x16,
  application_data: 0x17,
} as const;
export type ContentType = (typeof ContentType)[keyof typeof ContentType];

/** RFC 8446 §4 HandshakeType. */
export const HandshakeType = {
  client_hello: 0x01,
  server_hello: 0x02,
  new_session_ticket: 0x04,
  end_of_early_data: 0x05,
  encrypted_extensions: 0x08,
  certificate: 0x0b,
  certificate_request: 0x0d,
  certificate_verify: 0x0f,
  finished: 0x14,
  key_update: 0x18,
  message_hash: 0xfe,
} as const;
export type HandshakeType = (typeof HandshakeType)[keyof typeof HandshakeType];

/** RFC 8446 §4.2 ExtensionType (and the RFCs it cites). */
export const ExtensionType = {
  server_name: 0x0000,
  max_fragment_length: 0x0001,
  status_request: 0x0005,
  supported_groups: 0x000a,
  ec_point_formats: 0x000b,
  signature_algorithms: 0x000d,
  use_srtp: 0x000e,
  heartbeat: 0x000f,
  application_layer_protocol_negotiation: 0x0010,
  signed_certificate_timestamp: 0x0012,
  client_certificate_type: 0x0013,
  server_certificate_type: 0x0014,
  padding: 0x0015,
  extended_master_secret: 0x0017,
  record_size_limit: 0x001c,
  session_ticket: 0x0023,
  pre_shared_key: 0x0029,
  early_data: 0x002a,
  supported_versions: 0x002b,
  cookie: 0x002c,
  psk_key_exchange_modes: 0x002d,
  certificate_authorities: 0x002f,
  oid_filters: 0x0030,
  post_handshake_auth: 0x0031,
  signature_algorithms_cert: 0x0032,
  key_share: 0x0033,
  renegotiation_info: 0xff01,
} as const;
export type ExtensionType = (typeof ExtensionType)[keyof typeof ExtensionType];

/** RFC 8446 §4.2.7 NamedGroup (the ones we implement, plus ones we must recognise). */
export const NamedGroup = {
  secp256r1: 0x0017,
  secp384r1: 0x0018,
  secp521r1: 0x0019,
  x25519: 0x001d,
  x448: 0x001e,
} as const;
export type NamedGroup = (typeof NamedGroup)[keyof typeof NamedGroup];

/** RFC 8446 §B.4 cipher suites. */
export const CipherSuite = {
  TLS_AES_128_GCM_SHA256: 0x1301,
  TLS_AES_256_GCM_SHA384: 0x1302,
  TLS_CHACHA20_POLY1305_SHA256: 0x1303,
} as const;
export type CipherSuite = (typeof CipherSuite)[keyof typeof CipherSuite];

/** RFC 8446 §4.2.9. */
export const PskKeyExchangeMode = {
  psk_ke: 0,
  psk_dhe_ke: 1,
} as const;

/** RFC 8446 §4.6.3. */
export const KeyUpdateRequest = {
  update_not_requested: 0,
  update_requested: 1,
} as const;

/** RFC 8446 §6 AlertLevel. */
export const AlertLevel = {
  warning: 1,
  fatal: 2,
} as const;

/** RFC 8446 §6 AlertDescription. */
export const AlertDescription = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  record_overflow: 22,
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_revoked: 44,
  certificate_expired: 45,
  certificate_unknown: 46,
  illegal_parameter: 47,
  unknown_ca: 48,
  access_denied: 49,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  inappropriate_fallback: 86,
  user_canceled: 90,
  missing_extension: 109,
  unsupported_extension: 110,
  unrecognized_name: 112,
  bad_certificate_status_response: 113,
  unknown_psk_identity: 115,
  certificate_required: 116,
  no_application_protocol: 120,
} as const;
export type AlertDescription = (typeof AlertDescription)[keyof typeof AlertDescription];

export function alertName(description: number): string {
  for (const [name, value] of Object.entries(AlertDescription)) if (value === description) return name;
  return `alert_${description}`;
}

/** RFC 8446 §4.1.2 / §4.2.1 version numbers. */
export const ProtocolVersion = {
  TLS_1_0: 0x0301,
  TLS_1_2: 0x0303,
  TLS_1_3: 0x0304,
} as const;

/**
 * RFC 8446 §4.1.3: a ServerHello whose random is this value is a HelloRetryRequest
 * (SHA-256 of "HelloRetryRequest").
 */
export const HELLO_RETRY_REQUEST_RANDOM = Buffer.from(
  'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c',
  'hex',
);

/** RFC 8446 §5.1 / §5.2 record size limits. */
export const MAX_PLAINTEXT = 1 << 14;
export const MAX_CIPHERTEXT = (1 << 14) + 256;
