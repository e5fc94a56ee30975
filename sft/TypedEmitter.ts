import { EventEmitter } from 'node:events';

/** Map of event name → listener argument tuple. */
export type EventMap = Record<string, unknown[]>;

/**
 * A typed event emitter. Like mediasoup's EnhancedEventEmitter, `emit` never
 * throws: a listener that throws is reported, not allowed to unwind the owner
 * (a broken observer must not tear down a conference).
 */
export class TypedEmitter<E extends EventMap> {
	readonly #emitter = new EventEmitter({ captureRejections: false });
	readonly #onListenerError: (event: string, error: unknown) => void;

	constructor(onListenerError?: (event: string, error: unknown) => void) {
		this.#onListenerError = onListenerError ?? ((event, error) => process.emitWarning(`listener for "${event}" threw: ${String(error)}`));
		// Conferences can have many listeners (one per signalling session).
		this.#emitter.setMaxListeners(0);
	}

	on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
		this.#emitter.on(event, listener as (...args: unknown[]) => void);
		return this;
	}

	once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
		this.#emitter.once(event, listener as (...args: unknown[]) => void);
		return this;
	}

	off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
		this.#emitter.off(event, listener as (...args: unknown[]) => void);
		return this;
	}

	/** Like `on`, returning the function that removes the listener again. */
	subscribe<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): () => void {
		this.on(event, listener);
		return () => this.off(event, listener);
	}

	listenerCount<K extends keyof E & string>(event: K): number {
		return this.#emitter.listenerCount(event);
	}

	protected emit<K extends keyof E & string>(event: K, ...args: E[K]): void {
		// rawListeners: `once` wrappers remove themselves when called.
		for (const listener of this.#emitter.rawListeners(event)) {
			try {
				(listener as (...a: unknown[]) => void)(...args);
			} catch (error) {
				this.#onListenerError(event, error);
			}
		}
	}
}
