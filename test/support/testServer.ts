import pino, { type Logger } from 'pino';
import { type AccessRight, mintAccessToken } from '../../signalling/client/accessToken.ts';
import { parseConfig } from '../../signalling/config.ts';
import { SftServer, type SftServerHooks } from '../../signalling/SftServer.ts';

/** Config sections a test may set on top of the loopback defaults (e.g. `limits`, `signalling.http`). */
export interface TestServerOverrides {
	signalling?: Record<string, unknown>;
	limits?: Record<string, unknown>;
	statsIntervalMs?: number;
	hooks?: SftServerHooks;
	logger?: Logger;
}

/** An in-process single-domain SFT on loopback with random ports, for one test file. */
export class TestServer {
	readonly secret: string;
	#server: SftServer | undefined;
	#setupError: unknown;

	constructor(secret: string) {
		this.secret = secret;
	}

	/** Starts the server; a failure is kept and rethrown by `ready()` (uvu swallows errors thrown in hooks). */
	async start(overrides: TestServerOverrides = {}): Promise<void> {
		try {
			this.#server = await startWithFreePorts({ tokenSecret: this.secret, ...overrides.signalling }, overrides);
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

	token(
		user: string,
		conference: string,
		right: AccessRight = 'start',
		options: { secret?: string; expiresIn?: number; plain?: boolean } = {},
	): string {
		return mintAccessToken(
			{ user, conference, right, exp: Math.floor(Date.now() / 1000) + (options.expiresIn ?? 600), plain: options.plain ?? false },
			options.secret ?? this.secret,
		);
	}

	async close(): Promise<void> {
		await this.#server?.close();
	}
}

/** A single-domain SftServer on loopback; `signalling` is merged over the loopback listener. */
export async function startWithFreePorts(signalling: Record<string, unknown>, overrides: TestServerOverrides = {}): Promise<SftServer> {
	let lastError: unknown;
	for (let attempt = 0; attempt < 3; attempt++) {
		const rtcBasePort = 41_000 + Math.floor(Math.random() * 4000);
		const rtcMinPort = 45_100 + Math.floor(Math.random() * 40) * 100;
		const config = parseConfig({
			// No web app unless a test asks for it (signalling.webApp): the port answers only what the test plugs in.
			signalling: { listen: { ip: '127.0.0.1', port: 0 }, webApp: false, ...signalling },
			limits: overrides.limits ?? {},
			metrics: {
				listen: { ip: '127.0.0.1', port: 0 },
				...(overrides.statsIntervalMs ? { statsIntervalMs: overrides.statsIntervalMs } : {}),
			},
			media: {
				workers: 1,
				listenIp: '127.0.0.1',
				rtcBasePort,
				rtcMinPort,
				rtcMaxPort: rtcMinPort + 49,
				pipeMinPort: rtcMinPort + 50,
				pipeMaxPort: rtcMinPort + 99,
			},
			log: { level: 'silent' },
		});
		try {
			return await SftServer.start(config, overrides.logger ?? pino({ level: 'silent' }), overrides.hooks);
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
