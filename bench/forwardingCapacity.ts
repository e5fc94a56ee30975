import { type ForwardingResult, round, table, workerMicrosPerPacket } from './forwardingReport.ts';

/** Why a step lost packets, judged from where the CPU went and which sockets overflowed. */
export type Limit = 'none' | 'worker' | 'load generator' | 'machine' | 'unclear';

export interface CapacityStep {
	participants: number;
	conferences: number;
	lossPercent: number;
	forwardedPacketsPerSecond: number;
	workerCpuPercent: number;
	workerMicrosPerPacket: number;
	nodeCpuPercent: number;
	eventLoopBusyPercent: number;
	machineBusyPercent: number;
	udpDrops: { loadClients: number; sft: number };
	senderSkipped: number;
	limit: Limit;
}

export interface CapacityResult {
	profile: string;
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
	maxParticipants: number;
}

/**
 * Doubles the participants until loss reaches the limit, then bisects between
 * the last good and first bad count (in whole conferences), to within an
 * eighth of the good count.
 */
export async function findCapacity(
	search: CapacitySearch,
	measure: (participants: number) => Promise<ForwardingResult>,
): Promise<CapacityResult> {
	const unit = search.conferenceSize ?? 1;
	const steps: CapacityStep[] = [];
	const run = async (units: number): Promise<boolean> => {
		const result = await measure(units * unit);
		const step = stepOf(result, search.maxLossPercent);
		steps.push(step);
		return step.lossPercent < search.maxLossPercent;
	};
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
		conferenceSize: search.conferenceSize,
		maxLossPercent: search.maxLossPercent,
		participantsPerCore: good * unit,
		steps,
	};
}

function stepOf(r: ForwardingResult, maxLossPercent: number): CapacityStep {
	return {
		participants: r.config.participants,
		conferences: r.config.conferences,
		lossPercent: r.lossPercent,
		forwardedPacketsPerSecond: r.forwardedPacketsPerSecond,
		workerCpuPercent: r.worker.cpuPercent,
		workerMicrosPerPacket: workerMicrosPerPacket(r),
		nodeCpuPercent: r.node.cpuPercent,
		eventLoopBusyPercent: r.node.eventLoopBusyPercent,
		machineBusyPercent: r.machineBusyPercent,
		udpDrops: r.udpDrops,
		senderSkipped: r.senderSkipped,
		limit: r.lossPercent < maxLossPercent ? 'none' : limitOf(r),
	};
}

/**
 * The worker is the limit when it used (nearly) its whole core; the load
 * generator when its event loop was saturated, it skipped sends or its own
 * sockets overflowed while the worker had room; the machine when both had room
 * but all cores were busy (other work).
 */
export function limitOf(r: ForwardingResult): Limit {
	if (r.worker.cpuPercent >= 90) return 'worker';
	if (r.node.eventLoopBusyPercent >= 90 || r.senderSkipped > 0 || r.udpDrops.loadClients > r.udpDrops.sft) return 'load generator';
	if (r.machineBusyPercent >= 90) return 'machine';
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
		`${s.nodeCpuPercent} % / ${s.eventLoopBusyPercent} %`,
		`${s.machineBusyPercent} %`,
		`${s.udpDrops.loadClients} / ${s.udpDrops.sft}`,
		s.limit,
	]);
	return [
		`**Capacity (\`${result.profile}\`, ${where}): ${result.participantsPerCore} participants per worker core with < ${result.maxLossPercent} % loss**`,
		'',
		'"Per worker core": every conference runs on one mediasoup worker, a single-threaded process, so it uses at most one core;',
		'the figure is the most participants (each sending and receiving) whose measured window lost less than the limit, loss counted',
		'per receiver on the layer mediasoup forwarded it. "worker CPU" is that process\'s share of its core; "limit" says what ran out',
		'in a lossy step (worker: ≥ 90 % of its core; load generator: Node event loop saturated, skipped sends or its sockets overflowing).',
		'',
		table(
			[
				'participants',
				'conferences',
				'loss',
				'forwarded pkt/s',
				'worker CPU (one core)',
				'worker µs/packet',
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
