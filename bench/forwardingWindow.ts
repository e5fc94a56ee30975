import { performance } from 'node:perf_hooks';
import type { types as ms } from 'mediasoup';
import type { MediaWorker } from '../sft/MediaWorker.ts';
import { type ForwardingResult, type KindTotals, lossPercent, round } from './forwardingReport.ts';
import { machineCpuTicks, processUsage, udpReceiveBufferErrors, udpSocketDrops } from './machineStats.ts';
import type { PlainRtpClient, RemoteStream } from './rtp/plainRtpClient.ts';
import type { StreamSender } from './rtp/streamSender.ts';
import { DelayHistogram } from './rtp/streamStats.ts';

interface Pair {
	receiver: PlainRtpClient;
	stream: RemoteStream;
	activeAtStart: boolean;
	/** Encoding the consumer forwarded when the window opened. */
	layerAtStart: number;
}

type WindowFigures = Omit<ForwardingResult, 'config' | 'machine'>;

const CHANNEL_PROBE_MS = 2000;

/**
 * One measurement window. Loss is counted in sender sequence numbers: the
 * packets each sender (audio, or one simulcast layer) sent between open and
 * close, against what each receiver whose consumer flowed on the same layer
 * for the whole window got of exactly that layer.
 */
export class MeasurementWindow {
	readonly #clients: PlainRtpClient[];
	readonly #workers: MediaWorker[];
	readonly #pairs: Pair[];
	readonly #seqFrom = new Map<StreamSender, number>();
	readonly #seqTo = new Map<StreamSender, number>();
	readonly #publishedBytesFrom: number;
	#publishedBytesTo = 0;
	readonly #unstable = new Set<string>();
	readonly #unsubscribe: (() => void)[] = [];
	readonly #startedAt = performance.now();
	readonly #nodeCpuFrom = process.cpuUsage();
	readonly #eventLoopFrom = performance.eventLoopUtilization();
	readonly #bytesFrom: number;
	readonly #skippedFrom: number;
	readonly #udpDropsFrom = udpReceiveBufferErrors();
	readonly #clientPorts: Set<number>;
	readonly #sftPorts: Set<number>;
	readonly #clientDropsFrom: number;
	readonly #sftDropsFrom: number;
	readonly #machineFrom = machineCpuTicks();
	#udpDrops = 0;
	#clientDrops = 0;
	#sftDrops = 0;
	#machineBusy = 0;
	#workerCpuFrom = 0;
	#closedAt = 0;
	#nodeCpu = { user: 0, system: 0 };
	#eventLoopBusy = 0;
	#workerCpu = 0;
	#workerRss = 0;
	#bytesTo = 0;
	/** Slowest answer of the worker's control channel during the window (a request still unanswered counts its wait so far). */
	#channelMs = 0;
	readonly #channelPending = new Set<number>();
	#channelTimer: NodeJS.Timeout | undefined;

	private constructor(clients: PlainRtpClient[], workers: MediaWorker[]) {
		this.#clients = clients;
		this.#workers = workers;
		for (const client of clients) {
			for (const sender of client.senders) this.#seqFrom.set(sender, sender.sent);
			client.delay.reset();
			const onChange = (consumerId: string) => this.#unstable.add(consumerId);
			this.#unsubscribe.push(
				client.participant.subscribe('consumerPausedChanged', onChange),
				client.participant.subscribe('consumerLayersChanged', onChange),
			);
		}
		this.#pairs = clients.flatMap((receiver) =>
			receiver.remoteStreams.map((stream) => ({ receiver, stream, activeAtStart: flowing(stream), layerAtStart: forwardedLayer(stream) })),
		);
		this.#publishedBytesFrom = publishedBytes(clients);
		this.#bytesFrom = receivedBytes(clients);
		this.#skippedFrom = skipped(clients);
		this.#clientPorts = new Set(clients.flatMap((c) => c.socketPorts));
		this.#sftPorts = new Set(clients.flatMap((c) => c.participant.transports.map(localPort)));
		this.#clientDropsFrom = udpSocketDrops(this.#clientPorts);
		this.#sftDropsFrom = udpSocketDrops(this.#sftPorts);
	}

	static async open(clients: PlainRtpClient[], workers: MediaWorker[]): Promise<MeasurementWindow> {
		const window = new MeasurementWindow(clients, workers);
		window.#workerCpuFrom = await workerCpuSeconds(workers);
		window.#probeChannel();
		window.#channelTimer = setInterval(() => window.#probeChannel(), CHANNEL_PROBE_MS);
		return window;
	}

	/** How long the workers take to answer a request: what joins, views and layer changes wait for under this load. */
	#probeChannel(): void {
		const sent = performance.now();
		this.#channelPending.add(sent);
		void Promise.all(this.#workers.map((w) => w.worker.getResourceUsage()))
			.catch(() => undefined)
			.then(() => {
				if (!this.#channelPending.delete(sent) || this.#closedAt > 0) return;
				this.#channelMs = Math.max(this.#channelMs, performance.now() - sent);
			});
	}

	/** Ends the window (before senders stop); counting happens later in figures(), after in-flight packets land. */
	async close(): Promise<void> {
		this.#closedAt = performance.now();
		clearInterval(this.#channelTimer);
		for (const sent of this.#channelPending) this.#channelMs = Math.max(this.#channelMs, this.#closedAt - sent);
		for (const client of this.#clients) for (const sender of client.senders) this.#seqTo.set(sender, sender.sent);
		this.#publishedBytesTo = publishedBytes(this.#clients);
		this.#bytesTo = receivedBytes(this.#clients);
		this.#nodeCpu = process.cpuUsage(this.#nodeCpuFrom);
		this.#eventLoopBusy = performance.eventLoopUtilization(this.#eventLoopFrom).utilization;
		this.#udpDrops = udpReceiveBufferErrors() - this.#udpDropsFrom;
		this.#clientDrops = udpSocketDrops(this.#clientPorts) - this.#clientDropsFrom;
		this.#sftDrops = udpSocketDrops(this.#sftPorts) - this.#sftDropsFrom;
		const machine = machineCpuTicks();
		const total = machine.total - this.#machineFrom.total;
		this.#machineBusy = total > 0 ? (machine.busy - this.#machineFrom.busy) / total : 0;
		const usage = await workerUsage(this.#workers);
		this.#workerCpu = usage.cpuSeconds - this.#workerCpuFrom;
		this.#workerRss = usage.rssBytes;
		for (const off of this.#unsubscribe) off();
	}

	figures(): WindowFigures {
		const seconds = (this.#closedAt - this.#startedAt) / 1000;
		const kinds = { audio: { expected: 0, received: 0 }, video: { expected: 0, received: 0 } };
		const videoLayers: Record<string, number> = {};
		const senderOf = new Map<number, StreamSender>();
		for (const client of this.#clients) for (const sender of client.senders) senderOf.set(sender.ssrc, sender);
		let measured = 0;
		let excluded = 0;
		for (const { stream, activeAtStart, layerAtStart } of this.#pairs) {
			const changed = this.#unstable.has(stream.consumer.id) || forwardedLayer(stream) !== layerAtStart;
			if (!activeAtStart || !flowing(stream) || changed) {
				// Paused for the whole window is expected (not selected); only flips and layer switches are "excluded".
				if (activeAtStart !== flowing(stream) || changed) excluded++;
				continue;
			}
			const sender = senderOf.get(stream.senderSsrcs[layerAtStart] ?? -1);
			const counter = stream.layers[layerAtStart];
			if (!sender || !counter) continue;
			const from = this.#seqFrom.get(sender) ?? 0;
			const to = this.#seqTo.get(sender) ?? from;
			kinds[stream.kind].expected += to - from;
			kinds[stream.kind].received += counter.seqs.countRange(from, to);
			if (stream.kind === 'video') videoLayers[layerAtStart] = (videoLayers[layerAtStart] ?? 0) + 1;
			measured++;
		}
		const expected = kinds.audio.expected + kinds.video.expected;
		const received = kinds.audio.received + kinds.video.received;
		let ingress = 0;
		for (const [sender, to] of this.#seqTo) ingress += to - (this.#seqFrom.get(sender) ?? to);
		const delay = new DelayHistogram();
		for (const client of this.#clients) delay.merge(client.delay);
		const totals = (k: { expected: number; received: number }): KindTotals => ({ ...k, lossPercent: lossPercent(k.expected, k.received) });
		const streams = this.#clients.flatMap((c) => c.remoteStreams);
		const switches = streams.reduce((n, s) => n + s.layerSwitches, 0);
		return {
			windowSeconds: round(seconds, 2),
			consumers: this.#pairs.length,
			measuredPairs: measured,
			excludedPairs: excluded,
			videoPairsByLayer: videoLayers,
			ingressPacketsPerSecond: round(ingress / seconds),
			publishedMbitPerSecond: round(((this.#publishedBytesTo - this.#publishedBytesFrom) * 8) / seconds / 1e6, 2),
			forwardedPacketsPerSecond: round(received / seconds),
			forwardedMbitPerSecond: round(((this.#bytesTo - this.#bytesFrom) * 8) / seconds / 1e6, 2),
			expected,
			received,
			lossPercent: lossPercent(expected, received),
			byKind: { audio: totals(kinds.audio), video: totals(kinds.video) },
			delayMs: {
				p50: delay.percentile(50) ?? null,
				p99: delay.percentile(99) ?? null,
				max: delay.count > 0 ? round(delay.maxMs, 2) : null,
			},
			worker: {
				cpuPercent: round((this.#workerCpu / seconds) * 100),
				rssMB: round(this.#workerRss / 2 ** 20),
				channelMs: round(this.#channelMs),
			},
			node: {
				cpuPercent: round(((this.#nodeCpu.user + this.#nodeCpu.system) / 1e6 / seconds) * 100),
				eventLoopBusyPercent: round(this.#eventLoopBusy * 100),
				rssMB: round(process.memoryUsage.rss() / 2 ** 20),
			},
			kernelUdpDrops: this.#udpDrops,
			udpDrops: { loadClients: this.#clientDrops, sft: this.#sftDrops },
			machineBusyPercent: round(this.#machineBusy * 100),
			senderSkipped: skipped(this.#clients) - this.#skippedFrom,
			layerSwitches: switches,
			layerSwitchesNotOnKeyFrame: switches - streams.reduce((n, s) => n + s.layerSwitchesOnKeyFrame, 0),
			duplicates: streams.reduce((n, s) => n + s.layers.reduce((m, l) => m + l.duplicates, 0), 0),
			unknownPackets: this.#clients.reduce((n, c) => n + c.unknownPackets, 0),
			clientErrors: this.#clients.reduce((n, c) => n + c.errors.length, 0),
		};
	}
}

function flowing(stream: RemoteStream): boolean {
	return !stream.consumer.closed && !stream.consumer.paused && !stream.consumer.producerPaused;
}

/**
 * The encoding a consumer forwards, as mediasoup reports it (a simulcast
 * consumer's current spatial layer; before it has one, the layer it is
 * waiting for). Single-layer streams have only encoding 0.
 */
function forwardedLayer(stream: RemoteStream): number {
	const { consumer } = stream;
	if (consumer.type !== 'simulcast') return 0;
	return consumer.currentLayers?.spatialLayer ?? consumer.preferredLayers?.spatialLayer ?? 0;
}

function localPort(transport: ms.Transport): number {
	return 'tuple' in transport ? (transport as ms.PlainTransport).tuple.localPort : -1;
}

export function receivedPackets(clients: PlainRtpClient[]): number {
	return clients.reduce((n, c) => n + c.remoteStreams.reduce((m, s) => m + s.layers.reduce((k, l) => k + l.packets, 0), 0), 0);
}

function receivedBytes(clients: PlainRtpClient[]): number {
	return clients.reduce((n, c) => n + c.remoteStreams.reduce((m, s) => m + s.layers.reduce((k, l) => k + l.bytes, 0), 0), 0);
}

function publishedBytes(clients: PlainRtpClient[]): number {
	return clients.reduce((n, c) => n + c.senders.reduce((m, s) => m + s.bytesSent, 0), 0);
}

export function sentPackets(clients: PlainRtpClient[]): number {
	return clients.reduce((n, c) => n + c.senders.reduce((m, s) => m + s.sent, 0), 0);
}

function skipped(clients: PlainRtpClient[]): number {
	return clients.reduce((n, c) => n + c.senders.reduce((m, s) => m + s.skipped, 0), 0);
}

export async function workerCpuSeconds(workers: MediaWorker[]): Promise<number> {
	return (await workerUsage(workers)).cpuSeconds;
}

/**
 * CPU and memory of the workers, from /proc where there is one: near
 * capacity a worker answers its channel only after seconds, which would
 * stretch the window it is asked at the end of.
 */
async function workerUsage(workers: MediaWorker[]): Promise<{ cpuSeconds: number; rssBytes: number }> {
	const usage = await Promise.all(workers.map(async (w) => processUsage(w.pid) ?? (await w.resourceUsage())));
	return { cpuSeconds: usage.reduce((n, u) => n + u.cpuSeconds, 0), rssBytes: usage.reduce((n, u) => n + u.rssBytes, 0) };
}
