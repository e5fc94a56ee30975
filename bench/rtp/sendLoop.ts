/**
 * One timer drives every sending load client in the process: hundreds of
 * clients cost one timer callback per period instead of one each.
 */
const PERIOD_MS = 5;
const ticks = new Set<() => void>();
let timer: NodeJS.Timeout | undefined;

/** Calls `tick` now and then every few ms until the returned function is called. */
export function joinSendLoop(tick: () => void): () => void {
	ticks.add(tick);
	tick();
	timer ??= setInterval(() => {
		for (const t of ticks) t();
	}, PERIOD_MS);
	return () => {
		ticks.delete(tick);
		if (ticks.size === 0) {
			clearInterval(timer);
			timer = undefined;
		}
	};
}
