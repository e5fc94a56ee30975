// The client protocol as the SDK sees it: request payloads and server events
// come from the server's own declarations (signalling/client/protocol.ts, the
// README's signalling reference); replies are declared here, with RTP and ICE
// structures left opaque (mediasoup-client checks them).
import type { z } from 'zod';
import type {
	ParticipantInfo,
	ProducerInfo,
	RequestMethod,
	requestSchemas,
	ServerEvents,
	SimulcastProfiles,
} from '../signalling/client/protocol.ts';
import type { ConferenceDescriptor } from '../signalling/federation/relay/linkMessages.ts';

export type { FederationLinkInfo, MediaSource, RecommendedEncodingInfo } from '../signalling/client/protocol.ts';
export type { ConferenceDescriptor, ParticipantInfo, ProducerInfo, RequestMethod, ServerEvents, SimulcastProfiles };

/** Request payloads as a client writes them (defaults may be left out). */
export type RequestInput<M extends RequestMethod> = z.input<(typeof requestSchemas)[M]>;

/** Every request and its payload. */
export type Requests = { [M in RequestMethod]: RequestInput<M> };
export type RequestName = RequestMethod;

/** JSON the SDK passes through to mediasoup-client without looking inside. */
export type Opaque = Record<string, unknown>;

export interface Capabilities {
	rtpCapabilities: Opaque;
	limits: { maxVideos: number; maxAudible: number };
	/** What to send for a camera and a screen share (README "Simulcast"). */
	simulcast: SimulcastProfiles;
}

export interface JoinReply {
	participantId: string;
	conferenceId: string;
	/** The client's own home domain (absent when the SFT does not federate). */
	domain?: string;
	descriptor?: ConferenceDescriptor;
	rtpCapabilities: Opaque;
	participants: ParticipantInfo[];
	producers: ProducerInfo[];
}

export interface WebRtcTransportReply {
	transportId: string;
	iceParameters: Opaque;
	iceCandidates: Opaque[];
	dtlsParameters: Opaque;
}

export interface ConsumeReply {
	consumerId: string;
	producerId: string;
	kind: 'audio' | 'video';
	rtpParameters: Opaque;
	paused: boolean;
}

/** What the SFT puts in `data` for each request. */
export interface ReplyData {
	getCapabilities: Capabilities;
	join: JoinReply;
	createTransport: WebRtcTransportReply | { transportId: string; ip: string; port: number };
	connectTransport: Record<string, never>;
	produce: { producerId: string };
	closeProducer: Record<string, never>;
	consume: ConsumeReply;
	pause: Record<string, never>;
	resume: Record<string, never>;
	setView: Record<string, never>;
	leave: Record<string, never>;
	setReceiveBitrate: Record<string, never>;
}

/** Every notification the SFT may send. */
export type SftEvents = ServerEvents;
export type SftEventName = keyof SftEvents;

/** One tile of the view: the size in device pixels the client renders a video at. */
export interface ViewTile {
	producerId: string;
	width: number;
	height: number;
	pinned?: boolean;
}
