/**
 * An error whose message is meant for a human operator (CLI output, logs).
 * Anything else thrown inside certs/ is a bug and is reported as such.
 */
export class CertsError extends Error {
	override readonly name = 'CertsError';
}
