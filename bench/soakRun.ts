import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { MediaWorker } from '../sft/MediaWorker.ts';
import type { WorkerAllocator } from '../sft/workerAllocator.ts';
import type { SftServer } from '../signalling/SftServer.ts';
import { FederatedDomains } from '../test/support/federatedDomains.ts';
import { PlainSignallingPeer } from '../test/support/plainSignallingPeer.ts';
import type { ReceivedEvent } from '../test/support/signallingClient.ts';
import { seededRandom } from './net/impairment.ts';
import { dumpWorkerHeapProfile, workerHeapInUse } from './workerHeap.ts';

export interface SoakOptions {
	minutes: number;
	/** Churn before the baseline, within `minutes` (default: min(1, minutes / 4)). */
	warmupMinutes?: number;
	/** Also read each worker's allocator figures through gdb at the baseline and the end. */
	heapInUse?: boolean;
	/**
	 * Have each worker write a jemalloc heap profile at the baseline and the
	 * end (through gdb). The workers must run jemalloc with `prof:true` in
	 * MALLOC_CONF (the soak CLI's --heap-profile sets it).
	 */
	heapProfile?: boolean;
	/** The workers' malloc (media.workerAllocator; the SFT default when absent). */
	allocator?: WorkerAllocator;
	/** A progress line every this often. */
	progressEveryMs?: number;
	onProgress?: (line: string) => void;
	seed?: number;
}

/** What is alive at one moment, summed over the three SFTs (and, for Node, this whole process). */
export interface SoakSnapshot {
	nodeRssBytes: number;
	nodeHeapUsedBytes: number;
	workerRssBytes: number;
	/** Per domain, MB (a replaced worker starts small again). */
	workerRssByDomain: Record<string, number>;
	/** With `heapInUse`: what the workers' allocator has handed out and not had back (no fragmentation), bytes. */
	workerHeapInUseBytes?: number;
	/** The same per domain, MB. */
	workerHeapInUseByDomain?: Record<string, number>;
	/** With `heapProfile`: the worker pids that wrote a heap profile, per domain. */
	heapProfilePids?: Record<string, number[]>;
	nodeFds: number;
	workerFds: number;
	routers: number;
	/** Every object a worker still routes requests to (routers, transports, producers, consumers, observers…): the worker's own count. */
	workerObjects: number;
	transports: number;
	producers: number;
	consumers: number;
	/** Callers' video consumers that are forwarding (neither they nor their producer paused), per domain: each holds up to 2 s of packets for retransmission. */
	videoForwarding: Record<string, number>;
	participants: number;
}

export interface SoakResult {
	baseline: SoakSnapshot;
	end: SoakSnapshot;
	joins: number;
	leaves: number;
	viewChanges: number;
	linkFlaps: number;
	workerKills: number;
	/** Requests that failed (e.g. a view naming a stream that just closed); churn goes on. */
	errors: number;
	/** The failed requests by error code. */
	errorCodes: Record<string, number>;
	/** Steady callers that hear every other steady caller at the end. */
	steadyHearingAll: number;
	steadyCallers: number;
	seconds: number;
}

const DOMAINS = ['a.soak', 'b.soak', 'c.soak'] as const;
const CONFERENCE = 'soak';
const STEADY_PER_DOMAIN = 2;
const MAX_CHURNERS = 6;
const CHURN_EVERY_MS = 2000;
const VIEW_EVERY_MS = 3000;
const FLAP_EVERY_MS = 60_000;
const FLAP_DOWN_MS = 8000;

interface Caller {
	peer: PlainSignallingPeer;
	domain: string;
	participantId: string;
}

/**
 * A federated call across three domains with constant churn: callers join
 * and leave every few seconds, views change, one federation path flaps a
 * minute (8 s black hole), and the anchor's worker is killed once halfway.
 * The baseline is taken after a warm-up (churn and one flap of each path)
 * with the steady callers only; the end state after the churn stops with
 * the same callers. Both list what is
 * alive, so a leak shows as a difference.
 */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
	const gc = exposeGc();
	const random = seededRandom(options.seed ?? 42);
	const log = options.onProgress ?? (() => undefined);
	const domains = await FederatedDomains.start(
		// 30 plain ports per SFT: up to 10 callers with a send and a receive transport each.
		DOMAINS.map((domain) => ({ domain, allow: DOMAINS.filter((d) => d !== domain), plainPorts: 30 })),
		{ networkPaths: true, ...(options.allocator ? { media: { workerAllocator: options.allocator } } : {}) },
	);
	const steady: Caller[] = [];
	const churners: Caller[] = [];
	const counts = { joins: 0, leaves: 0, viewChanges: 0, linkFlaps: 0, workerKills: 0, errors: 0 };
	const errorCodes: Record<string, number> = {};
	const failed = (error: unknown) => {
		counts.errors++;
		const code = (error as { code?: string }).code ?? 'other';
		errorCodes[code] = (errorCodes[code] ?? 0) + 1;
		if (process.env['SOAK_DEBUG']) log(`request failed: ${(error as Error).message}`);
	};
	let descriptor: unknown;
	let nextSsrc = 10_000;
	const join = async (domain: string, user: string, video: boolean): Promise<Caller> => {
		const peer = await PlainSignallingPeer.connect(domains.url(domain));
		try {
			const right = descriptor === undefined ? 'start' : 'join';
			const joined = await peer.join({
				token: domains.token(user, CONFERENCE, right),
				conferenceId: CONFERENCE,
				...(domain === 'a.soak' ? {} : { descriptor }),
			});
			descriptor ??= joined['descriptor'];
			peer.consumeAnnounced();
			await peer.sendAudio(nextSsrc++, 20 + Math.floor(random() * 40));
			if (video) await peer.sendVideo(nextSsrc++);
			return { peer, domain, participantId: joined['participantId'] as string };
		} catch (error) {
			peer.close();
			throw error;
		}
	};
	const started = Date.now();
	const durationMs = options.minutes * 60_000;
	const timers: NodeJS.Timeout[] = [];
	let churning = false;
	try {
		for (const domain of DOMAINS)
			for (let i = 0; i < STEADY_PER_DOMAIN; i++) steady.push(await join(domain, `${domain}-steady${i}`, i === 0));

		const churn = async () => {
			if (!churning) return;
			if (churners.length < MAX_CHURNERS && (churners.length === 0 || random() < 0.55)) {
				const domain = DOMAINS[Math.floor(random() * DOMAINS.length)] as string;
				try {
					churners.push(await join(domain, `churner${counts.joins}`, random() < 0.3));
					counts.joins++;
				} catch (error) {
					failed(error);
				}
			} else {
				const [gone] = churners.splice(Math.floor(random() * churners.length), 1);
				gone?.peer.close();
				if (gone) counts.leaves++;
			}
		};
		// The test clients record every event; keep only what the churn reads (producers still open),
		// so their memory is not counted as the SFTs'.
		timers.push(
			setInterval(() => {
				for (const { peer } of [...steady, ...churners]) {
					const open = new Set(openProducers(peer).values());
					peer.signalling.forgetEvents((e) => open.has(e));
				}
			}, 10_000),
		);
		const changeView = async () => {
			if (!churning) return;
			const everyone = [...steady, ...churners];
			const caller = everyone[Math.floor(random() * everyone.length)];
			if (!caller) return;
			const view = openVideos(caller.peer)
				.filter(() => random() < 0.5)
				.slice(0, 9);
			try {
				await caller.peer.signalling.request('setView', { producerIds: view });
				counts.viewChanges++;
			} catch (error) {
				// A producer in the view may have closed meanwhile: the SFT says so, nothing else.
				failed(error);
			}
		};
		let flapTarget = 0;
		const flap = async () => {
			if (!churning) return;
			const partner = flapTarget++ % 2 === 0 ? 'b.soak' : 'c.soak';
			const path = domains.path('a.soak', partner);
			await path.setDown(true);
			counts.linkFlaps++;
			log(`${elapsed(started)} link a.soak <-> ${partner} down for ${FLAP_DOWN_MS / 1000} s`);
			await sleep(FLAP_DOWN_MS);
			await path.setDown(false);
		};
		const repeat = (everyMs: number, work: () => Promise<void>) => {
			let busy = false;
			timers.push(
				setInterval(() => {
					if (busy) return;
					busy = true;
					void work().finally(() => (busy = false));
				}, everyMs),
			);
		};

		// Warm-up: the call with churn and one flap of each federation path (JIT, allocator
		// and container high-water marks), then the baseline with the steady callers only.
		// Without the flaps, the first one after the baseline reads as growth that never repeats.
		const warmupMs = options.warmupMinutes !== undefined ? options.warmupMinutes * 60_000 : Math.min(60_000, durationMs / 4);
		churning = true;
		repeat(CHURN_EVERY_MS, churn);
		repeat(VIEW_EVERY_MS, changeView);
		const warmupFlaps = (async () => {
			await flap();
			await flap();
			// A longer warm-up keeps the run's cadence of flaps, each one over before the baseline.
			while (Date.now() - started + FLAP_EVERY_MS + FLAP_DOWN_MS < warmupMs) {
				await sleep(FLAP_EVERY_MS);
				await flap();
			}
		})();
		await sleep(warmupMs);
		await warmupFlaps;
		churning = false;
		await settle(churners, steady, counts);
		const baseline = await snapshot(domains, gc, options);
		log(`${elapsed(started)} baseline ${describe(baseline)}`);

		churning = true;
		const flapFirst = setTimeout(
			() => {
				void flap();
				repeat(FLAP_EVERY_MS, flap);
			},
			Math.min(30_000, durationMs / 8),
		);
		const kill = setTimeout(
			() => {
				const worker = domains.server('a.soak').sft.pool.workers[0];
				if (!worker) return;
				process.kill(worker.pid, 'SIGKILL');
				counts.workerKills++;
				log(`${elapsed(started)} killed a.soak's worker (pid ${worker.pid})`);
			},
			Math.max(0, durationMs / 2 - (Date.now() - started)),
		);
		timers.push(
			setInterval(() => {
				const { rss } = process.memoryUsage();
				// Worker RSS over time tells a leak (keeps climbing) from a high-water mark (levels off).
				void workerRssBytes(domains).then((workers) =>
					log(
						`${elapsed(started)} callers ${steady.length + churners.length}, joins ${counts.joins}, leaves ${counts.leaves}, views ${counts.viewChanges}, flaps ${counts.linkFlaps}, worker kills ${counts.workerKills}, errors ${counts.errors}, node rss ${mb(rss)}, worker rss ${JSON.stringify(inMegabytes(workers))}`,
					),
				);
			}, options.progressEveryMs ?? 10_000),
		);
		await sleep(Math.max(0, durationMs - (Date.now() - started)));
		churning = false;
		clearTimeout(flapFirst);
		clearTimeout(kill);
		for (const timer of timers) clearInterval(timer);
		for (const path of ['b.soak', 'c.soak']) await domains.path('a.soak', path).setDown(false);
		await settle(churners, steady, counts);
		// Everyone hears every other steady caller again (links and media recovered).
		const heard = steady.map((c) => steady.map((s) => c.peer.receivedFromParticipant(s.participantId)));
		await sleep(3000);
		const deaf = steady.flatMap((c, i) =>
			steady
				.filter((s, j) => s !== c && c.peer.receivedFromParticipant(s.participantId) <= (heard[i]?.[j] ?? 0) + 20)
				.map((s) => `${c.domain} caller ${i} does not hear ${s.domain}'s ${steady.indexOf(s)}`),
		);
		for (const line of deaf) log(`${elapsed(started)} ${line}`);
		if (deaf.length > 0 && process.env['SOAK_DEBUG']) {
			for (const c of steady) {
				const conference = domains.server(c.domain).sft.getConference(CONFERENCE);
				const me = conference?.getParticipant(c.participantId);
				log(
					`${c.domain} ${c.participantId.slice(0, 6)}: ${me?.consumers.map((k) => `${k.producerId.slice(0, 6)}:${k.kind}:${k.paused ? 'P' : ''}${k.producerPaused ? 'PP' : ''}`).join(' ')} | ranking ${conference?.audioRanking.map((x) => x.slice(0, 6)).join(',')}`,
				);
				log(
					`   producers ${conference?.participants.map((p) => `${p.userId}:${p.producers.map((x) => x.id.slice(0, 6)).join('/')}`).join(' ')}`,
				);
			}
		}
		const steadyHearingAll = steady.filter((c, i) =>
			steady.every((s, j) => s === c || c.peer.receivedFromParticipant(s.participantId) > (heard[i]?.[j] ?? 0) + 20),
		).length;
		const end = await snapshot(domains, gc, options);
		log(`${elapsed(started)} end ${describe(end)}`);
		return { baseline, end, ...counts, errorCodes, steadyHearingAll, steadyCallers: steady.length, seconds: (Date.now() - started) / 1000 };
	} finally {
		churning = false;
		for (const timer of timers) clearInterval(timer);
		for (const caller of [...steady, ...churners]) caller.peer.close();
		await domains.close();
	}
}

/**
 * Lets the churners go, waits until the SFTs have let go of them and of any
 * link outage, then gives every steady caller the same view (every video still
 * open), so both snapshots forward the same streams: each video consumer that
 * is not paused holds up to 2 s of packets for retransmission (about 0.2 MB
 * at the soak's video rate), and the random views of the churn would move the
 * worker figures by as much.
 */
async function settle(churners: Caller[], steady: Caller[], counts: { leaves: number }): Promise<void> {
	for (const caller of churners.splice(0)) {
		caller.peer.close();
		counts.leaves++;
	}
	await sleep(9000);
	await Promise.all(
		steady.map((c) => c.peer.signalling.request('setView', { producerIds: openVideos(c.peer).slice(0, 9) }).catch(() => undefined)),
	);
	// Long enough for the retransmission buffers to fill to their 2 s window.
	await sleep(3000);
}

/**
 * The `producerAdded` event of each producer a caller was told of and not
 * told closed since, by producer id. Events are read in order: after a link
 * flap a stream closes and comes back under the same id.
 */
function openProducers(peer: PlainSignallingPeer): Map<string, ReceivedEvent> {
	const open = new Map<string, ReceivedEvent>();
	for (const event of peer.signalling.events) {
		const { producerId } = event.payload as { producerId: string };
		if (event.event === 'producerAdded') open.set(producerId, event);
		else if (event.event === 'producerClosed') open.delete(producerId);
	}
	return open;
}

/** The videos a caller could view now. */
function openVideos(peer: PlainSignallingPeer): string[] {
	return [...openProducers(peer)]
		.filter(([, event]) => (event.payload as { kind: string }).kind === 'video')
		.map(([producerId]) => producerId);
}

async function snapshot(
	domains: FederatedDomains,
	gc: (() => void) | undefined,
	{ heapInUse, heapProfile }: Pick<SoakOptions, 'heapInUse' | 'heapProfile'>,
): Promise<SoakSnapshot> {
	gc?.();
	// SOAK_HEAP_SNAPSHOTS=<dir>: V8 heap snapshots at baseline and end, to compare what the heap holds.
	const heapDir = process.env['SOAK_HEAP_SNAPSHOTS'];
	if (heapDir) writeHeapSnapshot(join(heapDir, `soak-${Date.now()}.heapsnapshot`));
	// Pipe wires of the test network whose pipes are gone would count as our descriptors.
	for (const [i, a] of DOMAINS.entries()) for (const b of DOMAINS.slice(i + 1)) await domains.path(a, b).closeIdleWires(5000);
	const servers = DOMAINS.map((d) => domains.server(d));
	const workers = servers.flatMap((s) => s.sft.pool.workers);
	const rssByDomain = await workerRssBytes(domains);
	let routers = 0;
	let workerObjects = 0;
	let transports = 0;
	let producers = 0;
	let consumers = 0;
	for (const worker of workers) {
		const dump = await worker.worker.dump();
		routers += dump.routerIds.length;
		workerObjects += dump.channelMessageHandlers.channelRequestHandlers.length;
	}
	for (const conference of servers.flatMap((s: SftServer) => s.sft.conferences)) {
		const dump = await conference.router.dump();
		transports += dump.transportIds.length;
		producers += dump.mapProducerIdConsumerIds.length;
		consumers += dump.mapConsumerIdProducerId.length;
	}
	const videoForwarding = Object.fromEntries(
		DOMAINS.map((d) => [
			d,
			domains
				.server(d)
				.sft.conferences.flatMap((c) => c.participants.flatMap((p) => p.consumers))
				.filter((k) => k.kind === 'video' && !k.paused && !k.producerPaused).length,
		]),
	);
	const memory = process.memoryUsage();
	// NaN for a worker gdb could not read, so the totals say unknown.
	const inUseByDomain = heapInUse ? await sumByDomain(domains, async (w) => (await workerHeapInUse(w.pid)) ?? Number.NaN) : undefined;
	const inUseBytes = inUseByDomain ? total(inUseByDomain) : Number.NaN;
	const heapProfilePids = heapProfile ? await profileByDomain(domains) : undefined;
	return {
		...(heapProfilePids ? { heapProfilePids } : {}),
		...(inUseByDomain && Number.isFinite(inUseBytes)
			? { workerHeapInUseBytes: inUseBytes, workerHeapInUseByDomain: inMegabytes(inUseByDomain) }
			: {}),
		nodeRssBytes: memory.rss,
		nodeHeapUsedBytes: memory.heapUsed,
		workerRssBytes: total(rssByDomain),
		workerRssByDomain: inMegabytes(rssByDomain),
		nodeFds: readdirSync('/proc/self/fd').length,
		workerFds: workers.reduce((n, w) => n + fdCount(w.pid), 0),
		routers,
		workerObjects,
		transports,
		producers,
		consumers,
		videoForwarding,
		participants: servers.reduce((n, s) => n + s.sft.conferences.reduce((m, c) => m + c.participants.length, 0), 0),
	};
}

/** `measure` summed over each domain's workers. */
async function sumByDomain(domains: FederatedDomains, measure: (worker: MediaWorker) => Promise<number>): Promise<Record<string, number>> {
	const byDomain: Record<string, number> = {};
	for (const domain of DOMAINS) {
		const own = await Promise.all(domains.server(domain).sft.pool.workers.map(measure));
		byDomain[domain] = own.reduce((n, b) => n + b, 0);
	}
	return byDomain;
}

/** Has every worker write a heap profile; the pids that did, per domain. */
async function profileByDomain(domains: FederatedDomains): Promise<Record<string, number[]>> {
	const byDomain: Record<string, number[]> = {};
	for (const domain of DOMAINS) {
		const pids = domains.server(domain).sft.pool.workers.map((w) => w.pid);
		const dumped = await Promise.all(pids.map(dumpWorkerHeapProfile));
		byDomain[domain] = pids.filter((_, i) => dumped[i]);
	}
	return byDomain;
}

/** Worker RSS per domain, bytes (a worker that just died counts 0). */
function workerRssBytes(domains: FederatedDomains): Promise<Record<string, number>> {
	return sumByDomain(domains, (w) =>
		w.resourceUsage().then(
			(u) => u.rssBytes,
			() => 0,
		),
	);
}

function total(byDomain: Record<string, number>): number {
	return Object.values(byDomain).reduce((n, b) => n + b, 0);
}

/** MB to one decimal, for the progress lines and the per-domain table. */
function inMegabytes(bytes: Record<string, number>): Record<string, number> {
	return Object.fromEntries(Object.entries(bytes).map(([key, b]) => [key, Math.round(b / 1e5) / 10]));
}

function fdCount(pid: number): number {
	try {
		return readdirSync(`/proc/${pid}/fd`).length;
	} catch {
		return 0;
	}
}

/** A full GC before measuring memory, so the figures compare live objects rather than garbage. */
function exposeGc(): (() => void) | undefined {
	setFlagsFromString('--expose-gc');
	const gc: unknown = runInNewContext('gc');
	return typeof gc === 'function' ? () => (gc as () => void)() : undefined;
}

export function describe(s: SoakSnapshot): string {
	return `routers ${s.routers}, worker objects ${s.workerObjects}, transports ${s.transports}, producers ${s.producers}, consumers ${s.consumers} (video forwarding ${JSON.stringify(s.videoForwarding)}), participants ${s.participants}, node rss ${mb(s.nodeRssBytes)} (heap ${mb(s.nodeHeapUsedBytes)}), worker rss ${mb(s.workerRssBytes)} ${JSON.stringify(s.workerRssByDomain)}, fds ${s.nodeFds} + ${s.workerFds}`;
}

function mb(bytes: number): string {
	return `${(bytes / 1e6).toFixed(1)} MB`;
}

function elapsed(started: number): string {
	const s = Math.floor((Date.now() - started) / 1000);
	return `[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}]`;
}

function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}
