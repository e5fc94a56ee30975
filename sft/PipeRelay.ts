import type { types as ms } from 'mediasoup';
import { ALL_LAYERS, type Demand } from './demand.ts';
import type { MediaRelay, MediaRelayEvents, PipeEndpoint, RelayedProducer, RelayOptions } from './MediaRelay.ts';
import { RelayedProducers } from './RelayedProducers.ts';
import { relayListenInfo, relayTarget } from './relaySocket.ts';
import type { TileRank } from './simulcast.ts';
import { TypedEmitter } from './TypedEmitter.ts';

/**
 * The `full` relay: a mediasoup PipeTransport whose pipe consumers carry
 * every encoding of every stream across.
 */
export class PipeRelay extends TypedEmitter<MediaRelayEvents> implements MediaRelay {
	readonly mode = 'full';
	readonly transport: ms.PipeTransport;
	/** Outgoing: local producer id → pipe consumer. */
	readonly #sent = new Map<string, ms.Consumer>();
	/** Incoming: producers re-created here from the far side. */
	readonly #received: RelayedProducers;

	readonly #options: RelayOptions;

	private constructor(transport: ms.PipeTransport, options: RelayOptions) {
		super();
		this.transport = transport;
		this.#received = new RelayedProducers(transport);
		this.#options = options;
		transport.observer.once('close', () => this.emit('closed'));
	}

	static async create(router: ms.Router, options: RelayOptions): Promise<PipeRelay> {
		const transport = await router.createPipeTransport({ listenInfo: relayListenInfo(options), enableSrtp: true, enableRtx: true });
		return new PipeRelay(transport, options);
	}

	get localEndpoint(): PipeEndpoint {
		const { tuple, srtpParameters } = this.transport;
		if (!srtpParameters) throw new Error('pipe transport has no SRTP parameters');
		return { ip: tuple.localAddress ?? tuple.localIp, port: tuple.localPort, srtpParameters };
	}

	get closed(): boolean {
		return this.transport.closed;
	}

	get sentProducerIds(): string[] {
		return [...this.#sent.keys()];
	}

	/** The pipe consumers carrying our streams out. */
	get sentConsumers(): ms.Consumer[] {
		return [...this.#sent.values()];
	}

	get receivedProducers(): ms.Producer[] {
		return this.#received.all;
	}

	async connect(remote: PipeEndpoint): Promise<void> {
		await this.transport.connect(await relayTarget(this.#options, this.localEndpoint, remote));
	}

	/** Starts sending a local producer across; returns what the far side needs to receive it. */
	async send(producer: ms.Producer): Promise<RelayedProducer> {
		const consumer = await this.transport.consume({ producerId: producer.id });
		this.#sent.set(producer.id, consumer);
		consumer.observer.once('close', () => {
			this.#sent.delete(producer.id);
			this.emit('sendingChanged');
		});
		this.emit('sendingChanged');
		return {
			producerId: producer.id,
			kind: consumer.kind,
			rtpParameters: consumer.rtpParameters,
			paused: consumer.producerPaused,
			appData: { ...producer.appData },
		};
	}

	stopSending(producerId: string): void {
		this.#sent.get(producerId)?.close();
	}

	/** A pipe consumer carries every layer; nothing to choose. */
	async setLayers(_producerId: string, _layers: ReadonlyMap<number, TileRank>): Promise<void> {}

	sentDemand(): Demand {
		// Every layer of what crosses is needed in full; the far side's ranks are unknown here.
		return new Map(this.sentProducerIds.map((id) => [id, new Map([[ALL_LAYERS, 'large' as const]])]));
	}

	/** Re-creates a far-side producer here (same id), so local clients can consume it. */
	receive(relayed: RelayedProducer): Promise<ms.Producer> {
		return this.#received.receive(relayed);
	}

	stopReceiving(producerId: string): void {
		this.#received.stop(producerId);
	}

	close(): void {
		this.transport.close();
	}
}
