import { createHash } from 'node:crypto';
import { x509 } from './x509Runtime.ts';

const EKU_NAMES: Record<string, string> = {
	[x509.ExtendedKeyUsage.serverAuth]: 'serverAuth',
	[x509.ExtendedKeyUsage.clientAuth]: 'clientAuth',
	[x509.ExtendedKeyUsage.codeSigning]: 'codeSigning',
	[x509.ExtendedKeyUsage.emailProtection]: 'emailProtection',
	[x509.ExtendedKeyUsage.timeStamping]: 'timeStamping',
	[x509.ExtendedKeyUsage.ocspSigning]: 'ocspSigning',
};

/** What an operator (or a log line) needs to know about one certificate. */
export interface CertificateSummary {
	subject: string;
	issuer: string;
	serialNumber: string;
	/** "DNS:name" / "IP:addr" entries, in certificate order. */
	subjectAltNames: string[];
	notBefore: Date;
	notAfter: Date;
	/** Whole days until notAfter (negative once expired). */
	daysLeft: number;
	/** Upper-case colon-separated SHA-256 of the DER, as `openssl x509 -fingerprint -sha256` prints it. */
	fingerprintSha256: string;
	isCertificateAuthority: boolean;
	/** Names like "serverAuth", or the dotted OID when unknown. */
	extendedKeyUsages: string[];
}

export function sha256Fingerprint(der: ArrayBuffer | Uint8Array): string {
	const bytes = der instanceof Uint8Array ? der : new Uint8Array(der);
	return (createHash('sha256').update(bytes).digest('hex').toUpperCase().match(/../g) ?? []).join(':');
}

/** DNS SAN values, lower-cased, the only names federation identity is checked against. */
export function dnsNamesOf(certificate: x509.X509Certificate): string[] {
	const san = certificate.getExtension(x509.SubjectAlternativeNameExtension);
	if (!san) return [];
	return san.names.items.filter((name) => name.type === 'dns').map((name) => name.value.toLowerCase());
}

export function extendedKeyUsagesOf(certificate: x509.X509Certificate): string[] | null {
	const eku = certificate.getExtension(x509.ExtendedKeyUsageExtension);
	return eku ? eku.usages.map((usage) => String(usage)) : null;
}

export function describeCertificate(certificate: x509.X509Certificate, now = new Date()): CertificateSummary {
	const san = certificate.getExtension(x509.SubjectAlternativeNameExtension);
	const subjectAltNames = (san?.names.items ?? []).map((name) => `${name.type === 'dns' ? 'DNS' : name.type.toUpperCase()}:${name.value}`);
	return {
		subject: certificate.subject,
		issuer: certificate.issuer,
		serialNumber: certificate.serialNumber,
		subjectAltNames,
		notBefore: certificate.notBefore,
		notAfter: certificate.notAfter,
		daysLeft: Math.floor((certificate.notAfter.getTime() - now.getTime()) / 86_400_000),
		fingerprintSha256: sha256Fingerprint(certificate.rawData),
		isCertificateAuthority: certificate.getExtension(x509.BasicConstraintsExtension)?.ca ?? false,
		extendedKeyUsages: (extendedKeyUsagesOf(certificate) ?? []).map((oid) => EKU_NAMES[oid] ?? oid),
	};
}
