// Hot reload: allow list and trust bundle changes disconnect affected peers,
// own-certificate rotation applies to new handshakes, bad files are rejected.
import { copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sha256Fingerprint } from '../certs/describeCertificate.ts';
import { parseCertificatesPem } from '../certs/pem.ts';
import type { FederationEvents } from '../signalling/federation/trust/federation.ts';
import { FederationConnectError } from '../signalling/federation/trust/federationConnectError.ts';
import type { FederationPeer } from '../signalling/federation/trust/federationPeer.ts';
import {
	Cleanup,
	connectionCount,
	exitSoon,
	refusalCount,
	startTestFederation,
	type TestFederation,
	temporaryDirectory,
	waitFor,
} from './support/trust-harness.ts';
import { buildTrustMatrix, createOpensslLeaf, type TrustMatrix, writeBundle } from './support/trust-openssl.ts';

const cleanup = new Cleanup();
let matrix: TrustMatrix;
let work: string;
let fedA: TestFederation; // a.test: its allow list, bundle and certificate get reloaded
let fedB: TestFederation; // b.test: dials a.test
const closedAtA: FederationPeer[] = [];

test.before(async () => {
	work = await temporaryDirectory(cleanup, 'trust-reload-');
	matrix = await buildTrustMatrix(join(work, 'pki'));
	// fedA works on copies, which the tests replace.
	for (const name of ['cert.pem', 'key.pem']) await copyFile(join(matrix.root, 'a-good', name), join(work, `a-${name}`));
	await copyFile(matrix.bundleFile, join(work, 'a-bundle.pem'));
	fedA = await startTestFederation(cleanup, {
		domain: 'a.test',
		certFile: join(work, 'a-cert.pem'),
		keyFile: join(work, 'a-key.pem'),
		trustBundleFile: join(work, 'a-bundle.pem'),
		allowList: ['b.test'],
	});
	fedA.federation.on('peerClosed', (peer) => closedAtA.push(peer));
	fedB = await startTestFederation(cleanup, {
		domain: 'b.test',
		certFile: matrix.leaves.bGood.certFile,
		keyFile: matrix.leaves.bGood.keyFile,
		trustBundleFile: matrix.bundleFile,
		allowList: ['a.test'],
	});
});
test.after(async () => {
	await cleanup.run();
	exitSoon();
});

function dialA() {
	return fedB.federation.connectToPeer({ domain: 'a.test', endpoint: { host: '127.0.0.1', port: fedA.federation.port } });
}

async function dialAFails(): Promise<FederationConnectError> {
	const error = await dialA().then(
		() => null,
		(failure: unknown) => failure,
	);
	assert.instance(error, FederationConnectError, 'dial must fail');
	return error as FederationConnectError;
}

function nextReload(fed: TestFederation): Promise<FederationEvents['reloaded'][0]> {
	return new Promise((resolve) => fed.federation.once('reloaded', resolve));
}

/** Replaces a file atomically (write + rename), as operators should. */
async function replaceFile(path: string, content: string): Promise<void> {
	await writeFile(`${path}.tmp`, content);
	await rename(`${path}.tmp`, path);
}

test('removing a connected domain from the allow list disconnects it; adding it back admits it', async () => {
	const link = await dialA();
	await waitFor(async () => (await connectionCount(fedA.registry, 'b.test')) === 1, 'a.test sees b.test');
	const bSawClose = new Promise<string>((resolve) => link.socket.once('disconnect', resolve));

	const reloaded = nextReload(fedA);
	await fedA.federation.reload({ ...fedA.config, allowList: [] });
	assert.equal((await reloaded).disconnected, ['b.test']);
	await bSawClose;
	await waitFor(() => closedAtA.some((peer) => peer.domain === 'b.test'), 'peerClosed at a.test');
	assert.is(await connectionCount(fedA.registry, 'b.test'), 0);
	assert.is(fedB.federation.client.getPeer('a.test'), undefined, "b.test's client forgot the dead link");

	const refusedBefore = await refusalCount(fedA.registry, 'domain_not_allowed');
	assert.is((await dialAFails()).failure, 'refused_by_peer');
	assert.is(await refusalCount(fedA.registry, 'domain_not_allowed'), refusedBefore + 1);

	await fedA.federation.reload({ ...fedA.config, allowList: ['b.test'] });
	const again = await dialA();
	assert.ok(again.socket.connected);
});

test('the dialling side drops its outbound link when its own allow list no longer has the domain', async () => {
	const link = await dialA();
	const closed = new Promise<string>((resolve) => link.socket.once('disconnect', resolve));
	await fedB.federation.reload({ ...fedB.config, allowList: [] });
	await closed;
	assert.is((await dialAFails()).reason, 'domain_not_allowed');
	await fedB.federation.reload(fedB.config);
});

test("removing a partner's CA from the bundle file disconnects its peers (file watch)", async () => {
	await dialA();
	await waitFor(async () => (await connectionCount(fedA.registry, 'b.test')) === 1, 'linked');
	const bundlePath = join(work, 'a-bundle.pem');
	const logsBefore = fedA.logs.length;
	let reloaded = nextReload(fedA);
	await writeBundle(`${bundlePath}.tmp`, [matrix.caA]);
	await rename(`${bundlePath}.tmp`, bundlePath);
	const info = await reloaded;
	assert.is(info.trigger, 'file');
	assert.equal(info.disconnected, ['b.test']);
	assert.ok(
		fedA.logs.slice(logsBefore).some((entry) => entry.reason === 'untrusted_ca' && entry.domain === 'b.test'),
		'reason logged',
	);
	await waitFor(async () => (await connectionCount(fedA.registry, 'b.test')) === 0, 'link dropped');
	await waitFor(() => fedB.federation.client.getPeer('a.test') === undefined, 'b.test noticed');
	assert.is((await dialAFails()).failure, 'refused_by_peer');

	reloaded = nextReload(fedA);
	await copyFile(matrix.bundleFile, `${bundlePath}.tmp`);
	await rename(`${bundlePath}.tmp`, bundlePath);
	await reloaded;
	assert.ok((await dialA()).socket.connected);
});

test('own certificate rotation applies to new handshakes without dropping existing links', async () => {
	const existing = await dialA();
	const oldFingerprint = existing.fingerprintSha256;
	const rotated = await createOpensslLeaf(matrix.root, {
		name: 'a-rotated',
		ca: matrix.caA,
		sans: ['a.test'],
		notAfter: new Date(Date.now() + 90 * 86_400_000),
	});
	const reloaded = nextReload(fedA);
	// Key first, then certificate: the debounce makes this one reload.
	await replaceFile(join(work, 'a-key.pem'), await readFile(rotated.keyFile, 'utf8'));
	await replaceFile(join(work, 'a-cert.pem'), await readFile(rotated.certFile, 'utf8'));
	assert.equal((await reloaded).disconnected, []);
	assert.ok(existing.socket.connected, 'existing link kept');

	const [rotatedCertificate] = parseCertificatesPem(await readFile(rotated.certFile, 'utf8'));
	const newFingerprint = sha256Fingerprint(rotatedCertificate!.rawData);
	assert.is.not(newFingerprint, oldFingerprint);
	existing.socket.disconnect();
	await waitFor(() => fedB.federation.client.getPeer('a.test') === undefined, 'old link gone');
	const fresh = await dialA();
	assert.is(fresh.fingerprintSha256, newFingerprint, 'new handshake presents the rotated certificate');
	const expiry = /^sft_federation_certificate_expiry_seconds (\S+)$/m.exec(await fedA.registry.metrics());
	assert.ok(expiry && Number(expiry[1]) > 80 * 86_400, 'expiry gauge follows the rotated certificate');
});

test('an invalid new bundle is rejected and the previous material stays in force', async () => {
	const bundlePath = join(work, 'a-bundle.pem');
	const good = await readFile(bundlePath, 'utf8');
	await replaceFile(bundlePath, 'not a certificate\n');
	await assert_rejects(fedA.federation.reload(), /no PEM certificate/);
	assert.ok((await dialA()).socket.connected, 'still federating with the old bundle');
	await replaceFile(bundlePath, good);
	// A key that does not match the certificate is refused as well.
	await assert_rejects(fedA.federation.reload({ ...fedA.config, keyFile: matrix.leaves.bGood.keyFile }), /key values mismatch/);
	assert.ok((await dialA()).socket.connected, 'still federating with the old certificate');
});

test('periodic revalidation drops a link whose certificate has expired', async () => {
	const link = await dialA();
	await waitFor(async () => (await connectionCount(fedA.registry, 'b.test')) === 1, 'linked');
	const closed = new Promise<string>((resolve) => link.socket.once('disconnect', resolve));
	const inAYear = new Date(Date.now() + 365 * 86_400_000);
	assert.equal(await fedA.federation.revalidatePeers(inAYear), ['b.test']);
	await closed;
	assert.ok(
		fedA.logs.some((entry) => entry.reason === 'expired' && entry.domain === 'b.test'),
		'expiry logged',
	);
});

async function assert_rejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
	const error = await promise.then(
		() => null,
		(failure: unknown) => failure,
	);
	assert.instance(error, Error, 'expected a rejection');
	assert.match((error as Error).message, pattern);
}

test.run();
