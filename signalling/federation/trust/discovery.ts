import { type LookupAddress, type LookupOptions, type SrvRecord, lookup as systemLookup } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import { normalizeDomain } from '../../../certs/domainName.ts';
import type { FederationPeerEndpointConfig } from './federationConfig.ts';
import { orderSrvRecords } from './srvOrdering.ts';

/** Partners publish `_sft-federation._tcp.<domain> SRV prio weight port host`. */
export const FEDERATION_SRV_SERVICE = '_sft-federation._tcp';

export interface FederationEndpoint {
	host: string;
	port: number;
	source: 'static' | 'dns';
}

export interface FederationDiscoveryOptions {
	/** Static overrides by domain (config `peers`); they win over DNS. */
	peers?: Readonly<Record<string, FederationPeerEndpointConfig>>;
	/** `host:port` resolvers; omit to use the system resolver configuration. */
	dnsServers?: readonly string[] | undefined;
	timeoutMs?: number;
	random?: () => number;
}

/** DNS failed for a reason other than "no such record" (timeout, refused, SERVFAIL). */
export class FederationDiscoveryError extends Error {
	override readonly name = 'FederationDiscoveryError';
	constructor(
		readonly domain: string,
		readonly code: string,
	) {
		super(`SRV lookup for ${domain} failed (${code})`);
	}
}

const NO_SUCH_RECORD = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN', 'ENONAME']);

/**
 * Finds where a partner domain's SFT accepts federation connections.
 * Owned by the federation; `update()` applies a reloaded config.
 */
export class FederationDiscovery {
	#peers: Readonly<Record<string, FederationPeerEndpointConfig>> = {};
	#resolver = new Resolver();
	#customServers = false;
	#random: () => number = Math.random;

	constructor(options: FederationDiscoveryOptions = {}) {
		this.update(options);
	}

	update(options: FederationDiscoveryOptions): void {
		this.#peers = options.peers ?? {};
		this.#random = options.random ?? Math.random;
		this.#resolver = new Resolver({ timeout: options.timeoutMs ?? 3000, tries: 2 });
		this.#customServers = Boolean(options.dnsServers?.length);
		if (options.dnsServers?.length) this.#resolver.setServers([...options.dnsServers]);
	}

	/** Candidate endpoints in the order they should be tried; empty when the domain publishes none. */
	async resolve(domain: string): Promise<FederationEndpoint[]> {
		const name = normalizeDomain(domain);
		if (!name) return [];
		const override = this.#peers[name];
		if (override) return [{ host: override.host, port: override.port, source: 'static' }];
		let records: SrvRecord[];
		try {
			records = await this.#resolver.resolveSrv(`${FEDERATION_SRV_SERVICE}.${name}`);
		} catch (error) {
			const code = (error as NodeJS.ErrnoException).code ?? 'UNKNOWN';
			if (NO_SUCH_RECORD.has(code)) return [];
			throw new FederationDiscoveryError(name, code);
		}
		// RFC 2782: a single record with target "." means "decidedly not available".
		const usable = records.filter((record) => record.name !== '' && record.name !== '.');
		return orderSrvRecords(usable, this.#random).map((record) => ({ host: record.name, port: record.port, source: 'dns' }));
	}

	/**
	 * Host lookup for tls.connect: SRV targets are resolved through the same
	 * configured servers (falling back to the system resolver, e.g. /etc/hosts).
	 * undefined when no servers are configured: then the default lookup applies.
	 */
	get lookup(): LookupFunction | undefined {
		if (!this.#customServers) return undefined;
		const resolver = this.#resolver;
		return (hostname, options, callback) => {
			void resolveAddresses(resolver, hostname, options).then((addresses) => {
				if (addresses.length === 0) {
					systemLookup(hostname, options, callback as never);
					return;
				}
				const [first] = addresses;
				if (options.all || !first) callback(null, addresses);
				else callback(null, first.address, first.family);
			});
		};
	}
}

async function resolveAddresses(resolver: Resolver, hostname: string, options: LookupOptions): Promise<LookupAddress[]> {
	const wanted = options.family === 4 || options.family === 6 ? [options.family] : [4, 6];
	const addresses: LookupAddress[] = [];
	for (const family of wanted) {
		try {
			const found = family === 4 ? await resolver.resolve4(hostname) : await resolver.resolve6(hostname);
			addresses.push(...found.map((address) => ({ address, family })));
		} catch {
			// Try the other family, then the system resolver.
		}
	}
	return addresses;
}
