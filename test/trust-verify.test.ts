// certs/ verification against certificates made by the openssl CLI (not by our issuer).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TrustBundle } from '../certs/trustBundle.ts';
import { verifyCertificateChain } from '../certs/verifyCertificateChain.ts';
import { type PeerVerification, verifyPeerCertificate } from '../certs/verifyPeerCertificate.ts';
import { Cleanup, exitSoon, temporaryDirectory } from './support/trust-harness.ts';
import {
	buildTrustMatrix,
	createOpensslIntermediate,
	createOpensslLeaf,
	type OpensslLeaf,
	type TrustMatrix,
} from './support/trust-openssl.ts';

const cleanup = new Cleanup();
let matrix: TrustMatrix;
let bundle: TrustBundle;

test.before(async () => {
	matrix = await buildTrustMatrix(await temporaryDirectory(cleanup, 'trust-verify-'));
	bundle = await TrustBundle.load(matrix.bundleFile);
});
test.after(async () => {
	await cleanup.run();
	exitSoon();
});

async function check(
	leaf: OpensslLeaf,
	claimedDomain: unknown,
	role: 'client' | 'server' = 'client',
	extra: { allowedDomains?: string[] } = {},
): Promise<PeerVerification> {
	return verifyPeerCertificate({ chainPem: await readFile(leaf.certFile, 'utf8'), trustBundle: bundle, claimedDomain, role, ...extra });
}

function assertRefused(result: PeerVerification, reason: string): void {
	assert.is(result.ok, false, `expected refusal ${reason}`);
	if (!result.ok) assert.is(result.reason, reason, result.detail);
}

test('trust bundle holds both partner CAs', () => {
	assert.is(bundle.certificates.length, 2);
});

test('good certificates from either partner CA are accepted, both roles', async () => {
	for (const role of ['client', 'server'] as const) {
		const a = await check(matrix.leaves.aGood, 'a.test', role);
		assert.ok(a.ok);
		if (a.ok) assert.is(a.domain, 'a.test');
		const b = await check(matrix.leaves.bGood, 'B.TEST.', role);
		assert.ok(b.ok, 'claimed domain is normalised');
		if (b.ok) assert.is(b.domain, 'b.test');
	}
});

test('every bad certificate is refused with its precise reason', async () => {
	assertRefused(
		await verifyPeerCertificate({ chainDer: [], trustBundle: bundle, claimedDomain: 'a.test', role: 'client' }),
		'no_certificate',
	);
	assertRefused(await check(matrix.leaves.aUnknownCa, 'a.test'), 'untrusted_ca');
	assertRefused(await check(matrix.leaves.aExpired, 'a.test'), 'expired');
	assertRefused(await check(matrix.leaves.aNotYetValid, 'a.test'), 'not_yet_valid');
	assertRefused(await check(matrix.leaves.aServerAuthOnly, 'a.test', 'client'), 'wrong_eku');
	assertRefused(await check(matrix.leaves.aClientAuthOnly, 'a.test', 'server'), 'wrong_eku');
	assertRefused(await check(matrix.leaves.xForA, 'a.test'), 'san_mismatch');
	assertRefused(await check(matrix.leaves.cGood, 'c.test', 'client', { allowedDomains: ['a.test', 'b.test'] }), 'domain_not_allowed');
	assertRefused(await check(matrix.leaves.aGood, undefined), 'bad_handshake');
	assertRefused(await check(matrix.leaves.aGood, 'not a domain'), 'bad_handshake');
	assertRefused(
		await verifyPeerCertificate({ chainDer: [new Uint8Array([1, 2, 3])], trustBundle: bundle, claimedDomain: 'a.test', role: 'client' }),
		'bad_handshake',
	);
});

test('role-restricted certificates pass in the role their EKU names', async () => {
	assert.ok((await check(matrix.leaves.aServerAuthOnly, 'a.test', 'server')).ok);
	assert.ok((await check(matrix.leaves.aClientAuthOnly, 'a.test', 'client')).ok);
});

test('a CA is trusted only while it is in the bundle', async () => {
	const onlyB = TrustBundle.fromPem(await readFile(matrix.caB.certFile, 'utf8'));
	const result = await verifyPeerCertificate({
		chainPem: await readFile(matrix.leaves.aGood.certFile, 'utf8'),
		trustBundle: onlyB,
		claimedDomain: 'a.test',
		role: 'client',
	});
	assertRefused(result, 'untrusted_ca');
});

test("the 'now' parameter decides validity", async () => {
	const chainPem = await readFile(matrix.leaves.aGood.certFile, 'utf8');
	const later = new Date(Date.now() + 400 * 86_400_000);
	assertRefused(
		await verifyPeerCertificate({ chainPem, trustBundle: bundle, claimedDomain: 'a.test', role: 'client', now: later }),
		'expired',
	);
});

test('chains through an intermediate CA sent by the peer', async () => {
	const root = matrix.root;
	const intermediate = await createOpensslIntermediate(root, 'ca-a-issuing', 'Partner A Issuing CA', matrix.caA);
	const leaf = await createOpensslLeaf(root, { name: 'a-via-intermediate', ca: intermediate, sans: ['a.test'] });
	const leafPem = await readFile(leaf.certFile, 'utf8');
	const intermediatePem = await readFile(intermediate.certFile, 'utf8');
	const full = await verifyCertificateChain({ chainPem: leafPem + intermediatePem, trustBundle: bundle, role: 'client' });
	assert.ok(full.ok, full.ok ? '' : full.detail);
	if (full.ok) assert.is(full.anchor.subject, 'CN=Partner A Federation CA');
	// Without the intermediate there is no path to a bundle CA.
	const alone = await verifyCertificateChain({ chainPem: leafPem, trustBundle: bundle, role: 'client' });
	assert.is(alone.ok ? 'ok' : alone.reason, 'untrusted_ca');
	// A self-signed "CA" sent by the peer itself is never an anchor.
	const rogue = await verifyCertificateChain({
		chainPem: (await readFile(matrix.leaves.aUnknownCa.certFile, 'utf8')) + (await readFile(matrix.caUnknown.certFile, 'utf8')),
		trustBundle: bundle,
		role: 'client',
	});
	assert.is(rogue.ok ? 'ok' : rogue.reason, 'untrusted_ca');
});

test('a bundle must contain only CA certificates', async () => {
	const leafPem = await readFile(join(matrix.root, 'a-good', 'cert.pem'), 'utf8');
	assert.throws(() => TrustBundle.fromPem(leafPem), /not a CA certificate/);
});

test.run();
