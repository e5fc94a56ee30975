// The calling client SDK. Media comes from a platform Device factory:
// `browserDevice` from './browser.ts' or `weriftDevice` from './node.ts'.
export { Call, type CallEvents, type ConnectionState, type JoinOptions, type PublishOptions, type RemoteTrack } from './Call.ts';
export { applyEncodingsNeeded } from './encodings.ts';
export type { DeviceFactory, MediaDevice } from './media.ts';
export { describeEnd, describeError } from './messages.ts';
export type * from './protocol.ts';
export { type ConnectOptions, connect, SftClient } from './SftClient.ts';
export { RequestError, Signalling, type SignallingOptions } from './Signalling.ts';
export type { CallSnapshot, LocalMediaState, RemoteProducer, Tile } from './state/CallState.ts';
export type { TileSize } from './state/view.ts';
export type { ReceiveStats } from './stats.ts';
