/**
 * Receive-side counters that stay cheap at tens of thousands of packets per
 * second: a growable bitset of sender sequence numbers (uniques, duplicates,
 * loss over any range) and a fixed-bucket delay histogram.
 */

/** Set of non-negative integers backed by a growable bitset. */
export class SeqSet {
	#bits = new Uint32Array(64);
	#size = 0;
	#max = -1;

	get size(): number {
		return this.#size;
	}

	/** Highest member, or -1 when empty. */
	get max(): number {
		return this.#max;
	}

	/** Adds `seq`; false if it was already there (a duplicate). */
	add(seq: number): boolean {
		const word = seq >>> 5;
		if (word >= this.#bits.length) {
			let length = this.#bits.length;
			while (length <= word) length *= 2;
			const grown = new Uint32Array(length);
			grown.set(this.#bits);
			this.#bits = grown;
		}
		const mask = 1 << (seq & 31);
		if ((this.#bits[word] ?? 0) & mask) return false;
		this.#bits[word] = (this.#bits[word] ?? 0) | mask;
		this.#size++;
		if (seq > this.#max) this.#max = seq;
		return true;
	}

	has(seq: number): boolean {
		const word = seq >>> 5;
		return word < this.#bits.length && ((this.#bits[word] ?? 0) & (1 << (seq & 31))) !== 0;
	}

	/** Members in [from, to). */
	countRange(from: number, to: number): number {
		let count = 0;
		const end = Math.min(to, this.#max + 1);
		for (let seq = Math.max(0, from); seq < end; seq++) if (this.has(seq)) count++;
		return count;
	}
}

/** One-way delay histogram: 10 µs buckets up to 1 s, one overflow bucket beyond. */
export class DelayHistogram {
	static readonly BUCKET_MS = 0.01;
	static readonly BUCKETS = 100_000;
	readonly #counts = new Uint32Array(DelayHistogram.BUCKETS + 1);
	#total = 0;
	#maxMs = 0;

	get count(): number {
		return this.#total;
	}

	get maxMs(): number {
		return this.#maxMs;
	}

	record(delayMs: number): void {
		// Clocks of one machine: a tiny negative value is rounding, not time travel.
		const bucket = Math.min(DelayHistogram.BUCKETS, Math.max(0, Math.floor(delayMs / DelayHistogram.BUCKET_MS)));
		this.#counts[bucket] = (this.#counts[bucket] ?? 0) + 1;
		this.#total++;
		if (delayMs > this.#maxMs) this.#maxMs = delayMs;
	}

	reset(): void {
		this.#counts.fill(0);
		this.#total = 0;
		this.#maxMs = 0;
	}

	/** Adds another histogram's samples into this one. */
	merge(other: DelayHistogram): void {
		for (let i = 0; i < this.#counts.length; i++) this.#counts[i] = (this.#counts[i] ?? 0) + (other.#counts[i] ?? 0);
		this.#total += other.#total;
		this.#maxMs = Math.max(this.#maxMs, other.#maxMs);
	}

	/** Upper edge of the bucket holding the p-th percentile (0..100), in ms; undefined if empty. */
	percentile(p: number): number | undefined {
		if (this.#total === 0) return undefined;
		const rank = Math.max(1, Math.ceil((p / 100) * this.#total));
		let seen = 0;
		for (let i = 0; i < this.#counts.length; i++) {
			seen += this.#counts[i] ?? 0;
			if (seen >= rank) return i === DelayHistogram.BUCKETS ? this.#maxMs : (i + 1) * DelayHistogram.BUCKET_MS;
		}
		return this.#maxMs;
	}
}

/** What one receiver got of one remote stream. */
export class StreamCounter {
	packets = 0;
	bytes = 0;
	duplicates = 0;
	/** Packets without a recognisable sender stamp. */
	unstamped = 0;
	readonly seqs = new SeqSet();

	get unique(): number {
		return this.seqs.size;
	}

	/**
	 * Sender packets below the highest one seen that never arrived, counted
	 * from the sender's first packet: includes the deliberate gaps while the
	 * consumer was paused or not yet created, so loss over a known-active
	 * window is `seqs.countRange` against the sender's counter instead.
	 */
	get gaps(): number {
		return this.seqs.max + 1 - this.seqs.size;
	}
}
