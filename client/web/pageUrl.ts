/** What the page's URL fragment may carry: `#conference=…&token=…&invite=…&name=…`. */
export interface PageParams {
	conference?: string;
	token?: string;
	invite?: string;
	name?: string;
}

export function readFragment(hash: string): PageParams {
	const params = new URLSearchParams(hash.replace(/^#/, ''));
	const get = (key: string) => params.get(key) ?? undefined;
	const out: PageParams = {};
	for (const key of ['conference', 'token', 'invite', 'name'] as const) {
		const value = get(key);
		if (value) out[key] = value;
	}
	return out;
}

/** The fragment to keep in the address bar: never the token (addresses get shared and stay in history). */
export function fragmentWithoutToken(params: PageParams): string {
	const keep = new URLSearchParams();
	if (params.conference) keep.set('conference', params.conference);
	if (params.invite) keep.set('invite', params.invite);
	const text = keep.toString();
	return text ? `#${text}` : '';
}
