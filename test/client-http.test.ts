// The client port under unauthenticated load: every HTTP path is answered,
// idle TCP and TLS connections are closed by deadlines, connections are
// capped in total and per address, foreign browser origins are refused, and
// a real client still joins throughout. Plus the token secret defaults.
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mintAccessToken } from '../signalling/client/accessToken.ts';
import type { SftServer } from '../signalling/SftServer.ts';
import { SftProcess } from './support/sftProcess.ts';
import { SignallingClient } from './support/signallingClient.ts';
import { startWithFreePorts, TestServer, watchdog } from './support/testServer.ts';
import { captureLogger, runToEnd, waitFor } from './support/trust-harness.ts';

const REPO_ROOT = new URL('..', import.meta.url).pathname;
const server = new TestServer('client-http-test-secret-0123456789');
watchdog('client-http.test.ts', 90);
const sockets = new Set<Socket>();
const clients = new Set<SignallingClient>();

test.before(async () => {
	await server.start({
		signalling: {
			http: { handshakeTimeoutMs: 800, headersTimeoutMs: 800, requestTimeoutMs: 1500, maxConnections: 25, maxConnectionsPerAddress: 20 },
			corsOrigins: ['https://app.example'],
		},
		hooks: {
			httpHandler: (request, response) => {
				if (request.url !== '/hello') return false;
				response.writeHead(200, { 'content-type': 'text/plain' }).end('hello\n');
				return true;
			},
		},
	});
});
test.after(async () => {
	for (const socket of sockets) socket.destroy();
	for (const client of clients) client.close();
	await server.close().catch(() => undefined);
	setTimeout(() => process.exit(), 2000).unref();
});

async function refusals(reason: string, at: SftServer = server.ready()): Promise<number> {
	const text = await (await fetch(`http://127.0.0.1:${at.metricsServer.port}/metrics`)).text();
	return SftProcess.metricValue(text, 'sft_client_connection_refusals_total', { reason }) ?? 0;
}

/** A TCP connection from `localAddress` that never says anything; resolves once connected or refused. */
function idleConnection(localAddress: string): Promise<Socket> {
	return new Promise((resolve) => {
		const socket = tcpConnect({ host: '127.0.0.1', port: server.ready().clients.port, localAddress });
		sockets.add(socket);
		socket.on('error', () => undefined);
		socket.once('connect', () => resolve(socket));
		socket.once('close', () => resolve(socket));
	});
}

const closed = (socket: Socket) => socket.destroyed || socket.readyState === 'closed';

async function joinAndCreate(url: string, ca: string | undefined, secret: string, conferenceId: string): Promise<SignallingClient> {
	const client = await SignallingClient.connect({ url, ca });
	clients.add(client);
	const { rtpCapabilities } = await client.request('getCapabilities', {});
	const token = mintAccessToken(
		{ user: 'real', conference: conferenceId, right: 'start', exp: Math.floor(Date.now() / 1000) + 600 },
		secret,
	);
	await client.request('join', { conferenceId, token, rtpCapabilities: rtpCapabilities as never });
	await client.request('createTransport', { direction: 'send' });
	return client;
}

test('every HTTP path is answered: a plugged-in route, else 404', async () => {
	const get = (path: string) =>
		new Promise<string>((resolve, reject) => {
			const socket = tlsConnect({ host: '127.0.0.1', port: server.ready().clients.port, rejectUnauthorized: false }, () =>
				socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
			);
			let text = '';
			socket.on('data', (chunk) => (text += chunk.toString()));
			socket.on('end', () => resolve(text));
			socket.on('error', reject);
			socket.setTimeout(3000, () => reject(new Error(`GET ${path}: no answer`)));
		});
	const before = await refusals('not_found');
	assert.match(await get('/'), /^HTTP\/1\.1 404/);
	assert.match(await get('/some/where?x=1'), /^HTTP\/1\.1 404/);
	assert.match(await get('/hello'), /^HTTP\/1\.1 200[\s\S]*hello/);
	assert.is(await refusals('not_found'), before + 2);
});

test('idle connections are capped and closed by the deadlines while a real client joins and keeps working', async () => {
	const s = server.ready();
	const real = await joinAndCreate(server.url, s.selfSignedCert, server.secret, 'busy');
	const [addressBefore, totalBefore, handshakeBefore] = [
		await refusals('address_limit'),
		await refusals('connection_limit'),
		await refusals('handshake_timeout'),
	];
	// 30 from one address (20 allowed), then 10 from another: the total cap (25, the real client included) stops the rest.
	const fromOne = await Promise.all(Array.from({ length: 30 }, () => idleConnection('127.0.0.2')));
	await waitFor(async () => (await refusals('address_limit')) === addressBefore + 10, '10 address-limit refusals');
	const fromTwo = await Promise.all(Array.from({ length: 10 }, () => idleConnection('127.0.0.3')));
	await waitFor(async () => (await refusals('connection_limit')) >= totalBefore + 5, 'connection-limit refusals');
	// The connected client is served while the port is full.
	await real.request('createTransport', { direction: 'recv' });
	// The deadlines free the port: a new client joins.
	await waitFor(() => [...fromOne, ...fromTwo].every(closed), 'the server to close every idle connection', 5000);
	assert.ok((await refusals('handshake_timeout')) >= handshakeBefore + 20, 'handshake timeouts counted');
	// TLS done, then silence: the header deadline closes it.
	const silent = tlsConnect({ host: '127.0.0.1', port: s.clients.port, rejectUnauthorized: false });
	silent.on('error', () => undefined);
	silent.resume(); // read the 408, so the close is seen
	const requestTimeoutsBefore = await refusals('request_timeout');
	await new Promise<void>((resolve) => silent.once('close', () => resolve()));
	assert.is(await refusals('request_timeout'), requestTimeoutsBefore + 1);
	await joinAndCreate(server.url, s.selfSignedCert, server.secret, 'after');
	assert.ok(real.connected, 'the first client was never dropped');
});

test('browser origins: same origin and configured ones connect, others are refused, none is reflected', async () => {
	const s = server.ready();
	const connectFrom = (origin: string) =>
		SignallingClient.connect({ url: server.url, ca: s.selfSignedCert, extraHeaders: { origin } }).then(
			(client) => {
				client.close();
				return 'connected';
			},
			() => 'refused',
		);
	const before = await refusals('origin_not_allowed');
	assert.is(await connectFrom('https://evil.example'), 'refused');
	assert.is(await refusals('origin_not_allowed'), before + 1);
	assert.is(await connectFrom('https://app.example'), 'connected');
	assert.is(await connectFrom(`https://127.0.0.1:${s.clients.port}`), 'connected');
});

test('without a configured secret a random one is generated, kept for npm run token, and the old development secret is refused', async () => {
	const dir = await mkdtemp(join(tmpdir(), 'sft-secret-'));
	const secretFile = join(dir, 'state', 'token-secret');
	const own = await startWithFreePorts({ tokenSecretFile: secretFile });
	try {
		const stored = readFileSync(secretFile, 'utf8').trim();
		assert.is(own.tokenSecret, stored);
		assert.ok(stored.length >= 32);
		assert.is(statSync(secretFile).mode & 0o777, 0o600);
		const url = `https://127.0.0.1:${own.clients.port}`;
		const client = await SignallingClient.connect({ url, ca: own.selfSignedCert });
		clients.add(client);
		const { rtpCapabilities } = await client.request('getCapabilities', {});
		const devToken = mintAccessToken(
			{ user: 'x', conference: 'c', right: 'start', exp: Math.floor(Date.now() / 1000) + 60 },
			'development-secret-change-me',
		);
		assert.is(await client.expectError('join', { conferenceId: 'c', token: devToken, rtpCapabilities }), 'token_invalid');
		const minted = await runToEnd(
			spawn(process.execPath, ['--import', 'tsx', 'scripts/sft-token.ts', '-u', 'op', '-C', 'c', '-r', 'start'], {
				cwd: REPO_ROOT,
				env: { ...process.env, SFT_SIGNALLING_TOKEN_SECRET_FILE: secretFile },
			}),
			undefined,
			20_000,
		);
		assert.is(minted.code, 0, minted.stderr);
		await client.request('join', { conferenceId: 'c', token: minted.stdout.trim(), rtpCapabilities });
	} finally {
		await own.close();
		await rm(dir, { recursive: true, force: true });
	}
});

test('a weak token secret is logged loudly at start', async () => {
	const { logger, entries } = captureLogger();
	const weak = await startWithFreePorts({ tokenSecret: 'development-secret-change-me' }, { logger });
	await weak.close();
	const loud = entries.find((entry) => entry.level >= 50 && /INSECURE: the token secret is weak/.test(entry.msg));
	assert.ok(loud, 'an error-level log line names the weak secret');
});

test.run();
