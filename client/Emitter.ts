/** Event name → listener argument tuple. */
export type EventMap = Record<string, unknown[]>;

type Listener<A extends unknown[]> = (...args: A) => void;
type AnyListener = (...args: unknown[]) => void;

/**
 * A small typed event emitter that runs in browsers and Node alike. A
 * listener that throws is reported and does not stop the others or the emitter.
 */
export class Emitter<E extends EventMap> {
	readonly #listeners = new Map<keyof E, Set<AnyListener>>();

	/** Adds a listener; returns the function that removes it. */
	on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
		let set = this.#listeners.get(event);
		if (!set) {
			set = new Set();
			this.#listeners.set(event, set);
		}
		set.add(listener as unknown as AnyListener);
		return () => this.off(event, listener);
	}

	once<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
		const off = this.on(event, (...args) => {
			off();
			listener(...args);
		});
		return off;
	}

	off<K extends keyof E>(event: K, listener: Listener<E[K]>): void {
		this.#listeners.get(event)?.delete(listener as unknown as AnyListener);
	}

	protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
		for (const listener of [...(this.#listeners.get(event) ?? [])]) {
			try {
				listener(...args);
			} catch (error) {
				console.error(`listener for "${String(event)}" threw`, error);
			}
		}
	}
}
