// An in-memory stand-in for an SFT connection and a mediasoup-client Device,
// so the SDK's Call can be driven event by event in unit tests: requests are
// recorded and answered by handlers, server events and connection drops are
// pushed by the test, and producers carry a sender whose encodings can be read.
import { Emitter } from '../../client/Emitter.ts';
import type {
	MediaConsumer,
	MediaDevice,
	MediaProducer,
	MediaTransport,
	MediaTransportOptions,
	ProduceOptions,
} from '../../client/media.ts';
import type { Opaque, ProducerInfo, ReplyData, RequestName, Requests, SftEventName, SftEvents } from '../../client/protocol.ts';
import { RequestError, type SignallingChannel, type SignallingEvents } from '../../client/Signalling.ts';

type Handler<M extends RequestName> = (payload: Requests[M]) => ReplyData[M] | Promise<ReplyData[M]>;

export class FakeSignalling extends Emitter<SignallingEvents> implements SignallingChannel {
	connected = true;
	readonly requests: { method: RequestName; payload: unknown }[] = [];
	readonly #handlers = new Map<RequestName, Handler<RequestName>>();
	#ids = 0;

	constructor() {
		super();
		this.handle('createTransport', () => ({ transportId: this.id('transport'), iceParameters: {}, iceCandidates: [], dtlsParameters: {} }));
		this.handle('produce', () => ({ producerId: this.id('producer') }));
		this.handle('consume', (p) => ({
			consumerId: this.id('consumer'),
			producerId: p.producerId,
			kind: 'video',
			rtpParameters: {},
			paused: true,
		}));
		for (const method of ['connectTransport', 'closeProducer', 'pause', 'resume', 'setView', 'leave', 'setReceiveBitrate'] as const) {
			this.handle(method, () => ({}));
		}
	}

	id(prefix: string): string {
		return `${prefix}-${++this.#ids}`;
	}

	handle<M extends RequestName>(method: M, handler: Handler<M>): void {
		this.#handlers.set(method, handler as unknown as Handler<RequestName>);
	}

	async request<M extends RequestName>(method: M, payload: Requests[M]): Promise<ReplyData[M]> {
		if (!this.connected) throw new RequestError(method, 'disconnected', 'fake connection down');
		this.requests.push({ method, payload });
		const handler = this.#handlers.get(method);
		if (!handler) throw new RequestError(method, 'unknown_method', `no fake handler for ${method}`);
		return (await handler(payload)) as ReplyData[M];
	}

	/** Payloads of the requests named `method` so far. */
	sent<M extends RequestName>(method: M): Requests[M][] {
		return this.requests.filter((r) => r.method === method).map((r) => r.payload as Requests[M]);
	}

	serverEvent<E extends SftEventName>(name: E, payload: SftEvents[E]): void {
		this.emit('event', name, payload);
	}

	drop(): void {
		this.connected = false;
		this.emit('disconnected', 'transport close', true);
	}

	restore(): void {
		this.connected = true;
		this.emit('reconnected');
	}
}

export class FakeSender {
	encodings: RTCRtpEncodingParameters[];
	setCalls = 0;

	constructor(encodings: RTCRtpEncodingParameters[]) {
		this.encodings = encodings.map((e) => ({ ...e, active: true }));
	}

	getParameters(): RTCRtpSendParameters {
		return { encodings: this.encodings.map((e) => ({ ...e })), transactionId: 't', codecs: [], headerExtensions: [], rtcp: {} };
	}

	async setParameters(parameters: RTCRtpSendParameters): Promise<void> {
		this.setCalls++;
		this.encodings = parameters.encodings.map((e) => ({ ...e }));
	}

	get active(): boolean[] {
		return this.encodings.map((e) => e.active ?? true);
	}
}

class FakeProducer implements MediaProducer {
	readonly id: string;
	readonly kind: string;
	readonly track: MediaStreamTrack;
	readonly rtpSender: FakeSender;
	paused = false;
	closed = false;

	constructor(id: string, options: ProduceOptions) {
		this.id = id;
		this.track = options.track;
		this.kind = options.track.kind;
		this.rtpSender = new FakeSender(options.encodings ?? [{}]);
	}

	pause(): void {
		this.paused = true;
	}

	resume(): void {
		this.paused = false;
	}

	close(): void {
		this.closed = true;
	}

	async getStats(): Promise<RTCStatsReport> {
		return new Map() as unknown as RTCStatsReport;
	}
}

class FakeConsumer implements MediaConsumer {
	readonly id: string;
	readonly producerId: string;
	readonly kind: string;
	readonly track: MediaStreamTrack;
	closed = false;

	constructor(options: { id: string; producerId: string; kind: 'audio' | 'video' }) {
		this.id = options.id;
		this.producerId = options.producerId;
		this.kind = options.kind;
		this.track = fakeTrack(options.kind, `remote-${options.producerId}`);
	}

	close(): void {
		this.closed = true;
	}

	async getStats(): Promise<RTCStatsReport> {
		return new Map() as unknown as RTCStatsReport;
	}
}

type Listener = (...args: never[]) => void;

export class FakeTransport implements MediaTransport {
	readonly id: string;
	readonly direction: 'send' | 'recv';
	connectionState = 'new';
	closed = false;
	readonly producers: FakeProducer[] = [];
	readonly consumers: FakeConsumer[] = [];
	readonly #listeners = new Map<string, Listener>();

	constructor(direction: 'send' | 'recv', options: MediaTransportOptions) {
		this.direction = direction;
		this.id = options.id;
	}

	on(event: string, listener: Listener): void {
		this.#listeners.set(event, listener);
	}

	async produce(options: ProduceOptions): Promise<MediaProducer> {
		const produce = this.#listeners.get('produce') as unknown as (
			params: { kind: string; rtpParameters: Opaque; appData: Record<string, unknown> },
			callback: (reply: { id: string }) => void,
			errback: (error: Error) => void,
		) => void;
		const id = await new Promise<string>((resolve, reject) =>
			produce({ kind: options.track.kind, rtpParameters: {}, appData: options.appData ?? {} }, ({ id }) => resolve(id), reject),
		);
		const producer = new FakeProducer(id, options);
		this.producers.push(producer);
		return producer;
	}

	async consume(options: { id: string; producerId: string; kind: 'audio' | 'video' }): Promise<MediaConsumer> {
		const consumer = new FakeConsumer(options);
		this.consumers.push(consumer);
		return consumer;
	}

	async getStats(): Promise<RTCStatsReport> {
		return new Map() as unknown as RTCStatsReport;
	}

	close(): void {
		this.closed = true;
	}
}

export class FakeDevice implements MediaDevice {
	loaded = true;
	readonly handlerName = 'Fake';
	readonly rtpCapabilities = { codecs: [] };
	readonly transports: FakeTransport[] = [];

	async load(): Promise<void> {}

	canProduce(): boolean {
		return true;
	}

	createSendTransport(options: MediaTransportOptions): MediaTransport {
		return this.#add(new FakeTransport('send', options));
	}

	createRecvTransport(options: MediaTransportOptions): MediaTransport {
		return this.#add(new FakeTransport('recv', options));
	}

	#add(transport: FakeTransport): FakeTransport {
		this.transports.push(transport);
		return transport;
	}
}

export function fakeTrack(kind: 'audio' | 'video', id = `${kind}-track`): MediaStreamTrack {
	return { kind, id, enabled: true, readyState: 'live' } as unknown as MediaStreamTrack;
}

/** A producerAdded payload (single layer unless overridden; source from the kind). */
export function producerInfo(
	producerId: string,
	participantId: string,
	kind: 'audio' | 'video',
	overrides: Partial<ProducerInfo> = {},
): ProducerInfo {
	return {
		producerId,
		participantId,
		kind,
		source: kind === 'audio' ? 'mic' : 'camera',
		paused: false,
		spatialLayers: 1,
		temporalLayers: 1,
		...overrides,
	};
}
