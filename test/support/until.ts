/** Polls `check` until it holds; resolves with the milliseconds that took, rejects naming `what` after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs: number, what: string, pollMs = 20): Promise<number> {
	const started = Date.now();
	while (!check()) {
		if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, pollMs));
	}
	return Date.now() - started;
}
