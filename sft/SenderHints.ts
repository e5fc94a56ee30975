import { activeEncodings } from './simulcast.ts';

/** How long a layer must stay unneeded before its sender is told to stop it (view changes come in bursts). */
export const ENCODING_OFF_DELAY_MS = 2000;

export interface HintTarget {
	producerId: string;
	/** Encodings the sender sends (1 for single-layer and SVC streams). */
	encodingCount: number;
	/** The highest spatial layer anyone needs, or -1 for none. */
	needed: number;
}

/**
 * Tells senders which of their encodings anyone needs (`encodingsNeeded`),
 * so a client can stop encoding a layer nobody watches. A layer comes back
 * the moment someone needs it; it goes away only after it has been unneeded
 * for ENCODING_OFF_DELAY_MS, so a viewer flicking through tiles does not make
 * senders toggle encoders.
 */
export class SenderHints {
	readonly #send: (producerId: string, active: boolean[]) => void;
	readonly #offDelayMs: number;
	/** Last state sent per producer; senders start with every encoding on. */
	readonly #sent = new Map<string, boolean[]>();
	readonly #pendingOff = new Map<string, { active: boolean[]; timer: NodeJS.Timeout }>();

	constructor(send: (producerId: string, active: boolean[]) => void, offDelayMs = ENCODING_OFF_DELAY_MS) {
		this.#send = send;
		this.#offDelayMs = offDelayMs;
	}

	update(targets: Iterable<HintTarget>): void {
		for (const { producerId, encodingCount, needed } of targets) {
			const wanted = activeEncodings(encodingCount, needed);
			const current = this.#sent.get(producerId) ?? activeEncodings(encodingCount, encodingCount - 1);
			const pending = this.#pendingOff.get(producerId);
			if (sameFlags(wanted, current)) {
				if (pending) this.#cancel(producerId);
				continue;
			}
			const turnsOn = wanted.some((on, i) => on && !current[i]);
			if (turnsOn) {
				this.#cancel(producerId);
				this.#commit(producerId, wanted);
			} else if (!pending || !sameFlags(pending.active, wanted)) {
				this.#cancel(producerId);
				const timer = setTimeout(() => {
					this.#pendingOff.delete(producerId);
					this.#commit(producerId, wanted);
				}, this.#offDelayMs);
				timer.unref();
				this.#pendingOff.set(producerId, { active: wanted, timer });
			}
		}
	}

	/** A producer closed: forget it. */
	forget(producerId: string): void {
		this.#cancel(producerId);
		this.#sent.delete(producerId);
	}

	close(): void {
		for (const producerId of [...this.#pendingOff.keys()]) this.#cancel(producerId);
	}

	#commit(producerId: string, active: boolean[]): void {
		this.#sent.set(producerId, active);
		this.#send(producerId, active);
	}

	#cancel(producerId: string): void {
		const pending = this.#pendingOff.get(producerId);
		if (!pending) return;
		clearTimeout(pending.timer);
		this.#pendingOff.delete(producerId);
	}
}

function sameFlags(a: readonly boolean[], b: readonly boolean[]): boolean {
	return a.length === b.length && a.every((flag, i) => flag === b[i]);
}
