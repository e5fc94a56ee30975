// The web app's HTTP side on a real SftServer: the page and its assets come
// from the client listener with a strict CSP and no inline code; development
// tokens go only to this machine on embedded defaults (a generated token
// secret), to nobody once a token secret is configured, and to everybody only in the loudly logged unsafe mode.
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildWebApp } from '../scripts/build-web.ts';
import { verifyAccessToken } from '../signalling/client/accessToken.ts';
import { isLoopbackAddress } from '../signalling/client/webApp.ts';
import { TestServer, watchdog } from './support/testServer.ts';

watchdog('web-app.test.ts', 60);

/** This machine's first external IPv4 address: a connection to it does not come from loopback. */
const externalIp = Object.values(networkInterfaces())
	.flat()
	.find((i) => i?.family === 'IPv4' && !i.internal)?.address;

/** A logger that keeps its lines (info and up), to check what is logged and what never is. */
function capture(lines: string[]) {
	return pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
}

const workDir = mkdtempSync(join(tmpdir(), 'sft-web-app-'));
/** Embedded defaults: no token secret configured, so one is generated into the secret file. */
const defaultsLog: string[] = [];
const onDefaults = new TestServer('');
const configured = new TestServer('an-operator-chosen-secret-0123456789');
const unsafeLog: string[] = [];
const unsafe = new TestServer('unsafe-mode-secret-0123456789');

interface Reply {
	status: number;
	headers: Record<string, string | string[] | undefined>;
	body: string;
}

function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
	return new Promise((resolve, reject) => {
		const req = httpsRequest(url, { method: options.method ?? 'GET', headers: options.headers, rejectUnauthorized: false }, (res) => {
			let body = '';
			res.setEncoding('utf8');
			res.on('data', (chunk: string) => {
				body += chunk;
			});
			res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
		});
		req.on('error', reject);
		req.end(options.body);
	});
}

const postToken = (base: string, conferenceId: string, headers: Record<string, string> = {}) =>
	request(`${base}/api/dev-token`, {
		method: 'POST',
		headers: { 'content-type': 'application/json', ...headers },
		body: JSON.stringify({ conferenceId }),
	});

const loopbackUrl = (server: TestServer) => `https://127.0.0.1:${server.ready().clients.port}`;

test.before(async () => {
	await buildWebApp();
	const everywhere = { ip: '0.0.0.0', port: 0 };
	await Promise.all([
		onDefaults.start({
			signalling: { listen: everywhere, webApp: true, tokenSecret: undefined, tokenSecretFile: join(workDir, 'token-secret') },
			logger: capture(defaultsLog),
		}),
		configured.start({ signalling: { webApp: true } }),
		unsafe.start({ signalling: { listen: everywhere, webApp: true, devTokens: 'anyone-unsafe' }, logger: capture(unsafeLog) }),
	]);
});

test.after(async () => {
	await Promise.all([onDefaults.close(), configured.close(), unsafe.close()]);
	rmSync(workDir, { recursive: true, force: true });
	setTimeout(() => process.exit(), 1000).unref();
});

test('the page, its script and its style come from the client listener with a strict CSP and no inline code', async () => {
	const base = loopbackUrl(configured);
	const page = await request(`${base}/`);
	assert.is(page.status, 200);
	assert.match(String(page.headers['content-type']), /^text\/html/);
	const csp = String(page.headers['content-security-policy']);
	for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) {
		assert.ok(csp.includes(directive), `CSP has ${directive}: ${csp}`);
	}
	assert.not.ok(/unsafe-inline|unsafe-eval/.test(csp), 'nothing unsafe is allowed');
	assert.is(page.headers['x-content-type-options'], 'nosniff');
	const scripts = [...page.body.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
	assert.ok(scripts.length > 0);
	for (const [, attributes, content] of scripts) {
		assert.match(attributes ?? '', /src="\/app\.js"/, 'scripts are files of this origin');
		assert.is(content?.trim(), '', 'no inline script');
	}
	assert.not.match(page.body, /\son[a-z]+=/i, 'no inline event handlers');
	assert.not.match(page.body, /\sstyle=/i, 'no inline style attributes');
	assert.not.match(page.body, /<style/i, 'no style elements');
	const script = await request(`${base}/app.js`);
	assert.is(script.status, 200);
	assert.match(String(script.headers['content-type']), /^text\/javascript/);
	assert.ok(script.body.length > 10_000, 'the bundle holds the app');
	const style = await request(`${base}/app.css`);
	assert.is(style.status, 200);
	assert.match(String(style.headers['content-type']), /^text\/css/);
	assert.is((await request(`${base}/nothing-here`)).status, 404);
	assert.is((await request(`${base}/../package.json`)).status, 404);
});

test('on embedded defaults this machine gets a start token for the conference it names', async () => {
	const base = loopbackUrl(onDefaults);
	assert.equal(JSON.parse((await request(`${base}/api/dev-token`)).body), { available: true });
	const reply = await postToken(base, 'standup', { origin: base });
	assert.is(reply.status, 200, reply.body);
	const { token } = JSON.parse(reply.body) as { token: string };
	const claims = verifyAccessToken(token, 'standup', onDefaults.ready().tokenSecret, { maxLifetimeSeconds: 86_400, maxUserIdLength: 128 });
	assert.is(claims.right, 'start');
	assert.ok(claims.exp - Date.now() / 1000 <= 2 * 3600 + 5, 'short-lived');
	assert.ok(
		defaultsLog.some((line) => line.includes('development token issued')),
		'issuing is logged',
	);
	assert.not.ok(
		defaultsLog.some((line) => line.includes(token)),
		'the token itself is never logged',
	);
});

test('another machine gets no token on embedded defaults (judged by the connection address, not headers)', async () => {
	if (!externalIp) return console.log('# no external IPv4 address here: remote-client case not run');
	const base = `https://${externalIp}:${onDefaults.ready().clients.port}`;
	assert.equal(JSON.parse((await request(`${base}/api/dev-token`)).body), { available: false });
	const spoofed = await postToken(base, 'standup', { 'x-forwarded-for': '127.0.0.1', forwarded: 'for=127.0.0.1', host: '127.0.0.1' });
	assert.is(spoofed.status, 403, 'headers claiming loopback do not help');
	assert.not.match(spoofed.body, /token"/);
});

test('cross-origin and non-JSON requests get no token, even from this machine', async () => {
	const base = loopbackUrl(onDefaults);
	assert.is((await postToken(base, 'standup', { origin: 'https://evil.example' })).status, 403);
	const form = await request(`${base}/api/dev-token`, {
		method: 'POST',
		headers: { 'content-type': 'application/x-www-form-urlencoded' },
		body: 'conferenceId=standup',
	});
	assert.is(form.status, 415);
	assert.is((await postToken(base, '')).status, 400);
});

test('with a configured token secret nobody gets a development token', async () => {
	const base = loopbackUrl(configured);
	assert.equal(JSON.parse((await request(`${base}/api/dev-token`)).body), { available: false });
	assert.is((await postToken(base, 'standup')).status, 403);
});

test('the unsafe mode hands tokens to other machines and says so loudly', async () => {
	assert.ok(
		unsafeLog.some((line) => /"level":40/.test(line) && line.includes('UNSAFE')),
		'a warning at start',
	);
	if (!externalIp) return console.log('# no external IPv4 address here: remote-client case not run');
	const base = `https://${externalIp}:${unsafe.ready().clients.port}`;
	const reply = await postToken(base, 'standup');
	assert.is(reply.status, 200);
	const { token } = JSON.parse(reply.body) as { token: string };
	assert.ok(unsafeLog.some((line) => line.includes('UNSAFE development token issued')));
	assert.not.ok(unsafeLog.some((line) => line.includes(token)));
});

test('loopback addresses', () => {
	for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopbackAddress(address), address);
	for (const address of ['10.0.0.1', '::ffff:10.0.0.1', '0.0.0.0', '::', 'fe80::1', undefined, ''])
		assert.not.ok(isLoopbackAddress(address), String(address));
});

test.run();
