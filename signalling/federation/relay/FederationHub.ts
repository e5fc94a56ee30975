import type { Logger } from 'pino';
import type { Conference } from '../../../sft/Conference.ts';
import { getOrInsert } from '../../../sft/getOrInsert.ts';
import type { RelayMode, RelayOptions } from '../../../sft/MediaRelay.ts';
import type { Sft } from '../../../sft/Sft.ts';
import { TypedEmitter } from '../../../sft/TypedEmitter.ts';
import { type Federation, FederationConnectError } from '../trust/index.ts';
import { descriptorWins } from './anchorElection.ts';
import { AnchorMembers, FailoverRefused, memberDomains } from './anchorFailover.ts';
import { ConferenceLink } from './ConferenceLink.ts';
import { attachReplySchema, type ConferenceDescriptor, type LinkMessage, type LinkMessageName } from './linkMessages.ts';
import type { PartnerLimits } from './partnerLimits.ts';
import { RelayError } from './RelayError.ts';
import { asLinkSocket, type LinkSocket, SocketPeerChannel } from './SocketPeerChannel.ts';

export interface FederationHubOptions {
	/** This SFT's federation domain. */
	domain: string;
	/** Put in descriptors so partners can dial us without DNS; omit to rely on SRV. */
	announcedEndpoint?: { host: string; port: number } | undefined;
	/** Dial the endpoint a client's descriptor names (development); otherwise only SRV and static peers. */
	dialDescriptorEndpoints?: boolean | undefined;
	relay: RelayOptions;
	/** How media crosses to a partner (`demand` wins when either side asks for it). */
	relayModeFor(domain: string): RelayMode;
	/** Cap on what we send to a partner in demand mode, bit/s; undefined: none. */
	linkMaxBitrateFor(domain: string): number | undefined;
	/** Loudest speakers a client hears (how many speakers cross in demand mode, plus one). */
	maxAudible: number;
	/** What one partner may add to a conference. */
	limits?: PartnerLimits | undefined;
}

/**
 * Federated conferencing on top of the trust layer: one authenticated socket
 * per partner SFT carries every shared conference (a ConferenceLink each).
 * The SFT where a conference was started is its anchor; others attach to it.
 */
type FederationHubEvents = {
	/** A lost link to an anchor came back (counted as a reconnect). */
	reattached: [anchorDomain: string];
	/**
	 * A conference's link to a partner SFT is up, was lost (the partner became
	 * unreachable), or was closed on purpose (detach, conference over, re-homing).
	 */
	conferenceLink: [conferenceId: string, domain: string, state: ConferenceLinkState];
	/** A partner's message was refused with `code` (malformed, forged or over a limit). */
	messageRefused: [domain: string, code: string];
	/** A conference is anchored elsewhere now (anchor failover): what clients should pass around from now on. */
	descriptorChanged: [conferenceId: string, descriptor: ConferenceDescriptor];
};

export type ConferenceLinkState = 'up' | 'lost' | 'closed';

export class FederationHub extends TypedEmitter<FederationHubEvents> {
	readonly #sft: Sft;
	readonly #federation: Federation;
	readonly #options: FederationHubOptions;
	readonly #logger: Logger;
	readonly #channels = new Map<string, SocketPeerChannel>();
	readonly #dialling = new Map<string, Promise<SocketPeerChannel>>();
	/** Links by partner domain, then conference id. */
	readonly #links = new Map<string, Map<string, ConferenceLink>>();
	/** Where each conference we are federated in is anchored. */
	readonly #descriptors = new Map<string, ConferenceDescriptor>();
	#closed = false;
	readonly #knownDomains = new Set<string>();
	/** What each of our anchors said about its members, for choosing a successor if it is lost. */
	readonly #members = new AnchorMembers();
	/** Per anchor-side link: removes its conference 'closed' listener, so repeated attaches leave none behind. */
	readonly #offConferenceClosed = new Map<ConferenceLink, () => void>();

	constructor(sft: Sft, federation: Federation, options: FederationHubOptions, logger: Logger) {
		super();
		this.#sft = sft;
		this.#federation = federation;
		this.#options = options;
		this.#logger = logger;
		federation.on('peer', (peer) => this.#adoptSocket(peer.domain, asLinkSocket(peer.socket)));
		federation.on('peerClosed', (peer) => this.#onChannelLost(peer.domain, asLinkSocket(peer.socket)));
		// A federated share re-created after its worker died attaches to the same anchor again.
		sft.on('conferenceRestarted', (fresh) => {
			if (fresh.role !== 'federated' || !this.#descriptors.has(fresh.id)) return;
			this.#followConference(fresh);
			void this.#reattach(fresh);
		});
	}

	get domain(): string {
		return this.#options.domain;
	}

	/** Links of a conference (for tests and metrics). */
	linksOf(conferenceId: string): ConferenceLink[] {
		return [...this.#links.values()].flatMap((byConference) => {
			const link = byConference.get(conferenceId);
			return link ? [link] : [];
		});
	}

	/** Every conference link, for metrics. */
	get links(): ConferenceLink[] {
		return [...this.#links.values()].flatMap((byConference) => [...byConference.values()]);
	}

	/** Partner domains this SFT has had a federation socket with, and whether it is up now. */
	get channelStates(): { domain: string; up: boolean }[] {
		return [...this.#knownDomains].map((domain) => ({ domain, up: this.#channels.get(domain)?.socket.connected ?? false }));
	}

	descriptorFor(conference: Conference): ConferenceDescriptor {
		return {
			conferenceId: conference.id,
			anchorDomain: this.domain,
			createdAt: conference.createdAt.toISOString(),
			...(this.#options.announcedEndpoint ? { federationEndpoint: this.#options.announcedEndpoint } : {}),
		};
	}

	/** The descriptor clients should pass around for this conference (ours, or our anchor's). */
	descriptorOf(conference: Conference): ConferenceDescriptor | undefined {
		return conference.role === 'anchor' ? this.descriptorFor(conference) : this.#descriptors.get(conference.id);
	}

	/**
	 * For a client joining with another domain's descriptor. Returns this SFT's
	 * share of that conference, or our own conference if we win the anchor
	 * election (the other anchor's clients will then be re-homed to us when
	 * one of them receives our descriptor).
	 */
	async joinWithDescriptor(descriptor: ConferenceDescriptor): Promise<Conference> {
		const existing = this.#sft.getConference(descriptor.conferenceId);
		if (existing?.role === 'federated') return existing;
		if (existing) {
			const own = { anchorDomain: this.domain, createdAt: existing.createdAt.toISOString() };
			if (descriptorWins(own, descriptor)) await this.#rehome(existing, descriptor);
			return existing;
		}
		const conference = await this.#sft.getOrCreateConference(descriptor.conferenceId, 'federated');
		this.#followConference(conference);
		try {
			await this.#attach(conference, descriptor);
			return conference;
		} catch (error) {
			conference.close('closed');
			throw toJoinError(error, descriptor);
		}
	}

	close(): void {
		this.#closed = true;
		for (const byConference of this.#links.values()) for (const link of byConference.values()) link.close();
		this.#links.clear();
		for (const channel of this.#channels.values()) channel.close();
		this.#channels.clear();
	}

	/** Opens this SFT's share of `conference` at the anchor named by `descriptor`. */
	async #attach(conference: Conference, descriptor: ConferenceDescriptor, failoverFrom?: string): Promise<void> {
		const channel = await this.#channelTo(descriptor);
		let mode = this.#options.relayModeFor(descriptor.anchorDomain);
		let link: ConferenceLink | undefined;
		try {
			// The anchor may answer that the link must use the other mode: then once more with that one.
			for (let attempt = 0; attempt < 2 && !link; attempt++) {
				const relay = await conference.createRelay(mode, this.#options.relay);
				const candidate = this.#register(
					new ConferenceLink(conference, relay, channel, this.#logger, this.#linkOptions(descriptor.anchorDomain)),
				);
				const reply = attachReplySchema.parse(
					await channel.send('conf:attach', {
						conferenceId: conference.id,
						endpoint: relay.localEndpoint,
						relayMode: mode,
						...(failoverFrom ? { failoverFrom } : {}),
					}),
				);
				if (reply.relayMode === mode && reply.endpoint) {
					await relay.connect(reply.endpoint);
					link = candidate;
				} else {
					this.#unregister(candidate, false);
					mode = reply.relayMode;
				}
			}
		} catch (error) {
			// Never up, so nothing to announce (a lost link stays lost while we retry).
			for (const stale of this.linksOf(conference.id)) if (stale.peerDomain === descriptor.anchorDomain) this.#unregister(stale, false);
			throw error;
		}
		if (!link) throw new RelayError('federation_unavailable', `${descriptor.anchorDomain} did not agree on a relay mode`);
		this.#descriptors.set(conference.id, descriptor);
		link.start();
		this.emit('conferenceLink', conference.id, link.peerDomain, 'up');
		this.#logger.info({ conference: conference.id, anchor: descriptor.anchorDomain }, 'attached to anchor');
	}

	/** A federated share detaches when its last local participant leaves (the anchor keeps the conference). */
	#followConference(conference: Conference): void {
		conference.once('closed', () => {
			const restarting = this.#sft.restartOf(conference.id) !== undefined;
			for (const link of this.linksOf(conference.id)) {
				if (conference.role === 'federated')
					void this.#channels
						.get(link.peerDomain)
						?.send('conf:detach', { conferenceId: conference.id })
						.catch(() => undefined);
				this.#unregister(link);
			}
			if (restarting) return;
			this.#descriptors.delete(conference.id);
			this.#members.forget(conference.id);
		});
	}

	/** We lost the anchor election: hand our partners over, then attach to the winner. */
	async #rehome(conference: Conference, descriptor: ConferenceDescriptor): Promise<void> {
		this.#logger.info({ conference: conference.id, anchor: descriptor.anchorDomain }, 'lost the anchor election; re-homing');
		conference.becomeFederated();
		for (const link of this.linksOf(conference.id)) {
			const channel = this.#channels.get(link.peerDomain);
			this.#unregister(link);
			if (link.peerDomain !== descriptor.anchorDomain)
				void channel?.send('conf:rehome', { conferenceId: conference.id, descriptor }).catch(() => undefined);
		}
		this.#followConference(conference);
		await this.#attach(conference, descriptor);
	}

	/**
	 * After a lost link: attach again with backoff while local participants
	 * remain. If the anchor is gone (it answers that it has no such
	 * conference, or its successor agrees it is unreachable), the survivors
	 * move to the successor, or this SFT becomes the anchor.
	 */
	async #reattach(conference: Conference): Promise<void> {
		let delayMs = 250;
		while (!conference.closed && !this.#closed && conference.role === 'federated' && this.linksOf(conference.id).length === 0) {
			const descriptor = this.#descriptors.get(conference.id);
			if (!descriptor) return;
			try {
				await this.#attach(conference, descriptor);
				this.#logger.info({ conference: conference.id }, 'federation link re-established');
				this.emit('reattached', descriptor.anchorDomain);
				return;
			} catch (error) {
				const anchorGone = (error as { code?: string }).code === 'conference_not_found';
				if (await this.#failOver(conference, descriptor, anchorGone)) return;
				if (anchorGone && this.#members.successor(conference.id, descriptor.anchorDomain) === undefined) {
					conference.close('anchor_ended');
					return;
				}
				await new Promise((resolve) => setTimeout(resolve, delayMs));
				delayMs = Math.min(delayMs * 2, REATTACH_MAX_DELAY_MS);
			}
		}
	}

	/**
	 * Anchor failover, tried after each failed attempt to reach a lost
	 * anchor. The candidates (surviving members by domain name) are walked in
	 * order: one we cannot reach is dead too, and the next one is asked. The
	 * first reachable candidate takes over when the anchor answered that it
	 * lost the conference or when another survivor asks it to. True when the
	 * conference has a live anchor again.
	 */
	async #failOver(conference: Conference, lost: ConferenceDescriptor, anchorGone: boolean): Promise<boolean> {
		for (const candidate of this.#members.candidates(conference.id, lost.anchorDomain)) {
			if (candidate === this.domain) {
				if (anchorGone) this.#takeOver(conference, lost);
				return anchorGone;
			}
			const next: ConferenceDescriptor = { conferenceId: conference.id, anchorDomain: candidate, createdAt: lost.createdAt };
			try {
				await this.#attach(conference, next, lost.anchorDomain);
			} catch (error) {
				// Unreachable: lost with the anchor, so the next candidate. Anything it answered: try again later.
				if (error instanceof FederationConnectError) continue;
				return false;
			}
			this.#members.forget(conference.id);
			this.#logger.warn(
				{ conference: conference.id, lost: lost.anchorDomain, anchor: candidate },
				'anchor lost; attached to its successor',
			);
			this.emit('descriptorChanged', conference.id, this.descriptorOf(conference) ?? next);
			return true;
		}
		return false;
	}

	/** This SFT becomes the anchor of a conference whose anchor is lost; it keeps the conference's start. */
	#takeOver(conference: Conference, lost: ConferenceDescriptor): void {
		conference.becomeAnchor(new Date(lost.createdAt));
		this.#descriptors.delete(conference.id);
		this.#members.forget(conference.id);
		this.#logger.warn({ conference: conference.id, lost: lost.anchorDomain }, 'anchor lost; this SFT anchors the conference now');
		this.emit('descriptorChanged', conference.id, this.descriptorFor(conference));
	}

	/** Anchor side: tells every attached partner of a conference who the members are now. */
	#announceMembers(conferenceId: string): void {
		const conference = this.#sft.getConference(conferenceId);
		if (conference?.role !== 'anchor' || conference.closed) return;
		const links = this.linksOf(conferenceId);
		const domains = memberDomains(links).get(conferenceId) ?? [];
		for (const link of links)
			void this.#channels
				.get(link.peerDomain)
				?.send('conf:members', { conferenceId, domains })
				.catch(() => undefined);
	}

	async #channelTo(descriptor: ConferenceDescriptor): Promise<SocketPeerChannel> {
		const domain = descriptor.anchorDomain;
		const open = this.#channels.get(domain);
		if (open?.socket.connected) return open;
		const pending = this.#dialling.get(domain);
		if (pending) return pending;
		// A descriptor comes from a client: its endpoint is dialled only where the operator allows it.
		const endpoint = this.#options.dialDescriptorEndpoints ? descriptor.federationEndpoint : undefined;
		const dial = this.#federation
			.connectToPeer({ domain, ...(endpoint ? { endpoint } : {}) })
			.then((peer) => this.#adoptSocket(peer.domain, asLinkSocket(peer.socket)))
			.finally(() => this.#dialling.delete(domain));
		this.#dialling.set(domain, dial);
		return dial;
	}

	#adoptSocket(domain: string, socket: LinkSocket): SocketPeerChannel {
		this.#channels.get(domain)?.close();
		this.#knownDomains.add(domain);
		const channel = new SocketPeerChannel(
			domain,
			socket,
			(ch, name, message) => this.#onMessage(ch, name, message),
			this.#logger,
			(code) => this.emit('messageRefused', domain, code),
		);
		this.#channels.set(domain, channel);
		return channel;
	}

	#onChannelLost(domain: string, socket: LinkSocket): void {
		const channel = this.#channels.get(domain);
		if (!channel || channel.socket !== socket) return;
		channel.close();
		this.#channels.delete(domain);
		// The partner's participants and streams leave every shared conference;
		// where the partner is our anchor, we dial it again.
		const links = [...(this.#links.get(domain)?.values() ?? [])];
		this.#links.delete(domain);
		for (const link of links) {
			link.close();
			this.emit('conferenceLink', link.conference.id, domain, 'lost');
			this.#announceMembers(link.conference.id);
			if (link.conference.role === 'federated' && !link.conference.closed) void this.#reattach(link.conference);
		}
		this.#logger.warn({ peer: domain }, 'federation link lost');
	}

	async #onMessage<N extends LinkMessageName>(channel: SocketPeerChannel, name: N, message: LinkMessage<N>): Promise<unknown> {
		const link = this.#links.get(channel.domain)?.get(message.conferenceId);
		switch (name) {
			case 'conf:attach':
				return this.#acceptAttach(channel, message as LinkMessage<'conf:attach'>);
			case 'conf:detach':
				if (link) this.#unregister(link);
				return {};
			case 'conf:ended':
				// Only our anchor may end a conference here; a partner attached to our own conference may not.
				if (link && link.conference.role === 'federated') {
					this.#unregister(link);
					link.conference.close('anchor_ended');
				}
				return {};
			case 'conf:members': {
				const { domains } = message as LinkMessage<'conf:members'>;
				const conference = this.#sft.getConference(message.conferenceId);
				if (conference?.role === 'federated') this.#members.learn(message.conferenceId, channel.domain, domains);
				return {};
			}
			case 'conf:rehome':
				if (link && link.conference.role === 'federated') {
					this.#unregister(link);
					const { descriptor } = message as LinkMessage<'conf:rehome'>;
					this.#descriptors.set(link.conference.id, descriptor);
					void this.#reattach(link.conference);
				}
				return {};
			default:
				if (!link) throw new RelayError('conference_not_found', `no shared conference ${message.conferenceId}`);
				await link.handle(name, message);
				return {};
		}
	}

	/** Anchor side: a partner SFT brings its users into one of our conferences. */
	async #acceptAttach(channel: SocketPeerChannel, message: LinkMessage<'conf:attach'>): Promise<unknown> {
		// A conference being re-created after a worker death is waited for.
		const conference = await this.#sft.findConference(message.conferenceId);
		if (message.failoverFrom && conference?.role === 'federated') await this.#acceptFailover(conference, message.failoverFrom);
		if (conference?.role !== 'anchor') throw new RelayError('conference_not_found', 'no such conference here');
		// `demand` wins when either side asks for it; a mismatch is answered with the mode to use.
		const mode: RelayMode = message.relayMode === 'demand' || this.#options.relayModeFor(channel.domain) === 'demand' ? 'demand' : 'full';
		if (mode !== message.relayMode) return { relayMode: mode };
		const relay = await conference.createRelay(mode, this.#options.relay);
		await relay.connect(message.endpoint).catch((error: unknown) => {
			relay.close();
			throw error;
		});
		// Checked after the awaits: a concurrent attach of the same partner may have registered meanwhile.
		const previous = this.#links.get(channel.domain)?.get(conference.id);
		if (previous) this.#unregister(previous);
		const link = this.#register(new ConferenceLink(conference, relay, channel, this.#logger, this.#linkOptions(channel.domain)));
		const off = conference.subscribe('closed', (reason) => {
			// Re-created on another worker: the partner attaches again (same anchor), rather than ending.
			const restarting = this.#sft.restartOf(conference.id) !== undefined;
			if (!link.closed)
				void (
					restarting
						? channel.send('conf:rehome', { conferenceId: conference.id, descriptor: this.descriptorFor(conference) })
						: channel.send('conf:ended', { conferenceId: conference.id, reason })
				).catch(() => undefined);
			this.#unregister(link);
		});
		this.#offConferenceClosed.set(link, off);
		this.#announceMembers(conference.id);
		// Offer our side once the partner has our endpoint (it connects on this reply).
		setImmediate(() => link.start());
		this.emit('conferenceLink', conference.id, channel.domain, 'up');
		this.#logger.info({ conference: conference.id, peer: channel.domain }, 'federated SFT attached');
		return { relayMode: mode, endpoint: relay.localEndpoint };
	}

	/**
	 * A survivor asks us to take over from a lost anchor: only if we lost it
	 * too and cannot reach any candidate before us (they would be the successor).
	 */
	async #acceptFailover(conference: Conference, lostAnchor: string): Promise<void> {
		const descriptor = this.#descriptors.get(conference.id);
		const stillLinked = this.linksOf(conference.id).some((l) => l.peerDomain === lostAnchor);
		if (descriptor?.anchorDomain !== lostAnchor || stillLinked || this.#channels.get(lostAnchor)?.socket.connected)
			throw new FailoverRefused(`${lostAnchor} still anchors this conference here`);
		const candidates = this.#members.candidates(conference.id, lostAnchor);
		const index = candidates.indexOf(this.domain);
		if (index < 0) throw new FailoverRefused('not a member of this conference');
		for (const earlier of candidates.slice(0, index))
			if (await this.#reachable({ conferenceId: conference.id, anchorDomain: earlier, createdAt: descriptor.createdAt }))
				throw new FailoverRefused(`${earlier} is the successor`);
		if (conference.role === 'federated' && this.#descriptors.get(conference.id) === descriptor) this.#takeOver(conference, descriptor);
	}

	/** Whether a federation channel to the candidate opens within `withinMs` (shorter than the asker's request timeout). */
	async #reachable(candidate: ConferenceDescriptor, withinMs = FAILOVER_PROBE_MS): Promise<boolean> {
		const dial = this.#channelTo(candidate).then(
			() => true,
			() => false,
		);
		let timer: NodeJS.Timeout | undefined;
		const timeout = new Promise<boolean>((resolve) => {
			timer = setTimeout(() => resolve(false), withinMs);
		});
		try {
			return await Promise.race([dial, timeout]);
		} finally {
			clearTimeout(timer);
		}
	}

	#linkOptions(domain: string) {
		return {
			demand: { maxAudible: this.#options.maxAudible, maxBitrate: this.#options.linkMaxBitrateFor(domain) },
			limits: this.#options.limits,
		};
	}

	#register(link: ConferenceLink): ConferenceLink {
		getOrInsert(this.#links, link.peerDomain, () => new Map()).set(link.conference.id, link);
		return link;
	}

	#unregister(link: ConferenceLink, announce = true): void {
		link.close();
		this.#offConferenceClosed.get(link)?.();
		this.#offConferenceClosed.delete(link);
		const byConference = this.#links.get(link.peerDomain);
		if (byConference?.get(link.conference.id) !== link) return;
		byConference.delete(link.conference.id);
		if (announce) this.emit('conferenceLink', link.conference.id, link.peerDomain, 'closed');
		this.#announceMembers(link.conference.id);
	}
}

/** Longest wait between two attempts to reach a lost anchor: a returning path is used within about this. */
const REATTACH_MAX_DELAY_MS = 1000;
/** How long a successor candidate waits for an earlier one to answer before counting it lost (the asker waits 5 s in all). */
const FAILOVER_PROBE_MS = 2000;

function toJoinError(error: unknown, descriptor: ConferenceDescriptor): RelayError {
	if ((error as { code?: string }).code === 'conference_not_found') {
		return new RelayError('conference_not_found', `the anchor ${descriptor.anchorDomain} has no such conference`);
	}
	return new RelayError('federation_unavailable', `cannot reach the SFT of ${descriptor.anchorDomain}`);
}
