import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { mintAccessToken } from './accessToken.ts';
import type { HttpHandler } from './clientHttp.ts';

/** Who may get a development token: nobody, this machine only, or (unsafe) everybody who reaches the listener. */
export type DevTokenMode = 'off' | 'loopback' | 'anyone-unsafe';

export interface WebAppOptions {
	/** The built app (client/web/dist: index.html, app.js, app.css). */
	distDir: string;
	devTokens: DevTokenMode;
	tokenSecret: string;
	/** signalling.maxTokenLifetimeSeconds: development tokens never live longer. */
	maxTokenLifetimeSeconds: number;
	logger: Logger;
}

/** Development tokens are `start` tokens for one conference; long enough for a call, short enough to be harmless. */
export const DEV_TOKEN_TTL_SECONDS = 2 * 3600;

const ASSETS: Record<string, { file: string; type: string }> = {
	'/': { file: 'index.html', type: 'text/html; charset=utf-8' },
	'/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
	'/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
	'/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
	'/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

/**
 * The page may only run its own script and style, talk to its own origin
 * (HTTPS and the socket.io WebSocket) and show camera streams.
 */
export const CONTENT_SECURITY_POLICY = [
	"default-src 'none'",
	"script-src 'self'",
	"style-src 'self'",
	"img-src 'self' data:",
	"media-src 'self' blob: mediastream:",
	"connect-src 'self'",
	"base-uri 'none'",
	"form-action 'self'",
	"frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
	'content-security-policy': CONTENT_SECURITY_POLICY,
	'x-content-type-options': 'nosniff',
	'referrer-policy': 'no-referrer',
	'x-frame-options': 'DENY',
	'cross-origin-opener-policy': 'same-origin',
	'cross-origin-resource-policy': 'same-origin',
	'permissions-policy': 'camera=(self), microphone=(self), display-capture=(self), geolocation=()',
};

/**
 * The calling web app served at `/` of the client listener (same origin as
 * signalling), and `/api/dev-token`, which hands a development token to
 * whoever the configuration allows, judged by the connection's own address
 * (never by headers, which a client or a proxy can set).
 */
export function webAppHandler(options: WebAppOptions): HttpHandler {
	const assets = loadAssets(options.distDir);
	return (req, res) => {
		const path = (req.url ?? '/').split('?')[0] ?? '/';
		if (path === '/api/dev-token') {
			void devToken(req, res, options).catch((error: unknown) => {
				options.logger.error({ err: error }, 'dev-token request failed');
				if (!res.headersSent) send(res, 500, { error: 'internal_error' });
			});
			return true;
		}
		const asset = ASSETS[path];
		if (!asset) return false;
		if (req.method !== 'GET' && req.method !== 'HEAD') {
			res.writeHead(405, { allow: 'GET, HEAD' }).end();
			return true;
		}
		const body = assets.get(asset.file);
		if (!body) {
			res
				.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS })
				.end('The web app is not built. Run `npm run build:web` (npm start and npm test do it) and restart the SFT.\n');
			return true;
		}
		res.writeHead(200, {
			'content-type': asset.type,
			'content-length': body.length,
			'cache-control': 'no-cache',
			...SECURITY_HEADERS,
		});
		res.end(req.method === 'HEAD' ? undefined : body);
		return true;
	};
}

function loadAssets(distDir: string): Map<string, Buffer> {
	const assets = new Map<string, Buffer>();
	for (const { file } of Object.values(ASSETS)) {
		try {
			assets.set(file, readFileSync(join(distDir, file)));
		} catch {
			// Not built: the page says so.
		}
	}
	return assets;
}

/** Whether a connection comes from this machine (IPv4 127/8, ::1, or IPv4-mapped loopback). */
export function isLoopbackAddress(address: string | undefined): boolean {
	if (!address) return false;
	const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
	if (isIP(v4) === 4) return v4.startsWith('127.');
	return address === '::1';
}

function allowed(req: IncomingMessage, mode: DevTokenMode): boolean {
	if (mode === 'anyone-unsafe') return true;
	return mode === 'loopback' && isLoopbackAddress(req.socket.remoteAddress);
}

async function devToken(req: IncomingMessage, res: ServerResponse, options: WebAppOptions): Promise<void> {
	const available = allowed(req, options.devTokens);
	if (req.method === 'GET') return send(res, 200, { available });
	if (req.method !== 'POST') return send(res, 405, { error: 'method_not_allowed' });
	if (!available) return send(res, 403, { error: 'dev_tokens_unavailable' });
	// Only the page itself: a JSON POST from another origin needs a preflight this endpoint never grants.
	const origin = req.headers.origin;
	if (origin !== undefined && origin !== `https://${req.headers.host}`) return send(res, 403, { error: 'cross_origin' });
	if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) return send(res, 415, { error: 'json_expected' });
	let body: string;
	try {
		body = await readBody(req, 4096);
	} catch {
		return send(res, 413, { error: 'payload_too_large' });
	}
	let conferenceId: unknown;
	try {
		conferenceId = (JSON.parse(body) as { conferenceId?: unknown }).conferenceId;
	} catch {
		return send(res, 400, { error: 'bad_request' });
	}
	if (typeof conferenceId !== 'string' || conferenceId.length === 0 || conferenceId.length > 128) {
		return send(res, 400, { error: 'bad_request' });
	}
	const user = `dev-${randomBytes(4).toString('hex')}`;
	const exp = Math.floor(Date.now() / 1000) + Math.min(DEV_TOKEN_TTL_SECONDS, options.maxTokenLifetimeSeconds);
	const token = mintAccessToken({ user, conference: conferenceId, right: 'start', exp }, options.tokenSecret);
	// Never the token itself.
	const fields = { user, conference: conferenceId, from: req.socket.remoteAddress };
	if (options.devTokens === 'anyone-unsafe') options.logger.warn(fields, 'UNSAFE development token issued to a remote machine');
	else options.logger.info(fields, 'development token issued');
	send(res, 200, { token, user, expiresAt: exp });
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
	return new Promise((resolve, reject) => {
		let size = 0;
		const chunks: Buffer[] = [];
		req.on('data', (chunk: Buffer) => {
			size += chunk.length;
			if (size > limit) {
				reject(new Error('request body too large'));
				req.removeAllListeners('data');
				req.resume();
				return;
			}
			chunks.push(chunk);
		});
		req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
		req.on('error', reject);
	});
}

function send(res: ServerResponse, status: number, body: unknown): void {
	res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...SECURITY_HEADERS }).end(JSON.stringify(body));
}
