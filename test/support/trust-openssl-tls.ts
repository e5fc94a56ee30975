// Real TLS peers from the openssl CLI: s_client as an inbound caller, s_server
// as a (bad) partner endpoint for our outbound client.
import type { ChildProcess } from 'node:child_process';
import { type Cleanup, runToEnd, spawnTracked } from './trust-harness.ts';

export interface SClientResult {
	/** True when the server answered an HTTP request over the TLS connection. */
	gotHttpResponse: boolean;
	stdout: string;
	stderr: string;
}

/** Connects with `openssl s_client` (optionally presenting a certificate) and sends `GET /`. */
export async function sClientHttpGet(
	cleanup: Cleanup,
	options: { port: number; caFile: string; certFile?: string; keyFile?: string },
): Promise<SClientResult> {
	const args = ['s_client', '-connect', `127.0.0.1:${options.port}`, '-servername', 'b.test', '-CAfile', options.caFile, '-quiet'];
	if (options.certFile && options.keyFile) args.push('-cert', options.certFile, '-key', options.keyFile);
	const child = spawnTracked(cleanup, 'openssl', args);
	// -quiet implies -ign_eof: s_client keeps reading until the server closes.
	const result = await runToEnd(child, 'GET / HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n', 10_000);
	return { gotHttpResponse: /^HTTP\/1\.1 \d{3}/m.test(result.stdout), stdout: result.stdout, stderr: result.stderr };
}

/**
 * Starts `openssl s_server` on a free loopback port with the given certificate
 * (and intermediates from `chainFile`), or with none at all (`nocert`).
 */
export async function startSServer(
	cleanup: Cleanup,
	options: { certFile: string; keyFile: string; chainFile?: string } | { nocert: true },
): Promise<{ port: number; child: ChildProcess }> {
	const identity =
		'nocert' in options
			? ['-nocert']
			: ['-cert', options.certFile, '-key', options.keyFile, ...(options.chainFile ? ['-cert_chain', options.chainFile] : [])];
	const child = spawnTracked(cleanup, 'openssl', ['s_server', '-accept', '127.0.0.1:0', ...identity, '-www']);
	const port = await new Promise<number>((resolve, reject) => {
		let output = '';
		const timer = setTimeout(() => reject(new Error(`s_server did not start: ${output}`)), 5000);
		child.stdout?.on('data', (chunk: Buffer) => {
			output += chunk.toString();
			const match = /ACCEPT .*:(\d+)/.exec(output);
			if (match) {
				clearTimeout(timer);
				resolve(Number(match[1]));
			}
		});
		child.once('exit', () => reject(new Error(`s_server exited: ${output}`)));
	});
	return { port, child };
}
