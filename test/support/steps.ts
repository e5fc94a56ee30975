import type { Test } from 'uvu';
import { NetnsUnavailableError } from './netnsHosts.ts';

export interface StepContext {
	/** Why the steps cannot run here (skipped with this reason). */
	unavailable: string | undefined;
	/** The setup's failure, if any: every step reports it (a machine without namespaces skips instead). */
	setupError(): unknown;
	/** Called when a step fails, before it is reported (e.g. to print server logs). */
	onFailure(step: string): void;
}

/** Declares a step of a sequential suite: timed, skipped where it cannot run, reporting the setup's failure. */
export function step(test: Test, context: StepContext, name: string, body: () => Promise<void>): void {
	if (context.unavailable) {
		test.skip(`${name} (skipped: ${context.unavailable})`);
		return;
	}
	test(name, async () => {
		const setupError = context.setupError();
		if (setupError instanceof NetnsUnavailableError) return console.log(`  skipped: ${setupError.message}`);
		if (setupError) throw setupError;
		const t0 = Date.now();
		try {
			await body();
		} catch (error) {
			context.onFailure(name);
			throw error;
		} finally {
			console.log(`  ${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
		}
	});
}
