import type { RefusalReason } from '../../../certs/refusalReason.ts';

export type FederationConnectFailure =
	/** We refused the peer (its certificate, or the domain is not allowed); see `reason`. */
	| 'refused_locally'
	/** The peer refused us; it does not say why (check its logs / our certificate). */
	| 'refused_by_peer'
	/** Network, DNS or timeout problem. */
	| 'unreachable'
	/** No static override and no usable SRV record for the domain. */
	| 'no_endpoint'
	/** The client was closed while connecting. */
	| 'closed';

export class FederationConnectError extends Error {
	override readonly name = 'FederationConnectError';
	constructor(
		readonly domain: string,
		readonly failure: FederationConnectFailure,
		message: string,
		readonly reason?: RefusalReason,
	) {
		super(`federation link to ${domain}: ${message}`);
	}
}
