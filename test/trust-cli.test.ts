// The sft-certs CLI, end to end as a child process, checked with openssl.
import { execFile } from 'node:child_process';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cleanup, exitSoon, startTestFederation, temporaryDirectory } from './support/trust-harness.ts';
import { buildTrustMatrix, openssl, type TrustMatrix } from './support/trust-openssl.ts';

const execFileAsync = promisify(execFile);
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const cleanup = new Cleanup();
let dir: string;
let matrix: TrustMatrix;

interface CliRun {
	code: number;
	stdout: string;
	stderr: string;
}

async function cli(...args: string[]): Promise<CliRun> {
	try {
		const { stdout, stderr } = await execFileAsync(process.execPath, ['--import', 'tsx', 'certs/cli.ts', ...args], { cwd: repoRoot });
		return { code: 0, stdout, stderr };
	} catch (error) {
		const failed = error as { code: number; stdout: string; stderr: string };
		return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
	}
}

function assertCleanError(run: CliRun, pattern: RegExp): void {
	assert.is(run.code, 2, `exit code for: ${run.stderr}`);
	assert.match(run.stderr, pattern);
	assert.not.match(run.stderr, /\n\s+at /, 'no stack trace');
}

async function mode(path: string): Promise<number> {
	return (await stat(path)).mode & 0o777;
}

test.before(async () => {
	dir = await temporaryDirectory(cleanup, 'trust-cli-');
	matrix = await buildTrustMatrix(join(dir, 'openssl'));
});
test.after(async () => {
	await cleanup.run();
	exitSoon();
});

test('ca create writes a P-256 CA certificate and a 0600 PKCS#8 key', async () => {
	const run = await cli('ca', 'create', '--out', join(dir, 'ca1'), '--name', 'Org One Federation CA', '--days', '730');
	assert.is(run.code, 0, run.stderr);
	assert.is(await mode(join(dir, 'ca1', 'ca.key')), 0o600);
	assert.match(await readFile(join(dir, 'ca1', 'ca.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
	const text = await openssl(['x509', '-in', join(dir, 'ca1', 'ca.pem'), '-noout', '-text']);
	assert.match(text, /Subject: CN ?= ?Org One Federation CA/);
	assert.match(text, /Basic Constraints: critical\s+CA:TRUE/);
	assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
	assert.match(text, /ASN1 OID: prime256v1/);
	const days = Math.round(
		(new Date((await openssl(['x509', '-in', join(dir, 'ca1', 'ca.pem'), '-noout', '-enddate'])).split('=')[1]!).getTime() - Date.now()) /
			86_400_000,
	);
	assert.is(days, 730);
});

test('existing files are never overwritten without --force', async () => {
	const before = await readFile(join(dir, 'ca1', 'ca.key'), 'utf8');
	assertCleanError(await cli('ca', 'create', '--out', join(dir, 'ca1')), /refusing to overwrite .*ca\.pem.*--force/);
	assert.is(await readFile(join(dir, 'ca1', 'ca.key'), 'utf8'), before);
	// --force replaces, and the key ends up 0600 even if the old file was not.
	await chmod(join(dir, 'ca1', 'ca.key'), 0o644);
	const forced = await cli('ca', 'create', '--out', join(dir, 'ca1'), '--name', 'Org One Federation CA', '--force');
	assert.is(forced.code, 0, forced.stderr);
	assert.is.not(await readFile(join(dir, 'ca1', 'ca.key'), 'utf8'), before);
	assert.is(await mode(join(dir, 'ca1', 'ca.key')), 0o600);
});

test('issue creates an SFT certificate OpenSSL accepts for both TLS roles', async () => {
	const run = await cli(
		'issue',
		'--ca-cert',
		join(dir, 'ca1', 'ca.pem'),
		'--ca-key',
		join(dir, 'ca1', 'ca.key'),
		'--domain',
		'one.test',
		'--host',
		'sft1.one.test',
		'--host',
		'192.0.2.10',
		'--out',
		join(dir, 'one'),
	);
	assert.is(run.code, 0, run.stderr);
	const cert = join(dir, 'one', 'cert.pem');
	const key = join(dir, 'one', 'key.pem');
	assert.is(await mode(key), 0o600);
	for (const purpose of ['sslserver', 'sslclient']) {
		assert.match(await openssl(['verify', '-CAfile', join(dir, 'ca1', 'ca.pem'), '-purpose', purpose, cert]), /: OK/);
	}
	const text = await openssl(['x509', '-in', cert, '-noout', '-text']);
	assert.match(text, /DNS:one\.test, DNS:sft1\.one\.test, IP Address:192\.0\.2\.10/);
	assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
	assert.match(text, /Key Usage: critical\s+Digital Signature/);
	const days = Math.round(
		(new Date((await openssl(['x509', '-in', cert, '-noout', '-enddate'])).split('=')[1]!).getTime() - Date.now()) / 86_400_000,
	);
	assert.is(days, 365, 'default lifetime');
	// The key is usable by Node's TLS as written.
	createSecureContext({ cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8') });

	const short = await cli(
		'issue',
		'--ca-cert',
		join(dir, 'ca1', 'ca.pem'),
		'--ca-key',
		join(dir, 'ca1', 'ca.key'),
		'--domain',
		'one.test',
		'--days',
		'30',
		'--out',
		join(dir, 'one-short'),
	);
	assert.is(short.code, 0, short.stderr);
	const shortEnd = new Date((await openssl(['x509', '-in', join(dir, 'one-short', 'cert.pem'), '-noout', '-enddate'])).split('=')[1]!);
	assert.is(Math.round((shortEnd.getTime() - Date.now()) / 86_400_000), 30);
});

test('issue also signs with an OpenSSL-made CA key', async () => {
	const run = await cli(
		'issue',
		'--ca-cert',
		matrix.caA.certFile,
		'--ca-key',
		matrix.caA.keyFile,
		'--domain',
		'a.test',
		'--out',
		join(dir, 'a-by-cli'),
	);
	assert.is(run.code, 0, run.stderr);
	assert.match(await openssl(['verify', '-CAfile', matrix.caA.certFile, join(dir, 'a-by-cli', 'cert.pem')]), /: OK/);
});

test('inspect shows subject, SANs, issuer, validity, SHA-256 fingerprint and days left', async () => {
	const cert = join(dir, 'one', 'cert.pem');
	const run = await cli('inspect', cert);
	assert.is(run.code, 0, run.stderr);
	const fingerprint = (await openssl(['x509', '-in', cert, '-noout', '-fingerprint', '-sha256'])).trim().split('=')[1]!;
	assert.match(run.stdout, /subject:\s+CN=one\.test/);
	assert.match(run.stdout, /issuer:\s+CN=Org One Federation CA/);
	assert.match(run.stdout, /SANs:\s+DNS:one\.test, DNS:sft1\.one\.test, IP:192\.0\.2\.10/);
	assert.match(run.stdout, /not before:\s+\d{4}-/);
	assert.match(run.stdout, /not after:\s+\d{4}-/);
	assert.match(run.stdout, /days left:\s+36[45]/);
	assert.ok(run.stdout.includes(fingerprint), `fingerprint ${fingerprint}`);
	const json = JSON.parse((await cli('inspect', '--json', matrix.bundleFile)).stdout) as { subject: string }[];
	assert.equal(
		json.map((entry) => entry.subject),
		['CN=Partner A Federation CA', 'CN=Partner B Federation CA'],
	);
});

test('verify prints valid or the exact reason, with a failing exit code', async () => {
	const ca = join(dir, 'ca1', 'ca.pem');
	const cert = join(dir, 'one', 'cert.pem');
	const good = await cli('verify', cert, '--ca', ca, '--domain', 'one.test');
	assert.equal([good.code, good.stdout], [0, 'valid\n']);
	assert.equal([(await cli('verify', cert, '--ca', ca)).stdout], ['valid\n']);

	const cases: [string[], string][] = [
		[[cert, '--ca', ca, '--domain', 'two.test'], 'san_mismatch'],
		[[cert, '--ca', matrix.bundleFile], 'untrusted_ca'],
		[[matrix.leaves.aExpired.certFile, '--ca', matrix.bundleFile], 'expired'],
		[[matrix.leaves.aNotYetValid.certFile, '--ca', matrix.bundleFile], 'not_yet_valid'],
		[[matrix.leaves.aClientAuthOnly.certFile, '--ca', matrix.bundleFile, '--role', 'server'], 'wrong_eku'],
		[[matrix.leaves.aClientAuthOnly.certFile, '--ca', matrix.bundleFile], 'wrong_eku'],
	];
	for (const [args, reason] of cases) {
		const run = await cli('verify', ...args);
		assert.is(run.code, 1, `${reason}: ${run.stdout}${run.stderr}`);
		assert.ok(run.stdout.startsWith(`${reason}: `), `${reason}: got ${run.stdout}`);
	}
	const clientOnly = await cli(
		'verify',
		matrix.leaves.aClientAuthOnly.certFile,
		'--ca',
		matrix.bundleFile,
		'--role',
		'client',
		'--domain',
		'a.test',
	);
	assert.equal([clientOnly.code, clientOnly.stdout], [0, 'valid\n']);
});

test('bad input gives one clear error line and exit code 2', async () => {
	const ca = join(dir, 'ca1', 'ca.pem');
	const caKey = join(dir, 'ca1', 'ca.key');
	await writeFile(join(dir, 'garbage.pem'), 'hello\n');
	assertCleanError(await cli('inspect', join(dir, 'missing.pem')), /file not found/);
	assertCleanError(await cli('inspect', join(dir, 'garbage.pem')), /no PEM certificate found/);
	assertCleanError(
		await cli('issue', '--ca-cert', ca, '--ca-key', caKey, '--domain', 'not a domain', '--out', join(dir, 'x')),
		/invalid domain/,
	);
	assertCleanError(
		await cli('issue', '--ca-cert', ca, '--ca-key', join(dir, 'one', 'key.pem'), '--domain', 'x.test', '--out', join(dir, 'x')),
		/CA key does not match/,
	);
	assertCleanError(
		await cli(
			'issue',
			'--ca-cert',
			join(dir, 'one', 'cert.pem'),
			'--ca-key',
			join(dir, 'one', 'key.pem'),
			'--domain',
			'x.test',
			'--out',
			join(dir, 'x'),
		),
		/is not a CA/,
	);
	assertCleanError(
		await cli('issue', '--ca-cert', ca, '--ca-key', join(dir, 'garbage.pem'), '--domain', 'x.test', '--out', join(dir, 'x')),
		/not a readable/,
	);
	assertCleanError(await cli('ca', 'create', '--out', join(dir, 'y'), '--days', '0'), /--days/);
	assertCleanError(await cli('verify', join(dir, 'one', 'cert.pem'), '--ca', join(dir, 'one', 'cert.pem')), /not a CA certificate/);
	assertCleanError(await cli('verify', join(dir, 'one', 'cert.pem')), /required option '--ca/);
	assertCleanError(await cli('frobnicate'), /unknown command/);
});

test('certificates from two CLI-made CAs federate with each other', async () => {
	assert.is((await cli('ca', 'create', '--out', join(dir, 'ca2'), '--name', 'Org Two Federation CA')).code, 0);
	assert.is(
		(
			await cli(
				'issue',
				'--ca-cert',
				join(dir, 'ca2', 'ca.pem'),
				'--ca-key',
				join(dir, 'ca2', 'ca.key'),
				'--domain',
				'two.test',
				'--out',
				join(dir, 'two'),
			)
		).code,
		0,
	);
	const bundle = join(dir, 'bundle-1-2.pem');
	await writeFile(bundle, (await readFile(join(dir, 'ca1', 'ca.pem'), 'utf8')) + (await readFile(join(dir, 'ca2', 'ca.pem'), 'utf8')));
	const one = await startTestFederation(cleanup, {
		domain: 'one.test',
		certFile: join(dir, 'one', 'cert.pem'),
		keyFile: join(dir, 'one', 'key.pem'),
		trustBundleFile: bundle,
		allowList: ['two.test'],
	});
	const two = await startTestFederation(cleanup, {
		domain: 'two.test',
		certFile: join(dir, 'two', 'cert.pem'),
		keyFile: join(dir, 'two', 'key.pem'),
		trustBundleFile: bundle,
		allowList: ['one.test'],
	});
	const peer = await two.federation.connectToPeer({ domain: 'one.test', endpoint: { host: '127.0.0.1', port: one.federation.port } });
	assert.is(peer.domain, 'one.test');
});

test.run();
