import { EventEmitter } from "node:events";

/** Event name → listener argument tuple, as in mediasoup's EnhancedEventEmitter. */
export type EventMap = Record<string, unknown[]>;

/**
 * EventEmitter with typed event names and arguments. `safeEmit` isolates the
 * emitter from a throwing listener (a bug in the code built on top of
 * federation must not tear down the TLS listener that emitted the event).
 */
export class EnhancedEventEmitter<E extends EventMap> extends EventEmitter {
  constructor(private readonly onListenerError?: (eventName: string, error: unknown) => void) {
    super();
    this.setMaxListeners(Infinity);
  }

  override emit<K extends keyof E & string>(eventName: K, ...args: E[K]): boolean {
    return super.emit(eventName, ...args);
  }

  safeEmit<K extends keyof E & string>(eventName: K, ...args: E[K]): boolean {
    try {
      return super.emit(eventName, ...args);
    } catch (error) {
      this.onListenerError?.(eventName, error);
      return true;
    }
  }

  override on<K extends keyof E & string>(eventName: K, listener: (...args: E[K]) => void): this {
    return super.on(eventName, listener as (...args: unknown[]) => void);
  }

  override once<K extends keyof E & string>(eventName: K, listener: (...args: E[K]) => void): this {
    return super.once(eventName, listener as (...args: unknown[]) => void);
  }

  override off<K extends keyof E & string>(eventName: K, listener: (...args: E[K]) => void): this {
    return super.off(eventName, listener as (...args: unknown[]) => void);
  }
}
