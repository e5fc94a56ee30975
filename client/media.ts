// The media layer the SDK drives: the parts of mediasoup-client's Device,
// Transport, Producer and Consumer it uses. Both mediasoup-client builds fit:
// 3.24 in browsers (`mediasoup-client-browser`) and 3.18 on werift's
// RTCPeerConnection in Node; `connect()` takes a factory for either.
import type { Opaque } from './protocol.ts';

export interface MediaTransportOptions {
	id: string;
	iceParameters: Opaque;
	iceCandidates: Opaque[];
	dtlsParameters: Opaque;
}

/** The parts of RTCRtpSender the SDK uses to switch simulcast encodings on and off. */
export interface EncodingSender {
	getParameters(): RTCRtpSendParameters;
	setParameters(parameters: RTCRtpSendParameters): Promise<void>;
}

export interface MediaProducer {
	readonly id: string;
	readonly kind: string;
	readonly track: MediaStreamTrack | null;
	readonly paused: boolean;
	readonly closed: boolean;
	readonly rtpSender?: EncodingSender | undefined;
	pause(): void;
	resume(): void;
	close(): void;
	getStats(): Promise<RTCStatsReport>;
}

export interface MediaConsumer {
	readonly id: string;
	readonly producerId: string;
	readonly kind: string;
	readonly track: MediaStreamTrack;
	readonly closed: boolean;
	close(): void;
	getStats(): Promise<RTCStatsReport>;
}

/** One of the device's send codecs (an entry of `device.rtpCapabilities.codecs`). */
export interface SendCodec {
	kind: 'audio' | 'video';
	mimeType: string;
	preferredPayloadType: number;
	clockRate: number;
	channels?: number;
	parameters?: Record<string, unknown>;
	rtcpFeedback?: { type: string; parameter?: string }[];
}

export interface ProduceOptions {
	track: MediaStreamTrack;
	encodings?: RTCRtpEncodingParameters[];
	codecOptions?: Record<string, unknown>;
	codec?: SendCodec;
	stopTracks?: boolean;
	appData?: Record<string, unknown>;
}

export interface MediaTransport {
	readonly id: string;
	readonly connectionState: string;
	readonly closed: boolean;
	on(
		event: 'connect',
		listener: (params: { dtlsParameters: Opaque }, callback: () => void, errback: (error: Error) => void) => void,
	): unknown;
	on(
		event: 'produce',
		listener: (
			params: { kind: string; rtpParameters: Opaque; appData: Record<string, unknown> },
			callback: (reply: { id: string }) => void,
			errback: (error: Error) => void,
		) => void,
	): unknown;
	on(event: 'connectionstatechange', listener: (state: string) => void): unknown;
	produce(options: ProduceOptions): Promise<MediaProducer>;
	consume(options: { id: string; producerId: string; kind: 'audio' | 'video'; rtpParameters: Opaque }): Promise<MediaConsumer>;
	getStats(): Promise<RTCStatsReport>;
	close(): void;
}

export interface MediaDevice {
	readonly loaded: boolean;
	readonly handlerName: string;
	readonly rtpCapabilities: Opaque;
	load(options: { routerRtpCapabilities: Opaque }): Promise<void>;
	canProduce(kind: 'audio' | 'video'): boolean;
	createSendTransport(options: MediaTransportOptions): MediaTransport;
	createRecvTransport(options: MediaTransportOptions): MediaTransport;
}

/** Makes the (unloaded) mediasoup-client Device of the platform. */
export type DeviceFactory = () => MediaDevice | Promise<MediaDevice>;
