import { isIP } from 'node:net';
import { AsnConvert } from '@peculiar/asn1-schema';
import { type GeneralName, NameConstraints, SubjectAlternativeName } from '@peculiar/asn1-x509';
import type { x509 } from './x509Runtime.ts';

/** Extensions whose meaning the verifier enforces; any other marked critical makes a certificate unacceptable (RFC 5280 §4.2). */
const PROCESSED_EXTENSIONS = new Set([
	'2.5.29.19', // basicConstraints
	'2.5.29.15', // keyUsage
	'2.5.29.37', // extKeyUsage
	'2.5.29.17', // subjectAltName
	'2.5.29.30', // nameConstraints
	'2.5.29.14', // subjectKeyIdentifier
	'2.5.29.35', // authorityKeyIdentifier
]);
const NAME_CONSTRAINTS = '2.5.29.30';
const SUBJECT_ALT_NAME = '2.5.29.17';

export type ConstraintProblem = { reason: 'unsupported_critical_extension' | 'name_constraint_violation'; detail: string };

/** The first certificate of the path carrying a critical extension we do not process. */
export function unprocessedCriticalExtension(path: readonly x509.X509Certificate[]): ConstraintProblem | null {
	for (const certificate of path) {
		const unknown = certificate.extensions.find((extension) => extension.critical && !PROCESSED_EXTENSIONS.has(extension.type));
		if (unknown) {
			return {
				reason: 'unsupported_critical_extension',
				detail: `${certificate.subject} has critical extension ${unknown.type}, which is not processed`,
			};
		}
	}
	return null;
}

/**
 * RFC 5280 name constraints along the path (leaf first, anchor last): the
 * DNS and IP names of every certificate must lie within the permitted and
 * outside the excluded subtrees of every CA above it. Other name forms in a
 * constraint cannot be checked here, so a certificate carrying such a form
 * under such a constraint is refused.
 */
export function nameConstraintViolation(path: readonly x509.X509Certificate[]): ConstraintProblem | null {
	for (let caIndex = 1; caIndex < path.length; caIndex++) {
		const ca = path[caIndex] as x509.X509Certificate;
		const extension = ca.extensions.find((e) => e.type === NAME_CONSTRAINTS);
		if (!extension) continue;
		let constraints: NameConstraints;
		try {
			constraints = AsnConvert.parse(extension.value, NameConstraints);
		} catch {
			return violation(`${ca.subject} has an unreadable nameConstraints extension`);
		}
		const permitted = (constraints.permittedSubtrees ?? []).map((subtree) => subtree.base);
		const excluded = (constraints.excludedSubtrees ?? []).map((subtree) => subtree.base);
		for (const certificate of path.slice(0, caIndex)) {
			const problem = namesProblem(certificate, permitted, excluded);
			if (problem) return violation(`${certificate.subject}: ${problem} (constrained by ${ca.subject})`);
		}
	}
	return null;
}

function violation(detail: string): ConstraintProblem {
	return { reason: 'name_constraint_violation', detail };
}

type Form = 'dns' | 'ip' | 'other';

function namesProblem(certificate: x509.X509Certificate, permitted: GeneralName[], excluded: GeneralName[]): string | null {
	const names = subjectAltNames(certificate);
	if (names === null) return 'subjectAltName is unreadable';
	for (const name of names) {
		const form = formOf(name);
		const value = name.dNSName ?? name.iPAddress ?? '';
		const sameFormPermitted = permitted.filter((base) => formOf(base) === form);
		const sameFormExcluded = excluded.filter((base) => formOf(base) === form);
		if (form === 'other') {
			if (sameFormPermitted.length + sameFormExcluded.length > 0) return 'a name form under a constraint that is not processed';
			continue;
		}
		if (sameFormExcluded.some((base) => matches(form, value, base))) return `${value} is in an excluded subtree`;
		if (sameFormPermitted.length > 0 && !sameFormPermitted.some((base) => matches(form, value, base))) {
			return `${value} is outside the permitted subtrees`;
		}
	}
	// directoryName constraints would apply to every subject: not processed, so refused.
	if ([...permitted, ...excluded].some((base) => base.directoryName !== undefined))
		return 'a directoryName constraint, which is not processed';
	return null;
}

function subjectAltNames(certificate: x509.X509Certificate): GeneralName[] | null {
	const extension = certificate.extensions.find((e) => e.type === SUBJECT_ALT_NAME);
	if (!extension) return [];
	try {
		return [...AsnConvert.parse(extension.value, SubjectAlternativeName)];
	} catch {
		return null;
	}
}

function formOf(name: GeneralName): Form {
	if (name.dNSName !== undefined) return 'dns';
	if (name.iPAddress !== undefined) return 'ip';
	return 'other';
}

function matches(form: Form, value: string, base: GeneralName): boolean {
	return form === 'dns' ? dnsWithin(value, base.dNSName ?? '') : ipWithin(value, base.iPAddress ?? '');
}

/** `b.example` covers b.example and its subdomains; `.b.example` only the subdomains (OpenSSL's reading). */
export function dnsWithin(name: string, constraint: string): boolean {
	const n = name.toLowerCase().replace(/\.$/, '');
	const c = constraint.toLowerCase().replace(/\.$/, '');
	if (c === '') return true;
	if (c.startsWith('.')) return n.endsWith(c);
	return n === c || n.endsWith(`.${c}`);
}

/** `value` is an address; `constraint` is address+mask as the ASN.1 library renders it. */
function ipWithin(value: string, constraint: string): boolean {
	const address = addressBytes(value);
	const range = rangeBytes(constraint);
	if (!address || !range || address.length !== range.network.length) return false;
	return address.every((byte, i) => (byte & (range.mask[i] ?? 0)) === ((range.network[i] ?? 0) & (range.mask[i] ?? 0)));
}

function addressBytes(text: string): number[] | null {
	if (isIP(text) === 4) return text.split('.').map(Number);
	if (isIP(text) !== 6) return null;
	const [head = '', tail] = text.split('::');
	const left = head ? head.split(':') : [];
	const right = tail ? tail.split(':') : [];
	const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
	return groups.flatMap((group) => {
		const value = Number.parseInt(group, 16);
		return [value >> 8, value & 0xff];
	});
}

function rangeBytes(text: string): { network: number[]; mask: number[] } | null {
	if (text === '::/0') return { network: new Array(16).fill(0), mask: new Array(16).fill(0) };
	const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(text);
	if (cidr) {
		const bits = Number(cidr[2]);
		const mask = [0, 1, 2, 3].map((i) => (0xff << (8 - Math.max(0, Math.min(8, bits - 8 * i)))) & 0xff);
		return { network: (cidr[1] ?? '').split('.').map(Number), mask };
	}
	if (/^[0-9a-f]{64}$/i.test(text)) {
		const bytes = (text.match(/../g) ?? []).map((pair) => Number.parseInt(pair, 16));
		return { network: bytes.slice(0, 16), mask: bytes.slice(16) };
	}
	return null;
}
