import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { ClientMetrics } from './clientMetrics.ts';
import type { TlsPair } from './clientTls.ts';

/** Config `signalling.http`. */
export interface HttpSettings {
	handshakeTimeoutMs: number;
	headersTimeoutMs: number;
	requestTimeoutMs: number;
	idleTimeoutMs: number;
	maxConnections: number;
	maxConnectionsPerAddress: number;
	maxMessageBytes: number;
}

/**
 * A route plugged into the client port (e.g. a web app): returns true when it
 * answered the request. Paths it leaves alone get a 404. socket.io's own path
 * never reaches it.
 */
export type HttpHandler = (request: IncomingMessage, response: ServerResponse) => boolean | Promise<boolean>;

/**
 * The HTTPS server under socket.io: every request is answered, every stage
 * of a connection has a deadline, and connections are capped in total and
 * per address, so idle sockets cannot starve real clients. Each refusal is counted.
 */
export function createClientHttpsServer(
	tls: TlsPair,
	settings: HttpSettings,
	metrics: ClientMetrics,
	handler: HttpHandler | undefined,
): { server: HttpsServer; destroyAllSockets: () => void } {
	const server = createServer(
		{
			cert: tls.cert,
			key: tls.key,
			handshakeTimeout: settings.handshakeTimeoutMs,
			headersTimeout: settings.headersTimeoutMs,
			requestTimeout: settings.requestTimeoutMs,
			keepAliveTimeout: settings.idleTimeoutMs,
			// How often Node checks the header and request deadlines.
			connectionsCheckingInterval: Math.max(100, Math.min(settings.headersTimeoutMs, settings.requestTimeoutMs) / 4),
		},
		(request, response) => void answer(request, response, handler, metrics),
	);
	server.maxConnections = settings.maxConnections;
	server.on('drop', () => metrics.connectionRefused('connection_limit'));
	const perAddress = new Map<string, number>();
	// Includes sockets still in the TLS handshake, which server.close() would wait for.
	const sockets = new Set<Socket>();
	server.on('connection', (socket: Socket) => {
		sockets.add(socket);
		socket.once('close', () => sockets.delete(socket));
		const address = socket.remoteAddress ?? '';
		const open = (perAddress.get(address) ?? 0) + 1;
		if (open > settings.maxConnectionsPerAddress) {
			metrics.connectionRefused('address_limit');
			socket.destroy();
			return;
		}
		perAddress.set(address, open);
		socket.once('close', () => {
			const left = (perAddress.get(address) ?? 1) - 1;
			if (left > 0) perAddress.set(address, left);
			else perAddress.delete(address);
		});
	});
	server.on('tlsClientError', (error: NodeJS.ErrnoException) => {
		metrics.connectionRefused(error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'handshake_timeout' : 'tls_error');
	});
	server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
		const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
		metrics.connectionRefused(timedOut ? 'request_timeout' : 'bad_http');
		if (!socket.writable) return void socket.destroy();
		socket.end(`HTTP/1.1 ${timedOut ? '408 Request Timeout' : '400 Bad Request'}\r\nConnection: close\r\n\r\n`);
		// A peer that never closes its side does not keep the socket.
		setTimeout(() => socket.destroy(), 1000).unref();
	});
	return {
		server,
		destroyAllSockets: () => {
			for (const socket of sockets) socket.destroy();
		},
	};
}

async function answer(request: IncomingMessage, response: ServerResponse, handler: HttpHandler | undefined, metrics: ClientMetrics) {
	try {
		if (handler && (await handler(request, response))) return;
	} catch {
		if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' }).end('internal error\n');
		return;
	}
	metrics.connectionRefused('not_found');
	response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
}

/**
 * Browsers send Origin; WebSockets are not covered by CORS, so the check is
 * made here. Clients that send no Origin (native apps, tools) are not browsers
 * a page could misuse, and pass.
 */
export function originAllowed(request: IncomingMessage, allowedOrigins: readonly string[]): boolean {
	const origin = request.headers.origin;
	if (origin === undefined) return true;
	if (allowedOrigins.includes(origin)) return true;
	try {
		return new URL(origin).host === request.headers.host;
	} catch {
		return false;
	}
}
