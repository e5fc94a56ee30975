// The federation endpoint against a matrix of peer certificates made with the
// openssl CLI, driven by openssl s_client / s_server, a bare socket.io client
// and the project's own FederationClient, in both directions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FederationConnectError } from '../signalling/federation/trust/federationConnectError.ts';
import type { InboundFederationPeer } from '../signalling/federation/trust/federationPeer.ts';
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
import { buildTrustMatrix, type OpensslLeaf, type TrustMatrix } from './support/trust-openssl.ts';
import { sClientHttpGet, startSServer } from './support/trust-openssl-tls.ts';
import { rawSocketIoAttempt } from './support/trust-raw-client.ts';

const cleanup = new Cleanup();
let matrix: TrustMatrix;
let fedA: TestFederation; // a.test, certificate from partner CA A
let fedB: TestFederation; // b.test, certificate from partner CA B: the server under test
const inboundAtB: InboundFederationPeer[] = [];

test.before(async () => {
	matrix = await buildTrustMatrix(await temporaryDirectory(cleanup, 'trust-federation-'));
	fedB = await startTestFederation(cleanup, fedConfig('b.test', matrix.leaves.bGood, ['a.test']));
	fedA = await startTestFederation(cleanup, fedConfig('a.test', matrix.leaves.aGood, ['b.test']));
	fedB.federation.on('peer', (peer) => {
		inboundAtB.push(peer);
		peer.socket.on('echo', (payload: unknown, ack: (reply: unknown) => void) => ack({ from: 'b.test', payload }));
	});
	fedA.federation.on('peer', (peer) => {
		peer.socket.on('echo', (payload: unknown, ack: (reply: unknown) => void) => ack({ from: 'a.test', payload }));
	});
});
test.after(async () => {
	await cleanup.run();
	exitSoon();
});

function fedConfig(domain: string, leaf: OpensslLeaf, allowList: string[]) {
	return { domain, certFile: leaf.certFile, keyFile: leaf.keyFile, trustBundleFile: matrix.bundleFile, allowList };
}

function endpointOf(fed: TestFederation) {
	return { host: '127.0.0.1', port: fed.federation.port };
}

/** Runs `attempt` and checks that exactly one refusal with `reason` was counted and logged by `at`. */
async function expectRefusal(
	at: TestFederation,
	reason: string,
	direction: 'inbound' | 'outbound',
	attempt: () => Promise<void>,
): Promise<void> {
	const countBefore = await refusalCount(at.registry, reason);
	const logsBefore = at.logs.length;
	await attempt();
	await waitFor(async () => (await refusalCount(at.registry, reason)) === countBefore + 1, `${reason} counted`);
	const logged = at.logs.slice(logsBefore).filter((entry) => entry.reason === reason && entry.direction === direction);
	assert.is(logged.length, 1, `one ${direction} ${reason} refusal logged`);
}

test('good peers from two partner CAs connect in both directions', async () => {
	const toB = await fedA.federation.connectToPeer({ domain: 'b.test', endpoint: endpointOf(fedB) });
	assert.is(toB.domain, 'b.test');
	assert.equal(await toB.socket.emitWithAck('echo', 1), { from: 'b.test', payload: 1 });
	await waitFor(() => inboundAtB.some((peer) => peer.domain === 'a.test'), 'b.test sees a.test');

	const toA = await fedB.federation.connectToPeer({ domain: 'A.TEST', endpoint: endpointOf(fedA) });
	assert.is(toA.domain, 'a.test');
	assert.equal(await toA.socket.emitWithAck('echo', 2), { from: 'a.test', payload: 2 });

	// Repeated connectToPeer reuses the one link per domain.
	assert.is(await fedA.federation.connectToPeer({ domain: 'b.test', endpoint: endpointOf(fedB) }), toB);

	// Inbound + outbound link with the partner on each side.
	assert.is(await connectionCount(fedA.registry, 'b.test'), 2);
	assert.is(await connectionCount(fedB.registry, 'a.test'), 2);
	const exposition = await fedA.registry.metrics();
	assert.match(exposition, /sft_federation_connections\{remote_domain="b.test"\} 2/);
	const expiry = /^sft_federation_certificate_expiry_seconds (\S+)$/m.exec(exposition);
	assert.ok(expiry && Number(expiry[1]) > 29 * 86_400, 'own certificate expiry exported in seconds');

	const closed: string[] = [];
	fedB.federation.on('peerClosed', (peer) => closed.push(`${peer.direction}:${peer.domain}`));
	toB.socket.disconnect();
	toA.socket.disconnect();
	await waitFor(async () => (await connectionCount(fedB.registry, 'a.test')) === 0, 'b.test links closed');
	await waitFor(async () => (await connectionCount(fedA.registry, 'b.test')) === 0, 'a.test links closed');
	assert.equal(closed.sort(), ['inbound:a.test', 'outbound:a.test']);
});

test('inbound: FederationClients with bad certificates are refused with the right reason', async () => {
	const cases: [OpensslLeaf, string, string][] = [
		[matrix.leaves.aExpired, 'a.test', 'expired'],
		[matrix.leaves.aNotYetValid, 'a.test', 'not_yet_valid'],
		[matrix.leaves.aUnknownCa, 'a.test', 'untrusted_ca'],
		[matrix.leaves.aServerAuthOnly, 'a.test', 'wrong_eku'],
		[matrix.leaves.cGood, 'c.test', 'domain_not_allowed'],
	];
	for (const [leaf, domain, reason] of cases) {
		const caller = await startTestFederation(cleanup, fedConfig(domain, leaf, ['b.test']));
		const peersBefore = inboundAtB.length;
		await expectRefusal(fedB, reason, 'inbound', async () => {
			const error = await caller.federation.connectToPeer({ domain: 'b.test', endpoint: endpointOf(fedB) }).then(
				() => null,
				(failure: unknown) => failure,
			);
			assert.instance(error, FederationConnectError, `${reason}: connect must fail`);
			assert.is((error as FederationConnectError).failure, 'refused_by_peer', `${reason}: ${(error as Error).message}`);
			assert.not.match((error as Error).message, reason, 'refusal reason never reaches the peer');
		});
		assert.is(inboundAtB.length, peersBefore, `${reason}: no 'peer' event`);
		await caller.federation.close();
	}
});

test('allowAnyTrustedDomain admits any domain a bundle CA vouches for (and still checks the SAN)', async () => {
	const open = await startTestFederation(cleanup, { ...fedConfig('b.test', matrix.leaves.bGood, []), allowAnyTrustedDomain: true });
	const caller = await startTestFederation(cleanup, fedConfig('c.test', matrix.leaves.cGood, ['b.test']));
	const peer = await caller.federation.connectToPeer({ domain: 'b.test', endpoint: endpointOf(open) });
	assert.is(peer.domain, 'b.test');
	await waitFor(() => open.federation.peers.some((link) => link.domain === 'c.test'), 'c.test admitted');
	await expectRefusal(open, 'san_mismatch', 'inbound', async () => {
		const leaf = matrix.leaves.xForA;
		const attempt = await rawSocketIoAttempt({
			port: open.federation.port,
			caFile: matrix.bundleFile,
			certFile: leaf.certFile,
			keyFile: leaf.keyFile,
			auth: { domain: 'a.test' },
		});
		assert.is(attempt.connected, false);
	});
	await caller.federation.close();
	await open.federation.close();
});

test('inbound: raw socket.io handshakes (no cert, wrong SAN, no claimed domain) are refused', async () => {
	const port = fedB.federation.port;
	const caFile = matrix.bundleFile;
	const good = matrix.leaves.aGood;
	await expectRefusal(fedB, 'no_certificate', 'inbound', async () => {
		const attempt = await rawSocketIoAttempt({ port, caFile, auth: { domain: 'a.test' } });
		assert.is(attempt.connected, false);
	});
	await expectRefusal(fedB, 'san_mismatch', 'inbound', async () => {
		const attempt = await rawSocketIoAttempt({
			port,
			caFile,
			certFile: matrix.leaves.xForA.certFile,
			keyFile: matrix.leaves.xForA.keyFile,
			auth: { domain: 'a.test' },
		});
		assert.equal(attempt, { connected: false, error: 'federation refused' });
	});
	await expectRefusal(fedB, 'bad_handshake', 'inbound', async () => {
		const attempt = await rawSocketIoAttempt({ port, caFile, certFile: good.certFile, keyFile: good.keyFile });
		assert.equal(attempt, { connected: false, error: 'federation refused' });
	});
	await expectRefusal(fedB, 'san_mismatch', 'inbound', async () => {
		// A genuine a.test certificate cannot be used to pose as b.test's other partner.
		const attempt = await rawSocketIoAttempt({ port, caFile, certFile: good.certFile, keyFile: good.keyFile, auth: { domain: 'c.test' } });
		assert.equal(attempt, { connected: false, error: 'federation refused' });
	});
	const accepted = await rawSocketIoAttempt({ port, caFile, certFile: good.certFile, keyFile: good.keyFile, auth: { domain: 'a.test' } });
	assert.equal(accepted, { connected: true });
});

test('inbound: openssl s_client is served only with a good client certificate', async () => {
	const port = fedB.federation.port;
	const caFile = matrix.bundleFile;
	const good = await sClientHttpGet(cleanup, {
		port,
		caFile,
		certFile: matrix.leaves.aGood.certFile,
		keyFile: matrix.leaves.aGood.keyFile,
	});
	assert.ok(good.gotHttpResponse, `good certificate gets an HTTP answer: ${good.stderr}`);
	const bad: [OpensslLeaf | undefined, string][] = [
		[undefined, 'no_certificate'],
		[matrix.leaves.aUnknownCa, 'untrusted_ca'],
		[matrix.leaves.aExpired, 'expired'],
		[matrix.leaves.aNotYetValid, 'not_yet_valid'],
		[matrix.leaves.aServerAuthOnly, 'wrong_eku'],
	];
	for (const [leaf, reason] of bad) {
		await expectRefusal(fedB, reason, 'inbound', async () => {
			const result = await sClientHttpGet(cleanup, { port, caFile, ...(leaf ? { certFile: leaf.certFile, keyFile: leaf.keyFile } : {}) });
			assert.is(result.gotHttpResponse, false, `${reason}: connection must be dropped before any HTTP answer`);
		});
	}
});

test('outbound: the client refuses bad partner servers (openssl s_server)', async () => {
	const cases: [OpensslLeaf, string][] = [
		[matrix.leaves.aUnknownCa, 'untrusted_ca'],
		[matrix.leaves.aExpired, 'expired'],
		[matrix.leaves.aNotYetValid, 'not_yet_valid'],
		[matrix.leaves.aClientAuthOnly, 'wrong_eku'],
		[matrix.leaves.xForA, 'san_mismatch'],
	];
	for (const [leaf, reason] of cases) {
		const server = await startSServer(cleanup, { certFile: leaf.certFile, keyFile: leaf.keyFile });
		await expectRefusal(fedB, reason, 'outbound', async () => {
			const error = await fedB.federation.connectToPeer({ domain: 'a.test', endpoint: { host: '127.0.0.1', port: server.port } }).then(
				() => null,
				(failure: unknown) => failure,
			);
			assert.instance(error, FederationConnectError, `${reason}: got ${String(error)}`);
			assert.is((error as FederationConnectError).failure, 'refused_locally');
			assert.is((error as FederationConnectError).reason, reason);
		});
		server.child.kill('SIGKILL');
	}
	// The target domain must be allowed before we even dial.
	await expectRefusal(fedB, 'domain_not_allowed', 'outbound', async () => {
		const error = await fedB.federation
			.connectToPeer({ domain: 'c.test', endpoint: { host: '127.0.0.1', port: 9 } })
			.catch((failure: unknown) => failure);
		assert.is((error as FederationConnectError).reason, 'domain_not_allowed');
	});
	// A correct certificate passes verification: failure is only that s_server is no SFT.
	const server = await startSServer(cleanup, { certFile: matrix.leaves.aGood.certFile, keyFile: matrix.leaves.aGood.keyFile });
	const error = await fedB.federation
		.connectToPeer({ domain: 'a.test', endpoint: { host: '127.0.0.1', port: server.port } })
		.catch((failure: unknown) => failure);
	assert.is((error as FederationConnectError).failure, 'unreachable', (error as Error).message);
});

test('outbound: a FederationServer with a certificate for another domain is refused', async () => {
	// The x.test certificate is trusted, but we meant to reach a.test.
	const impostor = await startTestFederation(cleanup, fedConfig('x.test', matrix.leaves.xForA, ['b.test']));
	await expectRefusal(fedB, 'san_mismatch', 'outbound', async () => {
		const error = await fedB.federation
			.connectToPeer({ domain: 'a.test', endpoint: endpointOf(impostor) })
			.catch((failure: unknown) => failure);
		assert.is((error as FederationConnectError).reason, 'san_mismatch');
	});
	assert.is(await refusalCount(impostor.registry, 'san_mismatch'), 0, 'impostor never saw a socket.io handshake');
	await impostor.federation.close();
});

test.run();
