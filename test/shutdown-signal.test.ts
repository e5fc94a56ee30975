import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LocalSftProcess } from './support/localSftProcess.ts';
import { PlainSignallingPeer } from './support/plainSignallingPeer.ts';
import { until } from './support/until.ts';

// A real SFT process (as systemd starts it: node --import tsx) in its own
// process group; SIGINT or SIGTERM goes to the whole group, as Ctrl-C and
// systemd's KillMode=control-group send it. The mediasoup workers must not
// die first: media keeps flowing while the SFT drains, then every client
// gets conferenceEnded { reason: 'shutdown' } and the process exits 0.
const test = suite('process-group signal drains');
const DRAIN_SECONDS = 2;
const CLIENTS = 6;

async function startSft(basePort: number): Promise<LocalSftProcess> {
	return LocalSftProcess.start({
		name: `drain-${basePort}`,
		dir: mkdtempSync(join(tmpdir(), 'sft-drain-')),
		config: {
			signalling: {
				listen: { ip: '127.0.0.1', port: 0 },
				requireToken: false,
				tokenSecret: 'shutdown-test-secret-0123456789abcdef',
				plainTransports: 'any',
			},
			metrics: { listen: { ip: '127.0.0.1', port: 0 } },
			media: {
				workers: 1,
				listenIp: '127.0.0.1',
				rtcBasePort: basePort,
				rtcMinPort: basePort + 1,
				rtcMaxPort: basePort + 40,
				pipeMinPort: basePort + 41,
				pipeMaxPort: basePort + 50,
			},
			shutdown: { drainSeconds: DRAIN_SECONDS },
		},
	});
}

function alive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

for (const [i, signal] of (['SIGINT', 'SIGTERM'] as const).entries()) {
	test(`${signal} to the process group drains: media flows on, every client is told 'shutdown', exit 0`, async () => {
		const sft = await startSft(44_000 + i * 100 + Math.floor(Math.random() * 20) * 200);
		const peers: PlainSignallingPeer[] = [];
		try {
			assert.is(sft.workerPids.length, 1);
			const producers: string[] = [];
			for (let n = 0; n < CLIENTS; n++) {
				const peer = await PlainSignallingPeer.connect(sft.clientUrl);
				peers.push(peer);
				await peer.join({ token: '', conferenceId: 'drain' });
				producers.push(await peer.sendAudio(5000 + n, 20 + n));
			}
			for (const [n, peer] of peers.entries()) for (const [m, id] of producers.entries()) if (m !== n) await peer.consume(id);
			await until(() => peers[0]!.receivedFrom(producers[1]!) > 10, 5000, 'media to flow');

			sft.signalGroup(signal);
			await new Promise((r) => setTimeout(r, 300));
			const before = peers[0]!.receivedFrom(producers[1]!);
			await new Promise((r) => setTimeout(r, (DRAIN_SECONDS * 1000) / 2));
			assert.ok(alive(sft.workerPids[0]!), 'the mediasoup worker survives the signal while the SFT drains');
			assert.ok(peers[0]!.receivedFrom(producers[1]!) > before + 20, 'media keeps flowing during the drain');
			assert.ok(
				peers.every((p) => p.signalling.received('conferenceEnded').length === 0),
				'nobody is told the end early',
			);

			const code = await sft.exited;
			assert.is(code, 0, 'the SFT exits 0 after draining');
			const reasons = peers.map((p) => p.signalling.received('conferenceEnded').map((e) => e.reason));
			assert.equal(
				reasons,
				peers.map(() => ['shutdown']),
				'every client got conferenceEnded { reason: shutdown } once',
			);
			await until(() => !alive(sft.workerPids[0]!), 3000, 'the worker to be gone after the SFT stopped');
		} finally {
			for (const peer of peers) peer.close();
			sft.kill();
		}
	});
}

test.run();
