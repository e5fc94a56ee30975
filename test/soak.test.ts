import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describe, runSoak } from '../bench/soakRun.ts';

// The 2-minute version of `npm run soak`: three domains, constant churn,
// view changes, link flaps and a worker kill; afterwards the same callers
// leave the same mediasoup objects and file descriptors alive as before.
// Memory gets a looser bound than the 30-minute run's 5 % (see
// RELIABILITY.md): two minutes leave allocators and JIT still warming up.
test('2 minutes of churn, flaps and a worker kill: objects and descriptors back to baseline, memory close, everyone hears everyone', async () => {
	const result = await runSoak({ minutes: 2, onProgress: (line) => console.log(`  ${line}`) });
	console.log(`  baseline ${describe(result.baseline)}\n  end      ${describe(result.end)}`);
	assert.ok(result.joins >= 10 && result.leaves >= 10, `churn happened (${result.joins} joins, ${result.leaves} leaves)`);
	assert.ok(result.linkFlaps >= 1 && result.workerKills === 1, 'a link flapped and a worker was killed');
	assert.is(result.steadyHearingAll, result.steadyCallers, 'every steady caller hears every other one at the end');
	for (const key of ['routers', 'transports', 'producers', 'consumers', 'participants', 'nodeFds', 'workerFds'] as const)
		assert.is(result.end[key], result.baseline[key], `${key} back to baseline`);
	for (const key of ['nodeRssBytes', 'workerRssBytes'] as const) {
		const growth = result.end[key] / result.baseline[key] - 1;
		assert.ok(growth < 0.1, `${key} grew ${(growth * 100).toFixed(1)} %`);
	}
});

test.run();
