// Relay modes on the same load: K domains in a star (a.bench anchors), M
// raw-RTP participants per domain publishing a simulcast profile and showing
// a speaker view that follows the loudest speaker, which changes every few
// seconds. For each mode it measures, per directed link, the bytes on the
// link against the bytes remote viewers needed (the union of the streams and
// layers behind the link), and how long a viewer waits for the first packet
// of a remote stream or layer its new view needs.
import type { Conference } from '../sft/Conference.ts';
import type { RelayMode } from '../sft/MediaRelay.ts';
import { loadMediasoup } from '../sft/mediasoupLoader.ts';
import { layersOf } from '../sft/producerMeta.ts';
import { spatialLayerFor } from '../sft/simulcast.ts';
import { FederatedSfts } from './federatedSfts.ts';
import type { ModeResult } from './federationModesReport.ts';
import { machineInfo, round } from './forwardingReport.ts';
import { udpReceiveBufferErrors } from './machineStats.ts';
import { PlainRtpClient, type RemoteStream } from './rtp/plainRtpClient.ts';
import { withBandwidthFeedback } from './rtp/rtpCapabilities.ts';
import { speakerView } from './rtp/speakerLayout.ts';
import type { StreamSender } from './rtp/streamSender.ts';
import type { VideoProfile } from './rtp/videoProfiles.ts';

export interface ModesOptions {
	modes: RelayMode[];
	profile: VideoProfile;
	/** Domains per run (2: a pair; 3: a star of the anchor and two partners). */
	domainCounts: number[];
	/** Participants per domain. */
	sizes: number[];
	duration: number;
	warmup: number;
	/** Seconds between changes of the loudest speaker. */
	speakerChange: number;
	listenIp: string;
	basePort: number | undefined;
	maxVideos: number;
	maxAudible: number;
	log(line: string): void;
}

/** SRTP (AES-GCM) adds a 16-byte tag to every packet on the link. */
const SRTP_TAG_BYTES = 16;
const NEEDED_SAMPLE_MS = 200;
const FIRST_FRAME_POLL_MS = 5;
const FIRST_FRAME_TIMEOUT_MS = 5000;
const CONFERENCE = 'bench-modes';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Member {
	domain: string;
	client: PlainRtpClient;
}

export async function runModes(options: ModesOptions): Promise<ModeResult[]> {
	const results: ModeResult[] = [];
	for (const k of options.domainCounts) {
		for (const m of options.sizes) {
			for (const mode of options.modes) {
				options.log(`=== ${k} domains × ${m} participants, profile ${options.profile.name}, relay mode ${mode} ===`);
				results.push(await runOnce(options, k, m, mode));
			}
		}
	}
	return results;
}

async function runOnce(options: ModesOptions, k: number, m: number, mode: RelayMode): Promise<ModeResult> {
	const domains = Array.from({ length: k }, (_, i) => `${String.fromCharCode(97 + i)}.bench`);
	const [anchor = 'a.bench'] = domains;
	const sfts = await FederatedSfts.start({
		domains,
		listenIp: options.listenIp,
		maxVideos: options.maxVideos,
		maxAudible: options.maxAudible,
		portsPerDomain: Math.max(60, 2 * m + 4 * k + 10),
		basePort: options.basePort,
		relayMode: mode,
	});
	const members: Member[] = [];
	const timers: NodeJS.Timeout[] = [];
	try {
		const conferences = new Map<string, Conference>();
		const anchorConference = await sfts.server(anchor).sft.getOrCreateConference(CONFERENCE);
		conferences.set(anchor, anchorConference);
		const hub = sfts.server(anchor).hub;
		if (!hub) throw new Error('the bench SFTs federate');
		const descriptor = hub.descriptorFor(anchorConference);
		for (const domain of domains.slice(1)) {
			const partner = sfts.server(domain).hub;
			if (!partner) throw new Error('the bench SFTs federate');
			conferences.set(domain, await partner.joinWithDescriptor(descriptor));
		}
		for (let i = 0; i < m; i++) {
			for (const domain of domains) {
				const server = sfts.server(domain);
				const conference = conferences.get(domain);
				if (!conference) throw new Error(`no conference at ${domain}`);
				const client = await PlainRtpClient.join({
					conference,
					rtpCapabilities: withBandwidthFeedback(server.sft.rtpCapabilities, 'none'),
					name: `${domain}-p${i}`,
					host: options.listenIp,
					audio: { levelDbov: 60 },
					video: { profile: options.profile, followEncodingHints: true },
					receive: 'viewed',
					layout: speakerView,
				});
				members.push({ domain, client });
			}
		}
		const publisherOf = new Map<string, Member>();
		for (const member of members) for (const local of member.client.localStreams) publisherOf.set(local.producer.id, member);
		// Speaker changes: member j is loudest when (j + turn) % n === 0.
		let turn = 0;
		const rotate = () => {
			for (const [j, member] of members.entries()) member.client.audio?.sender.setLevel(10 + 3 * ((j + turn) % members.length));
			turn++;
		};
		rotate();
		for (const member of members) member.client.startSending();
		await Promise.all(members.map((x) => x.client.settled()));
		timers.push(setInterval(rotate, options.speakerChange * 1000));
		options.log(`setup done; warm-up ${options.warmup} s`);
		await sleep(options.warmup * 1000);

		const window = new ModesWindow(sfts, domains, members, publisherOf, conferences);
		await window.open();
		await sleep(options.duration * 1000);
		const figures = await window.close();
		const { version } = await loadMediasoup();
		return { mode, profile: options.profile.name, domains: k, participantsPerDomain: m, machine: machineInfo(version), ...figures };
	} finally {
		for (const timer of timers) clearInterval(timer);
		await Promise.allSettled(members.map((x) => x.client.stop()));
		await sfts.close();
	}
}

interface PendingFrame {
	member: Member;
	producerId: string;
	layer: number;
	since: number;
	baseline: number;
}

/** Link bytes, needed bytes and view-switch first packets between open() and close(). */
class ModesWindow {
	readonly #sfts: FederatedSfts;
	readonly #domains: string[];
	readonly #anchor: string;
	readonly #members: Member[];
	readonly #publisherOf: Map<string, Member>;
	readonly #conferences: Map<string, Conference>;
	/** Needed bytes per directed hop `from>to`. */
	readonly #needed = new Map<string, number>();
	readonly #lastBytes = new Map<StreamSender, { bytes: number; packets: number }>();
	readonly #pending: PendingFrame[] = [];
	readonly #firstFrameMs: number[] = [];
	#timeouts = 0;
	#linkFrom = new Map<string, number>();
	#cpuFrom = new Map<string, number>();
	#openedAt = 0;
	#udpDropsFrom = 0;
	#nodeCpuFrom = process.cpuUsage();
	readonly #timers: NodeJS.Timeout[] = [];

	constructor(
		sfts: FederatedSfts,
		domains: string[],
		members: Member[],
		publisherOf: Map<string, Member>,
		conferences: Map<string, Conference>,
	) {
		this.#sfts = sfts;
		this.#domains = domains;
		this.#anchor = domains[0] ?? 'a.bench';
		this.#members = members;
		this.#publisherOf = publisherOf;
		this.#conferences = conferences;
	}

	get #hops(): string[] {
		return this.#domains.slice(1).flatMap((d) => [`${this.#anchor}>${d}`, `${d}>${this.#anchor}`]);
	}

	async open(): Promise<void> {
		this.#linkFrom = await this.#linkBytes();
		this.#cpuFrom = await this.#workerCpu();
		this.#openedAt = performance.now();
		this.#udpDropsFrom = udpReceiveBufferErrors();
		this.#nodeCpuFrom = process.cpuUsage();
		for (const member of this.#members) {
			for (const sender of member.client.senders) this.#lastBytes.set(sender, { bytes: sender.bytesSent, packets: sender.sent });
			this.#watchViews(member);
		}
		this.#timers.push(setInterval(() => this.#sampleNeeded(), NEEDED_SAMPLE_MS));
		this.#timers.push(setInterval(() => this.#pollFirstFrames(), FIRST_FRAME_POLL_MS));
	}

	async close(): Promise<Omit<ModeResult, 'mode' | 'profile' | 'domains' | 'participantsPerDomain' | 'machine'>> {
		this.#sampleNeeded();
		for (const timer of this.#timers) clearInterval(timer);
		for (const member of this.#members) {
			member.client.onView = undefined;
		}
		const seconds = (performance.now() - this.#openedAt) / 1000;
		const linkTo = await this.#linkBytes();
		const cpuTo = await this.#workerCpu();
		const nodeCpu = process.cpuUsage(this.#nodeCpuFrom);
		const mbit = (bytes: number) => round((bytes * 8) / seconds / 1e6, 3);
		const links = this.#hops.map((hop) => {
			const [from = '', to = ''] = hop.split('>');
			const moved = (key: string) => (linkTo.get(key) ?? 0) - (this.#linkFrom.get(key) ?? 0);
			const linkBytes = moved(hop);
			const needed = this.#needed.get(hop) ?? 0;
			return {
				from,
				to,
				linkMbit: mbit(linkBytes),
				neededMbit: mbit(needed),
				ratioToNeeded: needed > 0 ? round(linkBytes / needed, 3) : null,
				rtpMbit: { audio: mbit(moved(`${hop}|rtp:audio`)), video: mbit(moved(`${hop}|rtp:video`)) },
				rtxMbit: mbit(moved(`${hop}|rtx`)),
				neededByKindMbit: { audio: mbit(this.#needed.get(`${hop}|audio`) ?? 0), video: mbit(this.#needed.get(`${hop}|video`) ?? 0) },
			};
		});
		const sorted = [...this.#firstFrameMs].sort((a, b) => a - b);
		const pick = (q: number) => (sorted.length ? round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0, 1) : null);
		return {
			windowSeconds: round(seconds, 2),
			links,
			linkMbit: round(
				links.reduce((n, l) => n + l.linkMbit, 0),
				3,
			),
			neededMbit: round(
				links.reduce((n, l) => n + l.neededMbit, 0),
				3,
			),
			firstFrame: { count: sorted.length, p50: pick(0.5), p95: pick(0.95), max: pick(1), timeouts: this.#timeouts },
			workers: this.#domains.map((domain) => ({
				domain,
				cpuPercent: round((((cpuTo.get(domain) ?? 0) - (this.#cpuFrom.get(domain) ?? 0)) / seconds) * 100),
			})),
			nodeCpuPercent: round(((nodeCpu.user + nodeCpu.system) / 1e6 / seconds) * 100),
			kernelUdpDrops: udpReceiveBufferErrors() - this.#udpDropsFrom,
		};
	}

	/** The hops from a publisher's SFT to a receiver's: one, or two through the anchor. */
	#hopsBetween(from: string, to: string): string[] {
		if (from === to) return [];
		if (from === this.#anchor || to === this.#anchor) return [`${from}>${to}`];
		return [`${from}>${this.#anchor}`, `${this.#anchor}>${to}`];
	}

	/** Adds, per hop, the bytes published since the last sample by every stream layer some viewer behind the hop needs now. */
	#sampleNeeded(): void {
		const neededBy = new Map<string, Set<StreamSender>>();
		for (const receiver of this.#members) {
			for (const stream of receiver.client.remoteStreams) {
				const publisher = this.#publisherOf.get(stream.producerId);
				if (!publisher || publisher.domain === receiver.domain || stream.consumer.closed || stream.consumer.paused) continue;
				const sender = neededSender(publisher, stream);
				if (!sender) continue;
				for (const hop of this.#hopsBetween(publisher.domain, receiver.domain)) {
					let set = neededBy.get(hop);
					if (!set) {
						set = new Set();
						neededBy.set(hop, set);
					}
					set.add(sender);
				}
			}
		}
		const delta = new Map<StreamSender, number>();
		for (const member of this.#members) {
			for (const sender of member.client.senders) {
				const last = this.#lastBytes.get(sender) ?? { bytes: sender.bytesSent, packets: sender.sent };
				delta.set(sender, sender.bytesSent - last.bytes + (sender.sent - last.packets) * SRTP_TAG_BYTES);
				this.#lastBytes.set(sender, { bytes: sender.bytesSent, packets: sender.sent });
			}
		}
		for (const [hop, senders] of neededBy) {
			for (const sender of senders) {
				const bytes = delta.get(sender) ?? 0;
				for (const key of [hop, `${hop}|${sender.kind}`]) this.#needed.set(key, (this.#needed.get(key) ?? 0) + bytes);
			}
		}
	}

	/** On each new view of a receiver: every remote video it did not show, or needs at a higher layer, awaits its first packet. */
	#watchViews(member: Member): void {
		const shown = new Map<string, number>();
		const conference = this.#conferences.get(member.domain);
		member.client.onView = (tiles) => {
			const since = performance.now();
			const next = new Map<string, number>();
			for (const tile of tiles) {
				const producer = conference?.getProducer(tile.producerId);
				const publisher = this.#publisherOf.get(tile.producerId);
				if (!producer || !publisher) continue;
				const layer = spatialLayerFor(layersOf(producer), tile.size);
				next.set(tile.producerId, layer);
				const before = shown.get(tile.producerId);
				if (publisher.domain === member.domain || (before !== undefined && before >= layer)) continue;
				const baseline = member.client.remote(tile.producerId)?.layers[layer]?.packets ?? 0;
				this.#pending.push({ member, producerId: tile.producerId, layer, since, baseline });
			}
			shown.clear();
			for (const [id, layer] of next) shown.set(id, layer);
		};
	}

	#pollFirstFrames(): void {
		const now = performance.now();
		for (let i = this.#pending.length - 1; i >= 0; i--) {
			const p = this.#pending[i];
			if (!p) continue;
			const packets = p.member.client.remote(p.producerId)?.layers[p.layer]?.packets ?? 0;
			if (packets > p.baseline) {
				this.#firstFrameMs.push(now - p.since);
				this.#pending.splice(i, 1);
			} else if (now - p.since > FIRST_FRAME_TIMEOUT_MS) {
				this.#timeouts++;
				this.#pending.splice(i, 1);
			}
		}
	}

	/** tx bytes per hop `from>to`, from the sending SFT's link metrics after a fresh poll. */
	async #linkBytes(): Promise<Map<string, number>> {
		const out = new Map<string, number>();
		for (const domain of this.#domains) {
			const server = this.#sfts.server(domain);
			await server.linkMetrics?.poll();
			for (const [name, suffix] of [
				['sft_federation_link_bytes_total', ''],
				['sft_federation_link_rtp_bytes_total', '|rtp'],
				['sft_federation_link_rtx_bytes_total', '|rtx'],
			] as const) {
				const metric = server.registry.getSingleMetric(name);
				for (const v of (await metric?.get())?.values ?? []) {
					if (v.labels['direction'] !== 'tx') continue;
					const kind = v.labels['kind'] ? `:${v.labels['kind']}` : '';
					out.set(`${domain}>${v.labels['remote_domain']}${suffix}${kind}`, v.value);
				}
			}
		}
		return out;
	}

	async #workerCpu(): Promise<Map<string, number>> {
		const out = new Map<string, number>();
		for (const [domain, conference] of this.#conferences) out.set(domain, (await conference.mediaWorker.resourceUsage()).cpuSeconds);
		return out;
	}
}

/** The publisher's sender of the layer a receiver's consumer is meant to carry (its tile's layer), or audio. */
function neededSender(publisher: Member, stream: RemoteStream): StreamSender | undefined {
	if (stream.kind === 'audio') return publisher.client.audio?.sender;
	const senders = publisher.client.video?.senders ?? [];
	const layer = stream.consumer.preferredLayers?.spatialLayer ?? 0;
	return senders[Math.min(layer, senders.length - 1)];
}
