/**
 * Size and depth of a decoded JSON payload, measured without recursion, so a
 * payload nested thousands of levels deep is refused instead of overflowing
 * the stack of JSON.stringify or of a schema check.
 */
export interface PayloadBounds {
	maxDepth: number;
	/** Roughly the payload's JSON length. */
	maxBytes: number;
}

export type PayloadProblem = 'too_deep' | 'too_large';

export function payloadProblem(value: unknown, bounds: PayloadBounds): PayloadProblem | undefined {
	const stack: [unknown, number][] = [[value, 0]];
	let bytes = 0;
	for (let item = stack.pop(); item; item = stack.pop()) {
		const [current, depth] = item;
		if (typeof current === 'string') bytes += current.length + 2;
		else if (current === null || typeof current !== 'object') bytes += String(current).length;
		else {
			if (depth >= bounds.maxDepth) return 'too_deep';
			bytes += 2;
			for (const [key, child] of Object.entries(current)) {
				bytes += key.length + 4;
				stack.push([child, depth + 1]);
			}
		}
		if (bytes > bounds.maxBytes) return 'too_large';
	}
	return undefined;
}
