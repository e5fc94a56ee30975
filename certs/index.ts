// Public API of the certificate library. Nothing here knows about sockets,
// signalling or media: it only creates, reads and checks X.509 material.
export { createCertificateAuthority, type CreateCertificateAuthorityOptions, type IssuedCredentials } from "./certificateAuthority.ts";
export { CertsError } from "./certsError.ts";
export { describeCertificate, dnsNamesOf, sha256Fingerprint, type CertificateSummary } from "./describeCertificate.ts";
export { isValidDomain, normalizeDomain } from "./domainName.ts";
export { issueSftCertificate, type IssueSftCertificateOptions } from "./issueCertificate.ts";
export { derToPem, parseCertificatesPem, readCertificatesFile, readTextFile } from "./pem.ts";
export { REFUSAL_REASONS, type RefusalReason } from "./refusalReason.ts";
export { TrustBundle, loadTrustBundle } from "./trustBundle.ts";
export {
  verifyCertificateChain,
  type ChainVerification,
  type FederationRole,
  type Refusal,
  type VerifyCertificateChainOptions,
} from "./verifyCertificateChain.ts";
export {
  matchClaimedDomain,
  verifyPeerCertificate,
  type ClaimedDomainCheck,
  type PeerVerification,
  type VerifyPeerCertificateOptions,
} from "./verifyPeerCertificate.ts";
