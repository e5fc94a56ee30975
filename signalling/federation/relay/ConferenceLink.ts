import type { types as ms } from 'mediasoup';
import type { Logger } from 'pino';
import type { Conference } from '../../../sft/Conference.ts';
import type { MediaRelay } from '../../../sft/MediaRelay.ts';
import type { Participant } from '../../../sft/Participant.ts';
import { LinkDemand, type LinkDemandOptions } from './LinkDemand.ts';
import type { LinkMessage, LinkMessageName } from './linkMessages.ts';
import { assertPartnerMayAdd, type PartnerLimits } from './partnerLimits.ts';
import { RelayError } from './RelayError.ts';

/** The federation socket to one partner SFT, as a ConferenceLink sees it. */
export interface PeerChannel {
	readonly domain: string;
	send<N extends LinkMessageName>(name: N, message: LinkMessage<N>): Promise<unknown>;
}

/**
 * One conference shared with one partner SFT: the pipe relay that carries
 * the media, and the mirroring of participants and streams in both
 * directions. Everything not from the partner is offered to it (so an anchor
 * relays domain C's streams to B: a star), everything from it is re-created
 * here as participants whose `origin` is the partner's domain.
 */
export class ConferenceLink {
	readonly conference: Conference;
	readonly relay: MediaRelay;
	/** What the partner needs of our streams and we of theirs (decides what crosses in demand mode). */
	readonly demand: LinkDemand;
	readonly #channel: PeerChannel;
	readonly #logger: Logger;
	readonly #unsubscribe: (() => void)[] = [];
	/** Outgoing and incoming work each run in order (a close must not overtake its add). */
	#outgoing: Promise<unknown> = Promise.resolve();
	#incoming: Promise<unknown> = Promise.resolve();
	#closed = false;
	readonly #limits: PartnerLimits | undefined;

	constructor(
		conference: Conference,
		relay: MediaRelay,
		channel: PeerChannel,
		logger: Logger,
		options: { demand: LinkDemandOptions; limits?: PartnerLimits | undefined },
	) {
		this.conference = conference;
		this.relay = relay;
		this.#channel = channel;
		this.#logger = logger.child({ conference: conference.id, peer: channel.domain, relayMode: relay.mode });
		this.#limits = options.limits;
		this.demand = new LinkDemand(conference, relay, (report) => this.#send('conf:demand', report), options.demand, this.#logger);
	}

	get peerDomain(): string {
		return this.#channel.domain;
	}

	get closed(): boolean {
		return this.#closed;
	}

	/** Offers the partner everything present now, then every change. */
	start(): void {
		const c = this.conference;
		for (const participant of c.participants) {
			this.#announceParticipant(participant);
			for (const producer of participant.producers) this.#announceProducer(participant, producer);
		}
		this.#unsubscribe.push(
			c.subscribe('participantJoined', (p) => this.#announceParticipant(p)),
			c.subscribe(
				'participantLeft',
				(p) => this.#forwarded(p) && this.#queueOut(() => this.#send('conf:participantLeft', { participantId: p.id })),
			),
			c.subscribe('producerAdded', (p, producer) => this.#announceProducer(p, producer)),
			c.subscribe('producerClosed', (p, producer) => {
				if (!this.#forwarded(p)) return;
				this.#queueOut(async () => {
					this.relay.stopSending(producer.id);
					await this.#send('conf:producerClosed', { producerId: producer.id });
				});
			}),
			c.subscribe('producerPausedChanged', (p, producer, paused) => {
				if (this.#forwarded(p)) this.#queueOut(() => this.#send('conf:producerPaused', { producerId: producer.id, paused }));
			}),
		);
	}

	/** Applies a message from the partner, in arrival order; a refusal (RelayError) rejects, for the partner's reply. */
	handle<N extends LinkMessageName>(name: N, message: LinkMessage<N>): Promise<void> {
		const next = this.#incoming.then(() => this.#apply(name, message));
		this.#incoming = next.catch((error: unknown) => {
			if (error instanceof RelayError) this.#logger.debug({ code: error.code, message: name }, 'federation message refused');
			else this.#logger.warn({ err: error, message: name }, 'could not apply federation message');
		});
		return next.catch((error: unknown) => {
			if (error instanceof RelayError) throw error;
		});
	}

	/** Ends the link: the relay closes and the partner's participants leave this conference. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.demand.close();
		for (const off of this.#unsubscribe.splice(0)) off();
		this.relay.close();
		for (const p of this.conference.participants) if (p.origin === this.peerDomain) p.close();
	}

	async #apply(name: LinkMessageName, message: LinkMessage<LinkMessageName>): Promise<void> {
		if (this.#closed) return;
		const c = this.conference;
		switch (name) {
			case 'conf:participantJoined': {
				const { participant } = message as LinkMessage<'conf:participantJoined'>;
				if (c.getParticipant(participant.participantId)) return;
				assertPartnerMayAdd(this.#limits, 'participant', c.participants.length);
				c.addParticipant(participant.userId, participant.displayName, c.rtpCapabilities, {
					id: participant.participantId,
					origin: this.peerDomain,
					homeDomain: participant.domain ?? this.peerDomain,
				});
				return;
			}
			case 'conf:participantLeft':
				this.#mirrored((message as LinkMessage<'conf:participantLeft'>).participantId)?.close();
				return;
			case 'conf:producerAdded': {
				const { participantId, producer } = message as LinkMessage<'conf:producerAdded'>;
				const owner = this.#mirrored(participantId);
				if (!owner) return;
				assertPartnerMayAdd(this.#limits, 'producer', owner.producers.length);
				// The stream is the owner's whatever appData claims (active speakers are attributed by it).
				const appData = { ...producer.appData, participantId: owner.id };
				const rtpParameters = producer.rtpParameters as unknown as ms.RtpParameters;
				const mirrored = await this.relay.receive({ ...producer, appData, rtpParameters });
				owner.adoptProducer(mirrored);
				this.demand.producerReceived(mirrored);
				return;
			}
			case 'conf:producerClosed':
				this.relay.stopReceiving((message as LinkMessage<'conf:producerClosed'>).producerId);
				return;
			case 'conf:producerPaused': {
				const { producerId, paused } = message as LinkMessage<'conf:producerPaused'>;
				const producer = this.relay.receivedProducers.find((p) => p.id === producerId);
				if (paused) await producer?.pause();
				else await producer?.resume();
				return;
			}
			case 'conf:demand':
				this.demand.onRemoteDemand((message as LinkMessage<'conf:demand'>).video, (message as LinkMessage<'conf:demand'>).audio);
				return;
			default:
				// attach/detach/ended concern the whole link and are handled by its owner.
				return;
		}
	}

	/** A participant the partner told us about (never a local one). */
	#mirrored(participantId: string): Participant | undefined {
		const p = this.conference.getParticipant(participantId);
		return p?.origin === this.peerDomain ? p : undefined;
	}

	#forwarded(p: Participant): boolean {
		return p.origin !== this.peerDomain;
	}

	#announceParticipant(p: Participant): void {
		if (!this.#forwarded(p)) return;
		const participant = {
			participantId: p.id,
			userId: p.userId,
			displayName: p.displayName,
			...(p.homeDomain ? { domain: p.homeDomain } : {}),
		};
		this.#queueOut(() => this.#send('conf:participantJoined', { participant }));
	}

	#announceProducer(p: Participant, producer: ms.Producer): void {
		if (!this.#forwarded(p)) return;
		this.#queueOut(async () => {
			if (producer.closed) return;
			const relayed = await this.relay.send(producer);
			// Local appData is the client's bounded scalars plus our participant id.
			await this.#send('conf:producerAdded', { participantId: p.id, producer: relayed as LinkMessage<'conf:producerAdded'>['producer'] });
			this.demand.producerSent();
		});
	}

	#queueOut(work: () => Promise<unknown>): void {
		this.#outgoing = this.#outgoing
			.then(() => (this.#closed ? undefined : work()))
			.catch((error: unknown) => this.#logger.warn({ err: error }, 'could not offer to federated SFT'));
	}

	#send<N extends LinkMessageName>(name: N, body: Omit<LinkMessage<N>, 'conferenceId'>): Promise<unknown> {
		return this.#channel.send(name, { ...body, conferenceId: this.conference.id } as LinkMessage<N>);
	}
}
