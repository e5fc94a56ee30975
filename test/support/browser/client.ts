/// <reference lib="dom" />
// The in-page calling client for the real-browser tests: bundled with esbuild
// (test/support/browserCaller.ts) and run inside headless Chromium. It is the
// SDK (client/) with mediasoup-client 3.24: it sends the fake camera and
// microphone, consumes every remote producer and exposes counters from
// RTCPeerConnection.getStats() on `window.sftCall` for the Node side to poll.
import { browserDevice } from '../../../client/browser.ts';
import type { Call } from '../../../client/Call.ts';
import type { SendCodec } from '../../../client/media.ts';
import { SftClient } from '../../../client/SftClient.ts';
import type { ConferenceDescriptor } from '../../../signalling/federation/relay/linkMessages.ts';

export interface CallOptions {
	/** e.g. https://10.213.7.1:PORT */
	url: string;
	token: string;
	conferenceId: string;
	displayName: string;
	/** Fake camera size and rate (kept small: the test host has 2 shared cores); `exact` forces the size. */
	video?: { width: number; height: number; frameRate: number; exact?: boolean };
	requestTimeoutMs?: number;
	/** Publish the camera with the SFT's recommended simulcast encodings (vp8, h264) or as VP9 SVC L3T3_KEY. */
	simulcast?: 'vp8' | 'vp9' | 'h264';
	/** Also publish a second copy of the camera as a screen share (source 'screen', same encodings). */
	screen?: boolean;
	/** false: receive only (no getUserMedia, no producers). */
	publish?: boolean;
	/** Another domain's conference descriptor: a federated join through this SFT. */
	descriptor?: ConferenceDescriptor;
}

/** When the join request went out, when it was answered, and per remote producer when its track was added and showed its first frame (Date.now() ms). */
export interface JoinTimings {
	joinSentAt: number;
	joinedAt: number;
	trackAddedAt: Record<string, number>;
	firstVideoFrameAt: Record<string, number>;
}

/** Inbound video of one consumed producer, from its receiver's getStats(). */
export interface InboundVideo {
	producerId: string;
	consumerId: string;
	frameWidth: number;
	frameHeight: number;
	framesDecoded: number;
	packetsReceived: number;
	packetsLost: number;
	bytesReceived: number;
}

export interface ViewTile {
	producerId: string;
	width: number;
	height: number;
	pinned?: boolean;
}

export interface CallInfo {
	participantId: string;
	/** Empty strings when the caller does not publish. */
	producerIds: { audio: string; video: string; screen?: string };
	handlerName: string;
	/** Codecs this browser can send (mimeTypes of the device's send capabilities). */
	sendCodecs: string[];
	/** The descriptor to hand to callers of other domains. */
	descriptor?: ConferenceDescriptor | undefined;
}

export interface KindCounters {
	/** inbound-rtp entries (one per consumed remote stream of this kind). */
	streams: number;
	packetsReceived: number;
	bytesReceived: number;
	/** Video only (0 for audio). */
	framesDecoded: number;
}

export interface CallStats {
	inbound: { audio: KindCounters; video: KindCounters };
	outbound: { audio: { packetsSent: number }; video: { packetsSent: number; framesEncoded: number } };
	/** Packets of mediasoup's probation stream (mid "probator"), which is not counted in `inbound`. */
	probationPackets: number;
	/** Remote producers consumed and resumed (by producer id). */
	consumed: string[];
	sendConnectionState: string;
	recvConnectionState: string;
}

export interface SftCallApi {
	start(options: CallOptions): Promise<CallInfo>;
	stats(): Promise<CallStats>;
	/** Per consumed video, what its receiver decodes. */
	videoStats(): Promise<InboundVideo[]>;
	/** Bytes sent per encoding (rid) of one of our own producers. */
	outboundEncodings(producerId: string): Promise<Record<string, number>>;
	/** encodingsNeeded hints received and applied to our senders. */
	appliedHints: { producerId: string; active: boolean[]; at: number }[];
	setView(tiles: ViewTile[]): Promise<void>;
	setReceiveBitrate(maxBitrate: number): Promise<void>;
	/** Server events received, in order (name and payload). */
	events: { event: string; payload: unknown; at: number }[];
	timings: JoinTimings;
	/** Everything that went wrong in the page (request failures, transport failures, uncaught errors). */
	errors: string[];
	close(): void;
}

declare global {
	interface Window {
		sftCall: SftCallApi;
	}
}

const errors: string[] = [];
const events: SftCallApi['events'] = [];
const appliedHints: SftCallApi['appliedHints'] = [];
const media: HTMLMediaElement[] = [];
const timings: JoinTimings = { joinSentAt: 0, joinedAt: 0, trackAddedAt: {}, firstVideoFrameAt: {} };
const streams: MediaStream[] = [];
let client: SftClient | undefined;
let current: Call | undefined;

function fail(where: string, error: unknown): void {
	errors.push(`${where}: ${error instanceof Error ? error.message : String(error)}`);
}

window.addEventListener('error', (e) => fail('uncaught', e.error ?? e.message));
window.addEventListener('unhandledrejection', (e) => fail('unhandled rejection', e.reason));

function joined(): Call {
	if (!current) throw new Error('not started');
	return current;
}

async function start(options: CallOptions): Promise<CallInfo> {
	const timeoutMs = options.requestTimeoutMs ?? 15_000;
	const sft = await SftClient.connect(options.url, options.token, {
		device: browserDevice,
		reconnect: false,
		requestTimeoutMs: timeoutMs,
		connectTimeoutMs: timeoutMs,
	});
	client = sft;
	sft.signalling.on('event', (event, payload) => events.push({ event, payload, at: Date.now() }));
	sft.signalling.on('disconnected', (reason) => {
		if (reason !== 'io client disconnect') fail('signalling', `disconnected: ${reason}`);
	});
	const { device } = sft;
	if (!device.canProduce('audio') || !device.canProduce('video'))
		throw new Error('this browser cannot produce audio and video for the SFT');
	timings.joinSentAt = Date.now();
	const call = await sft.join(options.conferenceId, {
		displayName: options.displayName,
		...(options.descriptor ? { descriptor: options.descriptor } : {}),
	});
	timings.joinedAt = Date.now();
	current = call;
	call.on('error', (error) => fail('call', error));
	// Give every remote track a sink, as a real client would.
	call.on('trackAdded', ({ kind, track, producerId }) => {
		timings.trackAddedAt[producerId] = Date.now();
		const element = document.createElement(kind === 'video' ? 'video' : 'audio');
		element.muted = true;
		element.autoplay = true;
		element.srcObject = new MediaStream([track]);
		if (element instanceof HTMLVideoElement)
			element.requestVideoFrameCallback(() => {
				timings.firstVideoFrameAt[producerId] ??= Date.now();
			});
		document.body.appendChild(element);
		media.push(element);
		void element.play().catch(() => undefined);
	});
	call.on('encodingsNeeded', ({ producerId, active }) => appliedHints.push({ producerId, active, at: Date.now() }));

	const codecs = (device.rtpCapabilities as { codecs?: SendCodec[] }).codecs ?? [];
	const sendCodecs = codecs.map((c) => c.mimeType);
	const handlerName = device.handlerName;
	if (options.publish === false)
		return {
			participantId: call.participantId,
			producerIds: { audio: '', video: '' },
			handlerName,
			sendCodecs,
			descriptor: call.descriptor,
		};
	const video = options.video ?? { width: 320, height: 240, frameRate: 15 };
	const size = video.exact
		? { width: { exact: video.width }, height: { exact: video.height } }
		: { width: { ideal: video.width }, height: { ideal: video.height } };
	const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { ...size, frameRate: { ideal: video.frameRate } } });
	streams.push(stream);
	const [audioTrack] = stream.getAudioTracks();
	const [videoTrack] = stream.getVideoTracks();
	if (!audioTrack || !videoTrack) throw new Error('getUserMedia gave no fake audio or video track');
	const layered = (track: MediaStreamTrack, source: 'camera' | 'screen') => {
		if (!options.simulcast) return call.publish(source, track, { simulcast: false });
		const codec = codecs.find((c) => c.mimeType.toLowerCase() === `video/${options.simulcast}`);
		if (!codec) throw new Error(`this browser cannot send ${options.simulcast}`);
		// SVC: one encoding carrying three spatial layers; simulcast: the SFT's recommended encodings (for the camera).
		const encodings =
			options.simulcast === 'vp9'
				? [{ scalabilityMode: 'L3T3_KEY' } as RTCRtpEncodingParameters]
				: call.capabilities.simulcast.camera.encodings.map((e) => ({ ...e }) as RTCRtpEncodingParameters);
		return call.publish(source, track, { codec, encodings });
	};
	const audio = await call.publish('mic', audioTrack);
	const camera = await layered(videoTrack, 'camera');
	const screen = options.screen ? await layered(videoTrack.clone(), 'screen') : undefined;
	return {
		participantId: call.participantId,
		producerIds: { audio, video: camera, ...(screen ? { screen } : {}) },
		handlerName,
		sendCodecs,
		descriptor: call.descriptor,
	};
}

async function videoStats(): Promise<InboundVideo[]> {
	const call = joined();
	const out: InboundVideo[] = [];
	for (const { producerId, consumerId, kind } of call.remoteTracks) {
		if (kind !== 'video') continue;
		const stats = await call.receiveStats(producerId);
		if (!stats) continue;
		const { frameWidth, frameHeight, framesDecoded, packetsReceived, packetsLost, bytesReceived } = stats;
		out.push({ producerId, consumerId, frameWidth, frameHeight, framesDecoded, packetsReceived, packetsLost, bytesReceived });
	}
	return out;
}

/** Bytes sent so far by each encoding (by rid, or ssrc) of one of our producers. */
async function outboundEncodings(producerId: string): Promise<Record<string, number>> {
	const call = joined();
	const source = (['mic', 'camera', 'screen'] as const).find((s) => call.producerId(s) === producerId);
	const report = source ? await call.sendStats(source) : undefined;
	const out: Record<string, number> = {};
	report?.forEach((entry: Record<string, unknown>) => {
		if (entry['type'] !== 'outbound-rtp') return;
		out[String(entry['rid'] ?? entry['ssrc'])] = Number(entry['bytesSent'] ?? 0);
	});
	return out;
}

async function stats(): Promise<CallStats> {
	const inbound = {
		audio: { streams: 0, packetsReceived: 0, bytesReceived: 0, framesDecoded: 0 },
		video: { streams: 0, packetsReceived: 0, bytesReceived: 0, framesDecoded: 0 },
	};
	const outbound = { audio: { packetsSent: 0 }, video: { packetsSent: 0, framesEncoded: 0 } };
	let probationPackets = 0;
	const call = joined();
	const { send, recv } = await call.transportStats();
	recv?.forEach((entry: Record<string, unknown>) => {
		if (entry['type'] !== 'inbound-rtp') return;
		// mediasoup's bandwidth probation stream (SSRC 1234) gets its own receiver; it is not a consumer.
		if (entry['mid'] === 'probator') {
			probationPackets += Number(entry['packetsReceived'] ?? 0);
			return;
		}
		const kind = entry['kind'] === 'video' ? 'video' : entry['kind'] === 'audio' ? 'audio' : undefined;
		if (!kind) return;
		const k = inbound[kind];
		k.streams++;
		k.packetsReceived += Number(entry['packetsReceived'] ?? 0);
		k.bytesReceived += Number(entry['bytesReceived'] ?? 0);
		k.framesDecoded += Number(entry['framesDecoded'] ?? 0);
	});
	send?.forEach((entry: Record<string, unknown>) => {
		if (entry['type'] !== 'outbound-rtp') return;
		if (entry['kind'] === 'audio') outbound.audio.packetsSent += Number(entry['packetsSent'] ?? 0);
		if (entry['kind'] === 'video') {
			outbound.video.packetsSent += Number(entry['packetsSent'] ?? 0);
			outbound.video.framesEncoded += Number(entry['framesEncoded'] ?? 0);
		}
	});
	return {
		inbound,
		outbound,
		probationPackets,
		consumed: call.remoteTracks.map((t) => t.producerId),
		sendConnectionState: call.transportStates.send,
		recvConnectionState: call.transportStates.recv,
	};
}

function close(): void {
	for (const stream of streams) for (const track of stream.getTracks()) track.stop();
	for (const element of media) element.srcObject = null;
	void current?.leave();
	client?.close();
}

window.sftCall = {
	start: (options) =>
		start(options).catch((error: unknown) => {
			fail('start', error);
			throw error;
		}),
	stats,
	videoStats,
	outboundEncodings,
	appliedHints,
	setView: (tiles) => joined().setView(tiles),
	setReceiveBitrate: (maxBitrate) => joined().setReceiveBitrate(maxBitrate),
	events,
	timings,
	errors,
	close,
};
