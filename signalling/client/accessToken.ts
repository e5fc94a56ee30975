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
	/** May open plain (raw RTP) transports: for ingest tools and load benches. */
	plain?: boolean;
}

/** What a verifier enforces besides the signature. */
export interface TokenPolicy {
	/** Refuse tokens whose expiry lies further ahead than this. */
	maxLifetimeSeconds: number;
	maxUserIdLength: number;
}

/**
 * Token format: base64url(JSON claims) "." base64url(HMAC-SHA256(secret, first part)).
 * The MAC covers user, conference, right, expiry and the plain right together.
 */
export function mintAccessToken(claims: AccessClaims, secret: string): string {
	const json = { u: claims.user, c: claims.conference, r: claims.right, exp: claims.exp, ...(claims.plain ? { p: 1 } : {}) };
	const body = Buffer.from(JSON.stringify(json)).toString('base64url');
	return `${body}.${sign(body, secret)}`;
}

/** Verifies a token for `conferenceId`; throws a SignallingError with a distinct code per refusal. */
export function verifyAccessToken(
	token: unknown,
	conferenceId: string,
	secret: string,
	policy: TokenPolicy,
	nowSeconds = Date.now() / 1000,
): AccessClaims {
	if (typeof token !== 'string' || token.length === 0) throw new SignallingError('token_missing', 'an access token is required');
	const [body, mac, extra] = token.split('.');
	if (!body || !mac || extra !== undefined || !macMatches(mac, sign(body, secret))) {
		throw new SignallingError('token_invalid', 'the access token is malformed or its signature does not verify');
	}
	const claims = parseClaims(body);
	if (claims.exp <= nowSeconds) throw new SignallingError('token_expired', 'the access token has expired');
	if (claims.exp > nowSeconds + policy.maxLifetimeSeconds) {
		throw new SignallingError('token_lifetime_too_long', `the access token is valid for longer than ${policy.maxLifetimeSeconds} s`);
	}
	if (claims.user.length === 0 || claims.user.length > policy.maxUserIdLength) {
		throw new SignallingError('user_id_too_long', `the user id must be 1 to ${policy.maxUserIdLength} characters long`);
	}
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
	const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
	if (
		typeof r['u'] !== 'string' ||
		typeof r['c'] !== 'string' ||
		(r['r'] !== 'start' && r['r'] !== 'join') ||
		typeof r['exp'] !== 'number' ||
		!Number.isFinite(r['exp'])
	) {
		throw new SignallingError('token_invalid', 'the access token payload lacks user, conference, right or expiry');
	}
	return { user: r['u'], conference: r['c'], right: r['r'], exp: r['exp'], plain: r['p'] === 1 };
}
