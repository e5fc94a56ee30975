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
	/** Fake camera size and rate (kept small: the test host has 2 shared cores). */
	video?: { width: number; height: number; frameRate: number };
	requestTimeoutMs?: number;
}

export interface CallInfo {
	participantId: string;
	producerIds: { audio: string; video: string };
	handlerName: string;
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
	/** Server events received, in order (name and payload). */
	events: { event: string; payload: unknown; at: number }[];
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
const media: HTMLMediaElement[] = [];
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
		if (event === 'producerAdded') {
			const p = payload as RemoteProducer;
			if (consumeRemote) consumeRemote(p);
			else pending.push(p);
		}
	});

	const { rtpCapabilities: routerRtpCapabilities } = await req<{ rtpCapabilities: msc.RtpCapabilities }>('getCapabilities', {});
	const device = new Device();
	await device.load({ routerRtpCapabilities });
	if (!device.canProduce('audio') || !device.canProduce('video'))
		throw new Error('this browser cannot produce audio and video for the SFT');

	const joined = await req<{ participantId: string; producers: RemoteProducer[] }>('join', {
		token: options.token,
		conferenceId: options.conferenceId,
		rtpCapabilities: device.recvRtpCapabilities,
		displayName: options.displayName,
	});
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
		req<{ producerId: string }>('produce', { transportId: send.id, kind, rtpParameters, appData }).then(
			({ producerId }) => callback({ id: producerId }),
			errback,
		);
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
				const consumer = await recv.consume({ id: c.consumerId, producerId: c.producerId, kind: c.kind, rtpParameters: c.rtpParameters });
				// Give every remote track a sink, as a real client would.
				const element = document.createElement(c.kind === 'video' ? 'video' : 'audio');
				element.muted = true;
				element.autoplay = true;
				element.srcObject = new MediaStream([consumer.track]);
				document.body.appendChild(element);
				media.push(element);
				void element.play().catch(() => undefined);
				await req('resume', { consumerId: c.consumerId });
			} catch (error) {
				consumed.delete(p.producerId);
				fail(`consume ${p.kind} ${p.producerId}`, error);
			}
		});
	};
	for (const p of pending.splice(0)) consumeRemote(p);

	const video = options.video ?? { width: 320, height: 240, frameRate: 15 };
	const stream = await navigator.mediaDevices.getUserMedia({
		audio: true,
		video: { width: { ideal: video.width }, height: { ideal: video.height }, frameRate: { ideal: video.frameRate } },
	});
	streams.push(stream);
	const [audioTrack] = stream.getAudioTracks();
	const [videoTrack] = stream.getVideoTracks();
	if (!audioTrack || !videoTrack) throw new Error('getUserMedia gave no fake audio or video track');
	const audioProducer = await send.produce({ track: audioTrack });
	const videoProducer = await send.produce({ track: videoTrack });
	return {
		participantId: joined.participantId,
		producerIds: { audio: audioProducer.id, video: videoProducer.id },
		handlerName: device.handlerName,
	};
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
	events,
	errors,
	close,
};
