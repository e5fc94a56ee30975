import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import YAML from 'yaml';
import { z } from 'zod';
import { federationConfigSchema } from './federation/trust/federationConfig.ts';

const port = z.number().int().min(0).max(65535);

/** The token secret used when none is configured (development only). */
export const DEFAULT_TOKEN_SECRET = 'development-secret-change-me';
const listen = (defaultPort: number) =>
	z
		.object({ ip: z.string().min(1).default('0.0.0.0'), port: port.default(defaultPort) })
		.strict()
		.prefault({});

export const configSchema = z
	.object({
		signalling: z
			.object({
				listen: listen(8443),
				/** PEM files for the client HTTPS listener; without them a self-signed pair is generated at start. */
				certFile: z.string().min(1).optional(),
				keyFile: z.string().min(1).optional(),
				/** HMAC secret for access tokens; the embedded default is for development only. */
				tokenSecret: z.string().min(16).default(DEFAULT_TOKEN_SECRET),
				requireToken: z.boolean().default(true),
				/**
				 * Who may get a development token from the web app's /api/dev-token:
				 * `auto` = this machine (loopback) while the token secret is the
				 * embedded default, else nobody; `loopback`; `off`; `anyone-unsafe`
				 * lets every machine that reaches the listener join any conference.
				 */
				devTokens: z.enum(['auto', 'off', 'loopback', 'anyone-unsafe']).default('auto'),
			})
			.strict()
			.prefault({}),
		media: z
			.object({
				/** mediasoup workers; "auto" = one per core. */
				workers: z.union([z.literal('auto'), z.number().int().min(1).max(256)]).default('auto'),
				listenIp: z.string().min(1).default('0.0.0.0'),
				/** Address clients are told to send media to (public IP or DNS name when behind NAT). */
				announcedAddress: z.string().min(1).optional(),
				/** Worker i takes UDP+TCP port rtcBasePort + i for all its WebRTC clients. */
				rtcBasePort: port.default(40000),
				/** Range for plain RTP and federation pipe transports. */
				rtcMinPort: port.default(40100),
				rtcMaxPort: port.default(40999),
				maxVideos: z.number().int().min(1).max(9).default(9),
				maxAudible: z.number().int().min(1).max(16).default(5),
				initialOutgoingBitrate: z.number().int().min(100_000).default(1_000_000),
				audioLevelIntervalMs: z.number().int().min(100).max(5000).default(500),
				audioLevelThreshold: z.number().int().min(-127).max(0).default(-70),
				workerLogLevel: z.enum(['debug', 'warn', 'error', 'none']).default('warn'),
			})
			.strict()
			.refine((m) => m.rtcMinPort <= m.rtcMaxPort, { message: 'rtcMinPort must not exceed rtcMaxPort', path: ['rtcMinPort'] })
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

/**
 * Environment overrides: SFT_<SECTION>_<KEY> in upper snake case, e.g.
 * SFT_MEDIA_ANNOUNCED_ADDRESS=203.0.113.7 or SFT_SIGNALLING_LISTEN_PORT=443.
 * Values are parsed as JSON when they parse (numbers, booleans, arrays), else taken as strings.
 */
export const envOverridePaths: readonly string[] = [
	'signalling.listen.ip',
	'signalling.listen.port',
	'signalling.certFile',
	'signalling.keyFile',
	'signalling.tokenSecret',
	'signalling.requireToken',
	'signalling.devTokens',
	'media.workers',
	'media.listenIp',
	'media.announcedAddress',
	'media.rtcBasePort',
	'media.rtcMinPort',
	'media.rtcMaxPort',
	'media.maxVideos',
	'media.maxAudible',
	'media.workerLogLevel',
	'metrics.listen.ip',
	'metrics.listen.port',
	'metrics.statsIntervalMs',
	'shutdown.drainSeconds',
	'log.level',
	'federation.enabled',
	'federation.domain',
	'federation.listen.ip',
	'federation.listen.port',
	'federation.certFile',
	'federation.keyFile',
	'federation.trustBundleFile',
	'federation.announcedHost',
	'federation.allowList',
	'federation.allowAnyTrustedDomain',
	'federation.dnsServers',
];

export function envName(path: string): string {
	return `SFT_${path
		.replace(/\./g, '_')
		.replace(/([a-z0-9])([A-Z])/g, '$1_$2')
		.toUpperCase()}`;
}

/** Reads the config file (YAML or JSON; optional), applies env overrides, validates. */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): SftConfig {
	const raw = file ? readConfigFile(file) : {};
	const sources = new Map<string, string>();
	for (const path of envOverridePaths) {
		const value = env[envName(path)];
		if (value === undefined) continue;
		setPath(raw, path, parseEnvValue(value));
		sources.set(path, envName(path));
	}
	return parseConfig(raw, file, sources);
}

export function parseConfig(raw: unknown, file?: string, sources = new Map<string, string>()): SftConfig {
	const result = configSchema.safeParse(raw);
	if (result.success) return result.data;
	const messages = result.error.issues.map((issue) => {
		const key = issue.path.join('.') || '(top level)';
		const from = sources.get(key) ? ` (from ${sources.get(key)})` : file ? ` (in ${file})` : '';
		return `${key}: ${issue.message}${from}`;
	});
	throw new ConfigError(`invalid configuration: ${messages.join('; ')}`);
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

function parseEnvValue(value: string): unknown {
	try {
		return JSON.parse(value);
	} catch {
		return value;
	}
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
