import type { ConferenceDescriptor } from './linkMessages.ts';

export interface AnchorClaim {
	anchorDomain: string;
	createdAt: string;
}

/**
 * When two domains start the same conference at nearly the same time, every
 * SFT must pick the same anchor without talking it over: the earliest
 * creation time wins, then the smaller domain name.
 */
export function winningClaim<T extends AnchorClaim>(a: T, b: T): T {
	const ta = Date.parse(a.createdAt);
	const tb = Date.parse(b.createdAt);
	if (ta !== tb) return ta < tb ? a : b;
	return a.anchorDomain <= b.anchorDomain ? a : b;
}

/** True when `descriptor` should replace our own anchorship of the same conference. */
export function descriptorWins(own: AnchorClaim, descriptor: ConferenceDescriptor): boolean {
	return descriptor.anchorDomain !== own.anchorDomain && winningClaim(own, descriptor) === descriptor;
}
