import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { CertsError } from './certsError.ts';
import { derToPem } from './pem.ts';
import { nodeCrypto } from './x509Runtime.ts';

/** Everything X509CertificateGenerator needs to sign with one private key. */
export interface SigningKey {
	privateKey: CryptoKey;
	signingAlgorithm: EcdsaParams | Algorithm;
	/** SubjectPublicKeyInfo DER of the matching public key, to check it against a certificate. */
	publicKeySpki: Uint8Array;
}

/** Federation keys are ECDSA P-256: small, fast, and accepted by every TLS stack we talk to. */
export const FEDERATION_KEY_ALGORITHM: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
export const FEDERATION_SIGNING_ALGORITHM: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

export async function generateFederationKeyPair(): Promise<CryptoKeyPair> {
	return (await nodeCrypto.subtle.generateKey(FEDERATION_KEY_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** PKCS#8 PEM ("BEGIN PRIVATE KEY"), the form Node's tls `key` option and OpenSSL both read. */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
	return derToPem(await nodeCrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/**
 * Imports a CA private key written by us or by OpenSSL (PKCS#8, SEC1 "EC PRIVATE
 * KEY" or PKCS#1 RSA). Node's KeyObject parser accepts all of those, WebCrypto
 * only PKCS#8, so we convert through it.
 */
export async function importSigningKey(pem: string, source: string): Promise<SigningKey> {
	let keyObject: KeyObject;
	try {
		keyObject = createPrivateKey({ key: pem, format: 'pem' });
	} catch {
		throw new CertsError(`${source}: not a readable unencrypted PEM private key`);
	}
	const pkcs8 = keyObject.export({ type: 'pkcs8', format: 'der' });
	const publicKeySpki = new Uint8Array(createPublicKey(keyObject).export({ type: 'spki', format: 'der' }));
	const { importAlgorithm, signingAlgorithm } = algorithmsFor(keyObject, source);
	const privateKey = await nodeCrypto.subtle.importKey('pkcs8', pkcs8, importAlgorithm, false, ['sign']);
	return { privateKey, signingAlgorithm, publicKeySpki };
}

function algorithmsFor(
	keyObject: KeyObject,
	source: string,
): { importAlgorithm: EcKeyImportParams | RsaHashedImportParams; signingAlgorithm: EcdsaParams | Algorithm } {
	if (keyObject.asymmetricKeyType === 'ec') {
		const curve = keyObject.asymmetricKeyDetails?.namedCurve;
		if (curve === 'prime256v1') {
			return {
				importAlgorithm: { name: 'ECDSA', namedCurve: 'P-256' },
				signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
			};
		}
		if (curve === 'secp384r1') {
			return {
				importAlgorithm: { name: 'ECDSA', namedCurve: 'P-384' },
				signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams,
			};
		}
		throw new CertsError(`${source}: unsupported EC curve ${curve ?? 'unknown'} (use P-256 or P-384)`);
	}
	if (keyObject.asymmetricKeyType === 'rsa') {
		return {
			importAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
			signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as Algorithm,
		};
	}
	throw new CertsError(`${source}: unsupported key type ${keyObject.asymmetricKeyType ?? 'unknown'} (use ECDSA or RSA)`);
}
