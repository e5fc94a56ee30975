import type { types as ms } from 'mediasoup';
import { Counter, Gauge, type Registry } from 'prom-client';
import { CumulativeCounter } from '../../../sft/CumulativeCounter.ts';
import { getOrInsert } from '../../../sft/getOrInsert.ts';
import { DemandMetrics } from './demandMetrics.ts';
import type { FederationHub } from './FederationHub.ts';

type Labels = 'remote_domain' | 'direction' | 'kind';
// Each mediasoup stats call returns an array; RTP stream stats carry these fields.
type StreamStats = {
	type: string;
	kind: ms.MediaKind;
	packetCount?: number;
	byteCount?: number;
	packetsLost: number;
	fractionLost: number;
	pliCount: number;
	firCount: number;
	roundTripTime?: number;
};
type TransportStats = {
	bytesSent: number;
	bytesReceived: number;
	sendBitrate: number;
	recvBitrate: number;
	rtxBytesSent: number;
	rtxBytesReceived: number;
};

/**
 * What federation costs, per partner SFT and direction (tx = towards the
 * partner): polled from the pipe transports, their consumers (our streams
 * going out) and producers (the partner's streams coming in). Never labelled
 * by conference or user. Polling runs off the scrape path on a timer.
 */
export class LinkMetrics {
	readonly #hub: FederationHub;
	readonly #bytes: CumulativeCounter<Labels>;
	readonly #rtpBytes: CumulativeCounter<Labels>;
	readonly #rtpPackets: CumulativeCounter<Labels>;
	readonly #rtxBytes: CumulativeCounter<Labels>;
	readonly #lost: CumulativeCounter<Labels>;
	readonly #keyframeRequests: CumulativeCounter<Labels>;
	readonly #bitrate: Gauge<Labels>;
	readonly #lossRatio: Gauge<Labels>;
	readonly #rtt: Gauge<Labels>;
	readonly #streams: Gauge<Labels>;
	readonly #demand: DemandMetrics;
	/** Latest round-trip time per partner, for clients' link indicators. */
	readonly #rttMs = new Map<string, number>();
	readonly #timer: NodeJS.Timeout;
	/** Polls run one after another; an explicit poll() waits for its own, fresh one. */
	#polls: Promise<void> = Promise.resolve();
	#busy = false;

	constructor(hub: FederationHub, registry: Registry, pollIntervalMs: number) {
		this.#hub = hub;
		const registers = [registry];
		const counter = (name: string, help: string, labelNames: Labels[]) =>
			new CumulativeCounter(new Counter<Labels>({ name, help, labelNames, registers }));
		const gauge = (name: string, help: string, labelNames: Labels[]) => new Gauge<Labels>({ name, help, labelNames, registers });
		this.#bytes = counter('sft_federation_link_bytes_total', 'All bytes on federation media links (RTP, RTX, RTCP, SRTP overhead)', [
			'remote_domain',
			'direction',
		]);
		this.#rtpBytes = counter('sft_federation_link_rtp_bytes_total', 'Media RTP bytes relayed over federation links', [
			'remote_domain',
			'direction',
			'kind',
		]);
		this.#rtpPackets = counter('sft_federation_link_rtp_packets_total', 'Media RTP packets relayed over federation links', [
			'remote_domain',
			'direction',
			'kind',
		]);
		this.#rtxBytes = counter('sft_federation_link_rtx_bytes_total', 'Retransmission bytes on federation links', [
			'remote_domain',
			'direction',
		]);
		this.#lost = counter('sft_federation_link_packets_lost_total', 'RTP packets lost on federation links (tx: reported by the partner)', [
			'remote_domain',
			'direction',
		]);
		this.#keyframeRequests = counter(
			'sft_federation_link_keyframe_requests_total',
			'PLI/FIR over federation links (tx: we asked the partner, rx: the partner asked us)',
			['remote_domain', 'direction'],
		);
		this.#bitrate = gauge('sft_federation_link_bitrate_bps', 'Current bitrate of federation links', ['remote_domain', 'direction']);
		this.#lossRatio = gauge('sft_federation_link_loss_ratio', 'Mean fraction of packets lost on federation links over the last report', [
			'remote_domain',
			'direction',
		]);
		this.#rtt = gauge('sft_federation_link_rtt_seconds', 'Round-trip time to the partner SFT, from RTCP', ['remote_domain']);
		this.#streams = gauge('sft_federation_link_relayed_streams', 'Streams relayed over federation links', ['remote_domain', 'direction']);
		new Gauge({
			name: 'sft_federation_link_up',
			help: '1 while the federation link to the partner is connected',
			labelNames: ['remote_domain'],
			registers,
			collect() {
				for (const { domain, up } of hub.channelStates) this.set({ remote_domain: domain }, up ? 1 : 0);
			},
		});
		const reconnects = new Counter({
			name: 'sft_federation_link_reconnects_total',
			help: 'Federation links re-established after a loss',
			labelNames: ['remote_domain'],
			registers,
		});
		hub.on('reattached', (domain) => reconnects.inc({ remote_domain: domain }));
		this.#demand = new DemandMetrics(registry);
		const refusals = new Counter({
			name: 'sft_federation_message_refusals_total',
			help: 'Conference messages from partners refused (malformed, forged or over a limit), by error code',
			labelNames: ['remote_domain', 'code'],
			registers,
		});
		hub.on('messageRefused', (domain, code) => refusals.inc({ remote_domain: domain, code }));
		// The timer skips a tick while a poll is still running rather than queueing up.
		this.#timer = setInterval(() => void (this.#busy || this.poll()), pollIntervalMs);
		this.#timer.unref();
	}

	poll(): Promise<void> {
		this.#polls = this.#polls.then(() => this.#pollOnce());
		return this.#polls;
	}

	async #pollOnce(): Promise<void> {
		this.#busy = true;
		try {
			const perDomain = new Map<string, { tx: Sample; rx: Sample }>();
			await Promise.all(
				this.#hub.links.map(async (link) => {
					const remote_domain = link.peerDomain;
					const sample = getOrInsert(perDomain, remote_domain, () => ({ tx: new Sample(), rx: new Sample() }));
					const { relay } = link;
					const [transport] = (await relay.transport.getStats().catch(() => [])) as TransportStats[];
					if (transport) {
						const id = relay.transport.id;
						this.#bytes.observe(`${id}:tx`, { remote_domain, direction: 'tx' }, transport.bytesSent);
						this.#bytes.observe(`${id}:rx`, { remote_domain, direction: 'rx' }, transport.bytesReceived);
						this.#rtxBytes.observe(`${id}:tx`, { remote_domain, direction: 'tx' }, transport.rtxBytesSent);
						this.#rtxBytes.observe(`${id}:rx`, { remote_domain, direction: 'rx' }, transport.rtxBytesReceived);
						sample.tx.bitrate += transport.sendBitrate;
						sample.rx.bitrate += transport.recvBitrate;
					}
					const outgoing = relay.sentConsumers;
					const incoming = relay.receivedProducers;
					sample.tx.streams += link.demand.stats.crossingStreams;
					sample.rx.streams += incoming.length;
					await Promise.all([
						...outgoing.map(async (c) => this.#observeStream(c.id, remote_domain, 'tx', await c.getStats().catch(() => []), sample.tx)),
						...incoming.map(async (p) => this.#observeStream(p.id, remote_domain, 'rx', await p.getStats().catch(() => []), sample.rx)),
					]);
				}),
			);
			this.#demand.observe(
				this.#hub.links,
				this.#hub.channelStates.map((c) => c.domain),
			);
			for (const [remote_domain, { tx, rx }] of perDomain) {
				for (const [direction, s] of [
					['tx', tx],
					['rx', rx],
				] as const) {
					this.#bitrate.set({ remote_domain, direction }, s.bitrate);
					this.#streams.set({ remote_domain, direction }, s.streams);
					this.#lossRatio.set({ remote_domain, direction }, s.lossReports ? s.lossSum / s.lossReports : 0);
				}
				if (tx.rttReports) {
					this.#rtt.set({ remote_domain }, tx.rttSum / tx.rttReports / 1000);
					this.#rttMs.set(remote_domain, tx.rttSum / tx.rttReports);
				}
			}
			// Partners with no link left read zero rather than their last value.
			for (const { domain } of this.#hub.channelStates) {
				if (perDomain.has(domain)) continue;
				this.#rttMs.delete(domain);
				for (const direction of ['tx', 'rx']) {
					this.#bitrate.set({ remote_domain: domain, direction }, 0);
					this.#streams.set({ remote_domain: domain, direction }, 0);
				}
			}
			for (const c of [this.#bytes, this.#rtpBytes, this.#rtpPackets, this.#rtxBytes, this.#lost, this.#keyframeRequests]) c.endPoll();
		} catch {
			// A link closing mid-poll: the next poll sees the new state.
		} finally {
			this.#busy = false;
		}
	}

	/**
	 * mediasoup lists a consumer's outbound stream (and, for a producer, its
	 * inbound streams) first; `type` tells them apart from the mirrored side.
	 */
	#observeStream(id: string, remote_domain: string, direction: 'tx' | 'rx', stats: unknown[], sample: Sample): void {
		const wanted = direction === 'tx' ? 'outbound-rtp' : 'inbound-rtp';
		for (const [i, s] of (stats as StreamStats[]).entries()) {
			if (s.type !== wanted) continue;
			const key = `${id}:${i}`;
			this.#rtpBytes.observe(key, { remote_domain, direction, kind: s.kind }, s.byteCount ?? 0);
			this.#rtpPackets.observe(key, { remote_domain, direction, kind: s.kind }, s.packetCount ?? 0);
			this.#lost.observe(key, { remote_domain, direction }, Math.max(0, s.packetsLost));
			this.#keyframeRequests.observe(key, { remote_domain, direction: direction === 'tx' ? 'rx' : 'tx' }, s.pliCount + s.firCount);
			sample.lossSum += s.fractionLost / 256;
			sample.lossReports++;
			if (s.roundTripTime !== undefined && s.roundTripTime > 0) {
				sample.rttSum += s.roundTripTime;
				sample.rttReports++;
			}
		}
	}

	/** Round-trip time to a partner from the latest poll (undefined until streams carried RTCP). */
	rttMs(domain: string): number | undefined {
		return this.#rttMs.get(domain);
	}

	close(): void {
		clearInterval(this.#timer);
	}
}

class Sample {
	bitrate = 0;
	streams = 0;
	lossSum = 0;
	lossReports = 0;
	rttSum = 0;
	rttReports = 0;
}
