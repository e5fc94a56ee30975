import type { Socket as ServerSocket } from 'socket.io';
import type { Socket as ClientSocket } from 'socket.io-client';
import type { FederationEndpoint } from './discovery.ts';

interface FederationPeerBase {
	/** The remote organisation's domain, proven by its certificate. */
	readonly domain: string;
	readonly remoteAddress: string;
	/** SHA-256 of the remote leaf certificate, for logs and audits. */
	readonly fingerprintSha256: string;
	readonly connectedAt: Date;
}

/** A partner SFT that dialled us; `socket` is a socket.io server socket. */
export interface InboundFederationPeer extends FederationPeerBase {
	readonly direction: 'inbound';
	readonly socket: ServerSocket;
}

/** A partner SFT we dialled; `socket` is a connected socket.io client socket. */
export interface OutboundFederationPeer extends FederationPeerBase {
	readonly direction: 'outbound';
	readonly socket: ClientSocket;
	readonly endpoint: FederationEndpoint;
}

export type FederationPeer = InboundFederationPeer | OutboundFederationPeer;

/** Sent to refused peers, identical for every reason (details stay in our logs). */
export const GENERIC_REFUSAL_MESSAGE = 'federation refused';
