import pino from 'pino';
import { type AccessRight, mintAccessToken } from '../../signalling/client/accessToken.ts';
import { parseConfig } from '../../signalling/config.ts';
import { SftServer } from '../../signalling/SftServer.ts';

export interface TestServerOptions {
	/** More client-listener settings (listen address, devTokens…). */
	signalling?: Record<string, unknown>;
	/** Collects the server's log lines (info and up) here. */
	log?: string[];
}

/** An in-process single-domain SFT on loopback with random ports, for one test file. */
export class TestServer {
	readonly secret: string;
	readonly #options: TestServerOptions;
	#server: SftServer | undefined;
	#setupError: unknown;

	constructor(secret: string, options: TestServerOptions = {}) {
		this.secret = secret;
		this.#options = options;
	}

	/** Starts the server; a failure is kept and rethrown by `ready()` (uvu swallows errors thrown in hooks). */
	async start(metrics: { statsIntervalMs?: number } = {}): Promise<void> {
		try {
			this.#server = await startWithFreePorts(this.secret, metrics.statsIntervalMs, this.#options);
		} catch (error) {
			this.#setupError = error;
		}
	}

	ready(): SftServer {
		if (!this.#server) throw this.#setupError ?? new Error('server not started');
		return this.#server;
	}

	get url(): string {
		return `https://127.0.0.1:${this.ready().clients.port}`;
	}

	token(user: string, conference: string, right: AccessRight = 'start', options: { secret?: string; expiresIn?: number } = {}): string {
		return mintAccessToken(
			{ user, conference, right, exp: Math.floor(Date.now() / 1000) + (options.expiresIn ?? 600) },
			options.secret ?? this.secret,
		);
	}

	async close(): Promise<void> {
		await this.#server?.close();
	}
}

async function startWithFreePorts(secret: string, statsIntervalMs: number | undefined, options: TestServerOptions): Promise<SftServer> {
	const { log } = options;
	const logger = log ? pino({ level: 'info' }, { write: (line: string) => void log.push(line) }) : pino({ level: 'silent' });
	let lastError: unknown;
	for (let attempt = 0; attempt < 3; attempt++) {
		const rtcBasePort = 41_000 + Math.floor(Math.random() * 4000);
		const rtcMinPort = 45_100 + Math.floor(Math.random() * 40) * 100;
		const config = parseConfig({
			signalling: { listen: { ip: '127.0.0.1', port: 0 }, tokenSecret: secret, ...options.signalling },
			metrics: { listen: { ip: '127.0.0.1', port: 0 }, ...(statsIntervalMs ? { statsIntervalMs } : {}) },
			media: { workers: 1, listenIp: '127.0.0.1', rtcBasePort, rtcMinPort, rtcMaxPort: rtcMinPort + 99 },
			log: { level: 'silent' },
		});
		try {
			return await SftServer.start(config, logger);
		} catch (error) {
			lastError = error; // most likely the random WebRTC port is taken: try another
		}
	}
	throw lastError;
}

/** Ends a test file that hangs, so one stuck file cannot stall the whole run. */
export function watchdog(file: string, seconds: number): void {
	setTimeout(() => {
		console.error(`${file}: still running after ${seconds} s; giving up`);
		process.exit(1);
	}, seconds * 1000).unref();
}
