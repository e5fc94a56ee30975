// Node side of the real-browser call test: a private network namespace for
// headless Chromium (Chromium ignores loopback-only hosts when gathering ICE,
// and test traffic may only go to loopback or to namespaces the test made
// itself), the in-page client bundled with esbuild, an HTTPS page server on
// the host end of the veth pair, and Playwright page helpers.
//
// Layout:   host (SFT, page server)  vh-<id> 10.213.X.Y+1/30
//              ⇅ veth
//           netns sftc-<id> (Chromium) vn-<id> 10.213.X.Y+2/30
import { execFile, execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { loadClientTls } from '../../signalling/client/clientTls.ts';
import type { CallInfo, CallOptions, CallStats, InboundVideo, JoinTimings, ViewTile } from './browser/client.ts';

export type { CallInfo, CallOptions, CallStats, InboundVideo, JoinTimings, ViewTile } from './browser/client.ts';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
export const CHROMIUM = '/usr/bin/chromium';
/** Namespaces are `sftc-<token>`, veth ends `vh-<token>` (host) and `vn-<token>`; token = base36(pid) + 3 random chars. */
const NS_PREFIX = 'sftc-';

async function ip(args: string[]): Promise<string> {
	try {
		const { stdout } = await run('ip', args, { timeout: 10_000 });
		return stdout;
	} catch (error) {
		const e = error as { stderr?: string; message: string };
		throw new Error(`ip ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`);
	}
}

/** Why this machine cannot run the browser test, or undefined when it can. */
export async function browserTestUnavailable(): Promise<string | undefined> {
	if (process.platform !== 'linux') return 'network namespaces need Linux';
	if (process.getuid?.() !== 0) return 'creating a network namespace needs root';
	try {
		await run('ip', ['netns', 'list'], { timeout: 10_000 });
	} catch (error) {
		return `\`ip netns\` is unavailable (${(error as Error).message.split('\n')[0]}); install iproute2`;
	}
	try {
		await run(CHROMIUM, ['--version'], { timeout: 20_000 });
	} catch {
		return `${CHROMIUM} is missing (apt-get install chromium)`;
	}
	return undefined;
}

function tokenPid(token: string): number | undefined {
	const pid = Number.parseInt(token.slice(0, -3), 36);
	return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function processAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/**
 * Removes namespaces and veth links left by earlier runs whose process is
 * gone (a SIGKILLed test cannot clean up). Processes still inside such a
 * namespace (an orphaned Chromium of that run) are ended by pid first.
 */
export async function removeStaleNetworks(): Promise<string[]> {
	const removed: string[] = [];
	const namespaces = (await ip(['netns', 'list']))
		.split('\n')
		.map((line) => line.trim().split(/\s+/)[0] ?? '')
		.filter((name) => name.startsWith(NS_PREFIX));
	for (const ns of namespaces) {
		const pid = tokenPid(ns.slice(NS_PREFIX.length));
		if (pid !== undefined && pid !== process.pid && processAlive(pid)) continue;
		const inside = (await ip(['netns', 'pids', ns]).catch(() => '')).split(/\s+/).filter(Boolean).map(Number);
		for (const p of inside) {
			try {
				process.kill(p, 'SIGKILL');
			} catch {
				// already gone
			}
		}
		await ip(['link', 'del', `vh-${ns.slice(NS_PREFIX.length)}`]).catch(() => undefined);
		await ip(['netns', 'del', ns]).catch(() => undefined);
		removed.push(ns);
	}
	const links = (await ip(['-o', 'link', 'show', 'type', 'veth']))
		.split('\n')
		.map((line) => /^\d+:\s+(vh-[0-9a-z]+)[@:]/.exec(line)?.[1])
		.filter((name): name is string => name !== undefined);
	for (const link of links) {
		const pid = tokenPid(link.slice(3));
		if (pid !== undefined && pid !== process.pid && processAlive(pid)) continue;
		await ip(['link', 'del', link]).catch(() => undefined);
		removed.push(link);
	}
	return removed;
}

export interface TestNetwork {
	namespace: string;
	hostInterface: string;
	/** The SFT and page server bind here; Chromium reaches it over the veth pair. */
	hostIp: string;
	/** Chromium's address inside the namespace. */
	namespaceIp: string;
	close(): Promise<void>;
}

/** A fresh namespace with a veth pair on a free 10.213.X.Y/30. Always close() it. */
export async function createTestNetwork(): Promise<TestNetwork> {
	const token = `${process.pid.toString(36)}${randomInt(36 ** 3)
		.toString(36)
		.padStart(3, '0')}`;
	const namespace = `${NS_PREFIX}${token}`;
	const hostInterface = `vh-${token}`;
	const nsInterface = `vn-${token}`;
	const used = await ip(['-4', '-o', 'addr', 'show']);
	let subnet: string | undefined;
	for (let attempt = 0; attempt < 50 && !subnet; attempt++) {
		const candidate = `10.213.${randomInt(256)}.${4 * randomInt(64)}`;
		const prefix = candidate.split('.').slice(0, 3).join('.');
		const base = Number(candidate.split('.')[3]);
		const taken = [1, 2].some((offset) => used.includes(` ${prefix}.${base + offset}/`));
		if (!taken) subnet = candidate;
	}
	if (!subnet) throw new Error('no free 10.213.x.y/30 subnet for the browser test network');
	const [a, b, c, d] = subnet.split('.').map(Number) as [number, number, number, number];
	const hostIp = `${a}.${b}.${c}.${d + 1}`;
	const namespaceIp = `${a}.${b}.${c}.${d + 2}`;

	let closed = false;
	const closeSync = () => {
		// Last resort on abrupt exit (an uncaught error skipped the async cleanup).
		for (const args of [
			['link', 'del', hostInterface],
			['netns', 'del', namespace],
		]) {
			try {
				execFileSync('ip', args, { stdio: 'ignore', timeout: 5000 });
			} catch {
				// gone already
			}
		}
	};
	process.once('exit', closeSync);
	const close = async () => {
		if (closed) return;
		closed = true;
		process.off('exit', closeSync);
		// Deleting the host end destroys the pair even if something still holds the namespace.
		await ip(['link', 'del', hostInterface]).catch(() => undefined);
		await ip(['netns', 'del', namespace]).catch(() => undefined);
	};
	try {
		await ip(['netns', 'add', namespace]);
		// No IPv6 inside: a link-local address finishing DAD after Chromium has
		// started is a "network change" that aborts its navigations (ERR_NETWORK_CHANGED).
		await ip([
			'netns',
			'exec',
			namespace,
			'sh',
			'-c',
			'for f in all default; do echo 1 > /proc/sys/net/ipv6/conf/$f/disable_ipv6; done 2>/dev/null || true',
		]);
		await ip(['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', nsInterface, 'netns', namespace]);
		await ip(['addr', 'add', `${hostIp}/30`, 'dev', hostInterface]);
		await ip(['link', 'set', hostInterface, 'up']);
		await ip(['-n', namespace, 'addr', 'add', `${namespaceIp}/30`, 'dev', nsInterface]);
		await ip(['-n', namespace, 'link', 'set', nsInterface, 'up']);
		await ip(['-n', namespace, 'link', 'set', 'lo', 'up']);
		// Let the kernel settle the link state before Chromium watches it.
		const deadline = Date.now() + 5000;
		while (!/state UP/.test(await ip(['-n', namespace, '-o', 'link', 'show', nsInterface]))) {
			if (Date.now() > deadline) throw new Error(`${nsInterface} in ${namespace} did not come up`);
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
	} catch (error) {
		await close();
		throw error;
	}
	return { namespace, hostInterface, hostIp, namespaceIp, close };
}

/** Bundles test/support/browser/client.ts for the page; returns the JavaScript. */
export async function bundleClient(outDir: string): Promise<string> {
	const outfile = join(outDir, 'client.js');
	const result = await build({
		entryPoints: [join(here, 'browser', 'client.ts')],
		bundle: true,
		format: 'iife',
		platform: 'browser',
		target: 'chrome120',
		outfile,
		write: false,
		logLevel: 'silent',
		define: { 'process.env.NODE_ENV': '"production"' },
	});
	const file = result.outputFiles[0];
	if (!file) throw new Error('esbuild produced no bundle for the browser client');
	await writeFile(outfile, file.contents);
	return file.text;
}

export interface PageServer {
	url: string;
	close(): Promise<void>;
}

/**
 * Serves the page and the bundle over HTTPS (getUserMedia needs a secure
 * context; Chromium runs with --ignore-certificate-errors) on `ip`.
 */
export async function startPageServer(ipAddress: string, bundle: string): Promise<PageServer> {
	const tls = await loadClientTls(undefined, undefined);
	const html =
		'<!doctype html><html><head><meta charset="utf-8"><title>SFT browser caller</title></head><body><script src="/client.js"></script></body></html>';
	const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
		const path = (req.url ?? '/').split('?')[0];
		if (path === '/' || path === '/index.html') {
			res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
		} else if (path === '/client.js') {
			res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' }).end(bundle);
		} else {
			res.writeHead(404).end();
		}
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, ipAddress, () => {
			server.off('error', reject);
			resolve();
		});
	});
	const { port } = server.address() as AddressInfo;
	return {
		url: `https://${ipAddress}:${port}/`,
		close: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}

export const CHROMIUM_ARGS = [
	'--headless=new',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
	'--use-fake-device-for-media-stream',
	'--use-fake-ui-for-media-stream',
	'--ignore-certificate-errors',
];

export interface BrowserHandle {
	browser: Browser;
	close(): Promise<void>;
}

/**
 * Launches Debian's Chromium inside `network.namespace` (through a wrapper
 * script; Playwright drives it over a pipe, so the namespace does not matter
 * for control). Playwright gives it a new, empty user data dir and removes it on close.
 */
export async function launchChromiumIn(network: Pick<TestNetwork, 'namespace'>, workDir: string): Promise<BrowserHandle> {
	const wrapper = join(workDir, 'chromium-in-netns.sh');
	await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${network.namespace} ${CHROMIUM} "$@"\n`);
	await chmod(wrapper, 0o755);
	const browser = await chromium.launch({ executablePath: wrapper, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
	return {
		browser,
		close: async () => {
			await Promise.race([browser.close().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 10_000))]);
		},
	};
}

/**
 * A new browser context (certificate errors ignored) and page on `url`; once
 * more when a fresh namespace's network change aborts the first navigation.
 * Console messages of `consoleTypes`, uncaught errors and crashes go to `problems`.
 */
export async function openPage(
	browser: Browser,
	url: string,
	problems: string[],
	options: { viewport?: { width: number; height: number }; consoleTypes?: string[] } = {},
): Promise<{ context: BrowserContext; page: Page; retried: boolean }> {
	const context = await browser.newContext({ ignoreHTTPSErrors: true, ...(options.viewport ? { viewport: options.viewport } : {}) });
	const page = await context.newPage();
	const types = options.consoleTypes ?? ['error', 'warning'];
	page.on('console', (message) => {
		if (types.includes(message.type())) problems.push(`${message.type()}: ${message.text()}`);
	});
	page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
	page.on('crash', () => problems.push('page crashed'));
	let retried = false;
	try {
		try {
			await page.goto(url, { waitUntil: 'load', timeout: 30_000 });
		} catch (error) {
			if (!/ERR_NETWORK_CHANGED/.test((error as Error).message)) throw error;
			retried = true;
			await page.goto(url, { waitUntil: 'load', timeout: 30_000 });
		}
	} catch (error) {
		await context.close().catch(() => undefined);
		throw error;
	}
	return { context, page, retried };
}

/** One calling client: its own browser context and page running the bundled client. */
export class BrowserCaller {
	readonly name: string;
	readonly page: Page;
	readonly #context: BrowserContext;
	/** Console errors and page crashes seen on the Node side. */
	readonly consoleLog: string[];

	private constructor(name: string, context: BrowserContext, page: Page, consoleLog: string[]) {
		this.name = name;
		this.#context = context;
		this.page = page;
		this.consoleLog = consoleLog;
	}

	static async open(browser: Browser, pageUrl: string, name: string): Promise<BrowserCaller> {
		const consoleLog: string[] = [];
		let opened: Awaited<ReturnType<typeof openPage>> | undefined;
		try {
			opened = await openPage(browser, pageUrl, consoleLog);
			if (opened.retried) consoleLog.push('navigation retried after ERR_NETWORK_CHANGED');
			await opened.page.waitForFunction(() => typeof window.sftCall === 'object', undefined, { timeout: 15_000 });
		} catch (error) {
			await opened?.context.close().catch(() => undefined);
			throw new Error(
				`${name}: the test page did not load from ${pageUrl}: ${(error as Error).message}; console: ${consoleLog.join(' | ')}`,
			);
		}
		return new BrowserCaller(name, opened.context, opened.page, consoleLog);
	}

	async start(options: CallOptions): Promise<CallInfo> {
		try {
			return await this.page.evaluate((o) => window.sftCall.start(o), options);
		} catch (error) {
			throw new Error(`${this.name}: joining the call failed: ${(error as Error).message}; ${await this.describe()}`);
		}
	}

	/** When the join went out and when each remote video showed its first frame. */
	timings(): Promise<JoinTimings> {
		return this.page.evaluate(() => window.sftCall.timings);
	}

	stats(): Promise<CallStats> {
		return this.page.evaluate(() => window.sftCall.stats());
	}

	videoStats(): Promise<InboundVideo[]> {
		return this.page.evaluate(() => window.sftCall.videoStats());
	}

	outboundEncodings(producerId: string): Promise<Record<string, number>> {
		return this.page.evaluate((id) => window.sftCall.outboundEncodings(id), producerId);
	}

	appliedHints(): Promise<{ producerId: string; active: boolean[]; at: number }[]> {
		return this.page.evaluate(() => [...window.sftCall.appliedHints]);
	}

	setView(tiles: ViewTile[]): Promise<void> {
		return this.page.evaluate((t) => window.sftCall.setView(t), tiles);
	}

	setReceiveBitrate(maxBitrate: number): Promise<void> {
		return this.page.evaluate((b) => window.sftCall.setReceiveBitrate(b), maxBitrate);
	}

	errors(): Promise<string[]> {
		return this.page.evaluate(() => [...window.sftCall.errors]);
	}

	/** Server events the page received, optionally only those named `event`. */
	events(event?: string): Promise<{ event: string; payload: unknown; at: number }[]> {
		return this.page.evaluate((name) => window.sftCall.events.filter((e) => name === undefined || e.event === name), event);
	}

	/** For failure messages: page errors, console errors and the latest stats. */
	async describe(): Promise<string> {
		const parts = [`[${this.name}]`];
		try {
			parts.push(`page errors: ${JSON.stringify(await this.errors())}`);
			parts.push(`stats: ${JSON.stringify(await this.stats())}`);
			parts.push(`events: ${JSON.stringify((await this.events()).map((e) => e.event))}`);
		} catch (error) {
			parts.push(`(page unreadable: ${(error as Error).message})`);
		}
		if (this.consoleLog.length) parts.push(`console: ${JSON.stringify(this.consoleLog.slice(-20))}`);
		return parts.join(' ');
	}

	async close(): Promise<void> {
		await this.page.evaluate(() => window.sftCall.close()).catch(() => undefined);
		await this.#context.close().catch(() => undefined);
	}
}

/** Polls `read` until `done` holds; on timeout throws with the last value and `context()`. */
export async function pollUntil<T>(
	read: () => Promise<T>,
	done: (value: T) => boolean,
	what: string,
	timeoutMs: number,
	context: () => Promise<string> = async () => '',
): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	let last: T | undefined;
	let lastError: unknown;
	for (;;) {
		try {
			last = await read();
			if (done(last)) return last;
		} catch (error) {
			lastError = error;
		}
		if (Date.now() > deadline) break;
		await new Promise((resolve) => setTimeout(resolve, 500));
	}
	const error = lastError ? ` (last read error: ${(lastError as Error).message})` : '';
	throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value ${JSON.stringify(last)}${error} ${await context()}`);
}

/**
 * A scratch directory for the wrapper script and the bundle, named with this
 * process id so that directories of killed runs can be recognised and removed.
 */
export async function makeWorkDir(): Promise<{ dir: string; remove(): Promise<void> }> {
	for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
		const pid = Number(/^sft-browser-(\d+)-/.exec(name)?.[1]);
		if (pid > 0 && pid !== process.pid && !processAlive(pid))
			await rm(join(tmpdir(), name), { recursive: true, force: true }).catch(() => undefined);
	}
	const dir = await mkdtemp(join(tmpdir(), `sft-browser-${process.pid}-`));
	return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
