import type { types as ms } from 'mediasoup';
import type { Demand } from './demand.ts';
import type { TileRank } from './simulcast.ts';
import type { SocketBuffers } from './socketBuffers.ts';
import type { TypedEmitter } from './TypedEmitter.ts';

/** Where one side of a relay receives media, and the SRTP key it sends with. */
export interface PipeEndpoint {
	ip: string;
	port: number;
	srtpParameters: ms.SrtpParameters;
}

/** A producer described for the far side, so it can re-create it under the same id. */
export interface RelayedProducer {
	producerId: string;
	kind: ms.MediaKind;
	rtpParameters: ms.RtpParameters;
	paused: boolean;
	appData: Record<string, unknown>;
}

export interface RelayOptions {
	listenIp: string;
	announcedAddress?: string | undefined;
	/** UDP range for federation media; operators open it between SFTs. */
	portRange: { min: number; max: number };
	socketBuffers?: SocketBuffers | undefined;
	/**
	 * Test hook: where to send media for `remote` instead of its own address
	 * (an impairment proxy between the two SFTs' pipe sockets).
	 */
	remoteEndpointHook?: PipeEndpointHook | undefined;
}

/** Maps the far side's pipe endpoint to the address this side actually sends to. */
export type PipeEndpointHook = (
	local: PipeEndpoint,
	remote: PipeEndpoint,
) => { ip: string; port: number } | Promise<{ ip: string; port: number }>;

/**
 * `full`: every stream and every layer crosses (mediasoup pipe consumers).
 * `demand`: a stream crosses only while someone behind the link views it,
 * and only the layers they need (one ordinary consumer per layer).
 */
export type RelayMode = 'full' | 'demand';

export type MediaRelayEvents = {
	/** A stream or layer started or stopped crossing towards the far side. */
	sendingChanged: [];
	closed: [];
};

/**
 * One end of a media link between two SFTs for one conference: an SRTP
 * transport (the key travels only over the authenticated federation
 * channel) with RTX, so losses on the link are repaired. Streams cross it
 * once however many viewers the far side has.
 */
export interface MediaRelay extends TypedEmitter<MediaRelayEvents> {
	readonly mode: RelayMode;
	readonly transport: ms.Transport;
	readonly localEndpoint: PipeEndpoint;
	readonly closed: boolean;
	readonly sentProducerIds: string[];
	/** The consumers carrying our streams out (several per stream in demand mode). */
	readonly sentConsumers: ms.Consumer[];
	readonly receivedProducers: ms.Producer[];
	connect(remote: PipeEndpoint): Promise<void>;
	/** Offers a local producer to the far side; returns what the far side needs to receive it. */
	send(producer: ms.Producer): Promise<RelayedProducer>;
	stopSending(producerId: string): void;
	/**
	 * Which layers of a sent producer cross, with the far side's rank for each
	 * (demand mode; full mode always sends everything). Audio: layer 0 or nothing.
	 */
	setLayers(producerId: string, layers: ReadonlyMap<number, TileRank>): Promise<void>;
	/** What crosses now, as demand on this side's producers. */
	sentDemand(): Demand;
	/** Re-creates a far-side producer here (same id), so local clients can consume it. */
	receive(relayed: RelayedProducer): Promise<ms.Producer>;
	stopReceiving(producerId: string): void;
	close(): void;
}
