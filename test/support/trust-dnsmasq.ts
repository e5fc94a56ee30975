// A real dnsmasq on a free loopback port, serving the SRV/A records a test needs.
import { createSocket } from 'node:dgram';
import { type Cleanup, spawnTracked } from './trust-harness.ts';

export interface SrvHost {
	service: string; // e.g. "_sft-federation._tcp.a.test"
	target?: string; // omitted: "service not available" (target ".")
	port?: number;
	priority?: number;
	weight?: number;
}

async function freeUdpPort(): Promise<number> {
	const socket = createSocket('udp4');
	await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
	const { port } = socket.address();
	await new Promise<void>((resolve) => socket.close(() => resolve()));
	return port;
}

/** Starts dnsmasq authoritative for `zone` (unknown names get NXDOMAIN); returns "127.0.0.1:port". */
export async function startDnsmasq(
	cleanup: Cleanup,
	options: { zone: string; srv: SrvHost[]; hosts: Record<string, string> },
): Promise<string> {
	for (let attempt = 0; ; attempt++) {
		const port = await freeUdpPort();
		const args = [
			'--no-daemon',
			'--conf-file=/dev/null',
			`--port=${port}`,
			'--listen-address=127.0.0.1',
			'--bind-interfaces',
			'--no-resolv',
			'--no-hosts',
			'--pid-file=',
			'--log-facility=-',
			`--local=/${options.zone}/`,
			...options.srv.map((record) =>
				record.target === undefined
					? `--srv-host=${record.service}`
					: `--srv-host=${record.service},${record.target},${record.port ?? 0},${record.priority ?? 0},${record.weight ?? 0}`,
			),
			...Object.entries(options.hosts).map(([name, address]) => `--host-record=${name},${address}`),
		];
		const child = spawnTracked(cleanup, 'dnsmasq', args);
		let output = '';
		child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
		child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
		const started = await new Promise<boolean>((resolve) => {
			const timer = setTimeout(() => resolve(true), 3000);
			child.once('exit', () => {
				clearTimeout(timer);
				resolve(false);
			});
			const poll = setInterval(() => {
				if (/started, version/.test(output)) {
					clearInterval(poll);
					clearTimeout(timer);
					resolve(true);
				}
			}, 20);
			child.once('exit', () => clearInterval(poll));
		});
		if (started) return `127.0.0.1:${port}`;
		// Port taken between probe and bind (tests run in parallel): try another.
		if (attempt >= 4) throw new Error(`dnsmasq failed to start: ${output}`);
	}
}
