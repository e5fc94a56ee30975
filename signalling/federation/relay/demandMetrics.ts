import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ConferenceLink } from './ConferenceLink.ts';

type Labels = 'remote_domain' | 'kind' | 'layer';

/**
 * What the demand relay does on each partner link: what crosses by kind and
 * layer, what demand holds back, how often layers start and stop, how long a
 * newly asked-for layer takes to its first key frame, and, under a cap, what
 * is shed. Needed bitrate (what the partner's viewers asked for) sits next to
 * the link's own byte counters so operators see what relaying on demand saves.
 */
export class DemandMetrics {
	readonly #relayed: Gauge<Labels>;
	readonly #heldBack: Gauge<'remote_domain'>;
	readonly #switches: Counter<'remote_domain'>;
	readonly #firstFrame: Histogram<'remote_domain'>;
	readonly #firstFrameTimeouts: Counter<'remote_domain'>;
	readonly #shed: Gauge<'remote_domain'>;
	readonly #needed: Gauge<'remote_domain'>;
	readonly #neededBytes: Counter<'remote_domain'>;
	/** Switch and timeout totals last seen per link, so counters only ever add the difference. */
	readonly #seen = new WeakMap<ConferenceLink, { switches: number; timeouts: number }>();
	#lastObservedAt = performance.now();

	constructor(registry: Registry) {
		const registers = [registry];
		this.#relayed = new Gauge({
			name: 'sft_federation_link_relayed_layers',
			help: 'Streams crossing to the partner now, by kind and spatial layer (audio: layer 0)',
			labelNames: ['remote_domain', 'kind', 'layer'],
			registers,
		});
		this.#heldBack = new Gauge({
			name: 'sft_federation_link_held_back_streams',
			help: 'Videos offered to the partner that cross at no layer because nobody there views them',
			labelNames: ['remote_domain'],
			registers,
		});
		this.#switches = new Counter({
			name: 'sft_federation_link_demand_switches_total',
			help: 'Layers started or stopped on the link because of the partner’s demand or the link cap',
			labelNames: ['remote_domain'],
			registers,
		});
		this.#firstFrame = new Histogram({
			name: 'sft_federation_link_first_frame_seconds',
			help: 'From asking the partner for a layer to its first key frame arriving here',
			labelNames: ['remote_domain'],
			buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5],
			registers,
		});
		this.#firstFrameTimeouts = new Counter({
			name: 'sft_federation_link_first_frame_timeouts_total',
			help: 'Layers asked of the partner whose first key frame did not arrive within 10 s',
			labelNames: ['remote_domain'],
			registers,
		});
		this.#shed = new Gauge({
			name: 'sft_federation_link_shed_bitrate_bps',
			help: 'Bitrate the partner needs that the link cap (federation.linkMaxBitrate) sheds now',
			labelNames: ['remote_domain'],
			registers,
		});
		this.#needed = new Gauge({
			name: 'sft_federation_link_needed_bitrate_bps',
			help: 'Bitrate of the streams and layers viewers behind the link need (towards the partner)',
			labelNames: ['remote_domain'],
			registers,
		});
		this.#neededBytes = new Counter({
			name: 'sft_federation_link_needed_bytes_total',
			help: 'Bytes viewers behind the link needed (towards the partner); compare with sft_federation_link_bytes_total{direction="tx"}',
			labelNames: ['remote_domain'],
			registers,
		});
	}

	observe(links: readonly ConferenceLink[], knownDomains: readonly string[]): void {
		const now = performance.now();
		const seconds = (now - this.#lastObservedAt) / 1000;
		this.#lastObservedAt = now;
		const perDomain = new Map<string, { held: number; shed: number; needed: number; layers: Map<string, number> }>();
		for (const domain of knownDomains) perDomain.set(domain, { held: 0, shed: 0, needed: 0, layers: new Map() });
		for (const link of links) {
			const remote_domain = link.peerDomain;
			const { stats } = link.demand;
			let sum = perDomain.get(remote_domain);
			if (!sum) {
				sum = { held: 0, shed: 0, needed: 0, layers: new Map() };
				perDomain.set(remote_domain, sum);
			}
			sum.held += stats.heldBack;
			sum.shed += stats.shedBitrate;
			sum.needed += stats.neededBitrate;
			for (const [layer, count] of stats.relayedVideoLayers)
				sum.layers.set(`video:${layer}`, (sum.layers.get(`video:${layer}`) ?? 0) + count);
			sum.layers.set('audio:0', (sum.layers.get('audio:0') ?? 0) + stats.relayedAudio);
			const seen = this.#seen.get(link) ?? { switches: 0, timeouts: 0 };
			if (stats.switches > seen.switches) this.#switches.inc({ remote_domain }, stats.switches - seen.switches);
			if (stats.firstFrameTimeouts > seen.timeouts)
				this.#firstFrameTimeouts.inc({ remote_domain }, stats.firstFrameTimeouts - seen.timeouts);
			this.#seen.set(link, { switches: stats.switches, timeouts: stats.firstFrameTimeouts });
			for (const ms of stats.firstFrameMs.splice(0)) this.#firstFrame.observe({ remote_domain }, ms / 1000);
		}
		this.#relayed.reset();
		for (const [remote_domain, sum] of perDomain) {
			this.#heldBack.set({ remote_domain }, sum.held);
			this.#shed.set({ remote_domain }, sum.shed);
			this.#needed.set({ remote_domain }, sum.needed);
			if (sum.needed > 0 && seconds > 0) this.#neededBytes.inc({ remote_domain }, (sum.needed * seconds) / 8);
			for (const [key, count] of sum.layers) {
				const [kind = 'video', layer = '0'] = key.split(':');
				this.#relayed.set({ remote_domain, kind, layer }, count);
			}
		}
	}
}
