import { loadavg } from 'node:os';
import { type ForwardingResult, round, table, workerMicrosPerPacket } from './forwardingReport.ts';

/** Why a step lost packets, judged from where the CPU went and which sockets overflowed. */
export type Limit = 'none' | 'worker' | 'load generator' | 'machine (worker starved)' | 'control channel' | 'unclear';

export interface CapacityStep {
	participants: number;
	conferences: number;
	lossPercent: number;
	forwardedPacketsPerSecond: number;
	workerCpuPercent: number;
	workerMicrosPerPacket: number;
	/** Slowest answer of the worker's control channel in the window. */
	workerChannelMs: number;
	nodeCpuPercent: number;
	eventLoopBusyPercent: number;
	machineBusyPercent: number;
	udpDrops: { loadClients: number; sft: number };
	senderSkipped: number;
	limit: Limit;
}

export interface CapacityResult {
	profile: string;
	/** A step also fails when the worker took longer than this to answer a control request. */
	maxControlMs: number;
	/** 1-minute load average before the first step: above ~0.3 other work skews every figure. */
	loadAverageAtStart: number;
	conferenceSize: number | null;
	maxLossPercent: number;
	/** The most participants with loss under the limit, all on one worker (so one core at most). */
	participantsPerCore: number;
	steps: CapacityStep[];
}

export interface CapacitySearch {
	profile: string;
	/** Participants per conference (counts go in whole conferences); null: one conference of everyone. */
	conferenceSize: number | null;
	maxLossPercent: number;
	maxControlMs: number;
	maxParticipants: number;
	/** Times a lossy step the worker did not cause is measured again before it counts (noise on a shared machine). */
	retries: number;
}

/**
 * Doubles the participants until loss reaches the limit, then bisects between
 * the last good and first bad count (in whole conferences), to within an
 * eighth of the good count. A lossy step the worker did not cause (it had
 * CPU to spare) is measured again up to `retries` times; every try is listed.
 */
export async function findCapacity(
	search: CapacitySearch,
	measure: (participants: number) => Promise<ForwardingResult>,
): Promise<CapacityResult> {
	const unit = search.conferenceSize ?? 1;
	const steps: CapacityStep[] = [];
	const run = async (units: number): Promise<boolean> => {
		for (let attempt = 0; ; attempt++) {
			const step = stepOf(await measure(units * unit), search);
			steps.push(step);
			if (step.limit === 'none') return true;
			if (step.limit === 'worker' || attempt >= search.retries) return false;
		}
	};
	const loadAverageAtStart = round(loadavg()[0] ?? 0, 2);
	let good = 0;
	let bad: number | undefined;
	const maxUnits = Math.floor(search.maxParticipants / unit);
	for (let units = search.conferenceSize ? 1 : 4; bad === undefined && units <= maxUnits; units *= 2) {
		if (await run(units)) good = units;
		else bad = units;
	}
	while (bad !== undefined && bad - good > 1 && bad - good > good / 8) {
		const mid = Math.floor((good + bad) / 2);
		if (await run(mid)) good = mid;
		else bad = mid;
	}
	return {
		profile: search.profile,
		maxControlMs: search.maxControlMs,
		loadAverageAtStart,
		conferenceSize: search.conferenceSize,
		maxLossPercent: search.maxLossPercent,
		participantsPerCore: good * unit,
		steps,
	};
}

function stepOf(r: ForwardingResult, limits: { maxLossPercent: number; maxControlMs: number }): CapacityStep {
	return {
		participants: r.config.participants,
		conferences: r.config.conferences,
		lossPercent: r.lossPercent,
		forwardedPacketsPerSecond: r.forwardedPacketsPerSecond,
		workerCpuPercent: r.worker.cpuPercent,
		workerMicrosPerPacket: workerMicrosPerPacket(r),
		workerChannelMs: r.worker.channelMs,
		nodeCpuPercent: r.node.cpuPercent,
		eventLoopBusyPercent: r.node.eventLoopBusyPercent,
		machineBusyPercent: r.machineBusyPercent,
		udpDrops: r.udpDrops,
		senderSkipped: r.senderSkipped,
		limit: r.lossPercent >= limits.maxLossPercent ? limitOf(r) : r.worker.channelMs >= limits.maxControlMs ? 'control channel' : 'none',
	};
}

/**
 * The worker is the limit when it used (nearly) its whole core. When it had
 * room but its sockets overflowed, it did not get the CPU it wanted: the
 * machine was busy (the load generator or other work). The load generator is
 * the limit when its own sockets overflowed, it skipped sends or its event
 * loop was saturated.
 */
export function limitOf(r: ForwardingResult): Limit {
	if (r.worker.cpuPercent >= 90) return 'worker';
	if (r.udpDrops.sft > r.udpDrops.loadClients) return 'machine (worker starved)';
	if (r.udpDrops.loadClients > 0 || r.senderSkipped > 0 || r.node.eventLoopBusyPercent >= 90) return 'load generator';
	return 'unclear';
}

export function capacityReport(result: CapacityResult): string {
	const where = result.conferenceSize ? `conferences of ${result.conferenceSize}` : 'one conference';
	const rows = result.steps.map((s) => [
		String(s.participants),
		String(s.conferences),
		`${s.lossPercent} %`,
		String(Math.round(s.forwardedPacketsPerSecond)),
		`${s.workerCpuPercent} %`,
		String(s.workerMicrosPerPacket),
		`${s.workerChannelMs} ms`,
		`${s.nodeCpuPercent} % / ${s.eventLoopBusyPercent} %`,
		`${s.machineBusyPercent} %`,
		`${s.udpDrops.loadClients} / ${s.udpDrops.sft}`,
		s.limit,
	]);
	const noisy =
		result.loadAverageAtStart >= 0.3
			? [`Load average ${result.loadAverageAtStart} at start: the machine was not quiet, so these figures are provisional.`, '']
			: [];
	return [
		`**Capacity (\`${result.profile}\`, ${where}): ${result.participantsPerCore} participants per worker core with < ${result.maxLossPercent} % loss and control answers within ${result.maxControlMs} ms**`,
		'',
		...noisy,
		'"Per worker core": every conference runs on one mediasoup worker, a single-threaded process, so it uses at most one core;',
		'the figure is the most participants (each sending and receiving) whose measured window lost less than the limit, loss counted',
		'per receiver on the layer mediasoup forwarded it, and in which the worker answered every control request (what joins, views and',
		'layer choices go through; one every 2 s) in time. "worker CPU" is that process\'s share of its core; "limit" says what ran out',
		'in a lossy step (worker: ≥ 90 % of its core; machine: the worker had room but its sockets overflowed because it did not get',
		'the CPU; load generator: its sockets overflowed, it skipped sends or its event loop was saturated). A lossy step the worker',
		'did not cause is measured again before it counts.',
		'',
		table(
			[
				'participants',
				'conferences',
				'loss',
				'forwarded pkt/s',
				'worker CPU (one core)',
				'worker µs/packet',
				'slowest control answer',
				'Node CPU / event loop busy',
				'machine busy',
				'UDP drops clients / SFT',
				'limit',
			],
			rows,
		),
	].join('\n');
}

/** Capacities of several profiles under the same load, with each one's ratio to the first. */
export function capacityComparison(results: readonly CapacityResult[]): string {
	const [base] = results;
	if (!base || results.length < 2) return '';
	const rows = results.map((r) => [
		r.profile,
		String(r.participantsPerCore),
		base.participantsPerCore > 0 ? String(round(r.participantsPerCore / base.participantsPerCore, 2)) : 'n/a',
	]);
	return table(['profile', 'participants per worker core', `ratio to ${base.profile}`], rows);
}
