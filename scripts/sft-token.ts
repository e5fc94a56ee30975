#!/usr/bin/env -S npx tsx
import { Command, InvalidArgumentError } from 'commander';
import { type AccessRight, mintAccessToken } from '../signalling/client/accessToken.ts';
import { resolveTokenSecret } from '../signalling/client/tokenSecret.ts';
import { ConfigError, loadConfig } from '../signalling/config.ts';
import { StartupError } from '../signalling/startupError.ts';

// Mints a client access token: `npm run token -- --user alice --conference standup --right start`.
const program = new Command()
	.name('sft-token')
	.description('Mint an HMAC-SHA256 access token for a calling client')
	.requiredOption('-u, --user <id>', 'user id the token is for')
	.requiredOption('-C, --conference <id>', 'conference id the token is for')
	.option('-r, --right <right>', '"start" (may create the conference) or "join"', parseRight, 'join' as AccessRight)
	.option('-p, --plain', 'also grant plain (raw RTP) transports, for ingest tools and load clients', false)
	.option('-t, --ttl <seconds>', 'lifetime in seconds (at most signalling.maxTokenLifetimeSeconds)', parsePositive, 3600)
	.option('-s, --secret <secret>', 'HMAC secret (default: signalling.tokenSecret of the config, else its tokenSecretFile)')
	.option('-c, --config <file>', 'SFT config file to read the secret from', process.env['SFT_CONFIG'])
	.parse();

const opts = program.opts<{
	user: string;
	conference: string;
	right: AccessRight;
	plain: boolean;
	ttl: number;
	secret?: string;
	config?: string;
}>();
try {
	const { signalling } = loadConfig(opts.config);
	if (opts.ttl > signalling.maxTokenLifetimeSeconds) {
		throw new ConfigError(
			`--ttl ${opts.ttl} exceeds signalling.maxTokenLifetimeSeconds (${signalling.maxTokenLifetimeSeconds}); the SFT would refuse it`,
		);
	}
	const secret = opts.secret ?? (await resolveTokenSecret(signalling)).secret;
	const exp = Math.floor(Date.now() / 1000) + opts.ttl;
	console.log(mintAccessToken({ user: opts.user, conference: opts.conference, right: opts.right, exp, plain: opts.plain }, secret));
} catch (error) {
	if (!(error instanceof ConfigError || error instanceof StartupError)) throw error;
	console.error(`sft-token: ${error.message}`);
	process.exit(2);
}

function parseRight(value: string): AccessRight {
	if (value !== 'start' && value !== 'join') throw new InvalidArgumentError('must be "start" or "join"');
	return value;
}

function parsePositive(value: string): number {
	const n = Number(value);
	if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive whole number');
	return n;
}
