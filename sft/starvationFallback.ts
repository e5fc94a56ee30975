import type { types as ms } from 'mediasoup';

/** How long a viewer must get nothing of a live stream before its lowest layer is asked for too. */
export const STARVED_CONFIRM_MS = 1000;
/**
 * How long the viewer must be back at its target layer before that extra
 * layer is let go: as long as mediasoup holds off upgrading after a
 * bandwidth downgrade (BweDowngradeConservativeMs), so the two do not flap.
 */
export const FALLBACK_HOLD_MS = 10_000;

/**
 * Watches one simulcast consumer for bandwidth starvation. mediasoup picks
 * the highest layer that fits a viewer's estimate among the layers it
 * receives, and forwards nothing when none fits. Behind a demand link only
 * the layers viewers asked for arrive, so a viewer whose downlink shrinks
 * below the one layer crossing would get nothing: then it needs the lowest
 * layer as well (`active`), until it is back at its target layer.
 */
export class StarvationFallback {
	readonly #consumer: ms.Consumer;
	readonly #target: () => { paused: boolean; spatialLayer: number };
	readonly #onChange: () => void;
	#active = false;
	#timer: NodeJS.Timeout | undefined;

	constructor(consumer: ms.Consumer, target: () => { paused: boolean; spatialLayer: number }, onChange: () => void) {
		this.#consumer = consumer;
		this.#target = target;
		this.#onChange = onChange;
		consumer.on('layerschange', () => this.check());
		consumer.on('score', () => this.check());
	}

	/** The viewer needs the lowest layer on top of its target. */
	get active(): boolean {
		return this.#active;
	}

	/** Re-evaluates after the consumer's layers, scores or target changed. */
	check(): void {
		const target = this.#target();
		if (this.#consumer.closed || target.paused || target.spatialLayer <= 0) {
			this.#clearTimer();
			this.#set(false);
			return;
		}
		const wanted = this.#active ? this.#atTarget(target.spatialLayer) : this.#starved(target.spatialLayer);
		if (!wanted) {
			this.#clearTimer();
			return;
		}
		// Starved (or recovered) for a while, not for a moment: a switch to a new layer also forwards nothing until its key frame.
		this.#timer ??= setTimeout(
			() => {
				this.#timer = undefined;
				const now = this.#target();
				if (this.#consumer.closed || now.paused) return;
				if (this.#active ? this.#atTarget(now.spatialLayer) : this.#starved(now.spatialLayer)) this.#set(!this.#active);
			},
			this.#active ? FALLBACK_HOLD_MS : STARVED_CONFIRM_MS,
		);
		this.#timer.unref();
	}

	close(): void {
		this.#clearTimer();
	}

	/** Nothing is forwarded although the target layer arrives: the estimate fits none of what arrives. */
	#starved(targetLayer: number): boolean {
		return this.#consumer.currentLayers === undefined && (this.#consumer.score.producerScores[targetLayer] ?? 0) > 0;
	}

	#atTarget(targetLayer: number): boolean {
		return (this.#consumer.currentLayers?.spatialLayer ?? -1) >= targetLayer;
	}

	#set(active: boolean): void {
		if (active === this.#active) return;
		this.#active = active;
		this.#onChange();
	}

	#clearTimer(): void {
		clearTimeout(this.#timer);
		this.#timer = undefined;
	}
}
