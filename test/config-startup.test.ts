// Configuration and start-up: the federation section is strict, every key
// can be overridden from the environment (the list comes from the schema),
// an unknown SFT_* variable is an error, and start-up failures of a real
// process end in one sentence naming the key, with exit code 2.
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import YAML from 'yaml';
import { ConfigError, configSchema, loadConfig, parseConfig } from '../signalling/config.ts';
import { envName, leafPaths } from '../signalling/configEnv.ts';
import { runSftMainToExit } from './support/sftProcess.ts';

const dir = mkdtempSync(join(tmpdir(), 'sft-config-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function configError(run: () => unknown): string {
	try {
		run();
	} catch (error) {
		if (error instanceof ConfigError) return error.message;
		throw error;
	}
	throw new Error('expected a ConfigError');
}

const federation = { enabled: true, domain: 'a.example', certFile: 'c', keyFile: 'k', trustBundleFile: 'b' };

test('the federation section refuses unknown keys (typos no longer start an SFT with an empty allow list)', () => {
	assert.match(
		configError(() => parseConfig({ federation: { ...federation, allow_list: ['b.example'] } })),
		/federation.*allow_list/,
	);
	assert.match(
		configError(() => parseConfig({ federation: { ...federation, allowAnyTrustedDomian: true } })),
		/allowAnyTrustedDomian/,
	);
	assert.match(
		configError(() => parseConfig({ federation: { ...federation, listen: { bogus: 1 } } })),
		/federation\.listen.*bogus/,
	);
	assert.match(
		configError(() => parseConfig({ federation: { enabled: false, alowList: [] } })),
		/alowList/,
	);
	assert.match(
		configError(() => parseConfig({ federation: { ...federation, peers: { 'b.example': { host: 'h', prot: 1 } } } })),
		/prot/,
	);
	const pinned = parseConfig({
		federation: { ...federation, allowList: ['c.example', { domain: 'B.Example', issuers: [`${'ab:'.repeat(31)}ab`] }] },
	});
	assert.ok(pinned.federation.enabled);
	if (pinned.federation.enabled) assert.equal(pinned.federation.allowList[1], { domain: 'b.example', issuers: ['AB'.repeat(32)] });
});

test('every config key is overridable from the environment, derived from the schema', () => {
	const env = {
		SFT_MEDIA_INITIAL_OUTGOING_BITRATE: '2000000',
		SFT_MEDIA_AUDIO_LEVEL_THRESHOLD: '-50',
		SFT_MEDIA_AUDIO_LEVEL_INTERVAL_MS: '250',
		SFT_LIMITS_MAX_TRANSPORTS_PER_CLIENT: '6',
		SFT_SIGNALLING_HTTP_MAX_CONNECTIONS: '77',
		SFT_FEDERATION_ENABLED: 'false',
	};
	const config = loadConfig(undefined, env);
	assert.is(config.media.initialOutgoingBitrate, 2_000_000);
	assert.is(config.media.audioLevelThreshold, -50);
	assert.is(config.media.audioLevelIntervalMs, 250);
	assert.is(config.limits.maxTransportsPerClient, 6);
	assert.is(config.signalling.http.maxConnections, 77);
	// Every key of the complete example file has a variable.
	const paths = new Set(leafPaths(configSchema));
	const example = YAML.parse(readFileSync(new URL('../docker/sft.example.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
	const leaves = (node: unknown, prefix: string[]): string[] =>
		node && typeof node === 'object' && !Array.isArray(node) && !prefix.includes('peers')
			? Object.entries(node).flatMap(([key, child]) => leaves(child, [...prefix, key]))
			: [prefix.join('.')];
	for (const path of leaves(example, [])) assert.ok(paths.has(path), `${path} (${envName(path)}) is overridable`);
	assert.match(
		configError(() => loadConfig(undefined, { SFT_SIGNALING_LISTEN_PORT: '443' })),
		/SFT_SIGNALING_LISTEN_PORT/,
	);
	assert.match(
		configError(() => loadConfig(undefined, { SFT_MEDIA_RTC_BASE_PORT: 'x' })),
		/media\.rtcBasePort.*SFT_MEDIA_RTC_BASE_PORT/,
	);
	assert.match(
		configError(() => loadConfig(undefined, { SFT_SIGNALLING_CERT_FILE: '/x.pem' })),
		/signalling\.keyFile.*together/,
	);
});

/** Runs the SFT entry point and checks for one sentence on stderr, naming `key`, and exit code 2. */
async function startFails(env: Record<string, string>, key: string, problem: RegExp): Promise<void> {
	const base = {
		SFT_SIGNALLING_TOKEN_SECRET: 'config-startup-test-secret-0123456789',
		SFT_SIGNALLING_LISTEN_IP: '127.0.0.1',
		SFT_SIGNALLING_LISTEN_PORT: '0',
		SFT_METRICS_LISTEN_IP: '127.0.0.1',
		SFT_METRICS_LISTEN_PORT: '0',
		SFT_MEDIA_LISTEN_IP: '127.0.0.1',
		SFT_MEDIA_WORKERS: '1',
		SFT_MEDIA_RTC_BASE_PORT: String(43_000 + Math.floor(Math.random() * 900)),
		SFT_LOG_LEVEL: 'silent',
	};
	const result = await runSftMainToExit({ ...base, ...env });
	const lines = result.stderr.split('\n').filter((line) => line.trim() !== '');
	assert.is(result.code, 2, `exit code for ${key}: ${result.stderr}`);
	assert.is(lines.length, 1, `one line, no stack trace: ${result.stderr}`);
	assert.ok(lines[0]?.includes(key), `${lines[0]} names ${key}`);
	assert.match(lines[0] ?? '', problem);
}

test('start-up failures of a real process: one sentence naming the key, exit code 2', async () => {
	const garbage = join(dir, 'garbage.pem');
	writeFileSync(garbage, 'this is not a certificate\n');
	await startFails(
		{ SFT_SIGNALLING_CERT_FILE: join(dir, 'missing.pem'), SFT_SIGNALLING_KEY_FILE: garbage },
		'signalling.certFile',
		/file not found/,
	);
	await startFails({ SFT_SIGNALLING_CERT_FILE: garbage, SFT_SIGNALLING_KEY_FILE: garbage }, 'signalling.certFile', /no PEM certificate/);
	await startFails({ SFT_SIGNALLING_CERT_FILE: garbage }, 'signalling.keyFile', /together/);
	const taken = createSocket('udp4');
	await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', () => resolve()));
	await startFails({ SFT_MEDIA_RTC_BASE_PORT: String(taken.address().port) }, 'media.rtcBasePort', /already in use/);
	taken.close();
	await startFails({ SFT_MEDIA_LISTEN_IP: '192.0.2.55' }, 'media.listenIp', /not one of this host/);
	await startFails({ SFT_SIGNALLING_LISTEN_IP: '192.0.2.55' }, 'signalling.listen', /not one of this host/);
	await startFails({ SFT_SIGNALLING_LISTEN_IP: 'not-an-ip' }, 'signalling.listen.ip', /IPv4 or IPv6/);
	await startFails(
		{
			SFT_FEDERATION_ENABLED: 'true',
			SFT_FEDERATION_DOMAIN: 'a.example',
			SFT_FEDERATION_CERT_FILE: garbage,
			SFT_FEDERATION_KEY_FILE: garbage,
			SFT_FEDERATION_TRUST_BUNDLE_FILE: garbage,
		},
		'federation.',
		/no PEM certificate|file not found/,
	);
});

test.run();
