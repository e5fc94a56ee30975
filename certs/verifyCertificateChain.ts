import { nameConstraintViolation, unprocessedCriticalExtension } from './chainConstraints.ts';
import { dnsNamesOf, extendedKeyUsagesOf, sha256Fingerprint } from './describeCertificate.ts';
import { parseCertificateDer, parseCertificatesPem } from './pem.ts';
import type { RefusalReason } from './refusalReason.ts';
import type { TrustBundle } from './trustBundle.ts';
import { nodeCrypto, x509 } from './x509Runtime.ts';

/** Which side of a federation link the certificate is presented by. */
export type FederationRole = 'client' | 'server';

const ROLE_EKU: Record<FederationRole, string> = {
	client: x509.ExtendedKeyUsage.clientAuth,
	server: x509.ExtendedKeyUsage.serverAuth,
};

// Partner CAs may use one intermediate layer or two; more is not a federation setup.
const MAX_INTERMEDIATES = 4;

export interface VerifyCertificateChainOptions {
	/** Leaf first, then any intermediates the peer sent. Either PEM or DER list. */
	chainPem?: string;
	chainDer?: readonly Uint8Array[];
	trustBundle: TrustBundle;
	role: FederationRole;
	now?: Date;
}

export type Refusal = { ok: false; reason: RefusalReason; detail: string };

export type ChainVerification =
	| {
			ok: true;
			leaf: x509.X509Certificate;
			/** Lower-cased DNS SANs of the leaf. */
			dnsNames: string[];
			fingerprintSha256: string;
			/** The bundle CA the chain ends at. */
			anchor: x509.X509Certificate;
			/** SHA-256 (64 upper-case hex digits) of every CA on the path, intermediates and anchor: what allow-list pins match. */
			issuerFingerprints: string[];
	  }
	| Refusal;

export function refusal(reason: RefusalReason, detail: string): Refusal {
	return { ok: false, reason, detail };
}

/**
 * Everything about a peer certificate that does not depend on the domain the
 * peer claims: chain to a bundle CA, validity dates, usage for the role.
 * Trust anchors come only from the bundle; certificates sent by the peer are
 * used as intermediates and never trusted on their own.
 */
export async function verifyCertificateChain(options: VerifyCertificateChainOptions): Promise<ChainVerification> {
	const now = options.now ?? new Date();
	const presented = parsePresented(options);
	if (presented === 'unparsable') return refusal('bad_handshake', 'peer certificate is not valid X.509');
	const [leaf, ...others] = presented;
	if (!leaf) return refusal('no_certificate', 'peer presented no certificate');

	const path = await buildPath(leaf, others, options.trustBundle);
	if (!path.ok) return path;

	for (const certificate of path.certificates) {
		if (now < certificate.notBefore) {
			return refusal('not_yet_valid', `${certificate.subject} is not valid before ${certificate.notBefore.toISOString()}`);
		}
		if (now > certificate.notAfter) {
			return refusal('expired', `${certificate.subject} expired at ${certificate.notAfter.toISOString()}`);
		}
	}

	const constraintProblem = unprocessedCriticalExtension(path.certificates) ?? nameConstraintViolation(path.certificates);
	if (constraintProblem) return refusal(constraintProblem.reason, constraintProblem.detail);

	const usageProblem = usageProblemFor(leaf, options.role);
	if (usageProblem) return refusal('wrong_eku', usageProblem);

	return {
		ok: true,
		leaf,
		dnsNames: dnsNamesOf(leaf),
		fingerprintSha256: sha256Fingerprint(leaf.rawData),
		anchor: path.certificates.at(-1) ?? leaf,
		issuerFingerprints: path.certificates.slice(1).map((ca) => sha256Fingerprint(ca.rawData).replace(/:/g, '')),
	};
}

function parsePresented(options: VerifyCertificateChainOptions): x509.X509Certificate[] | 'unparsable' {
	if (options.chainDer) {
		const parsed = options.chainDer.map((der) => parseCertificateDer(der));
		return parsed.every((certificate) => certificate !== null) ? (parsed as x509.X509Certificate[]) : 'unparsable';
	}
	if (!options.chainPem?.includes('-----BEGIN CERTIFICATE-----')) return [];
	try {
		return parseCertificatesPem(options.chainPem, 'peer chain');
	} catch {
		return 'unparsable';
	}
}

type PathResult = { ok: true; certificates: x509.X509Certificate[] } | Refusal;

async function buildPath(leaf: x509.X509Certificate, others: x509.X509Certificate[], bundle: TrustBundle): Promise<PathResult> {
	const certificates = [leaf];
	let current = leaf;
	for (let intermediates = 0; intermediates <= MAX_INTERMEDIATES; intermediates++) {
		const anchor = await findSigner(current, bundle.anchorsNamed(current.issuer));
		if (anchor) {
			certificates.push(anchor);
			return pathLengthsRespected(certificates)
				? { ok: true, certificates }
				: refusal('untrusted_ca', 'chain violates a CA path length constraint');
		}
		const candidates = others.filter(
			(other) => other.subject === current.issuer && isCertificateAuthority(other) && !certificates.includes(other),
		);
		const intermediate = await findSigner(current, candidates);
		if (!intermediate) return refusal('untrusted_ca', `no trusted CA issued ${current.subject} (issuer ${current.issuer})`);
		certificates.push(intermediate);
		current = intermediate;
	}
	return refusal('untrusted_ca', 'certificate chain too long');
}

async function findSigner(certificate: x509.X509Certificate, candidates: x509.X509Certificate[]): Promise<x509.X509Certificate | null> {
	for (const candidate of candidates) {
		if (!mayCertify(candidate)) continue;
		try {
			if (await certificate.verify({ publicKey: candidate.publicKey, signatureOnly: true }, nodeCrypto)) return candidate;
		} catch {
			// Unsupported or mismatched key algorithm: not this signer.
		}
	}
	return null;
}

function isCertificateAuthority(certificate: x509.X509Certificate): boolean {
	return certificate.getExtension(x509.BasicConstraintsExtension)?.ca === true;
}

function mayCertify(certificate: x509.X509Certificate): boolean {
	const keyUsage = certificate.getExtension(x509.KeyUsagesExtension);
	return isCertificateAuthority(certificate) && (!keyUsage || (keyUsage.usages & x509.KeyUsageFlags.keyCertSign) !== 0);
}

/** certificates[i] (i ≥ 1) is a CA with i-1 intermediates below it. */
function pathLengthsRespected(certificates: x509.X509Certificate[]): boolean {
	return certificates.every((certificate, index) => {
		if (index === 0) return true;
		const pathLength = certificate.getExtension(x509.BasicConstraintsExtension)?.pathLength;
		return pathLength === undefined || index - 1 <= pathLength;
	});
}

/**
 * Federation is strict about usage: the EKU extension must be present and name
 * the role (an absent EKU would mean "any purpose" under RFC 5280).
 */
function usageProblemFor(leaf: x509.X509Certificate, role: FederationRole): string | null {
	const usages = extendedKeyUsagesOf(leaf);
	if (!usages) return `${leaf.subject} has no extendedKeyUsage; ${role}Auth required`;
	if (!usages.includes(ROLE_EKU[role])) return `${leaf.subject} lacks extendedKeyUsage ${role}Auth`;
	const keyUsage = leaf.getExtension(x509.KeyUsagesExtension);
	if (keyUsage && (keyUsage.usages & x509.KeyUsageFlags.digitalSignature) === 0) {
		return `${leaf.subject} keyUsage lacks digitalSignature`;
	}
	return null;
}
