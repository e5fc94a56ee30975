import type { Counter } from 'prom-client';

/**
 * Feeds a Prometheus counter from totals that mediasoup reports per object
 * (a transport's bytesSent, a consumer's packetCount): adds what each object
 * gained since the last poll. Objects not seen in a poll are forgotten, so a
 * closed transport does not make the counter go backwards.
 */
export class CumulativeCounter<L extends string> {
	readonly #counter: Counter<L>;
	#last = new Map<string, number>();
	#seen = new Map<string, number>();

	constructor(counter: Counter<L>) {
		this.#counter = counter;
	}

	/** Reports the current total of one object (`key`) under `labels`. */
	observe(key: string, labels: Partial<Record<L, string>>, total: number): void {
		const delta = total - (this.#last.get(key) ?? 0);
		if (delta > 0) this.#counter.inc(labels, delta);
		this.#seen.set(key, total);
	}

	/** Call after each full poll. */
	endPoll(): void {
		this.#last = this.#seen;
		this.#seen = new Map();
	}
}
