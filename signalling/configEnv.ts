import type { z } from 'zod';

/**
 * Environment overrides derived from the config schema: every leaf key
 * `section.key.sub` can be set as SFT_SECTION_KEY_SUB (upper snake case).
 * Objects are walked; arrays, records and unions of scalars are leaves whose
 * value is given as JSON.
 */

/** SFT_* variables the project reads for other purposes than configuration. */
export const NON_CONFIG_VARIABLES: ReadonlySet<string> = new Set([
	'SFT_CONFIG',
	'SFT_CACHE_DIR',
	'SFT_SKIP_PREBUILT',
	'SFT_KEEP_WORKER_BUILD',
	'SFT_TEST_LOG',
	'SFT_TEST_FILE_TIMEOUT_MS',
]);

export function envName(path: string): string {
	return `SFT_${path
		.replace(/\./g, '_')
		.replace(/([a-z0-9])([A-Z])/g, '$1_$2')
		.toUpperCase()}`;
}

/** Dotted paths of every leaf key of `schema`, in declaration order. */
export function leafPaths(schema: z.ZodType): string[] {
	const paths: string[] = [];
	walk(schema, [], paths);
	return [...new Set(paths)];
}

interface Def {
	type: string;
	innerType?: z.ZodType;
	in?: z.ZodType;
	shape?: Record<string, z.ZodType>;
	options?: z.ZodType[];
}

function defOf(schema: z.ZodType): Def {
	return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** Strips optional/default/prefault/transform wrappers. */
function unwrap(schema: z.ZodType): z.ZodType {
	let current = schema;
	for (;;) {
		const def = defOf(current);
		if (def.innerType) current = def.innerType;
		else if (def.type === 'pipe' && def.in) current = def.in;
		else return current;
	}
}

function walk(schema: z.ZodType, prefix: string[], out: string[]): void {
	const def = defOf(unwrap(schema));
	const objects = def.type === 'object' ? [def] : def.type === 'union' ? (def.options ?? []).map((o) => defOf(unwrap(o))) : [];
	if (prefix.length > 0 && (objects.length === 0 || objects.some((o) => o.type !== 'object'))) {
		out.push(prefix.join('.'));
		return;
	}
	for (const object of objects) {
		for (const [key, child] of Object.entries(object.shape ?? {})) walk(child, [...prefix, key], out);
	}
}

/**
 * The config overrides found in `env`, by dotted path. Throws with the
 * variable's name when an SFT_* variable matches no key (a typo would
 * otherwise be ignored silently).
 */
export function overridesFromEnv(
	schema: z.ZodType,
	env: NodeJS.ProcessEnv,
	fail: (message: string) => Error,
): Map<string, { variable: string; value: unknown }> {
	const byVariable = new Map(leafPaths(schema).map((path) => [envName(path), path]));
	const overrides = new Map<string, { variable: string; value: unknown }>();
	for (const [variable, value] of Object.entries(env)) {
		if (!variable.startsWith('SFT_') || value === undefined || NON_CONFIG_VARIABLES.has(variable)) continue;
		const path = byVariable.get(variable);
		if (!path) throw fail(`unknown environment variable ${variable}: it names no configuration key (see README "Configuration")`);
		overrides.set(path, { variable, value: parseEnvValue(value) });
	}
	return overrides;
}

function parseEnvValue(value: string): unknown {
	try {
		return JSON.parse(value);
	} catch {
		return value;
	}
}
