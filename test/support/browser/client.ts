/// <reference lib="dom" />
// The in-page calling client for test/browser-call.test.ts: bundled with
// esbuild (test/support/browserCaller.ts) and run inside headless Chromium.
// It speaks the SFT client protocol (README "Client signalling reference")
// with socket.io-client and mediasoup-client (the browser build, aliased as
// mediasoup-client-browser), sends the fake camera and microphone, consumes
// every remote producer and exposes counters from RTCPeerConnection.getStats()
// on `window.sftCall` for the Node side to poll.
import { Device, type types as msc } from 'mediasoup-client-browser';
import { io, type Socket } from 'socket.io-client';

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
	descriptor?: unknown;
}

/** When the join request went out and when each remote video showed its first frame (Date.now() ms). */
export interface JoinTimings {
	joinSentAt: number;
	joinedAt: number;
	/** Per remote producer: consume answered, resume answered, first frame shown. */
	consumedAt: Record<string, number>;
	resumedAt: Record<string, number>;
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
	/** The join reply's descriptor (for other domains' callers). */
	descriptor?: unknown;
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

type Ack = { ok: true; data: unknown } | { ok: false; error: { code: string; message: string } };

interface TransportData {
	transportId: string;
	iceParameters: msc.IceParameters;
	iceCandidates: msc.IceCandidate[];
	dtlsParameters: msc.DtlsParameters;
}

interface RemoteProducer {
	producerId: string;
	participantId: string;
	kind: 'audio' | 'video';
}

const errors: string[] = [];
const events: SftCallApi['events'] = [];
let socket: Socket | undefined;
let sendTransport: msc.Transport | undefined;
let recvTransport: msc.Transport | undefined;
const consumed = new Set<string>();
/** Consumers by producer id, for per-stream stats. */
const consumers = new Map<string, msc.Consumer>();
/** Our own producers by id, so `encodingsNeeded` hints reach their RTCRtpSender. */
const producers = new Map<string, msc.Producer>();
/** Hints applied: producer id and the `active` flags set on its sender. */
const appliedHints: { producerId: string; active: boolean[]; at: number }[] = [];

/** A client applies the SFT's hint by switching its sender's encodings on or off. */
async function applyEncodingsNeeded(producerId: string, active: boolean[]): Promise<void> {
	const sender = producers.get(producerId)?.rtpSender;
	if (!sender) return;
	const parameters = sender.getParameters();
	parameters.encodings.forEach((encoding, i) => {
		encoding.active = active[i] ?? true;
	});
	await sender.setParameters(parameters);
	appliedHints.push({ producerId, active, at: Date.now() });
}
let requestAny: (<T>(method: string, payload: unknown) => Promise<T>) | undefined;
const media: HTMLMediaElement[] = [];
const timings: JoinTimings = { joinSentAt: 0, joinedAt: 0, consumedAt: {}, resumedAt: {}, firstVideoFrameAt: {} };
const streams: MediaStream[] = [];

function fail(where: string, error: unknown): void {
	errors.push(`${where}: ${error instanceof Error ? error.message : String(error)}`);
}

window.addEventListener('error', (e) => fail('uncaught', e.error ?? e.message));
window.addEventListener('unhandledrejection', (e) => fail('unhandled rejection', e.reason));

async function request<T>(method: string, payload: unknown, timeoutMs: number): Promise<T> {
	if (!socket?.connected) throw new Error(`${method}: signalling is not connected`);
	let response: Ack;
	try {
		response = (await socket.timeout(timeoutMs).emitWithAck(method, payload)) as Ack;
	} catch {
		throw new Error(`${method}: no acknowledgement within ${timeoutMs} ms`);
	}
	if (response.ok) return response.data as T;
	throw new Error(`${method}: ${response.error.code}: ${response.error.message}`);
}

async function start(options: CallOptions): Promise<CallInfo> {
	const timeoutMs = options.requestTimeoutMs ?? 15_000;
	const req = <T>(method: string, payload: unknown) => request<T>(method, payload, timeoutMs);
	requestAny = req;

	const s = io(options.url, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: timeoutMs });
	socket = s;
	await new Promise<void>((resolve, reject) => {
		s.once('connect', () => resolve());
		s.once('connect_error', (error) => reject(new Error(`cannot connect to ${options.url}: ${error.message}`)));
	});
	s.on('disconnect', (reason) => {
		if (reason !== 'io client disconnect') fail('signalling', `disconnected: ${reason}`);
	});
	s.on('requestError', (payload) => fail('requestError', JSON.stringify(payload)));

	// Remote producers announced before the receive transport exists wait here.
	const pending: RemoteProducer[] = [];
	let consumeRemote: ((p: RemoteProducer) => void) | undefined;
	s.onAny((event: string, payload: unknown) => {
		events.push({ event, payload, at: Date.now() });
		if (event === 'encodingsNeeded') {
			const hint = payload as { producerId: string; active: boolean[] };
			void applyEncodingsNeeded(hint.producerId, hint.active).catch((error: unknown) => fail('encodingsNeeded', error));
		}
		if (event === 'producerAdded') {
			const p = payload as RemoteProducer;
			if (consumeRemote) consumeRemote(p);
			else pending.push(p);
		}
	});

	const { rtpCapabilities: routerRtpCapabilities, simulcast } = await req<{
		rtpCapabilities: msc.RtpCapabilities;
		simulcast: { camera: { encodings: RTCRtpEncodingParameters[] } };
	}>('getCapabilities', {});
	const device = new Device();
	await device.load({ routerRtpCapabilities });
	if (!device.canProduce('audio') || !device.canProduce('video'))
		throw new Error('this browser cannot produce audio and video for the SFT');

	timings.joinSentAt = Date.now();
	const joined = await req<{ participantId: string; producers: RemoteProducer[]; descriptor?: unknown }>('join', {
		token: options.token,
		conferenceId: options.conferenceId,
		rtpCapabilities: device.recvRtpCapabilities,
		displayName: options.displayName,
		...(options.descriptor ? { descriptor: options.descriptor } : {}),
	});
	timings.joinedAt = Date.now();
	pending.unshift(...joined.producers);

	const wire = (transport: msc.Transport, label: string) => {
		transport.on('connect', ({ dtlsParameters }, callback, errback) => {
			req('connectTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
		});
		transport.on('connectionstatechange', (state) => {
			if (state === 'failed') fail(`${label} transport`, 'connection failed');
		});
	};

	const sendData = await req<TransportData>('createTransport', { direction: 'send' });
	const send = device.createSendTransport({
		id: sendData.transportId,
		iceParameters: sendData.iceParameters,
		iceCandidates: sendData.iceCandidates,
		dtlsParameters: sendData.dtlsParameters,
	});
	sendTransport = send;
	wire(send, 'send');
	send.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
		const { source, ...rest } = appData as { source?: string };
		req<{ producerId: string }>('produce', {
			transportId: send.id,
			kind,
			rtpParameters,
			appData: rest,
			...(source ? { source } : {}),
		}).then(({ producerId }) => callback({ id: producerId }), errback);
	});

	const recvData = await req<TransportData>('createTransport', { direction: 'recv' });
	const recv = device.createRecvTransport({
		id: recvData.transportId,
		iceParameters: recvData.iceParameters,
		iceCandidates: recvData.iceCandidates,
		dtlsParameters: recvData.dtlsParameters,
	});
	recvTransport = recv;
	wire(recv, 'recv');

	// Consume one remote producer at a time (mediasoup-client serialises anyway).
	let chain = Promise.resolve();
	consumeRemote = (p) => {
		chain = chain.then(async () => {
			if (consumed.has(p.producerId)) return;
			consumed.add(p.producerId);
			try {
				const c = await req<{ consumerId: string; producerId: string; kind: 'audio' | 'video'; rtpParameters: msc.RtpParameters }>(
					'consume',
					{ transportId: recv.id, producerId: p.producerId },
				);
				timings.consumedAt[c.producerId] = Date.now();
				const consumer = await recv.consume({ id: c.consumerId, producerId: c.producerId, kind: c.kind, rtpParameters: c.rtpParameters });
				consumers.set(c.producerId, consumer);
				// Give every remote track a sink, as a real client would.
				const element = document.createElement(c.kind === 'video' ? 'video' : 'audio');
				element.muted = true;
				element.autoplay = true;
				element.srcObject = new MediaStream([consumer.track]);
				if (element instanceof HTMLVideoElement)
					element.requestVideoFrameCallback(() => {
						timings.firstVideoFrameAt[c.producerId] ??= Date.now();
					});
				document.body.appendChild(element);
				media.push(element);
				void element.play().catch(() => undefined);
				await req('resume', { consumerId: c.consumerId });
				timings.resumedAt[c.producerId] = Date.now();
			} catch (error) {
				consumed.delete(p.producerId);
				fail(`consume ${p.kind} ${p.producerId}`, error);
			}
		});
	};
	for (const p of pending.splice(0)) consumeRemote(p);

	const sendCodecs = (device.rtpCapabilities.codecs ?? []).map((c) => c.mimeType);
	if (options.publish === false) {
		return {
			participantId: joined.participantId,
			producerIds: { audio: '', video: '' },
			handlerName: device.handlerName,
			sendCodecs,
			descriptor: joined.descriptor,
		};
	}
	const video = options.video ?? { width: 320, height: 240, frameRate: 15 };
	const size = video.exact
		? { width: { exact: video.width }, height: { exact: video.height } }
		: { width: { ideal: video.width }, height: { ideal: video.height } };
	const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { ...size, frameRate: { ideal: video.frameRate } } });
	streams.push(stream);
	const [audioTrack] = stream.getAudioTracks();
	const [videoTrack] = stream.getVideoTracks();
	if (!audioTrack || !videoTrack) throw new Error('getUserMedia gave no fake audio or video track');
	const layered = (track: MediaStreamTrack, source: string) => {
		const appData = { source };
		if (!options.simulcast) return send.produce({ track, appData });
		const codec = device.rtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === `video/${options.simulcast}`);
		if (!codec) throw new Error(`this browser cannot send ${options.simulcast}`);
		// SVC: one encoding carrying three spatial layers; simulcast: the SFT's recommended encodings.
		const encodings = options.simulcast === 'vp9' ? [{ scalabilityMode: 'L3T3_KEY' }] : simulcast.camera.encodings;
		return send.produce({ track, encodings, codec, appData });
	};
	const audioProducer = await send.produce({ track: audioTrack, appData: { source: 'mic' } });
	const videoProducer = await layered(videoTrack, 'camera');
	const screenProducer = options.screen ? await layered(videoTrack.clone(), 'screen') : undefined;
	for (const producer of [audioProducer, videoProducer, screenProducer]) if (producer) producers.set(producer.id, producer);
	return {
		participantId: joined.participantId,
		producerIds: { audio: audioProducer.id, video: videoProducer.id, ...(screenProducer ? { screen: screenProducer.id } : {}) },
		handlerName: device.handlerName,
		sendCodecs,
		descriptor: joined.descriptor,
	};
}

async function videoStats(): Promise<InboundVideo[]> {
	const out: InboundVideo[] = [];
	for (const [producerId, consumer] of consumers) {
		if (consumer.kind !== 'video' || consumer.closed) continue;
		const report = await consumer.getStats();
		report.forEach((entry: Record<string, unknown>) => {
			if (entry['type'] !== 'inbound-rtp') return;
			out.push({
				producerId,
				consumerId: consumer.id,
				frameWidth: Number(entry['frameWidth'] ?? 0),
				frameHeight: Number(entry['frameHeight'] ?? 0),
				framesDecoded: Number(entry['framesDecoded'] ?? 0),
				packetsReceived: Number(entry['packetsReceived'] ?? 0),
				packetsLost: Number(entry['packetsLost'] ?? 0),
				bytesReceived: Number(entry['bytesReceived'] ?? 0),
			});
		});
	}
	return out;
}

/** Bytes sent so far by each encoding (by rid, or index) of one of our producers. */
async function outboundEncodings(producerId: string): Promise<Record<string, number>> {
	const producer = producers.get(producerId);
	if (!producer) return {};
	const out: Record<string, number> = {};
	(await producer.getStats()).forEach((entry: Record<string, unknown>) => {
		if (entry['type'] !== 'outbound-rtp') return;
		out[String(entry['rid'] ?? entry['ssrc'])] = Number(entry['bytesSent'] ?? 0);
	});
	return out;
}

async function call(method: string, payload: unknown): Promise<void> {
	if (!requestAny) throw new Error(`${method}: not started`);
	await requestAny(method, payload);
}

async function stats(): Promise<CallStats> {
	const inbound = {
		audio: { streams: 0, packetsReceived: 0, bytesReceived: 0, framesDecoded: 0 },
		video: { streams: 0, packetsReceived: 0, bytesReceived: 0, framesDecoded: 0 },
	};
	const outbound = { audio: { packetsSent: 0 }, video: { packetsSent: 0, framesEncoded: 0 } };
	let probationPackets = 0;
	const recvReport = recvTransport ? await recvTransport.getStats() : undefined;
	recvReport?.forEach((entry: Record<string, unknown>) => {
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
	const sendReport = sendTransport ? await sendTransport.getStats() : undefined;
	sendReport?.forEach((entry: Record<string, unknown>) => {
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
		consumed: [...consumed],
		sendConnectionState: sendTransport?.connectionState ?? 'none',
		recvConnectionState: recvTransport?.connectionState ?? 'none',
	};
}

function close(): void {
	for (const stream of streams) for (const track of stream.getTracks()) track.stop();
	for (const element of media) element.srcObject = null;
	sendTransport?.close();
	recvTransport?.close();
	socket?.close();
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
	setView: (tiles) => call('setView', { tiles }),
	setReceiveBitrate: (maxBitrate) => call('setReceiveBitrate', { maxBitrate }),
	events,
	timings,
	errors,
	close,
};
