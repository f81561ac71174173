// Loads proto/keyless.proto once for both the key server and the edge's client. Field names
// stay as written in the .proto (snake_case); enums are their names; bytes are Buffers.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const PROTO_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), 'keyless.proto');

export const ErrorCodes = [
  'OK',
  'KEY_NOT_FOUND',
  'NOT_ALLOWED',
  'UNSUPPORTED_SCHEME',
  'BAD_REQUEST',
  'RATE_LIMITED',
  'INTERNAL',
  'DEADLINE_EXCEEDED',
  'OVERLOADED',
  'CANCELLED',
  'UNAUTHENTICATED',
] as const;
export type ErrorCode = (typeof ErrorCodes)[number];

export type OperationEnum = 'OPERATION_UNSPECIFIED' | 'TLS13_SERVER_CERTIFICATE_VERIFY' | 'TLS12_SERVER_KEY_EXCHANGE' | 'RAW_DIGEST';

/** A SignRequest as proto-loader hands it over (defaults filled in, oneof named in `input`). */
export interface SignRequestMessage {
  request_id: string;
  key_id: string;
  scheme: number;
  input?: 'tls13_certificate_verify' | 'tls12_server_key_exchange' | 'raw_digest';
  tls13_certificate_verify?: { transcript_hash: Buffer } | null;
  tls12_server_key_exchange?: { client_random: Buffer; server_random: Buffer; params: Buffer } | null;
  raw_digest?: { digest: Buffer } | null;
  sni: string;
  client_ip: string;
  deadline_ms: number;
}

export interface SignResponseMessage {
  request_id: string;
  signature: Buffer;
  error: ErrorCode;
  message: string;
}

export interface SignBatchMessage {
  requests: SignRequestMessage[];
}

export interface SignResultBatchMessage {
  results: SignResponseMessage[];
}

export interface KeyInfoMessage {
  key_id: string;
  algorithm: string;
  schemes: number[];
  hostnames: string[];
  operations: OperationEnum[];
}

export interface ListKeysResponseMessage {
  keys: KeyInfoMessage[];
}

let cached: grpc.ServiceDefinition | undefined;

export function keyServiceDefinition(): grpc.ServiceDefinition {
  if (!cached) {
    const definition = protoLoader.loadSync(PROTO_PATH, {
      keepCase: true,
      longs: Number,
      enums: String,
      bytes: Buffer,
      defaults: true,
      oneofs: true,
    });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      keyless: { v1: { KeyService: grpc.ServiceClientConstructor } };
    };
    cached = pkg.keyless.v1.KeyService.service;
  }
  return cached;
}

export const KEY_SERVICE_NAME = 'keyless.v1.KeyService';
