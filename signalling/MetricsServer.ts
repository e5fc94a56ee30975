import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Plain-HTTP `/metrics` endpoint on its own port (kept off the client listener). */
export class MetricsServer {
	readonly #server: Server;

	private constructor(server: Server) {
		this.#server = server;
	}

	static async listen(registry: Registry, ip: string, port: number): Promise<MetricsServer> {
		const server = createServer((req, res) => {
			if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
				res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try GET /metrics\n');
				return;
			}
			registry
				.metrics()
				.then((body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body))
				.catch((error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(error)}\n`));
		});
		await new Promise<void>((resolve, reject) => {
			server.once('error', reject);
			server.listen(port, ip, () => resolve());
		});
		return new MetricsServer(server);
	}

	get port(): number {
		return (this.#server.address() as AddressInfo).port;
	}

	async close(): Promise<void> {
		this.#server.closeAllConnections();
		await new Promise<void>((resolve) => this.#server.close(() => resolve()));
	}
}
