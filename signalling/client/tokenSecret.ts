import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StartupError } from '../startupError.ts';

export interface TokenSecret {
	secret: string;
	/** `config`: signalling.tokenSecret; `file`: read from tokenSecretFile; `generated`: just written there. */
	source: 'config' | 'file' | 'generated';
	/** Why the secret is unsafe, when it is. */
	weakness: string | undefined;
}

/** Example values that have been published (docs, old defaults): anyone can mint tokens with them. */
const PUBLISHED_SECRETS = new Set(['development-secret-change-me', 'change-me-to-a-long-random-secret']);
const MIN_STRONG_LENGTH = 32;

/**
 * The HMAC secret for access tokens: the configured one, else the one kept
 * in `tokenSecretFile`, which is created with a random secret (mode 0600) the
 * first time. The SFT and `npm run token` both come here, so they agree.
 */
export async function resolveTokenSecret(settings: { tokenSecret?: string | undefined; tokenSecretFile: string }): Promise<TokenSecret> {
	if (settings.tokenSecret !== undefined) {
		return { secret: settings.tokenSecret, source: 'config', weakness: weaknessOf(settings.tokenSecret) };
	}
	const file = settings.tokenSecretFile;
	const existing = await readSecret(file);
	if (existing !== undefined) return { secret: existing, source: 'file', weakness: weaknessOf(existing) };
	const secret = randomBytes(32).toString('base64url');
	try {
		await mkdir(dirname(file), { recursive: true, mode: 0o700 });
		// 'wx': if another process (npm run token) made it first, use theirs.
		await writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
			const written = await readSecret(file);
			if (written !== undefined) return { secret: written, source: 'file', weakness: weaknessOf(written) };
		}
		throw new StartupError(
			'signalling.tokenSecretFile',
			`cannot create ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
		);
	}
	return { secret, source: 'generated', weakness: undefined };
}

export function weaknessOf(secret: string): string | undefined {
	if (PUBLISHED_SECRETS.has(secret)) return 'it is a published example value';
	if (secret.length < MIN_STRONG_LENGTH) return `it is shorter than ${MIN_STRONG_LENGTH} characters`;
	if (new Set(secret).size < 10) return 'it uses fewer than 10 distinct characters';
	return undefined;
}

async function readSecret(file: string): Promise<string | undefined> {
	let text: string;
	try {
		text = await readFile(file, 'utf8');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
		throw new StartupError('signalling.tokenSecretFile', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
	}
	const secret = text.trim();
	if (secret.length < 16) throw new StartupError('signalling.tokenSecretFile', `${file} holds fewer than 16 characters`);
	return secret;
}
