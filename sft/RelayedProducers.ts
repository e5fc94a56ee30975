import type { types as ms } from 'mediasoup';
import type { RelayedProducer } from './MediaRelay.ts';

/**
 * The far side's producers re-created on one relay transport (same ids), so
 * local clients can consume them; shared by both relay modes.
 */
export class RelayedProducers {
	readonly #transport: ms.Transport;
	readonly #producers = new Map<string, ms.Producer>();

	constructor(transport: ms.Transport) {
		this.#transport = transport;
	}

	get all(): ms.Producer[] {
		return [...this.#producers.values()];
	}

	async receive(relayed: RelayedProducer): Promise<ms.Producer> {
		const producer = await this.#transport.produce({
			id: relayed.producerId,
			kind: relayed.kind,
			rtpParameters: relayed.rtpParameters,
			paused: relayed.paused,
			// The far side's sender is throttled already; a second throttle here would add its wait to that one.
			keyFrameRequestDelay: 0,
			appData: relayed.appData,
		});
		this.#producers.set(producer.id, producer);
		producer.observer.once('close', () => this.#producers.delete(producer.id));
		return producer;
	}

	stop(producerId: string): void {
		this.#producers.get(producerId)?.close();
	}
}
