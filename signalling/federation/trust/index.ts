// Public API of the federation trust layer (SFT ↔ SFT links).

export {
	FEDERATION_SRV_SERVICE,
	FederationDiscovery,
	FederationDiscoveryError,
	type FederationDiscoveryOptions,
	type FederationEndpoint,
} from './discovery.ts';
export { Federation, type FederationEvents, type FederationOptions } from './federation.ts';
export {
	type ConnectToPeerTarget,
	FederationClient,
	type FederationClientEvents,
	type FederationClientOptions,
} from './federationClient.ts';
export {
	DEFAULT_FEDERATION_PORT,
	type EnabledFederationConfig,
	type FederationConfig,
	type FederationConfigInput,
	type FederationPeerEndpointConfig,
	federationConfigSchema,
} from './federationConfig.ts';
export { FederationConnectError, type FederationConnectFailure } from './federationConnectError.ts';
export { createFederationMetrics, type FederationMetrics } from './federationMetrics.ts';
export { type FederationPeer, GENERIC_REFUSAL_MESSAGE, type InboundFederationPeer, type OutboundFederationPeer } from './federationPeer.ts';
export { FederationServer, type FederationServerEvents, type FederationServerOptions } from './federationServer.ts';
export { createRefusalRecorder, type RefusalEvent, type RefusalRecorder } from './refusalRecorder.ts';
export { orderSrvRecords } from './srvOrdering.ts';
export { TrustMaterial } from './trustMaterial.ts';
