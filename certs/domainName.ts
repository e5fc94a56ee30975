// Federation identities are DNS names compared exactly (no wildcards), so every
// place that reads a domain (CLI, config, handshake) normalises it the same way.

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Lower-cases and strips one trailing dot; returns null when not a valid DNS name. */
export function normalizeDomain(input: unknown): string | null {
	if (typeof input !== 'string') return null;
	const name = input.trim().toLowerCase().replace(/\.$/, '');
	if (name.length === 0 || name.length > 253) return null;
	return name.split('.').every((label) => LABEL.test(label)) ? name : null;
}

export function isValidDomain(input: unknown): input is string {
	return normalizeDomain(input) !== null;
}
