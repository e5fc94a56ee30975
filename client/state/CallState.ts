import type {
	ConferenceDescriptor,
	FederationLinkInfo,
	JoinReply,
	MediaSource,
	ParticipantInfo,
	ProducerInfo,
	SftEventName,
	SftEvents,
} from '../protocol.ts';

/** A remote stream as the SFT announced it. */
export type RemoteProducer = ProducerInfo;

/** The layers a consumer carries now (null while nothing flows). */
export interface ReceivedLayers {
	spatialLayer: number | null;
	temporalLayer: number | null;
}

/** A consumer the client holds for a remote producer. */
export interface ConsumerState {
	consumerId: string;
	producerId: string;
	/** The SFT pauses consumers it does not forward (view, loudest speakers). */
	paused: boolean;
	layers?: ReceivedLayers;
}

export type LocalMediaState = 'off' | 'on' | 'muted';

/** One rectangle of the call: a participant's camera (or name when it has none), or a screen share. */
export interface Tile {
	/** Stable across renders: the participant id for a camera tile, `screen:<producerId>` for a screen. */
	key: string;
	participantId: string;
	userId: string;
	displayName: string;
	/** The participant's home domain (undefined when the SFT does not federate). */
	domain: string | undefined;
	/** From another domain than ours. */
	foreign: boolean;
	local: boolean;
	source: 'camera' | 'screen';
	videoProducerId: string | undefined;
	audioProducerId: string | undefined;
	/** No video to show: none published, paused, or the camera is off. */
	videoOff: boolean;
	audioMuted: boolean;
	speaking: boolean;
	pinned: boolean;
	layers: ReceivedLayers | undefined;
}

export interface CallSnapshot {
	participantId: string;
	displayName: string;
	domain: string | undefined;
	descriptor: ConferenceDescriptor | undefined;
	/** Domain of the SFT that anchors the conference. */
	anchorDomain: string | undefined;
	/** Participants of more than one domain, or links to other domains' SFTs. */
	federated: boolean;
	links: FederationLinkInfo[];
	participants: ParticipantInfo[];
	producers: RemoteProducer[];
	tiles: Tile[];
	/** Loudest first. */
	speakers: string[];
	ended: string | undefined;
}

/**
 * The client's picture of the conference, built only from the join reply,
 * server events and what the client itself does, so tests can drive it with
 * events in any order. Every update is idempotent; a producer whose
 * participant is not known yet waits for it; a new join reply (after a
 * reconnect) replaces everything, so nothing is shown twice.
 */
export class CallState {
	#participantId = '';
	#displayName = '';
	#domain: string | undefined;
	#descriptor: ConferenceDescriptor | undefined;
	/** Every id this client had in this conference (a reconnect gets a new one; the old may still be listed). */
	readonly #ownIds = new Set<string>();
	readonly #participants = new Map<string, ParticipantInfo>();
	readonly #producers = new Map<string, RemoteProducer>();
	readonly #consumers = new Map<string, ConsumerState>();
	readonly #local = new Map<MediaSource, LocalMediaState>();
	#speakers: string[] = [];
	#links: FederationLinkInfo[] = [];
	#pinned: string | undefined;
	#ended: string | undefined;

	/** Starts over from a join reply (the first, or one after a reconnect). */
	reset(reply: JoinReply, displayName: string): void {
		this.#participantId = reply.participantId;
		this.#ownIds.add(reply.participantId);
		this.#displayName = displayName;
		this.#domain = reply.domain;
		this.#descriptor = reply.descriptor;
		this.#participants.clear();
		this.#producers.clear();
		this.#consumers.clear();
		this.#speakers = [];
		this.#ended = undefined;
		for (const p of reply.participants) this.apply('participantJoined', p);
		for (const p of reply.producers) this.apply('producerAdded', p);
	}

	get participantId(): string {
		return this.#participantId;
	}

	/** Applies one server event; returns whether anything visible may have changed. */
	apply<E extends SftEventName>(event: E, payload: SftEvents[E]): boolean {
		switch (event) {
			case 'participantJoined': {
				const p = payload as ParticipantInfo;
				if (this.#ownIds.has(p.participantId)) return false;
				this.#participants.set(p.participantId, { ...p });
				return true;
			}
			case 'participantLeft': {
				const { participantId } = payload as SftEvents['participantLeft'];
				for (const producer of [...this.#producers.values()])
					if (producer.participantId === participantId) this.#dropProducer(producer.producerId);
				return this.#participants.delete(participantId);
			}
			case 'producerAdded': {
				const p = payload as ProducerInfo;
				if (this.#ownIds.has(p.participantId)) return false;
				this.#producers.set(p.producerId, { ...p });
				return true;
			}
			case 'producerClosed':
				return this.#dropProducer((payload as SftEvents['producerClosed']).producerId);
			case 'producerPaused':
			case 'producerResumed': {
				const producer = this.#producers.get((payload as SftEvents['producerPaused']).producerId);
				if (!producer) return false;
				producer.paused = event === 'producerPaused';
				return true;
			}
			case 'consumerClosed':
				return this.#consumers.delete((payload as SftEvents['consumerClosed']).consumerId);
			case 'consumerPaused': {
				const { consumerId, paused } = payload as SftEvents['consumerPaused'];
				const consumer = this.#consumers.get(consumerId);
				if (!consumer) return false;
				consumer.paused = paused;
				return true;
			}
			case 'consumerLayersChanged': {
				const { consumerId, spatialLayer, temporalLayer } = payload as SftEvents['consumerLayersChanged'];
				const consumer = this.#consumers.get(consumerId);
				if (!consumer) return false;
				consumer.layers = { spatialLayer, temporalLayer };
				return true;
			}
			case 'activeSpeakers': {
				const { speakers } = payload as SftEvents['activeSpeakers'];
				this.#speakers = [...new Set(speakers.map((s) => s.participantId))];
				return true;
			}
			case 'federationLinks':
				this.#links = [...(payload as SftEvents['federationLinks']).links];
				return true;
			case 'conferenceEnded':
				this.#ended = (payload as SftEvents['conferenceEnded']).reason;
				return true;
			case 'conferenceDescriptor':
				// The anchor died and another SFT took over: invite others with this one.
				this.#descriptor = (payload as SftEvents['conferenceDescriptor']).descriptor;
				return true;
			default:
				return false;
		}
	}

	/** The client created a consumer (it starts paused in the SFT). */
	addConsumer(consumerId: string, producerId: string): void {
		this.#consumers.set(consumerId, { consumerId, producerId, paused: true });
	}

	removeConsumer(consumerId: string): void {
		this.#consumers.delete(consumerId);
	}

	consumerOf(producerId: string): ConsumerState | undefined {
		for (const consumer of this.#consumers.values()) if (consumer.producerId === producerId) return consumer;
		return undefined;
	}

	/** Remote producers to consume: those whose participant is known. */
	get wantedProducers(): RemoteProducer[] {
		return [...this.#producers.values()].filter((p) => this.#participants.has(p.participantId));
	}

	setLocalMedia(source: MediaSource, state: LocalMediaState): void {
		if (state === 'off') this.#local.delete(source);
		else this.#local.set(source, state);
	}

	localMedia(source: MediaSource): LocalMediaState {
		return this.#local.get(source) ?? 'off';
	}

	/** Pins one tile (by key), or none. */
	pin(key: string | undefined): void {
		this.#pinned = key;
	}

	get pinned(): string | undefined {
		return this.#pinned;
	}

	snapshot(): CallSnapshot {
		const participants = [...this.#participants.values()];
		const foreign = (domain: string | undefined) => domain !== undefined && this.#domain !== undefined && domain !== this.#domain;
		return {
			participantId: this.#participantId,
			displayName: this.#displayName,
			domain: this.#domain,
			descriptor: this.#descriptor,
			anchorDomain: this.#descriptor?.anchorDomain,
			federated: this.#links.length > 0 || participants.some((p) => foreign(p.domain)),
			links: [...this.#links],
			participants,
			producers: [...this.#producers.values()],
			tiles: this.#tiles(foreign),
			speakers: [...this.#speakers],
			ended: this.#ended,
		};
	}

	#tiles(foreign: (domain: string | undefined) => boolean): Tile[] {
		const speaking = new Set(this.#speakers);
		const local: Tile = {
			key: this.#participantId,
			participantId: this.#participantId,
			userId: '',
			displayName: this.#displayName,
			domain: this.#domain,
			foreign: false,
			local: true,
			source: 'camera',
			videoProducerId: undefined,
			audioProducerId: undefined,
			videoOff: this.localMedia('camera') !== 'on',
			audioMuted: this.localMedia('mic') !== 'on',
			speaking: speaking.has(this.#participantId),
			pinned: this.#pinned === this.#participantId,
			layers: undefined,
		};
		const tiles = [local];
		for (const p of this.#participants.values()) {
			const own = [...this.#producers.values()].filter((pr) => pr.participantId === p.participantId);
			const mic = own.find((pr) => pr.kind === 'audio');
			const camera = own.find((pr) => pr.kind === 'video' && pr.source !== 'screen');
			const base = {
				participantId: p.participantId,
				userId: p.userId,
				displayName: p.displayName,
				domain: p.domain,
				foreign: foreign(p.domain),
				local: false,
				speaking: speaking.has(p.participantId),
			};
			tiles.push({
				...base,
				key: p.participantId,
				source: 'camera',
				videoProducerId: camera?.producerId,
				audioProducerId: mic?.producerId,
				videoOff: !camera || camera.paused,
				audioMuted: !mic || mic.paused,
				pinned: this.#pinned === p.participantId,
				layers: camera ? this.consumerOf(camera.producerId)?.layers : undefined,
			});
			for (const screen of own.filter((pr) => pr.kind === 'video' && pr.source === 'screen')) {
				const key = `screen:${screen.producerId}`;
				tiles.push({
					...base,
					key,
					source: 'screen',
					videoProducerId: screen.producerId,
					audioProducerId: undefined,
					videoOff: screen.paused,
					audioMuted: true,
					speaking: false,
					pinned: this.#pinned === key,
					layers: this.consumerOf(screen.producerId)?.layers,
				});
			}
		}
		return tiles;
	}

	#dropProducer(producerId: string): boolean {
		for (const consumer of [...this.#consumers.values()])
			if (consumer.producerId === producerId) this.#consumers.delete(consumer.consumerId);
		return this.#producers.delete(producerId);
	}
}
