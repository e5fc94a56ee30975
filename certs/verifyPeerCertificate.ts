import { normalizeDomain } from './domainName.ts';
import { type Refusal, refusal, type VerifyCertificateChainOptions, verifyCertificateChain } from './verifyCertificateChain.ts';

export type PeerVerification = { ok: true; domain: string; fingerprintSha256: string; notAfter: Date } | Refusal;

export interface ClaimedDomainCheck {
	/** Lower-cased DNS SANs of the already chain-verified leaf. */
	dnsNames: readonly string[];
	/** What the peer says it is (handshake `auth.domain`), or the domain we dialled. */
	claimedDomain: unknown;
	/** Domains we federate with; omit to accept any domain a trusted CA vouches for. */
	allowedDomains?: ReadonlySet<string> | readonly string[];
	/** Domain → SHA-256 of the CAs allowed to certify it (64 hex digits); domains not here may be certified by any bundle CA. */
	pinnedIssuers?: ReadonlyMap<string, ReadonlySet<string>>;
	/** SHA-256 of the CAs on the verified path (ChainVerification.issuerFingerprints). */
	issuerFingerprints?: readonly string[];
}

/**
 * The identity half of peer verification: the claim must be a DNS name that
 * equals one of the certificate's DNS SANs exactly (no wildcards: a federation
 * certificate names its domain), and that domain must be allowed.
 */
export function matchClaimedDomain(check: ClaimedDomainCheck): { ok: true; domain: string } | Refusal {
	if (check.claimedDomain === undefined || check.claimedDomain === null || check.claimedDomain === '') {
		return refusal('bad_handshake', 'peer did not claim a domain');
	}
	const domain = normalizeDomain(check.claimedDomain);
	if (!domain) return refusal('bad_handshake', 'claimed domain is not a valid DNS name');
	if (!check.dnsNames.includes(domain)) {
		return refusal('san_mismatch', `claimed domain ${domain} not in certificate SANs [${check.dnsNames.join(', ')}]`);
	}
	if (check.allowedDomains) {
		const allowed = Array.isArray(check.allowedDomains)
			? check.allowedDomains.includes(domain)
			: (check.allowedDomains as ReadonlySet<string>).has(domain);
		if (!allowed) return refusal('domain_not_allowed', `domain ${domain} is not on the allow list`);
	}
	const pins = check.pinnedIssuers?.get(domain);
	if (pins && !check.issuerFingerprints?.some((fingerprint) => pins.has(fingerprint))) {
		return refusal('wrong_issuer', `${domain} is pinned to other CAs than the one that certified it`);
	}
	return { ok: true, domain };
}

export interface VerifyPeerCertificateOptions extends VerifyCertificateChainOptions {
	claimedDomain: unknown;
	allowedDomains?: ReadonlySet<string> | readonly string[];
	pinnedIssuers?: ReadonlyMap<string, ReadonlySet<string>>;
}

/** Full federation peer check: chain, dates, constraints, role EKU, SAN = claimed domain, allow list, issuer pins. */
export async function verifyPeerCertificate(options: VerifyPeerCertificateOptions): Promise<PeerVerification> {
	const chain = await verifyCertificateChain(options);
	if (!chain.ok) return chain;
	const identity = matchClaimedDomain({
		dnsNames: chain.dnsNames,
		claimedDomain: options.claimedDomain,
		allowedDomains: options.allowedDomains,
		issuerFingerprints: chain.issuerFingerprints,
		...(options.pinnedIssuers ? { pinnedIssuers: options.pinnedIssuers } : {}),
	});
	if (!identity.ok) return identity;
	return { ok: true, domain: identity.domain, fingerprintSha256: chain.fingerprintSha256, notAfter: chain.leaf.notAfter };
}
