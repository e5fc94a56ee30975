// Discovery of partner endpoints through DNS SRV, against a real dnsmasq.
import { createServer } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FederationDiscovery } from '../signalling/federation/trust/discovery.ts';
import { FederationConnectError } from '../signalling/federation/trust/federationConnectError.ts';
import { orderSrvRecords } from '../signalling/federation/trust/srvOrdering.ts';
import { startDnsmasq } from './support/trust-dnsmasq.ts';
import { Cleanup, exitSoon, startTestFederation, type TestFederation, temporaryDirectory } from './support/trust-harness.ts';
import { buildTrustMatrix, type TrustMatrix } from './support/trust-openssl.ts';

const SRV = '_sft-federation._tcp';
const cleanup = new Cleanup();
let dnsServer: string;
let matrix: TrustMatrix;
let fedA: TestFederation; // a.test, reachable through DNS only
let fedB: TestFederation; // b.test, dials a.test via discovery
let closedPort: number;

/** Deterministic PRNG (mulberry32) so weight statistics never flake. */
function seeded(seed: number): () => number {
	return () => {
		seed = (seed + 0x6d2b79f5) | 0;
		let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

test.before(async () => {
	matrix = await buildTrustMatrix(await temporaryDirectory(cleanup, 'trust-discovery-'));
	fedA = await startTestFederation(cleanup, {
		domain: 'a.test',
		certFile: matrix.leaves.aGood.certFile,
		keyFile: matrix.leaves.aGood.keyFile,
		trustBundleFile: matrix.bundleFile,
		allowList: ['b.test'],
	});
	// A port with nothing listening, for the failover record.
	const probe = createServer();
	await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
	closedPort = (probe.address() as { port: number }).port;
	await new Promise<void>((resolve) => probe.close(() => resolve()));

	dnsServer = await startDnsmasq(cleanup, {
		zone: 'test',
		srv: [
			{ service: `${SRV}.weighted.test`, target: 'primary.weighted.test', port: 7000, priority: 5, weight: 1 },
			{ service: `${SRV}.weighted.test`, target: 'light.weighted.test', port: 7001, priority: 10, weight: 20 },
			{ service: `${SRV}.weighted.test`, target: 'heavy.weighted.test', port: 7002, priority: 10, weight: 80 },
			{ service: `${SRV}.weighted.test`, target: 'backup.weighted.test', port: 7003, priority: 20, weight: 0 },
			{ service: `${SRV}.static.test`, target: 'from-dns.static.test', port: 7100, priority: 1, weight: 1 },
			{ service: `${SRV}.unavailable.test` },
			// a.test: the first choice is dead, the second is the real SFT.
			{ service: `${SRV}.a.test`, target: 'dead.a.test', port: closedPort, priority: 1, weight: 10 },
			{ service: `${SRV}.a.test`, target: 'sft.a.test', port: fedA.federation.port, priority: 2, weight: 10 },
		],
		hosts: { 'dead.a.test': '127.0.0.1', 'sft.a.test': '127.0.0.1' },
	});
	fedB = await startTestFederation(
		cleanup,
		{
			domain: 'b.test',
			certFile: matrix.leaves.bGood.certFile,
			keyFile: matrix.leaves.bGood.keyFile,
			trustBundleFile: matrix.bundleFile,
			allowList: ['a.test', 'none.test', 'unavailable.test'],
			dnsServers: [dnsServer],
		},
		{ random: seeded(7) },
	);
});
test.after(async () => {
	await cleanup.run();
	exitSoon();
});

test('lowest priority first, then weighted order, then the next priority', async () => {
	const discovery = new FederationDiscovery({ dnsServers: [dnsServer], random: seeded(1) });
	let heavyFirst = 0;
	const runs = 200;
	for (let run = 0; run < runs; run++) {
		const hosts = (await discovery.resolve('weighted.test')).map((endpoint) => endpoint.host);
		assert.is(hosts[0], 'primary.weighted.test', 'priority 5 always first');
		assert.equal([...hosts.slice(1, 3)].sort(), ['heavy.weighted.test', 'light.weighted.test']);
		assert.is(hosts[3], 'backup.weighted.test', 'priority 20 always last');
		if (hosts[1] === 'heavy.weighted.test') heavyFirst++;
	}
	// Weight 80 vs 20: chosen first about 80% of the time.
	const share = heavyFirst / runs;
	assert.ok(share > 0.7 && share < 0.9, `heavy first in ${share * 100}% of runs`);
});

test('RFC 2782 selection: weights are proportional, weight 0 is picked first only rarely', () => {
	const random = seeded(42);
	const records = [
		{ name: 'zero', port: 1, priority: 1, weight: 0 },
		{ name: 'one', port: 1, priority: 1, weight: 100 },
		{ name: 'three', port: 1, priority: 1, weight: 300 },
	];
	const firsts: Record<string, number> = { zero: 0, one: 0, three: 0 };
	const trials = 20_000;
	for (let trial = 0; trial < trials; trial++) firsts[orderSrvRecords(records, random)[0]!.name]!++;
	assert.ok(firsts.zero! / trials < 0.01, `weight 0 first ${firsts.zero}`);
	assert.ok(Math.abs(firsts.three! / trials - 0.75) < 0.02, `weight 300 first ${firsts.three}`);
	assert.ok(Math.abs(firsts.one! / trials - 0.25) < 0.02, `weight 100 first ${firsts.one}`);
});

test('static peers in config win over DNS', async () => {
	const discovery = new FederationDiscovery({ dnsServers: [dnsServer], peers: { 'static.test': { host: '10.0.0.7', port: 9443 } } });
	assert.equal(await discovery.resolve('static.test'), [{ host: '10.0.0.7', port: 9443, source: 'static' }]);
	const dnsOnly = new FederationDiscovery({ dnsServers: [dnsServer] });
	assert.equal(await dnsOnly.resolve('static.test'), [{ host: 'from-dns.static.test', port: 7100, source: 'dns' }]);
});

test("no record, or the '.' target, means no endpoint", async () => {
	const discovery = new FederationDiscovery({ dnsServers: [dnsServer] });
	assert.equal(await discovery.resolve('none.test'), []);
	assert.equal(await discovery.resolve('unavailable.test'), []);
	for (const domain of ['none.test', 'unavailable.test']) {
		const error = await fedB.federation.connectToPeer({ domain }).catch((failure: unknown) => failure);
		assert.instance(error, FederationConnectError);
		assert.is((error as FederationConnectError).failure, 'no_endpoint');
	}
});

test('connectToPeer discovers a.test through SRV, resolves the target via the same DNS and fails over', async () => {
	const peer = await fedB.federation.connectToPeer({ domain: 'a.test' });
	assert.is(peer.domain, 'a.test');
	assert.equal(peer.endpoint, { host: 'sft.a.test', port: fedA.federation.port, source: 'dns' });
	assert.ok(peer.socket.connected);
	assert.ok(
		fedB.logs.some((entry) => entry.msg === 'federation endpoint failed, trying next'),
		'dead endpoint tried first',
	);
});

test('an unreachable DNS server is reported as such', async () => {
	const discovery = new FederationDiscovery({ dnsServers: [`127.0.0.1:${closedPort}`], timeoutMs: 300 });
	const error = await discovery.resolve('a.test').catch((failure: unknown) => failure);
	assert.instance(error, Error);
	assert.match((error as Error).message, /SRV lookup for a.test failed/);
});

test.run();
