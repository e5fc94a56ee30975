/**
 * Development tokens from this SFT's /api/dev-token: only for this machine
 * on embedded defaults (or when the operator switched on the unsafe mode).
 */
export async function devTokenAvailable(): Promise<boolean> {
	try {
		const response = await fetch('/api/dev-token', { cache: 'no-store' });
		return response.ok && ((await response.json()) as { available?: boolean }).available === true;
	} catch {
		return false;
	}
}

export async function fetchDevToken(conferenceId: string): Promise<string | undefined> {
	const response = await fetch('/api/dev-token', {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ conferenceId }),
		cache: 'no-store',
	});
	if (!response.ok) return undefined;
	return ((await response.json()) as { token?: string }).token;
}
