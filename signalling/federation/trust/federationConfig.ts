import { isIP } from 'node:net';
import { z } from 'zod';
import { normalizeDomain } from '../../../certs/domainName.ts';

/** Default federation port; deliberately distinct from the client signalling port. */
export const DEFAULT_FEDERATION_PORT = 9443;

const domainSchema = z.string().transform((value, context) => {
	const domain = normalizeDomain(value);
	if (!domain) {
		context.addIssue({ code: 'custom', message: `"${value}" is not a valid DNS domain` });
		return z.NEVER;
	}
	return domain;
});

const portSchema = z.number().int().min(0).max(65_535);

/** `host:port`, `[v6]:port` or a bare address (port 53), as dns.Resolver#setServers accepts. */
const dnsServerSchema = z.string().refine((value) => {
	const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(value) ?? /^([^:]+)(?::(\d+))?$/.exec(value);
	if (match) return isIP(match[1] ?? '') !== 0 && (match[2] === undefined || Number(match[2]) <= 65_535);
	return isIP(value) === 6;
}, 'expected an IP address with optional port, e.g. 127.0.0.1:53 or [::1]:53');

const relayModeSchema = z.enum(['full', 'demand']);
const linkMaxBitrateSchema = z.number().int().min(100_000);

const peerEndpointSchema = z
	.object({
		host: z.string().min(1),
		port: portSchema.default(DEFAULT_FEDERATION_PORT),
	})
	.strict();

/** SHA-256 of a CA certificate as `npm run certs -- inspect` prints it; colons and case do not matter. */
const fingerprintSchema = z.string().transform((value, context) => {
	const hex = value.replace(/:/g, '').toUpperCase();
	if (!/^[0-9A-F]{64}$/.test(hex)) {
		context.addIssue({ code: 'custom', message: `"${value}" is not a SHA-256 fingerprint (64 hex digits, colons allowed)` });
		return z.NEVER;
	}
	return hex;
});

/**
 * A partner domain, optionally pinned to the CA(s) allowed to certify it
 * (like Wire's `federation-remote-whitelist=<host>,<issuer>`): without pins any
 * CA of the trust bundle may vouch for the domain (one shared federation CA).
 */
const allowListEntrySchema = z.union([
	domainSchema,
	z.object({ domain: domainSchema, issuers: z.array(fingerprintSchema).min(1) }).strict(),
]);

const enabledFederationConfigSchema = z.object({
	enabled: z.literal(true),
	/** This SFT's organisation domain; must be a DNS SAN of certFile. */
	domain: domainSchema,
	listen: z
		.object({ ip: z.string().default('0.0.0.0'), port: portSchema.default(DEFAULT_FEDERATION_PORT) })
		.strict()
		.prefault({}),
	/** Host name partners reach us at (the target of our SRV record); informational. */
	announcedHost: z.string().min(1).optional(),
	certFile: z.string().min(1),
	keyFile: z.string().min(1),
	trustBundleFile: z.string().min(1),
	/** Partner domains we accept and dial: `b.example`, or `{ domain, issuers: [CA SHA-256, …] }`. */
	allowList: z.array(allowListEntrySchema).default([]),
	/** Accept any domain a CA in the bundle vouches for (e.g. one shared federation CA). */
	allowAnyTrustedDomain: z.boolean().default(false),
	/** Static discovery overrides; they win over DNS SRV. */
	peers: z.record(domainSchema, peerEndpointSchema).default({}),
	/** Resolvers for SRV lookups; omit to use the system's. */
	dnsServers: z.array(dnsServerSchema).optional(),
	/** How conference media crosses to partners: every stream and layer, or only what viewers there need. */
	relayMode: relayModeSchema.default('full'),
	/** Cap on what this SFT sends to each partner in demand mode, bit/s (shed by priority). */
	linkMaxBitrate: linkMaxBitrateSchema.optional(),
	/** Per-partner overrides of relayMode and linkMaxBitrate. */
	partnerRelay: z
		.record(domainSchema, z.object({ relayMode: relayModeSchema.optional(), linkMaxBitrate: linkMaxBitrateSchema.optional() }).strict())
		.default({}),
	/**
	 * Dial the `federationEndpoint` a client's descriptor names. Off: only DNS
	 * SRV and `peers` are dialled, so clients cannot make the SFT connect to
	 * hosts of their choosing. For development setups without DNS.
	 */
	dialDescriptorEndpoints: z.boolean().default(false),
});

const enabledFederationSchema = enabledFederationConfigSchema.strict();

// Disabled: the other keys may stay in the file (to switch federation off
// for a while), but unknown keys are still refused.
const disabledFederationConfigSchema = enabledFederationConfigSchema
	.partial()
	.extend({ enabled: z.literal(false).default(false) })
	.strict();

/**
 * The `federation` section of the main config. When disabled nothing else is
 * required; when enabled, domain and the three PEM files are.
 */
export const federationConfigSchema = z.discriminatedUnion('enabled', [enabledFederationSchema, disabledFederationConfigSchema]);

export type FederationConfig = z.infer<typeof federationConfigSchema>;
export type FederationConfigInput = z.input<typeof federationConfigSchema>;
export type EnabledFederationConfig = z.infer<typeof enabledFederationSchema>;
export type AllowListEntry = z.infer<typeof allowListEntrySchema>;
export type FederationPeerEndpointConfig = z.infer<typeof peerEndpointSchema>;
