/**
 * Why a federation peer was refused. These strings are stable: they appear in
 * logs, in the `reason` label of sft_federation_handshake_refusals_total and in
 * `sft-certs verify` output, so dashboards and scripts may match on them.
 */
export const REFUSAL_REASONS = [
	'no_certificate',
	'untrusted_ca',
	'expired',
	'not_yet_valid',
	'wrong_eku',
	'name_constraint_violation',
	'unsupported_critical_extension',
	'san_mismatch',
	'domain_not_allowed',
	'wrong_issuer',
	'bad_handshake',
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];
