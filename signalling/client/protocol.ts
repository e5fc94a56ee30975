import { z } from 'zod';
import { type ConferenceDescriptor, conferenceDescriptorSchema } from '../federation/relay/linkMessages.ts';

/**
 * Client ↔ SFT signalling messages. Every request is a socket.io event with
 * an acknowledgement: `socket.emit(method, payload, ack)`; the ack receives
 * `{ ok: true, data }` or `{ ok: false, error: { code, message } }`.
 * Server → client notifications are plain events (see ServerEvents).
 */

const id = z.string().min(1).max(128);
/** A frame or tile dimension in device pixels. */
const pixels = z.number().int().min(1).max(16_384);
// Media descriptions are checked structurally here; mediasoup validates the details.
const rtpParameters = z.looseObject({
	codecs: z
		.array(z.looseObject({ mimeType: z.string().max(64), payloadType: z.number().int(), clockRate: z.number().int() }))
		.min(1)
		.max(16),
	encodings: z.array(z.looseObject({})).max(8).optional(),
	headerExtensions: z
		.array(z.looseObject({ uri: z.string().max(256), id: z.number().int() }))
		.max(32)
		.optional(),
	rtcp: z.looseObject({}).optional(),
	mid: z.string().max(32).optional(),
});
const rtpCapabilities = z.looseObject({
	codecs: z
		.array(z.looseObject({ mimeType: z.string().max(64), kind: z.enum(['audio', 'video']), clockRate: z.number().int() }))
		.max(64)
		.optional(),
	headerExtensions: z
		.array(z.looseObject({ uri: z.string().max(256) }))
		.max(64)
		.optional(),
});
const dtlsParameters = z.looseObject({
	role: z.enum(['auto', 'client', 'server']).optional(),
	fingerprints: z
		.array(z.object({ algorithm: z.string().max(16), value: z.string().max(256) }))
		.min(1)
		.max(8),
});

export const requestSchemas = {
	getCapabilities: z.object({}).strict(),
	join: z
		.object({
			token: z.string().max(4096).optional(),
			conferenceId: id,
			rtpCapabilities,
			displayName: z.string().max(128).optional(),
			/** From a client of the anchor domain: join that conference through this SFT. */
			descriptor: conferenceDescriptorSchema.optional(),
		})
		.strict(),
	createTransport: z.object({ direction: z.enum(['send', 'recv']), type: z.enum(['webrtc', 'plain']).default('webrtc') }).strict(),
	connectTransport: z.union([
		z.object({ transportId: id, dtlsParameters }).strict(),
		z.object({ transportId: id, ip: z.union([z.ipv4(), z.ipv6()]), port: z.number().int().min(1).max(65535) }).strict(),
	]),
	produce: z
		.object({
			transportId: id,
			kind: z.enum(['audio', 'video']),
			rtpParameters,
			/** Defaults to mic for audio and camera for video. */
			source: z.enum(['mic', 'camera', 'screen']).optional(),
			/** Frame size of the top layer, when the client knows it (else the source's recommended size is assumed). */
			size: z.object({ width: pixels, height: pixels }).strict().optional(),
			appData: z.record(z.string(), z.union([z.string().max(256), z.number(), z.boolean()])).optional(),
		})
		.strict(),
	closeProducer: z.object({ producerId: id }).strict(),
	consume: z.object({ transportId: id, producerId: id }).strict(),
	pause: z.union([z.object({ consumerId: id }).strict(), z.object({ producerId: id }).strict()]),
	resume: z.union([z.object({ consumerId: id }).strict(), z.object({ producerId: id }).strict()]),
	/** The videos a client shows: bare ids ("as large as you can") or tiles with the size they are drawn at. */
	setView: z.union([
		z.object({ producerIds: z.array(id).max(64) }).strict(),
		z
			.object({
				tiles: z.array(z.object({ producerId: id, width: pixels, height: pixels, pinned: z.boolean().optional() }).strict()).max(64),
			})
			.strict(),
	]),
	/** Caps what the SFT sends this client (bits per second, at least 30000; 0 removes the cap). */
	setReceiveBitrate: z.object({ maxBitrate: z.union([z.literal(0), z.number().int().min(30_000).max(1_000_000_000)]) }).strict(),
	leave: z.object({}).strict(),
} as const;

export type RequestMethod = keyof typeof requestSchemas;
export type RequestPayload<M extends RequestMethod> = z.output<(typeof requestSchemas)[M]>;

export function isRequestMethod(name: string): name is RequestMethod {
	return Object.hasOwn(requestSchemas, name);
}

export type MediaSource = 'mic' | 'camera' | 'screen';

export interface ParticipantInfo {
	participantId: string;
	userId: string;
	displayName: string;
	/** The participant's home domain (the SFT its client is connected to); absent when this SFT does not federate. */
	domain?: string;
}

/** One link of a federated conference between this SFT and a partner SFT. */
export interface FederationLinkInfo {
	domain: string;
	up: boolean;
	/** Round-trip time over the link, when media has measured it. */
	rttMs?: number;
}

export interface ProducerInfo {
	producerId: string;
	participantId: string;
	kind: 'audio' | 'video';
	source: MediaSource;
	paused: boolean;
	/** Spatial and temporal layers the stream carries (1 and 1 for a single-layer stream). */
	spatialLayers: number;
	temporalLayers: number;
}

/** One encoding a client is asked to send, in the shape of RTCRtpEncodingParameters. */
export interface RecommendedEncodingInfo {
	scaleResolutionDownBy: number;
	maxBitrate: number;
	scalabilityMode: string;
	maxFramerate?: number;
}

/** The `simulcast` part of the getCapabilities reply: what to send for a camera and for a screen share. */
export interface SimulcastProfiles {
	camera: { width: number; height: number; encodings: RecommendedEncodingInfo[] };
	screen: { width: number; height: number; encodings: RecommendedEncodingInfo[] };
}

/** Notifications the SFT sends to a joined client. */
export interface ServerEvents {
	participantJoined: ParticipantInfo;
	participantLeft: { participantId: string };
	producerAdded: ProducerInfo;
	producerClosed: { producerId: string };
	producerPaused: { producerId: string };
	producerResumed: { producerId: string };
	consumerClosed: { consumerId: string; producerId: string };
	/** The SFT paused or resumed a consumer (stream selection or client request). */
	consumerPaused: { consumerId: string; paused: boolean };
	/** The layers a simulcast/SVC consumer carries now (null: none, e.g. while paused). */
	consumerLayersChanged: { consumerId: string; producerId: string; spatialLayer: number | null; temporalLayer: number | null };
	/** Which encodings of one of the client's own videos anyone needs; the client may stop the others. */
	encodingsNeeded: { producerId: string; active: boolean[] };
	activeSpeakers: { speakers: { participantId: string; producerId: string; volume: number }[] };
	conferenceEnded: { reason: string };
	/**
	 * The conference moved to another media worker (its worker died): every
	 * transport, stream and consumer of this client is gone. Create the
	 * transports again, publish again and consume `producers`; the
	 * participant id and the conference stay the same.
	 */
	mediaReset: {
		reason: string;
		participantId: string;
		rtpCapabilities: unknown;
		participants: ParticipantInfo[];
		producers: ProducerInfo[];
	};
	/**
	 * The conference is anchored at another SFT now (its anchor died and the
	 * survivors chose a successor): pass this descriptor around from now on.
	 */
	conferenceDescriptor: { descriptor: ConferenceDescriptor };
	/** The conference's links to other domains' SFTs: sent after join and on every change. */
	federationLinks: { links: FederationLinkInfo[] };
}

/** Largest request payload accepted, serialized as JSON. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
