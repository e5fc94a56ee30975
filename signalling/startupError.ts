/**
 * A start-up failure explained in one sentence that names the configuration
 * key at fault, so main.ts can print it and exit 2 instead of a stack trace.
 */
export class StartupError extends Error {
	override name = 'StartupError';
	constructor(key: string, problem: string) {
		// Operator-facing errors from certs/ already start with the key they are about.
		super(problem.startsWith(key) ? problem : `${key}: ${problem}`);
	}
}

/** Runs one start-up step; whatever it throws becomes a StartupError about `key` (or the key `key(error)` names). */
export async function startupStep<T>(key: string | ((error: unknown) => string), step: () => Promise<T>): Promise<T> {
	try {
		return await step();
	} catch (error) {
		if (error instanceof StartupError) throw error;
		throw new StartupError(typeof key === 'string' ? key : key(error), describeFailure(error));
	}
}

// Node sets `code`; mediasoup workers report libuv's text (e.g. "uv_udp_bind() failed … address already in use").
const PROBLEMS: [code: string, text: string, sentence: string][] = [
	['EADDRINUSE', 'address already in use', 'the port is already in use by another process'],
	['EADDRNOTAVAIL', 'address not available', 'the address is not one of this host'],
	['EACCES', 'permission denied', 'permission denied (ports below 1024 need privileges)'],
	['ENOENT', 'no such file', 'the file does not exist'],
	['EISDIR', 'is a directory', 'a directory was given where a file is expected'],
];

function describeFailure(error: unknown): string {
	const code = (error as NodeJS.ErrnoException).code;
	const message = error instanceof Error ? error.message : String(error);
	const path = (error as NodeJS.ErrnoException).path;
	for (const [problemCode, text, sentence] of PROBLEMS) {
		if (code === problemCode || message.includes(text)) return path ? `${sentence} (${path})` : sentence;
	}
	// One line of the underlying error, never its stack.
	return message.split('\n')[0] ?? 'failed';
}
