// The client protocol as the SDK sees it: request payloads and server events
// come from the server's own declarations (signalling/client/protocol.ts, the
// README's signalling reference); replies are declared here, with RTP and ICE
// structures left opaque (mediasoup-client checks them).
import type { z } from 'zod';
import type {
	FederationLinkInfo,
	ParticipantInfo,
	ProducerInfo,
	RequestMethod,
	requestSchemas,
	ServerEvents,
} from '../signalling/client/protocol.ts';
import type { ConferenceDescriptor } from '../signalling/federation/relay/linkMessages.ts';

export type { ConferenceDescriptor, FederationLinkInfo, ParticipantInfo, ProducerInfo, RequestMethod };

/** Request payloads as a client writes them (defaults may be left out). */
export type RequestInput<M extends RequestMethod> = z.input<(typeof requestSchemas)[M]>;

/** The simulcast additions to the requests (README "Client signalling reference"). */
interface SimulcastRequests {
	produce: RequestInput<'produce'> & { source?: MediaSource };
	setView: { producerIds: string[] } | { tiles: ViewTile[] };
	setReceiveBitrate: { maxBitrate: number };
}

/** Every request and its payload. */
export type Requests = Omit<{ [M in RequestMethod]: RequestInput<M> }, keyof SimulcastRequests> & SimulcastRequests;
export type RequestName = keyof Requests;

/** JSON the SDK passes through to mediasoup-client without looking inside. */
export type Opaque = Record<string, unknown>;

/** What a media source is: the SFT and other clients lay tiles out by it. */
export type MediaSource = 'mic' | 'camera' | 'screen';

/** An encoding the SFT recommends for simulcast (RTCRtpEncodingParameters subset). */
export interface RecommendedEncoding {
	rid?: string;
	scaleResolutionDownBy?: number;
	maxBitrate?: number;
	maxFramerate?: number;
	scalabilityMode?: string;
}

export interface SimulcastRecommendation {
	/** Capture size the encodings are meant for. */
	width: number;
	height: number;
	encodings: RecommendedEncoding[];
}

export interface Capabilities {
	rtpCapabilities: Opaque;
	limits: { maxVideos: number; maxAudible: number };
	/** Present when the SFT forwards simulcast and understands tile sizes, `source` and `setReceiveBitrate`. */
	simulcast?: { camera: SimulcastRecommendation; screen: SimulcastRecommendation };
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

/** The simulcast additions to the protocol (README "Client signalling reference"). */
export interface SimulcastEvents {
	consumerLayersChanged: { consumerId: string; producerId: string; spatialLayer: number; temporalLayer: number };
	encodingsNeeded: { producerId: string; active: boolean[] };
}

/** Every notification the SFT may send. */
export type SftEvents = ServerEvents & SimulcastEvents;
export type SftEventName = keyof SftEvents;

/** One tile of the view: the size in device pixels the client renders a video at. */
export interface ViewTile {
	producerId: string;
	width: number;
	height: number;
	pinned?: boolean;
}
