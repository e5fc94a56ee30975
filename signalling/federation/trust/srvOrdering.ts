import type { SrvRecord } from 'node:dns';

/**
 * Orders SRV records as RFC 2782 prescribes: ascending priority; within one
 * priority, repeated weighted random selection where a record's chance is its
 * weight over the remaining total (weight-0 records are placed first in the
 * running sum, so they are picked only when the draw is 0 or they are alone).
 * `random` returns [0, 1) like Math.random; injectable for tests.
 */
export function orderSrvRecords(records: readonly SrvRecord[], random: () => number = Math.random): SrvRecord[] {
	const priorities = [...new Set(records.map((record) => record.priority))].sort((a, b) => a - b);
	return priorities.flatMap((priority) =>
		weightedOrder(
			records.filter((record) => record.priority === priority),
			random,
		),
	);
}

function weightedOrder(group: SrvRecord[], random: () => number): SrvRecord[] {
	const remaining = [...group.filter((record) => record.weight === 0), ...group.filter((record) => record.weight !== 0)];
	const ordered: SrvRecord[] = [];
	while (remaining.length > 0) {
		const total = remaining.reduce((sum, record) => sum + record.weight, 0);
		// RFC: pick a uniform integer 0..total inclusive, take the first record whose running sum reaches it.
		const draw = Math.floor(random() * (total + 1));
		let runningSum = 0;
		let index = remaining.findIndex((record) => {
			runningSum += record.weight;
			return runningSum >= draw;
		});
		if (index < 0) index = remaining.length - 1;
		ordered.push(...remaining.splice(index, 1));
	}
	return ordered;
}
