// The edge's client for its key servers (see key-server-pool.ts).
export { KeyServerPool } from './key-server-pool.js';
export type { KeyInfo, KeyOperation, KeyServerPoolOptions, KeyServerStatus, SignCallOptions } from './key-server-pool.js';
export { RemoteSigner } from './remote-signer.js';
export type { RemoteSignerOptions } from './remote-signer.js';
export type { KeyServerAddress } from './channel.js';
export type { SignOperation } from './sign-request.js';
