import { createHmac, timingSafeEqual } from 'node:crypto';
import { SignallingError } from './errors.ts';

/** `start` may create a conference; `join` may only enter an existing one. */
export type AccessRight = 'start' | 'join';

export interface AccessClaims {
	user: string;
	conference: string;
	right: AccessRight;
	/** Expiry, seconds since the epoch. */
	exp: number;
}

/**
 * Token format: base64url(JSON claims) "." base64url(HMAC-SHA256(secret, first part)).
 * The MAC covers user, conference, right and expiry together.
 */
export function mintAccessToken(claims: AccessClaims, secret: string): string {
	const body = Buffer.from(JSON.stringify({ u: claims.user, c: claims.conference, r: claims.right, exp: claims.exp })).toString(
		'base64url',
	);
	return `${body}.${sign(body, secret)}`;
}

/** Verifies a token for `conferenceId`; throws a SignallingError with a distinct code per refusal. */
export function verifyAccessToken(token: unknown, conferenceId: string, secret: string, nowSeconds = Date.now() / 1000): AccessClaims {
	if (typeof token !== 'string' || token.length === 0) throw new SignallingError('token_missing', 'an access token is required');
	const [body, mac, extra] = token.split('.');
	if (!body || !mac || extra !== undefined || !macMatches(mac, sign(body, secret))) {
		throw new SignallingError('token_invalid', 'the access token is malformed or its signature does not verify');
	}
	const claims = parseClaims(body);
	if (claims.exp <= nowSeconds) throw new SignallingError('token_expired', 'the access token has expired');
	if (claims.conference !== conferenceId) throw new SignallingError('token_wrong_conference', 'the access token is for another conference');
	return claims;
}

function sign(body: string, secret: string): string {
	return createHmac('sha256', secret).update(body).digest('base64url');
}

function macMatches(given: string, expected: string): boolean {
	const a = Buffer.from(given);
	const b = Buffer.from(expected);
	return a.length === b.length && timingSafeEqual(a, b);
}

function parseClaims(body: string): AccessClaims {
	let raw: unknown;
	try {
		raw = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
	} catch {
		throw new SignallingError('token_invalid', 'the access token payload is not JSON');
	}
	const r = raw as Record<string, unknown>;
	if (
		typeof r['u'] !== 'string' ||
		typeof r['c'] !== 'string' ||
		(r['r'] !== 'start' && r['r'] !== 'join') ||
		typeof r['exp'] !== 'number'
	) {
		throw new SignallingError('token_invalid', 'the access token payload lacks user, conference, right or expiry');
	}
	return { user: r['u'], conference: r['c'], right: r['r'], exp: r['exp'] };
}
