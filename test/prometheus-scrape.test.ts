import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FederatedDomains } from './support/federatedDomains.ts';
import { PlainSignallingPeer } from './support/plainSignallingPeer.ts';

// A real Prometheus server (Debian's) scrapes two federated SFTs while a
// call crosses their link; PromQL then returns the link rate.
const test = suite('prometheus scrapes federation link metrics');
const dir = mkdtempSync(join(tmpdir(), 'sft-prom-'));
let domains: FederatedDomains | undefined;
let prometheus: ChildProcess | undefined;
const peers: PlainSignallingPeer[] = [];

test.after(async () => {
	for (const peer of peers) peer.close();
	prometheus?.kill('SIGKILL');
	await domains?.close();
	rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
	const server = createServer();
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as { port: number };
	await new Promise((resolve) => server.close(resolve));
	return port;
}

async function query(port: number, promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
	const response = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`);
	const body = (await response.json()) as {
		status: string;
		data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
	};
	return body.status === 'success' ? (body.data?.result ?? []) : [];
}

test('PromQL returns the inter-SFT link rate per remote domain and direction', async () => {
	domains = await FederatedDomains.start([
		{ domain: 'a.test', allow: ['b.test'] },
		{ domain: 'b.test', allow: ['a.test'] },
	]);
	const alice = await PlainSignallingPeer.connect(domains.url('a.test'));
	const bob = await PlainSignallingPeer.connect(domains.url('b.test'));
	peers.push(alice, bob);
	const joined = await alice.join({ token: domains.token('alice', 'c1', 'start'), conferenceId: 'c1' });
	await bob.join({ token: domains.token('bob', 'c1', 'join'), conferenceId: 'c1', descriptor: joined['descriptor'] });
	await alice.sendAudio(7001);
	await bob.sendAudio(7002);

	const targets = ['a.test', 'b.test'].map((d) => `127.0.0.1:${domains!.server(d).metricsServer.port}`);
	writeFileSync(
		join(dir, 'prometheus.yml'),
		`global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sft\n    static_configs:\n      - targets: ${JSON.stringify(targets)}\n`,
	);
	const port = await freePort();
	prometheus = spawn(
		'prometheus',
		[`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
		{ stdio: 'ignore' },
	);

	const promql = 'sum by (instance, remote_domain, direction) (rate(sft_federation_link_bytes_total[5s]))';
	let result: Awaited<ReturnType<typeof query>> = [];
	const deadline = Date.now() + 30_000;
	while (Date.now() < deadline) {
		result = await query(port, promql).catch(() => []);
		if (result.length >= 4 && result.every((r) => Number(r.value[1]) > 0)) break;
		await new Promise((r) => setTimeout(r, 1000));
	}
	const rates = Object.fromEntries(result.map((r) => [`${r.metric['remote_domain']}/${r.metric['direction']}`, Number(r.value[1])]));
	// Each side sends one Opus stream of ~60-byte payloads at 50 packets/s: a few kB/s each way.
	for (const key of ['b.test/tx', 'b.test/rx', 'a.test/tx', 'a.test/rx']) {
		assert.ok((rates[key] ?? 0) > 1000, `link rate ${key} = ${rates[key]} B/s, want > 1000 (all: ${JSON.stringify(rates)})`);
		assert.ok((rates[key] ?? 0) < 100_000, `link rate ${key} = ${rates[key]} B/s is implausibly high`);
	}
	const up = await query(port, 'sft_federation_link_up');
	assert.ok(up.length >= 2 && up.every((r) => r.value[1] === '1'), 'both SFTs report their link up');
});

test.run();
