import { randomBytes } from 'node:crypto';
import { CertsError } from './certsError.ts';

const DAY_MS = 86_400_000;
// Peers' clocks drift; starting validity a little in the past avoids
// "not yet valid" refusals right after issuing.
const BACKDATE_MS = 5 * 60_000;

export function validityWindow(days: number, now: Date): { notBefore: Date; notAfter: Date } {
	if (!Number.isInteger(days) || days < 1 || days > 36_500) {
		throw new CertsError(`invalid lifetime ${days}: days must be an integer between 1 and 36500`);
	}
	return { notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter: new Date(now.getTime() + days * DAY_MS) };
}

/** 128-bit random positive serial (RFC 5280 allows up to 20 octets, must be positive). */
export function randomSerialNumber(): string {
	const bytes = randomBytes(16);
	bytes[0] = (bytes[0] ?? 0) & 0x7f;
	return bytes.toString('hex');
}
