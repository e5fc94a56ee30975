// Public API of the federation trust layer (SFT ↔ SFT links).
export { Federation, type FederationEvents, type FederationOptions } from "./federation.ts";
export { FederationServer, type FederationServerEvents, type FederationServerOptions } from "./federationServer.ts";
export { FederationClient, type ConnectToPeerTarget, type FederationClientEvents, type FederationClientOptions } from "./federationClient.ts";
export { FederationConnectError, type FederationConnectFailure } from "./federationConnectError.ts";
export {
  DEFAULT_FEDERATION_PORT,
  federationConfigSchema,
  type EnabledFederationConfig,
  type FederationConfig,
  type FederationConfigInput,
  type FederationPeerEndpointConfig,
} from "./federationConfig.ts";
export { FEDERATION_SRV_SERVICE, FederationDiscovery, FederationDiscoveryError, type FederationDiscoveryOptions, type FederationEndpoint } from "./discovery.ts";
export { orderSrvRecords } from "./srvOrdering.ts";
export { createFederationMetrics, type FederationMetrics } from "./federationMetrics.ts";
export { GENERIC_REFUSAL_MESSAGE, type FederationPeer, type InboundFederationPeer, type OutboundFederationPeer } from "./federationPeer.ts";
export { createRefusalRecorder, type RefusalEvent, type RefusalRecorder } from "./refusalRecorder.ts";
export { TrustMaterial } from "./trustMaterial.ts";
