/**
 * What a network path does to packets, per direction: loss (random, or in
 * bursts by a two-state Gilbert–Elliott model), one-way delay with jitter,
 * reordering, and outages. `tc netem` is not available here, so the link
 * proxies apply it in user space.
 */
export interface Impairment {
	/** Long-run fraction of packets lost, 0–1. */
	loss?: number | undefined;
	/** Mean length of a loss burst in packets; 1 (default) means independent random loss. */
	burstLength?: number | undefined;
	/** One-way delay, ms. */
	delayMs?: number | undefined;
	/** Each packet's delay varies uniformly by ± this, ms (which also reorders). */
	jitterMs?: number | undefined;
	/** Fraction of packets held back by an extra `reorderDelayMs` (default: one-way delay + 10 ms), 0–1. */
	reorder?: number | undefined;
	reorderDelayMs?: number | undefined;
	/** Outage: every packet is dropped. */
	down?: boolean | undefined;
}

/** What happens to one packet: dropped, or delivered after `delayMs`. */
export type Verdict = { drop: true } | { drop: false; delayMs: number };

/** Small seeded PRNG (mulberry32), so a run's losses can be repeated. */
export function seededRandom(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** Decides the fate of each packet of one direction of a link. */
export class ImpairmentModel {
	impairment: Impairment;
	readonly #random: () => number;
	/** Gilbert–Elliott state: in a loss burst. */
	#bad = false;

	constructor(impairment: Impairment = {}, random: () => number = Math.random) {
		this.impairment = impairment;
		this.#random = random;
	}

	next(): Verdict {
		const { loss = 0, burstLength = 1, delayMs = 0, jitterMs = 0, reorder = 0, down = false } = this.impairment;
		if (down || this.#lost(loss, burstLength)) return { drop: true };
		let delay = delayMs + (jitterMs > 0 ? (this.#random() * 2 - 1) * jitterMs : 0);
		if (reorder > 0 && this.#random() < reorder) delay += this.impairment.reorderDelayMs ?? delayMs + 10;
		return { drop: false, delayMs: Math.max(0, delay) };
	}

	#lost(loss: number, burstLength: number): boolean {
		if (loss <= 0) return false;
		if (burstLength <= 1) return this.#random() < loss;
		// Leave a burst with probability 1/burstLength; enter one so that the long-run loss is `loss`.
		const leave = 1 / burstLength;
		const enter = Math.min(1, (loss * leave) / Math.max(1e-9, 1 - loss));
		this.#bad = this.#bad ? this.#random() >= leave : this.#random() < enter;
		return this.#bad;
	}
}
