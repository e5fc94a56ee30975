import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import {
	AUDIO_LEVEL_EXTENSION_ID,
	OPUS_PAYLOAD_TYPE,
	opusProducerParameters,
	VP8_PAYLOAD_TYPE,
	vp8ProducerParameters,
} from '../../bench/rtp/producerParameters.ts';
import { audioLevelExtension, buildOpusPayload, buildRtpPacket, isRtcp, parseRtpPacket } from '../../bench/rtp/rtpPackets.ts';
import { SeqSet } from '../../bench/rtp/streamStats.ts';
import { TRANSPORT_CC_URI, TransportFeedback } from '../../bench/rtp/transportFeedback.ts';
import { VideoLayerSender } from '../../bench/rtp/videoLayerSender.ts';
import { singleLayerProfile } from '../../bench/rtp/videoProfiles.ts';
import { getOrInsert } from '../../sft/getOrInsert.ts';
import { SignallingClient } from './signallingClient.ts';

/**
 * A calling client that speaks the real signalling protocol but sends and
 * receives raw RTP over plain transports (cheap enough to run several per
 * test). Audio only: Opus with an audio level, 50 packets/s.
 */
export class PlainSignallingPeer {
	readonly signalling: SignallingClient;
	readonly #udp: Socket;
	/**
	 * Unique sequence numbers received, by consumer SSRC (a producer consumed
	 * again after a link came back gets a new consumer, with its own numbers).
	 */
	readonly #received = new Map<number, ReceivedStream>();
	readonly #producerBySsrc = new Map<number, string>();
	/** Unique packets of streams whose producer closed, by producer: their sequence-number sets are let go. */
	readonly #closedCounts = new Map<string, number>();
	#recvTransportId: string | undefined;
	/** Settles when the receive transport being created is ready: a consume waits for it (after a mediaReset, streams are announced meanwhile). */
	#recvReady: Promise<void> = Promise.resolve();
	/** Where the receive transport listens: transport feedback goes there. */
	#recvTarget: { ip: string; port: number } | undefined;
	/** Transport-wide feedback, as a browser sends it; one per receive transport. */
	#feedback: TransportFeedback | undefined;
	#timer: NodeJS.Timeout | undefined;
	joinData: Record<string, unknown> = {};
	/** Where our audio goes now (a mediaReset moves it), and what we send. */
	#sendTarget: { ip: string; port: number } | undefined;
	#sending: { ssrc: number; levelDbov: number } | undefined;
	#video:
		| { sender: VideoLayerSender; rtpParameters: unknown; target: { ip: string; port: number } | undefined; timer: NodeJS.Timeout }
		| undefined;
	/** Owner of each remote producer, from the join reply and events. */
	readonly #ownerOf = new Map<string, string>();
	/** Times a mediaReset was handled (transports, stream and consumers re-created). */
	mediaResets = 0;

	private constructor(signalling: SignallingClient, udp: Socket) {
		this.signalling = signalling;
		this.#udp = udp;
		udp.on('message', (packet) => {
			if (isRtcp(packet)) return;
			this.#feedback?.onPacket(packet, performance.now());
			const rtp = parseRtpPacket(packet);
			const producerId = rtp && this.#producerBySsrc.get(rtp.ssrc);
			if (!rtp || !producerId) return;
			getOrInsert(this.#received, rtp.ssrc, () => new ReceivedStream(producerId)).add(rtp.sequenceNumber);
		});
	}

	static async connect(url: string): Promise<PlainSignallingPeer> {
		const signalling = await SignallingClient.connect({ url });
		const udp = createSocket('udp4');
		await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', () => resolve()));
		const peer = new PlainSignallingPeer(signalling, udp);
		signalling.on('producerAdded', (info) => peer.#ownerOf.set(info.producerId, info.participantId));
		// A long call (the soak) sees hundreds of producers come and go: keep their counts, not their sets.
		signalling.on('producerClosed', ({ producerId }) => peer.#forgetStreams(producerId));
		// As a real client: after a worker death, set up media again on its own.
		signalling.on('mediaReset', (reset) => void peer.#recover(reset.producers).catch(() => undefined));
		return peer;
	}

	async #recover(producers: { producerId: string; participantId: string }[]): Promise<void> {
		await this.#openRecvTransport();
		if (this.#sending) await this.#produceAudio(this.#sending.ssrc);
		if (this.#video) this.#video.target = (await this.#produce('video', this.#video.rtpParameters)).target;
		for (const p of producers) {
			this.#ownerOf.set(p.producerId, p.participantId);
			await this.consume(p.producerId).catch(() => undefined);
		}
		this.mediaResets++;
	}

	/**
	 * The user ids this client believes are in the call (join reply, then
	 * participantJoined/Left, a mediaReset starting over); throws on a
	 * participant joining twice or one leaving who was not there.
	 */
	roster(): string[] {
		const present = new Map<string, string>();
		const reset = (list: { participantId: string; userId: string }[] | undefined) => {
			present.clear();
			for (const p of list ?? []) present.set(p.participantId, p.userId);
		};
		reset(this.joinData['participants'] as { participantId: string; userId: string }[] | undefined);
		for (const { event, payload } of this.signalling.events) {
			const info = payload as { participantId: string; userId: string; participants?: { participantId: string; userId: string }[] };
			if (event === 'mediaReset') reset(info.participants);
			else if (event === 'participantJoined') {
				if (present.has(info.participantId)) throw new Error(`${info.userId} joined twice`);
				present.set(info.participantId, info.userId);
			} else if (event === 'participantLeft' && !present.delete(info.participantId)) {
				throw new Error('a participant left who was not there');
			}
		}
		return [...present.values()].sort();
	}

	/** Packets received from any stream of one participant (its producers change after a mediaReset). */
	receivedFromParticipant(participantId: string): number {
		let count = 0;
		for (const stream of this.#received.values()) if (this.#ownerOf.get(stream.producerId) === participantId) count += stream.unique;
		for (const [producerId, unique] of this.#closedCounts) if (this.#ownerOf.get(producerId) === participantId) count += unique;
		return count;
	}

	#forgetStreams(producerId: string): void {
		for (const [ssrc, stream] of this.#received) {
			if (stream.producerId !== producerId) continue;
			this.#closedCounts.set(producerId, (this.#closedCounts.get(producerId) ?? 0) + stream.unique);
			this.#received.delete(ssrc);
			this.#producerBySsrc.delete(ssrc);
		}
	}

	async join(payload: { token: string; conferenceId: string; descriptor?: unknown }): Promise<Record<string, unknown>> {
		const { rtpCapabilities } = (await this.signalling.requestUnchecked('getCapabilities', [{}])) as { rtpCapabilities: unknown };
		this.joinData = (await this.signalling.requestUnchecked('join', [{ ...payload, rtpCapabilities }])) as Record<string, unknown>;
		for (const p of (this.joinData['producers'] as { producerId: string; participantId: string }[] | undefined) ?? [])
			this.#ownerOf.set(p.producerId, p.participantId);
		await this.#openRecvTransport();
		return this.joinData;
	}

	/** Creates the receive transport; consumes asked for meanwhile wait for it. */
	#openRecvTransport(): Promise<void> {
		this.#recvReady = this.#createRecvTransport();
		return this.#recvReady;
	}

	async #createRecvTransport(): Promise<void> {
		const recv = (await this.signalling.requestUnchecked('createTransport', [{ direction: 'recv', type: 'plain' }])) as {
			transportId: string;
			ip: string;
			port: number;
		};
		this.#stopFeedback();
		this.#recvTransportId = recv.transportId;
		this.#recvTarget = { ip: recv.ip, port: recv.port };
		const port = (this.#udp.address() as AddressInfo).port;
		await this.signalling.requestUnchecked('connectTransport', [{ transportId: recv.transportId, ip: '127.0.0.1', port }]);
	}

	/** Starts sending Opus at 50 packets/s with a fixed audio level (dBov). */
	async sendAudio(ssrc: number, levelDbov = 20): Promise<string> {
		this.#sending = { ssrc, levelDbov };
		const producerId = await this.#produceAudio(ssrc);
		let seq = 0;
		this.#timer = setInterval(() => {
			const target = this.#sendTarget;
			if (!target) return;
			seq++;
			const payload = buildOpusPayload(60, { streamId: ssrc, seq, sentAtMs: Date.now() });
			const packet = buildRtpPacket(
				{
					payloadType: OPUS_PAYLOAD_TYPE,
					sequenceNumber: seq & 0xffff,
					timestamp: seq * 960,
					ssrc,
					extensions: [audioLevelExtension(AUDIO_LEVEL_EXTENSION_ID, levelDbov)],
				},
				payload,
			);
			this.#udp.send(packet, target.port, target.ip);
		}, 20);
		return producerId;
	}

	async #produceAudio(ssrc: number): Promise<string> {
		const { producerId, target } = await this.#produce('audio', opusProducerParameters(ssrc, `cname-${ssrc}`));
		this.#sendTarget = target;
		return producerId;
	}

	/** A plain send transport and one producer on it; where to send its RTP. */
	async #produce(kind: 'audio' | 'video', rtpParameters: unknown): Promise<{ producerId: string; target: { ip: string; port: number } }> {
		const send = (await this.signalling.requestUnchecked('createTransport', [{ direction: 'send', type: 'plain' }])) as {
			transportId: string;
			ip: string;
			port: number;
		};
		const { producerId } = (await this.signalling.requestUnchecked('produce', [
			{ transportId: send.transportId, kind, rtpParameters },
		])) as {
			producerId: string;
		};
		return { producerId, target: { ip: send.ip, port: send.port } };
	}

	/** Starts a small VP8 stream (60 packets/s, 15 fps, a key frame every second), for view changes. */
	async sendVideo(ssrc: number): Promise<string> {
		const profile = singleLayerProfile({ packetsPerSecond: 60, payloadBytes: 600, framesPerSecond: 15, keyFrameIntervalMs: 1000 });
		const [layer] = profile.layers;
		if (!layer) throw new Error('a single-layer profile has a layer');
		const sender = new VideoLayerSender({ ssrc, payloadType: VP8_PAYLOAD_TYPE, layer, profile });
		const rtpParameters = vp8ProducerParameters([ssrc], 'video', profile.layers);
		const { producerId, target } = await this.#produce('video', rtpParameters);
		const started = performance.now();
		const timer = setInterval(() => {
			const video = this.#video;
			const to = video?.target;
			if (!video || !to) return;
			video.sender.drain(performance.now() - started, (packet) => this.#udp.send(packet, to.port, to.ip));
		}, 20);
		this.#video = { sender, rtpParameters, target, timer };
		return producerId;
	}

	/**
	 * Consumes every remote producer, those known now and every one announced
	 * later, as a real client does (also when a stream comes back after a
	 * federation link returned under the same id).
	 */
	consumeAnnounced(): void {
		const consumeOnce = (producerId: string) => {
			if (this.#closed) return;
			this.consume(producerId).catch(() => undefined);
		};
		this.signalling.on('producerAdded', (info) => consumeOnce(info.producerId));
		const known = [
			...((this.joinData['producers'] as { producerId: string }[] | undefined) ?? []).map((p) => p.producerId),
			...this.signalling.received('producerAdded').map((p) => p.producerId),
		];
		for (const producerId of new Set(known)) consumeOnce(producerId);
	}

	/** Consumes a remote producer and resumes it, as a real client does. */
	async consume(producerId: string): Promise<void> {
		await this.#recvReady;
		const consumer = (await this.signalling.requestUnchecked('consume', [{ transportId: this.#recvTransportId, producerId }])) as {
			consumerId: string;
			rtpParameters: { encodings?: { ssrc?: number }[]; headerExtensions?: { uri: string; id: number }[] };
		};
		const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
		if (ssrc !== undefined) this.#producerBySsrc.set(ssrc, producerId);
		const transportCcId = consumer.rtpParameters.headerExtensions?.find((e) => e.uri === TRANSPORT_CC_URI)?.id;
		if (transportCcId !== undefined) this.#startFeedback(transportCcId, ssrc ?? 0);
		await this.signalling.requestUnchecked('resume', [{ consumerId: consumer.consumerId }]);
	}

	/**
	 * Transport feedback every 50 ms, as Chrome sends it, once a consumer has
	 * negotiated transport-cc. Without it mediasoup keeps every sent packet in
	 * its send-side history for 60 s (and holds the estimate where it started).
	 */
	#startFeedback(extensionId: number, mediaSsrc: number): void {
		if (this.#feedback) return;
		this.#feedback = new TransportFeedback(extensionId);
		this.#feedback.startSending(mediaSsrc, (packet) => {
			const to = this.#recvTarget;
			if (to) this.#udp.send(packet, to.port, to.ip);
		});
	}

	#stopFeedback(): void {
		this.#feedback?.stop();
		this.#feedback = undefined;
	}

	receivedFrom(producerId: string): number {
		let count = 0;
		for (const stream of this.#received.values()) if (stream.producerId === producerId) count += stream.unique;
		return count;
	}

	#closed = false;

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		clearInterval(this.#timer);
		clearInterval(this.#video?.timer);
		this.#stopFeedback();
		this.signalling.close();
		this.#udp.close();
	}
}

/**
 * Unique packets of one consumer, by sequence number extended past the
 * 16-bit wrap (a long call passes 65,536 packets), kept in a bitset: cheap
 * enough for the 30-minute soak.
 */
class ReceivedStream {
	readonly producerId: string;
	readonly #seqs = new SeqSet();
	/** Highest extended sequence number so far (-1: none). */
	#highest = -1;

	constructor(producerId: string) {
		this.producerId = producerId;
	}

	get unique(): number {
		return this.#seqs.size;
	}

	add(sequenceNumber: number): void {
		let extended = sequenceNumber;
		if (this.#highest >= 0) {
			extended += this.#highest - (this.#highest & 0xffff);
			// More than half the range away: the counter wrapped (ahead) or a late packet of the last cycle (behind).
			if (extended < this.#highest - 0x8000) extended += 0x10000;
			else if (extended > this.#highest + 0x8000) extended -= 0x10000;
		}
		if (extended < 0) return;
		this.#highest = Math.max(this.#highest, extended);
		this.#seqs.add(extended);
	}
}
