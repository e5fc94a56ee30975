// Everything a real-browser test needs on one machine: a network namespace
// for Chromium with a veth pair to the host, an in-process SftServer bound
// to the host end, the page server with the bundled in-page client, and
// Chromium itself. One per test file; always close() it.
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { type AccessRight, mintAccessToken } from '../../signalling/client/accessToken.ts';
import { parseConfig } from '../../signalling/config.ts';
import { SftServer } from '../../signalling/SftServer.ts';
import {
	BrowserCaller,
	type BrowserHandle,
	bundleClient,
	createTestNetwork,
	launchChromiumIn,
	makeWorkDir,
	type PageServer,
	removeStaleNetworks,
	startPageServer,
	type TestNetwork,
} from './browserCaller.ts';

export interface BrowserTestBedOptions {
	/** Extra `media` config for the SFT (e.g. audioLevelIntervalMs). */
	media?: Record<string, unknown>;
}

export class BrowserTestBed {
	readonly secret: string;
	readonly network: TestNetwork;
	readonly server: SftServer;
	/** Warnings and errors the SFT logged, newest last. */
	readonly serverLog: string[];
	readonly #pageServer: PageServer;
	readonly #chromium: BrowserHandle;
	readonly #work: Awaited<ReturnType<typeof makeWorkDir>>;
	readonly #callers: BrowserCaller[] = [];

	private constructor(parts: {
		secret: string;
		network: TestNetwork;
		server: SftServer;
		serverLog: string[];
		pageServer: PageServer;
		chromium: BrowserHandle;
		work: Awaited<ReturnType<typeof makeWorkDir>>;
	}) {
		this.secret = parts.secret;
		this.network = parts.network;
		this.server = parts.server;
		this.serverLog = parts.serverLog;
		this.#pageServer = parts.pageServer;
		this.#chromium = parts.chromium;
		this.#work = parts.work;
	}

	static async start(options: BrowserTestBedOptions = {}): Promise<BrowserTestBed> {
		const removed = await removeStaleNetworks();
		if (removed.length) console.log(`# removed stale test networks: ${removed.join(', ')}`);
		const work = await makeWorkDir();
		const cleanup: (() => Promise<unknown>)[] = [() => work.remove()];
		const undo = async () => {
			for (const step of cleanup.reverse()) await step().catch(() => undefined);
		};
		try {
			const network = await createTestNetwork();
			cleanup.push(() => network.close());
			const serverLog: string[] = [];
			const logger = pino({ level: 'warn' }, { write: (line: string) => void serverLog.push(line.trim()) });
			const secret = `browser-${randomUUID()}`;
			// The page comes from its own server: the SFT must allow that origin.
			const pageServer = await startPageServer(network.hostIp, await bundleClient(work.dir));
			cleanup.push(() => pageServer.close());
			const server = await SftServer.start(
				parseConfig({
					signalling: { listen: { ip: network.hostIp, port: 0 }, tokenSecret: secret, corsOrigins: [new URL(pageServer.url).origin] },
					media: {
						workers: 1,
						listenIp: network.hostIp,
						announcedAddress: network.hostIp,
						// Port 0: the worker binds a free port from the range below (only this test uses the veth address).
						rtcBasePort: 0,
						rtcMinPort: 42000,
						rtcMaxPort: 48999,
						...options.media,
					},
					metrics: { listen: { ip: '127.0.0.1', port: 0 } },
					log: { level: 'warn' },
				}),
				logger,
			);
			cleanup.push(() => server.close());
			const chromium = await launchChromiumIn(network, work.dir);
			return new BrowserTestBed({ secret, network, server, serverLog, pageServer, chromium, work });
		} catch (error) {
			await undo();
			throw error;
		}
	}

	get sftUrl(): string {
		return `https://${this.network.hostIp}:${this.server.clients.port}`;
	}

	token(user: string, conference: string, right: AccessRight): string {
		return mintAccessToken({ user, conference, right, exp: Math.floor(Date.now() / 1000) + 600 }, this.secret);
	}

	/** A new page (its own browser context) running the in-page client. */
	async openCaller(name: string): Promise<BrowserCaller> {
		const caller = await BrowserCaller.open(this.#chromium.browser, this.#pageServer.url, name);
		this.#callers.push(caller);
		return caller;
	}

	serverLogTail(): string {
		return this.serverLog.length ? `SFT log: ${this.serverLog.slice(-10).join(' | ')}` : '';
	}

	async close(): Promise<void> {
		for (const caller of this.#callers) await caller.close();
		await this.#chromium.close();
		await this.server.close();
		await this.#pageServer.close();
		await this.network.close();
		await this.#work.remove();
	}
}
