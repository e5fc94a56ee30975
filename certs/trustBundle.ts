import { CertsError } from './certsError.ts';
import { sha256Fingerprint } from './describeCertificate.ts';
import { parseCertificatesPem, readTextFile } from './pem.ts';
import { x509 } from './x509Runtime.ts';

/**
 * The set of CA certificates a federation endpoint trusts: one per partner
 * organisation, or one shared federation CA, or old+new during a CA rotation.
 * Immutable: a reload builds a new bundle.
 */
export class TrustBundle {
	readonly certificates: readonly x509.X509Certificate[];
	/** The bundle as PEM, suitable for Node's tls `ca` option. */
	readonly pem: string;
	readonly #fingerprints: ReadonlySet<string>;

	private constructor(certificates: x509.X509Certificate[]) {
		this.certificates = certificates;
		this.pem = `${certificates.map((certificate) => certificate.toString('pem')).join('\n')}\n`;
		this.#fingerprints = new Set(certificates.map((certificate) => sha256Fingerprint(certificate.rawData)));
	}

	/** Parses a PEM bundle; every certificate in it must be a CA. */
	static fromPem(pem: string, source = 'trust bundle'): TrustBundle {
		const certificates = parseCertificatesPem(pem, source);
		for (const certificate of certificates) {
			if (!certificate.getExtension(x509.BasicConstraintsExtension)?.ca) {
				// A leaf in the bundle is almost always an operator mistake (wrong file).
				throw new CertsError(`${source}: ${certificate.subject} is not a CA certificate`);
			}
		}
		return new TrustBundle(certificates);
	}

	static async load(path: string): Promise<TrustBundle> {
		return TrustBundle.fromPem(await readTextFile(path, 'trust bundle'), `trust bundle ${path}`);
	}

	/** True when this exact certificate (by SHA-256 of its DER) is a trust anchor here. */
	containsCertificate(der: ArrayBuffer | Uint8Array): boolean {
		return this.#fingerprints.has(sha256Fingerprint(der));
	}

	/** Anchors whose subject matches the given issuer name (candidate signers). */
	anchorsNamed(issuer: string): x509.X509Certificate[] {
		return this.certificates.filter((certificate) => certificate.subject === issuer);
	}
}

export async function loadTrustBundle(path: string): Promise<TrustBundle> {
	return TrustBundle.load(path);
}
