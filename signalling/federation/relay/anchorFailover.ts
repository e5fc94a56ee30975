import { getOrInsert } from '../../../sft/getOrInsert.ts';

/**
 * Who may take over a conference whose anchor is lost, in order, decided by
 * every survivor alone and alike: the anchor's federated partners (the
 * members it last announced) by domain name, never the lost anchor. The
 * first one a survivor can reach takes over.
 */
export function candidatesAfter(members: readonly string[], lostAnchor: string): string[] {
	return [...members].filter((domain) => domain !== lostAnchor).sort();
}

/**
 * Federated side: the members each of our anchors last announced
 * (`conf:members`), per conference.
 */
export class AnchorMembers {
	readonly #members = new Map<string, { anchor: string; domains: string[] }>();

	/** A `conf:members` from `anchor` about one of its conferences. */
	learn(conferenceId: string, anchor: string, domains: readonly string[]): void {
		this.#members.set(conferenceId, { anchor, domains: [...domains] });
	}

	forget(conferenceId: string): void {
		this.#members.delete(conferenceId);
	}

	/** Who may take over `conferenceId` from `lostAnchor`, in order, by what that anchor told us; empty if it told us nothing. */
	candidates(conferenceId: string, lostAnchor: string): string[] {
		const known = this.#members.get(conferenceId);
		return known?.anchor === lostAnchor ? candidatesAfter(known.domains, lostAnchor) : [];
	}

	/** The first candidate, or undefined if that anchor told us nothing. */
	successor(conferenceId: string, lostAnchor: string): string | undefined {
		return this.candidates(conferenceId, lostAnchor)[0];
	}
}

/** Anchor side: which partner domains are attached to each conference now, to tell them all. */
export function memberDomains(links: readonly { conference: { id: string }; peerDomain: string }[]): Map<string, string[]> {
	const byConference = new Map<string, string[]>();
	for (const link of links) getOrInsert(byConference, link.conference.id, () => []).push(link.peerDomain);
	return byConference;
}

/**
 * A partner asked us to take over from an anchor we still reach (or we are
 * not its successor): a refusal only a partner SFT ever gets, never a client.
 */
export class FailoverRefused extends Error {
	readonly code = 'anchor_reachable';
	override name = 'FailoverRefused';
}
