import type { types as ms } from 'mediasoup';
import type { MediasoupModule } from './mediasoupLoader.ts';
import { bufferListenInfo, type SocketBuffers } from './socketBuffers.ts';
import { TypedEmitter } from './TypedEmitter.ts';
import { type ResolvedAllocator, withSpawnEnv } from './workerAllocator.ts';

export interface MediaWorkerOptions {
	/** Slot in the pool; also selects the WebRtcServer port (basePort + index). */
	index: number;
	/** Address the client-facing socket binds to. */
	listenIp: string;
	/** Address put in ICE candidates (public IP or DNS name behind NAT). */
	announcedAddress?: string | undefined;
	/** Single UDP (and TCP fallback) port shared by every client transport on this worker. */
	rtcPort: number;
	/** Port range for transports that cannot share the WebRtcServer port (plain, pipe). */
	rtcMinPort: number;
	rtcMaxPort: number;
	logLevel: ms.WorkerLogLevel;
	/** UDP buffer sizes of the WebRTC port (0: kernel default). */
	socketBuffers?: SocketBuffers | undefined;
	/** The malloc the worker process runs with (system when absent). */
	allocator?: ResolvedAllocator | undefined;
}

export interface ResourceUsage {
	cpuSeconds: number;
	rssBytes: number;
}

type MediaWorkerEvents = {
	died: [Error];
};

/**
 * One mediasoup worker process plus the WebRtcServer that gives all its
 * WebRTC transports one UDP port (and one TCP port as fallback), so operators
 * open a single port per core instead of a range.
 */
export class MediaWorker extends TypedEmitter<MediaWorkerEvents> {
	readonly index: number;
	readonly worker: ms.Worker;
	readonly webRtcServer: ms.WebRtcServer;
	/** Participants hosted here; the pool places new conferences by this. */
	load = 0;

	private constructor(index: number, worker: ms.Worker, webRtcServer: ms.WebRtcServer) {
		super();
		this.index = index;
		this.worker = worker;
		this.webRtcServer = webRtcServer;
		worker.on('died', (error) => this.emit('died', error));
	}

	static async create(mediasoup: MediasoupModule, options: MediaWorkerOptions): Promise<MediaWorker> {
		// mediasoup spawns the worker from process.env; scope the allocator's variables to that spawn.
		const worker = await withSpawnEnv(options.allocator?.env ?? {}, () =>
			mediasoup.createWorker({
				logLevel: options.logLevel,
				rtcMinPort: options.rtcMinPort,
				rtcMaxPort: options.rtcMaxPort,
				appData: { index: options.index },
			}),
		);
		try {
			const announced = options.announcedAddress ? { announcedAddress: options.announcedAddress } : {};
			const webRtcServer = await worker.createWebRtcServer({
				listenInfos: [
					{ protocol: 'udp', ip: options.listenIp, port: options.rtcPort, ...announced, ...bufferListenInfo(options.socketBuffers) },
					{ protocol: 'tcp', ip: options.listenIp, port: options.rtcPort, ...announced },
				],
			});
			return new MediaWorker(options.index, worker, webRtcServer);
		} catch (error) {
			worker.close();
			throw error;
		}
	}

	get pid(): number {
		return this.worker.pid;
	}

	get closed(): boolean {
		return this.worker.closed;
	}

	async resourceUsage(): Promise<ResourceUsage> {
		const usage = await this.worker.getResourceUsage();
		// ru_utime/ru_stime are in milliseconds; ru_maxrss in KiB (peak only),
		// so prefer the live RSS from /proc where available.
		const cpuSeconds = (usage.ru_utime + usage.ru_stime) / 1000;
		return { cpuSeconds, rssBytes: (await liveRssBytes(this.pid)) ?? usage.ru_maxrss * 1024 };
	}

	close(): void {
		this.worker.close();
	}
}

async function liveRssBytes(pid: number): Promise<number | undefined> {
	try {
		const { readFile } = await import('node:fs/promises');
		const statm = await readFile(`/proc/${pid}/statm`, 'utf8');
		const residentPages = Number(statm.split(' ')[1]);
		return Number.isFinite(residentPages) ? residentPages * 4096 : undefined;
	} catch {
		return undefined;
	}
}
