import { getOrInsert } from '../../sft/getOrInsert.ts';
import type { ConferenceLinkState } from '../federation/relay/FederationHub.ts';
import type { FederationLinkInfo } from './protocol.ts';

/** Where round-trip times come from (LinkMetrics polls them from RTCP). */
export interface LinkRttSource {
	rttMs(domain: string): number | undefined;
}

/** Where link changes come from (the FederationHub). */
export interface LinkEvents {
	subscribe(event: 'conferenceLink', listener: (conferenceId: string, domain: string, state: ConferenceLinkState) => void): () => void;
}

/** The conference a client is in: its id, and its end (which forgets its links). */
export interface WatchedConference {
	readonly id: string;
	once(event: 'closed', listener: () => void): unknown;
}

type Listener = (links: FederationLinkInfo[]) => void;

/**
 * The state of each conference's links to partner SFTs, as its clients are
 * told in `federationLinks`: a link is up, or down after it was lost (until
 * it comes back or the conference ends). A link closed on purpose (the
 * partner's last participant left) is no longer listed. Changes of up/down
 * are sent at once, round-trip time changes at most every `refreshMs`.
 */
export class FederationLinkWatch {
	/** Conference id → partner domain → up. */
	readonly #states = new Map<string, Map<string, boolean>>();
	readonly #listeners = new Map<string, Set<Listener>>();
	/** What each conference's clients were last told, to send only changes. */
	readonly #lastSent = new Map<string, string>();
	readonly #followed = new WeakSet<WatchedConference>();
	readonly #rtt: LinkRttSource | undefined;
	readonly #timer: NodeJS.Timeout;
	readonly #off: () => void;

	constructor(hub: LinkEvents, rtt: LinkRttSource | undefined, refreshMs = 2000) {
		this.#rtt = rtt;
		this.#off = hub.subscribe('conferenceLink', (conferenceId, domain, state) => this.#onLink(conferenceId, domain, state));
		this.#timer = setInterval(() => {
			for (const conferenceId of this.#listeners.keys()) this.#publish(conferenceId);
		}, refreshMs);
		this.#timer.unref();
	}

	linksOf(conferenceId: string): FederationLinkInfo[] {
		return [...(this.#states.get(conferenceId) ?? [])]
			.map(([domain, up]) => {
				const rttMs = up ? this.#rtt?.rttMs(domain) : undefined;
				return { domain, up, ...(rttMs !== undefined ? { rttMs: Math.round(rttMs * 10) / 10 } : {}) };
			})
			.sort((a, b) => a.domain.localeCompare(b.domain));
	}

	/** Calls `listener` with the conference's links whenever they change; returns the unsubscribe function. */
	subscribe(conference: WatchedConference, listener: Listener): () => void {
		if (!this.#followed.has(conference)) {
			this.#followed.add(conference);
			conference.once('closed', () => this.#states.delete(conference.id));
		}
		const listeners = getOrInsert(this.#listeners, conference.id, () => new Set());
		listeners.add(listener);
		if (!this.#lastSent.has(conference.id)) this.#lastSent.set(conference.id, JSON.stringify(this.linksOf(conference.id)));
		return () => {
			listeners.delete(listener);
			if (listeners.size > 0) return;
			this.#listeners.delete(conference.id);
			this.#lastSent.delete(conference.id);
		};
	}

	close(): void {
		clearInterval(this.#timer);
		this.#off();
	}

	#onLink(conferenceId: string, domain: string, state: ConferenceLinkState): void {
		const links = getOrInsert(this.#states, conferenceId, () => new Map());
		if (state === 'closed') links.delete(domain);
		else links.set(domain, state === 'up');
		if (links.size === 0) this.#states.delete(conferenceId);
		this.#publish(conferenceId);
	}

	#publish(conferenceId: string): void {
		const listeners = this.#listeners.get(conferenceId);
		if (!listeners) return;
		const links = this.linksOf(conferenceId);
		const key = JSON.stringify(links);
		if (key === this.#lastSent.get(conferenceId)) return;
		this.#lastSent.set(conferenceId, key);
		for (const listener of listeners) listener(links);
	}
}
