import type { Logger } from 'pino';
import { verifyPeerCertificate } from '../../../certs/verifyPeerCertificate.ts';
import type { TrustMaterial } from './trustMaterial.ts';

/** What revalidation needs of a connected link, inbound or outbound. */
export interface LinkUnderCheck {
	readonly domain: string;
	readonly chainDer: Uint8Array[];
	disconnect(): void;
}

/**
 * Re-checks connected peers against the current trust (bundle, allow list,
 * and the clock, for expiry) and disconnects the ones that no longer pass.
 * Returns the dropped domains.
 */
export async function revalidateLinks(
	links: Iterable<LinkUnderCheck>,
	trust: TrustMaterial,
	role: 'client' | 'server',
	logger: Logger,
	now = new Date(),
): Promise<string[]> {
	const dropped: string[] = [];
	const direction = role === 'client' ? 'inbound' : 'outbound';
	for (const link of [...links]) {
		const result = await verifyPeerCertificate({
			now,
			chainDer: link.chainDer,
			trustBundle: trust.trustBundle,
			claimedDomain: link.domain,
			role,
			allowedDomains: trust.allowedDomains,
			pinnedIssuers: trust.pinnedIssuers,
		});
		if (result.ok) continue;
		logger.warn(
			{ domain: link.domain, reason: result.reason, detail: result.detail },
			`disconnecting ${direction} federation peer: no longer trusted`,
		);
		dropped.push(link.domain);
		link.disconnect();
	}
	return dropped;
}
