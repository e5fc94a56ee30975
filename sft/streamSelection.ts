/**
 * Pure selection rules: which remote streams a participant should receive.
 * Kept free of mediasoup so the rules can be read (and tested) on their own.
 */

/**
 * Audio: the `max` loudest remote speakers. `candidates` are the remote audio
 * producers in arrival order; `ranking` is loudest-first from the audio-level
 * observer. Unranked candidates keep arrival order, so before anyone has spoken
 * the first `max` arrivals are audible rather than nobody.
 */
export function selectAudible(candidates: readonly string[], ranking: readonly string[], max: number): Set<string> {
	const rank = new Map(ranking.map((id, i) => [id, i]));
	const ordered = candidates.map((id, arrival) => ({ id, key: rank.get(id) ?? ranking.length + arrival })).sort((a, b) => a.key - b.key);
	return new Set(ordered.slice(0, max).map((c) => c.id));
}

/**
 * Video: the producers the client put in its view (at most `max`), or, until
 * it sets one, the first `max` remote videos in arrival order.
 */
export function selectVisible(candidates: readonly string[], view: readonly string[] | undefined, max: number): Set<string> {
	if (view === undefined) return new Set(candidates.slice(0, max));
	const present = new Set(candidates);
	return new Set(view.filter((id) => present.has(id)).slice(0, max));
}

/**
 * New loudest-first ranking after an observer report: the reported speakers
 * first, then earlier-ranked ones (a speaker who pauses for breath keeps its
 * place instead of being cut off mid-sentence).
 */
export function mergeRanking(previous: readonly string[], reported: readonly string[], known: ReadonlySet<string>): string[] {
	const reportedSet = new Set(reported);
	return [...reported, ...previous.filter((id) => !reportedSet.has(id))].filter((id) => known.has(id));
}
