import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import YAML from 'yaml';
import { z } from 'zod';
import { overridesFromEnv } from './configEnv.ts';
import { federationConfigSchema } from './federation/trust/federationConfig.ts';

const ip = z.union([z.ipv4(), z.ipv6()], { error: 'expected an IPv4 or IPv6 address' });
const port = z.number().int().min(0).max(65535);
const listen = (defaultPort: number) =>
	z
		.object({ ip: ip.default('0.0.0.0'), port: port.default(defaultPort) })
		.strict()
		.prefault({});
const milliseconds = (defaultMs: number) => z.number().int().min(1).max(3_600_000).default(defaultMs);
const count = (defaultCount: number) => z.number().int().min(1).max(1_000_000).default(defaultCount);

export const configSchema = z
	.object({
		signalling: z
			.object({
				listen: listen(8443),
				/** PEM files for the client HTTPS listener; without them a self-signed pair is generated at start. */
				certFile: z.string().min(1).optional(),
				keyFile: z.string().min(1).optional(),
				/** HMAC secret for access tokens; when absent, the secret in tokenSecretFile (made at first start) is used. */
				tokenSecret: z.string().min(16).optional(),
				/** Where the generated token secret lives; `npm run token` reads it from there too. */
				tokenSecretFile: z.string().min(1).default('.sft-state/token-secret'),
				requireToken: z.boolean().default(true),
				/** Tokens whose expiry lies further in the future than this are refused. */
				maxTokenLifetimeSeconds: z.number().int().min(60).max(31_536_000).default(86_400),
				/** Serve the calling web app (client/web) at `/` of the client port. */
				webApp: z.boolean().default(true),
				/**
				 * Who may get a development token from the web app's /api/dev-token:
				 * `auto` = this machine (loopback address) while the token secret is
				 * the generated one (not configured), else nobody; `loopback`; `off`;
				 * `anyone-unsafe` lets every machine that reaches the port join any conference.
				 */
				devTokens: z.enum(['auto', 'off', 'loopback', 'anyone-unsafe']).default('auto'),
				/** Browser origins (scheme://host[:port]) allowed besides the SFT's own; empty = same-origin only. */
				corsOrigins: z.array(z.string().min(1)).default([]),
				/** Raw-RTP transports: `token` = only with a token granting `plain`; `any` = every joined client; `off`. */
				plainTransports: z.enum(['token', 'any', 'off']).default('token'),
				/** Where a plain transport may send: `source` = the client's own signalling address only; `any`. */
				plainDestinations: z.enum(['source', 'any']).default('source'),
				http: z
					.object({
						/** TLS handshake must finish within this. */
						handshakeTimeoutMs: milliseconds(10_000),
						/** Request headers must arrive within this. */
						headersTimeoutMs: milliseconds(10_000),
						/** A whole HTTP request must arrive within this. */
						requestTimeoutMs: milliseconds(30_000),
						/** A kept-alive connection with no request in flight is closed after this. */
						idleTimeoutMs: milliseconds(5_000),
						/** Open connections at once (all clients). */
						maxConnections: count(10_000),
						/** Open connections at once from one IP address. */
						maxConnectionsPerAddress: count(100),
						/** Largest socket.io message; requests up to this get an error reply when over the request limit, larger ones close the connection. */
						maxMessageBytes: z.number().int().min(65_536).max(16_777_216).default(1_048_576),
					})
					.strict()
					.prefault({}),
			})
			.strict()
			.refine((s) => (s.certFile === undefined) === (s.keyFile === undefined), {
				message: 'certFile and keyFile must be given together',
				path: ['keyFile'],
			})
			.prefault({}),
		/** Per-client caps; a request over one is refused with its error code. */
		limits: z
			.object({
				maxTransportsPerClient: count(4),
				maxProducersPerClient: count(8),
				maxConsumersPerClient: count(300),
				/** Serialized JSON size of a producer's appData. */
				maxAppDataBytes: z.number().int().min(2).max(65_536).default(1024),
				/** Everyone in a conference, local and federated (`conference_full` beyond). */
				maxParticipantsPerConference: count(100),
				/** User id carried in an access token. */
				maxUserIdLength: z.number().int().min(1).max(1024).default(256),
			})
			.strict()
			.prefault({}),
		media: z
			.object({
				/** mediasoup workers; "auto" = one per core. */
				workers: z.union([z.literal('auto'), z.number().int().min(1).max(256)]).default('auto'),
				listenIp: ip.default('0.0.0.0'),
				/** Address clients are told to send media to (public IP or DNS name when behind NAT). */
				announcedAddress: z.string().min(1).optional(),
				/** Worker i takes UDP+TCP port rtcBasePort + i for all its WebRTC clients. */
				rtcBasePort: port.default(40000),
				/** Range for plain RTP transports. */
				rtcMinPort: port.default(40100),
				rtcMaxPort: port.default(40999),
				/** Range for federation pipe transports, apart so plain transports cannot exhaust it. */
				pipeMinPort: port.default(41000),
				pipeMaxPort: port.default(41999),
				maxVideos: z.number().int().min(1).max(9).default(9),
				maxAudible: z.number().int().min(1).max(16).default(5),
				initialOutgoingBitrate: z.number().int().min(100_000).default(1_000_000),
				audioLevelIntervalMs: z.number().int().min(100).max(5000).default(500),
				audioLevelThreshold: z.number().int().min(-127).max(0).default(-70),
				workerLogLevel: z.enum(['debug', 'warn', 'error', 'none']).default('warn'),
				/** malloc of the worker processes: jemalloc gives freed memory back after peaks; falls back to system (with a warning) when libjemalloc2 is missing. */
				workerAllocator: z.enum(['jemalloc', 'system']).default('jemalloc'),
				/** UDP receive / send buffer of every media and pipe socket, bytes; 0 = kernel default (capped by net.core.rmem_max / wmem_max). */
				udpRecvBufferBytes: z.number().int().min(0).max(268_435_456).default(4_194_304),
				udpSendBufferBytes: z.number().int().min(0).max(268_435_456).default(4_194_304),
			})
			.strict()
			.refine((m) => m.rtcMinPort <= m.rtcMaxPort, { message: 'rtcMinPort must not exceed rtcMaxPort', path: ['rtcMinPort'] })
			.refine((m) => m.pipeMinPort <= m.pipeMaxPort, { message: 'pipeMinPort must not exceed pipeMaxPort', path: ['pipeMinPort'] })
			.refine((m) => m.pipeMaxPort < m.rtcMinPort || m.pipeMinPort > m.rtcMaxPort, {
				message: 'the pipe range pipeMinPort–pipeMaxPort must not overlap the plain range rtcMinPort–rtcMaxPort',
				path: ['pipeMinPort'],
			})
			.prefault({}),
		metrics: z
			.object({ listen: listen(9090), statsIntervalMs: z.number().int().min(200).default(5000) })
			.strict()
			.prefault({}),
		shutdown: z
			.object({ drainSeconds: z.number().min(0).default(60) })
			.strict()
			.prefault({}),
		log: z
			.object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
			.strict()
			.prefault({}),
		federation: federationConfigSchema.prefault({ enabled: false }),
	})
	.strict();

export type SftConfig = z.output<typeof configSchema>;

export class ConfigError extends Error {
	override name = 'ConfigError';
}

/** Reads the config file (YAML or JSON; optional), applies env overrides, validates. */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): SftConfig {
	const raw = file ? readConfigFile(file) : {};
	const sources = new Map<string, string>();
	for (const [path, { variable, value }] of overridesFromEnv(configSchema, env, (message) => new ConfigError(message))) {
		setPath(raw, path, value);
		sources.set(path, variable);
	}
	return parseConfig(raw, file, sources);
}

export function parseConfig(raw: unknown, file?: string, sources = new Map<string, string>()): SftConfig {
	const result = configSchema.safeParse(raw);
	if (result.success) return result.data;
	const messages = result.error.issues.map((issue) => {
		const key = issue.path.join('.') || '(top level)';
		const variable = sourceOf(key, sources);
		const from = variable ? ` (from ${variable})` : file ? ` (in ${file})` : '';
		return `${key}: ${issue.message}${from}`;
	});
	throw new ConfigError(`invalid configuration: ${messages.join('; ')}`);
}

/** The variable that set `key` or a key above or below it (an override of `a.b` explains an issue at `a.b.c`). */
function sourceOf(key: string, sources: Map<string, string>): string | undefined {
	for (const [path, variable] of sources) if (key === path || key.startsWith(`${path}.`) || path.startsWith(`${key}.`)) return variable;
	return undefined;
}

export function resolveWorkerCount(workers: SftConfig['media']['workers']): number {
	return workers === 'auto' ? availableParallelism() : workers;
}

function readConfigFile(file: string): Record<string, unknown> {
	let text: string;
	try {
		text = readFileSync(file, 'utf8');
	} catch (error) {
		throw new ConfigError(`cannot read config file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
	}
	let parsed: unknown;
	try {
		parsed = YAML.parse(text);
	} catch (error) {
		throw new ConfigError(`config file ${file} is not valid YAML/JSON: ${(error as Error).message.split('\n')[0]}`);
	}
	if (parsed === null || parsed === undefined) return {};
	if (typeof parsed !== 'object' || Array.isArray(parsed))
		throw new ConfigError(`config file ${file} must hold a mapping at the top level`);
	return parsed as Record<string, unknown>;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
	const keys = path.split('.');
	let node = target;
	for (const key of keys.slice(0, -1)) {
		const next = node[key];
		if (typeof next !== 'object' || next === null) node[key] = {};
		node = node[key] as Record<string, unknown>;
	}
	node[keys[keys.length - 1] as string] = value;
}
