import type { types as ms } from 'mediasoup';
import type { Logger } from 'pino';
import type { Socket } from 'socket.io';
import type { Conference } from '../../sft/Conference.ts';
import type { Participant, PlainTransportParams, WebRtcTransportParams } from '../../sft/Participant.ts';
import { layersOf, sourceOf } from '../../sft/producerMeta.ts';
import type { Sft } from '../../sft/Sft.ts';
import { recommendedProfiles } from '../../sft/simulcast.ts';
import type { FederationHub } from '../federation/relay/FederationHub.ts';
import { payloadProblem } from '../payloadShape.ts';
import { type AccessClaims, verifyAccessToken } from './accessToken.ts';
import { type ClientLimits, ClientQuota } from './clientLimits.ts';
import type { ClientMetrics } from './clientMetrics.ts';
import { SignallingError, toErrorBody } from './errors.ts';
import type { FederationLinkWatch } from './FederationLinkWatch.ts';
import {
	isRequestMethod,
	MAX_PAYLOAD_BYTES,
	type ParticipantInfo,
	type ProducerInfo,
	type RequestMethod,
	type RequestPayload,
	requestSchemas,
	type ServerEvents,
} from './protocol.ts';

type Ack = (response: unknown) => void;
type Handlers = { [M in RequestMethod]: (payload: RequestPayload<M>) => Promise<unknown> };

export interface ClientSessionOptions {
	tokenSecret: string;
	/** Federated conferencing; absent when federation is disabled. */
	hub?: FederationHub | undefined;
	/** Link states of federated conferences (with `hub`). */
	links?: FederationLinkWatch | undefined;
	/** Lets tests and operators run without tokens on a private machine. */
	requireToken: boolean;
	maxTokenLifetimeSeconds: number;
	limits: ClientLimits;
	/** `token`: a token must grant `plain`; `any`: every joined client; `off`. */
	plainTransports: 'token' | 'any' | 'off';
	/** `source`: plain transports send only to the client's signalling address. */
	plainDestinations: 'source' | 'any';
	metrics: ClientMetrics;
}

/** Nesting deeper than any request of the protocol needs (rtpParameters are about 5 levels). */
const MAX_PAYLOAD_DEPTH = 32;

/**
 * One client's signalling connection: validates each request, drives the
 * media plane, and turns conference events into notifications.
 * A bad request only ever produces an error acknowledgement.
 */
export class ClientSession {
	readonly #socket: Socket;
	readonly #sft: Sft;
	readonly #options: ClientSessionOptions;
	readonly #logger: Logger;
	#participant: Participant | undefined;
	#claims: AccessClaims | undefined;
	/** A join is in flight (it may await conference creation). */
	#joining = false;
	readonly #quota: ClientQuota;
	readonly #unsubscribe: (() => void)[] = [];
	readonly #handlers: Handlers = {
		getCapabilities: async () => this.#getCapabilities(),
		join: async (p) => this.#join(p),
		createTransport: async (p) => {
			const participant = this.#joined();
			if (p.type === 'plain') this.#assertPlainAllowed();
			return this.#quota.reserve<WebRtcTransportParams | PlainTransportParams>('transports', participant, () =>
				p.type === 'plain' ? participant.createPlainTransport(p.direction) : participant.createWebRtcTransport(p.direction),
			);
		},
		connectTransport: async (p) => {
			const { transportId, ...params } = p;
			const participant = this.#joined();
			if ('ip' in params) this.#assertPlainDestination(params.ip);
			await participant.connectTransport(transportId, params as Parameters<Participant['connectTransport']>[1]);
			return {};
		},
		produce: async (p) => {
			const participant = this.#joined();
			this.#quota.checkAppData(p.appData);
			const producer = await this.#quota.reserve('producers', participant, () =>
				participant.produce(p.transportId, p.kind, p.rtpParameters as unknown as ms.RtpParameters, {
					source: p.source,
					size: p.size,
					appData: p.appData,
				}),
			);
			return { producerId: producer.id };
		},
		closeProducer: async (p) => {
			this.#joined().closeProducer(p.producerId);
			return {};
		},
		consume: async (p) => {
			const participant = this.#joined();
			const consumer = await this.#quota.reserve('consumers', participant, () => participant.consume(p.transportId, p.producerId));
			return {
				consumerId: consumer.id,
				producerId: consumer.producerId,
				kind: consumer.kind,
				rtpParameters: consumer.rtpParameters,
				paused: true,
			};
		},
		pause: async (p) => this.#setPaused(p, true),
		resume: async (p) => this.#setPaused(p, false),
		setView: async (p) => {
			const view =
				'tiles' in p
					? p.tiles.map((t) => ({ producerId: t.producerId, size: { width: t.width, height: t.height }, pinned: t.pinned }))
					: p.producerIds;
			await this.#joined().setView(view);
			return {};
		},
		setReceiveBitrate: async (p) => {
			await this.#joined().setReceiveBitrate(p.maxBitrate);
			return {};
		},
		leave: async () => {
			this.#leave();
			return {};
		},
	};

	constructor(socket: Socket, sft: Sft, options: ClientSessionOptions, logger: Logger) {
		this.#socket = socket;
		this.#sft = sft;
		this.#options = options;
		this.#quota = new ClientQuota(options.limits);
		this.#logger = logger.child({ socket: socket.id });
		socket.onAny((event: string, ...args: unknown[]) => void this.#onRequest(event, args));
		socket.on('disconnect', () => this.#leave());
	}

	async #onRequest(method: string, args: unknown[]): Promise<void> {
		const last = args[args.length - 1];
		const ack: Ack | undefined = typeof last === 'function' ? (last as Ack) : undefined;
		const reply = ack ?? ((response: unknown) => this.#socket.emit('requestError', { method, ...(response as object) }));
		try {
			if (!isRequestMethod(method)) throw new SignallingError('unknown_method', `unknown request "${method}"`);
			const raw = ack ? args.slice(0, -1)[0] : args[0];
			const problem = payloadProblem(raw ?? {}, { maxDepth: MAX_PAYLOAD_DEPTH, maxBytes: MAX_PAYLOAD_BYTES });
			if (problem === 'too_deep')
				throw new SignallingError('payload_too_deep', `request payload is nested deeper than ${MAX_PAYLOAD_DEPTH} levels`);
			if (problem === 'too_large') throw new SignallingError('payload_too_large', `request payload exceeds ${MAX_PAYLOAD_BYTES} bytes`);
			const parsed = requestSchemas[method].safeParse(raw ?? {});
			if (!parsed.success) {
				const issue = parsed.error.issues[0];
				const where = issue?.path.length ? ` at "${issue.path.join('.')}"` : '';
				throw new SignallingError('bad_request', `invalid ${method} request${where}: ${issue?.message ?? 'malformed'}`);
			}
			const handler = this.#handlers[method] as (payload: unknown) => Promise<unknown>;
			const data = await handler(parsed.data);
			if (ack) ack({ ok: true, data });
		} catch (error) {
			const body = toErrorBody(error);
			this.#options.metrics.requestRefused(body.code);
			if (body.code === 'internal_error') this.#logger.error({ err: error, method }, 'request failed');
			else this.#logger.debug({ code: body.code, method }, 'request refused');
			reply({ ok: false, error: body });
		}
	}

	#getCapabilities() {
		const { limits } = this.#sft;
		return { rtpCapabilities: this.#sft.rtpCapabilities, limits, simulcast: recommendedProfiles };
	}

	async #join(p: RequestPayload<'join'>) {
		// Checked and set before any await: two joins sent back to back must not both pass.
		if (this.#participant) throw new SignallingError('already_joined', 'this connection has already joined a conference');
		if (this.#joining) throw new SignallingError('join_in_progress', 'this connection is already joining a conference');
		this.#joining = true;
		try {
			return await this.#joinNow(p);
		} finally {
			this.#joining = false;
		}
	}

	async #joinNow(p: RequestPayload<'join'>) {
		const options = this.#options;
		const claims: AccessClaims = options.requireToken
			? verifyAccessToken(p.token, p.conferenceId, options.tokenSecret, {
					maxLifetimeSeconds: options.maxTokenLifetimeSeconds,
					maxUserIdLength: options.limits.maxUserIdLength,
				})
			: { user: `anonymous-${this.#socket.id}`, conference: p.conferenceId, right: 'start', exp: Number.POSITIVE_INFINITY };
		const { hub } = this.#options;
		const descriptor = p.descriptor;
		if (descriptor && descriptor.conferenceId !== p.conferenceId)
			throw new SignallingError('bad_request', 'the descriptor is for another conference');
		const anchoredElsewhere = descriptor !== undefined && descriptor.anchorDomain !== hub?.domain;
		let conference = this.#sft.getConference(p.conferenceId);
		if (anchoredElsewhere) {
			if (!hub)
				throw new SignallingError('federation_disabled', 'this SFT does not federate; it cannot join a conference of another domain');
			conference = await hub.joinWithDescriptor(descriptor);
		}
		if (!conference) {
			if (claims.right !== 'start') throw new SignallingError('conference_not_found', 'no such conference; a join token cannot start one');
			conference = await this.#sft.getOrCreateConference(p.conferenceId);
		}
		this.#quota.checkRoom(conference);
		const participant = conference.addParticipant(claims.user, p.displayName ?? claims.user, p.rtpCapabilities as ms.RtpCapabilities);
		this.#participant = participant;
		this.#claims = claims;
		this.#subscribe(conference, participant);
		if (this.#socket.disconnected) {
			// The client went away while the conference was being created; its
			// disconnect handler found nobody to remove.
			this.#leave();
			throw new SignallingError('not_joined', 'the connection closed during join');
		}
		this.#logger.info({ conference: conference.id, participant: participant.id, user: claims.user }, 'joined');
		// After the join acknowledgement, which is sent when this returns.
		setImmediate(() => {
			if (this.#participant === participant) this.#notify('federationLinks', { links: this.#options.links?.linksOf(conference.id) ?? [] });
		});
		return {
			conferenceId: conference.id,
			domain: hub?.domain,
			descriptor: hub?.descriptorOf(conference),
			...roomState(conference, participant, hub?.domain),
		};
	}

	/**
	 * The conference's worker died and the SFT re-creates it on a live one:
	 * this client comes back under the same participant id and is told to set
	 * up its transports, streams and consumers again (`mediaReset`).
	 */
	async #rejoin(previous: Participant, restart: Promise<Conference>): Promise<void> {
		this.#detach();
		let conference: Conference;
		try {
			conference = await restart;
		} catch {
			this.#notify('conferenceEnded', { reason: 'worker_died' });
			return;
		}
		if (this.#socket.disconnected || this.#participant || conference.closed) return;
		const participant = conference.addParticipant(previous.userId, previous.displayName, previous.rtpCapabilities, { id: previous.id });
		this.#participant = participant;
		this.#subscribe(conference, participant);
		this.#logger.info({ conference: conference.id, participant: participant.id }, 'rejoined after a worker death');
		this.#notify('mediaReset', { reason: 'worker_died', ...roomState(conference, participant, this.#options.hub?.domain) });
	}

	async #setPaused(p: { consumerId: string } | { producerId: string }, paused: boolean) {
		const participant = this.#joined();
		if ('consumerId' in p) await participant.setConsumerPaused(p.consumerId, paused);
		else await participant.setProducerPaused(p.producerId, paused);
		return {};
	}

	#notify<E extends keyof ServerEvents>(event: E, payload: ServerEvents[E]): void {
		this.#socket.emit(event, payload);
	}

	#subscribe(conference: Conference, self: Participant): void {
		const notify = this.#notify.bind(this);
		const others = (p: Participant) => p !== self;
		const domain = this.#options.hub?.domain;
		this.#unsubscribe.push(
			conference.subscribe('participantJoined', (p) => others(p) && notify('participantJoined', participantInfo(p, domain))),
		);
		this.#unsubscribe.push(conference.subscribe('participantLeft', (p) => others(p) && notify('participantLeft', { participantId: p.id })));
		this.#unsubscribe.push(
			conference.subscribe('producerAdded', (p, producer) => others(p) && notify('producerAdded', producerInfo(p, producer))),
		);
		this.#unsubscribe.push(
			conference.subscribe('producerClosed', (p, producer) => others(p) && notify('producerClosed', { producerId: producer.id })),
		);
		this.#unsubscribe.push(
			conference.subscribe('producerPausedChanged', (p, producer, paused) => {
				if (others(p)) notify(paused ? 'producerPaused' : 'producerResumed', { producerId: producer.id });
			}),
		);
		this.#unsubscribe.push(conference.subscribe('activeSpeakers', (speakers) => notify('activeSpeakers', { speakers })));
		this.#unsubscribe.push(
			conference.subscribe('closed', (reason) => {
				const restart = reason === 'worker_died' ? this.#sft.restartOf(conference.id) : undefined;
				if (restart) {
					void this.#rejoin(self, restart);
					return;
				}
				notify('conferenceEnded', { reason });
				this.#detach();
			}),
		);
		const hub = this.#options.hub;
		if (hub)
			this.#unsubscribe.push(
				hub.subscribe('descriptorChanged', (id, descriptor) => id === conference.id && notify('conferenceDescriptor', { descriptor })),
			);
		const links = this.#options.links;
		if (links) this.#unsubscribe.push(links.subscribe(conference, (list) => notify('federationLinks', { links: list })));
		this.#unsubscribe.push(
			self.subscribe('consumerClosed', (consumerId, producerId) => notify('consumerClosed', { consumerId, producerId })),
		);
		this.#unsubscribe.push(
			self.subscribe('consumerPausedChanged', (consumerId, paused) => notify('consumerPaused', { consumerId, paused })),
			self.subscribe('consumerLayersChanged', (consumerId, producerId, layers) =>
				notify('consumerLayersChanged', { consumerId, producerId, ...layers }),
			),
			conference.subscribe('encodingsNeeded', (owner, producerId, active) => {
				if (owner === self) notify('encodingsNeeded', { producerId, active });
			}),
		);
	}

	#assertPlainAllowed(): void {
		const policy = this.#options.plainTransports;
		if (policy === 'any') return;
		if (policy === 'off') throw new SignallingError('plain_not_allowed', 'plain transports are disabled on this SFT');
		if (!this.#claims?.plain) throw new SignallingError('plain_not_allowed', 'plain transports need a token that grants them');
	}

	/** A plain transport must not become a way to send media at third parties. */
	#assertPlainDestination(ip: string): void {
		if (this.#options.plainDestinations === 'any') return;
		const source = unmapped(this.#socket.handshake.address);
		if (unmapped(ip) !== source) {
			throw new SignallingError('plain_destination_not_allowed', `plain transports may only send to this connection's address ${source}`);
		}
	}

	#joined(): Participant {
		if (!this.#participant || this.#participant.closed) throw new SignallingError('not_joined', 'join a conference first');
		return this.#participant;
	}

	#leave(): void {
		const participant = this.#participant;
		this.#detach();
		participant?.close();
	}

	#detach(): void {
		for (const off of this.#unsubscribe.splice(0)) off();
		this.#participant = undefined;
	}
}

/** `::ffff:127.0.0.1` and `127.0.0.1` are one address. */
function unmapped(address: string): string {
	return address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}

/** Who and what a participant finds in its conference (join reply, mediaReset); `ownDomain` as for participantInfo. */
function roomState(conference: Conference, self: Participant, ownDomain: string | undefined) {
	const others = conference.participants.filter((x) => x !== self);
	return {
		participantId: self.id,
		rtpCapabilities: conference.rtpCapabilities,
		participants: others.map((p) => participantInfo(p, ownDomain)),
		producers: others.flatMap((x) => x.producers.map((pr) => producerInfo(x, pr))),
	};
}

/** `ownDomain`: this SFT's federation domain, the home of its local participants. */
function participantInfo(p: Participant, ownDomain: string | undefined): ParticipantInfo {
	const domain = p.homeDomain ?? ownDomain;
	return { participantId: p.id, userId: p.userId, displayName: p.displayName, ...(domain ? { domain } : {}) };
}

function producerInfo(p: Participant, producer: ms.Producer): ProducerInfo {
	const layers = producer.kind === 'video' ? layersOf(producer) : { spatialLayers: 1, temporalLayers: 1 };
	return {
		producerId: producer.id,
		participantId: p.id,
		kind: producer.kind,
		source: sourceOf(producer),
		paused: producer.paused,
		spatialLayers: layers.spatialLayers,
		temporalLayers: layers.temporalLayers,
	};
}
