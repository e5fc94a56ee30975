// Who may certify whom: RFC 5280 name constraints, critical extensions we do
// not process, allow-list entries pinned to a partner's CA, and outbound TLS
// failures. Certificates come from the openssl CLI; `openssl verify` is asked
// for the same verdict; the federation endpoint refuses in both directions.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TrustBundle } from '../certs/trustBundle.ts';
import { verifyPeerCertificate } from '../certs/verifyPeerCertificate.ts';
import { FederationConnectError } from '../signalling/federation/trust/federationConnectError.ts';
import {
	Cleanup,
	exitSoon,
	refusalCount,
	startTestFederation,
	type TestFederation,
	temporaryDirectory,
	waitFor,
} from './support/trust-harness.ts';
import {
	buildTrustMatrix,
	createOpensslCa,
	createOpensslIntermediate,
	createOpensslLeaf,
	type OpensslCa,
	type OpensslLeaf,
	opensslFingerprint,
	opensslVerify,
	type TrustMatrix,
	writeBundle,
	writeChain,
} from './support/trust-openssl.ts';
import { startSServer } from './support/trust-openssl-tls.ts';

const cleanup = new Cleanup();
let root: string;
let matrix: TrustMatrix;
let caC: OpensslCa; // partner C's CA, also in the bundle
let bundleFile: string; // caA + caB + caC
let onlyB: OpensslCa; // intermediate under caA: permitted;DNS:b.test
let notC: OpensslCa; // intermediate under caA: excluded;DNS:c.test
let leaves: Record<'cUnderOnlyB' | 'bUnderOnlyB' | 'cUnderNotC' | 'unknownCritical' | 'bByC', OpensslLeaf>;

test.before(async () => {
	root = await temporaryDirectory(cleanup, 'trust-constraints-');
	matrix = await buildTrustMatrix(root);
	caC = await createOpensslCa(root, 'ca-c', 'Partner C Federation CA');
	bundleFile = await writeBundle(join(root, 'bundle-abc.pem'), [matrix.caA, matrix.caB, caC]);
	onlyB = await createOpensslIntermediate(root, 'only-b', 'B-only Intermediate', matrix.caA, [
		'nameConstraints=critical,permitted;DNS:b.test',
	]);
	notC = await createOpensslIntermediate(root, 'not-c', 'Not-C Intermediate', matrix.caA, ['nameConstraints=critical,excluded;DNS:c.test']);
	const chained = async (name: string, ca: OpensslCa, sans: string[]) =>
		writeChain(join(root, `${name}-chain.pem`), await createOpensslLeaf(root, { name, ca, sans }), [ca]);
	leaves = {
		cUnderOnlyB: await chained('c-under-only-b', onlyB, ['c.test']),
		bUnderOnlyB: await chained('b-under-only-b', onlyB, ['b.test', 'sft.b.test']),
		cUnderNotC: await chained('c-under-not-c', notC, ['c.test']),
		unknownCritical: await createOpensslLeaf(root, {
			name: 'unknown-critical',
			ca: matrix.caA,
			sans: ['a.test'],
			extraExtensions: ['1.3.6.1.4.1.55555.1=critical,ASN1:UTF8String:must-understand'],
		}),
		bByC: await createOpensslLeaf(root, { name: 'b-by-c', ca: caC, sans: ['b.test'] }),
	};
});
test.after(async () => {
	await cleanup.run();
	exitSoon();
});

async function ours(leaf: OpensslLeaf, claimedDomain: string) {
	const bundle = await TrustBundle.load(bundleFile);
	return verifyPeerCertificate({ chainPem: await readFile(leaf.certFile, 'utf8'), trustBundle: bundle, claimedDomain, role: 'client' });
}

async function theirs(leaf: OpensslLeaf, intermediate?: OpensslCa) {
	return opensslVerify(matrix.caA.certFile, leaf.certFile, intermediate?.certFile);
}

async function dial(from: TestFederation, domain: string, port: number): Promise<FederationConnectError> {
	const error = await from.federation.connectToPeer({ domain, endpoint: { host: '127.0.0.1', port } }).then(
		() => new Error('connected'),
		(failure: unknown) => failure,
	);
	assert.instance(error, FederationConnectError, String(error));
	return error as FederationConnectError;
}

/** `attempt` must leave exactly one more refusal with `reason`, logged with its direction. */
async function expectRefusal(at: TestFederation, reason: string, direction: string, attempt: () => Promise<void>): Promise<void> {
	const before = await refusalCount(at.registry, reason);
	const logsBefore = at.logs.length;
	await attempt();
	await waitFor(async () => (await refusalCount(at.registry, reason)) === before + 1, `${reason} counted`);
	const logged = at.logs.slice(logsBefore).filter((entry) => entry.reason === reason && entry.direction === direction);
	assert.is(logged.length, 1, `one ${direction} ${reason} refusal logged`);
}

function fed(domain: string, leaf: OpensslLeaf, allowList: unknown[]) {
	return { domain, certFile: leaf.certFile, keyFile: leaf.keyFile, trustBundleFile: bundleFile, allowList: allowList as string[] };
}

test('a name-constrained intermediate cannot certify outside its subtree: openssl verify and our verifier agree', async () => {
	const outside = await theirs(leaves.cUnderOnlyB, onlyB);
	assert.is(outside.ok, false);
	assert.match(outside.output, /permitted subtree violation/);
	const refused = await ours(leaves.cUnderOnlyB, 'c.test');
	assert.is(refused.ok ? 'accepted' : refused.reason, 'name_constraint_violation');

	const excluded = await theirs(leaves.cUnderNotC, notC);
	assert.is(excluded.ok, false);
	assert.match(excluded.output, /excluded subtree violation/);
	const refusedExcluded = await ours(leaves.cUnderNotC, 'c.test');
	assert.is(refusedExcluded.ok ? 'accepted' : refusedExcluded.reason, 'name_constraint_violation');

	const inside = await theirs(leaves.bUnderOnlyB, onlyB);
	assert.ok(inside.ok, inside.output);
	const accepted = await ours(leaves.bUnderOnlyB, 'b.test');
	assert.ok(accepted.ok, accepted.ok ? '' : accepted.detail);
});

test('a certificate with an unknown critical extension is refused, as openssl refuses it', async () => {
	const verdict = await theirs(leaves.unknownCritical);
	assert.is(verdict.ok, false);
	assert.match(verdict.output, /unsupported certificate extension|unhandled critical extension/);
	const refused = await ours(leaves.unknownCritical, 'a.test');
	assert.is(refused.ok ? 'accepted' : refused.reason, 'unsupported_critical_extension');
});

test('name constraints and critical extensions are enforced on live links, inbound and outbound', async () => {
	const server = await startTestFederation(cleanup, fed('b.test', matrix.leaves.bGood, ['a.test', 'c.test']));
	for (const [leaf, domain, reason] of [
		[leaves.cUnderOnlyB, 'c.test', 'name_constraint_violation'],
		[leaves.unknownCritical, 'a.test', 'unsupported_critical_extension'],
	] as const) {
		const caller = await startTestFederation(cleanup, fed(domain, leaf, ['b.test']));
		await expectRefusal(server, reason, 'inbound', async () => {
			assert.is((await dial(caller, 'b.test', server.federation.port)).failure, 'refused_by_peer');
		});
		await caller.federation.close();
	}
	// Outbound: the partner's endpoint presents the chain.
	const intermediatePem = join(root, 'only-b-inter.pem');
	await writeFile(intermediatePem, await readFile(onlyB.certFile, 'utf8'));
	const constrained = await startSServer(cleanup, {
		certFile: leaves.cUnderOnlyB.certFile,
		keyFile: leaves.cUnderOnlyB.keyFile,
		chainFile: intermediatePem,
	});
	await expectRefusal(server, 'name_constraint_violation', 'outbound', async () => {
		assert.is((await dial(server, 'c.test', constrained.port)).reason, 'name_constraint_violation');
	});
	const critical = await startSServer(cleanup, { certFile: leaves.unknownCritical.certFile, keyFile: leaves.unknownCritical.keyFile });
	await expectRefusal(server, 'unsupported_critical_extension', 'outbound', async () => {
		assert.is((await dial(server, 'a.test', critical.port)).reason, 'unsupported_critical_extension');
	});
	await server.federation.close();
});

test("an allow list pinning b.test to B's CA refuses a b.test certificate from partner C's CA, both directions", async () => {
	const caBFingerprint = await opensslFingerprint(matrix.caB.certFile);
	const pinned = await startTestFederation(
		cleanup,
		fed('a.test', matrix.leaves.aGood, [{ domain: 'b.test', issuers: [caBFingerprint] }, 'c.test']),
	);
	const forged = await startTestFederation(cleanup, fed('b.test', leaves.bByC, ['a.test']));
	await expectRefusal(pinned, 'wrong_issuer', 'inbound', async () => {
		assert.is((await dial(forged, 'a.test', pinned.federation.port)).failure, 'refused_by_peer');
	});
	const forgedEndpoint = await startSServer(cleanup, { certFile: leaves.bByC.certFile, keyFile: leaves.bByC.keyFile });
	await expectRefusal(pinned, 'wrong_issuer', 'outbound', async () => {
		assert.is((await dial(pinned, 'b.test', forgedEndpoint.port)).reason, 'wrong_issuer');
	});
	// The genuine B certificate still connects.
	const genuine = await startTestFederation(cleanup, fed('b.test', matrix.leaves.bGood, ['a.test']));
	const link = await genuine.federation.connectToPeer({ domain: 'a.test', endpoint: { host: '127.0.0.1', port: pinned.federation.port } });
	assert.is(link.domain, 'a.test');
	// Without a pin (one shared CA trusted for everyone), any bundle CA may vouch for the domain.
	const shared = await startTestFederation(cleanup, fed('a.test', matrix.leaves.aGood, ['b.test']));
	const admitted = await forged.federation.connectToPeer({
		domain: 'a.test',
		endpoint: { host: '127.0.0.1', port: shared.federation.port },
	});
	assert.is(admitted.domain, 'a.test');
	for (const f of [pinned, forged, genuine, shared]) await f.federation.close();
});

test('outbound: a partner that sends no certificate or a badly signed one is refused, counted and logged', async () => {
	const caller = await startTestFederation(cleanup, fed('b.test', matrix.leaves.bGood, ['a.test']));
	const noCertificate = await startSServer(cleanup, { nocert: true });
	await expectRefusal(caller, 'bad_handshake', 'outbound', async () => {
		const error = await dial(caller, 'a.test', noCertificate.port);
		assert.is(error.failure, 'refused_locally', error.message);
		assert.is(error.reason, 'bad_handshake');
	});
	const logged = caller.logs.find((entry) => entry.reason === 'bad_handshake' && entry.direction === 'outbound');
	assert.match(String(logged?.['detail']), /TLS handshake failed/);
	// Flip a byte of the signature: the chain no longer verifies.
	const pem = await readFile(matrix.leaves.aGood.certFile, 'utf8');
	const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
	der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0xff;
	const tampered = join(root, 'a-bad-signature.pem');
	await writeFile(tampered, `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`);
	const badSignature = await startSServer(cleanup, { certFile: tampered, keyFile: matrix.leaves.aGood.keyFile });
	await expectRefusal(caller, 'untrusted_ca', 'outbound', async () => {
		assert.is((await dial(caller, 'a.test', badSignature.port)).reason, 'untrusted_ca');
	});
	await caller.federation.close();
});

test.run();
