// Public API of the certificate library. Nothing here knows about sockets,
// signalling or media: it only creates, reads and checks X.509 material.
export { type CreateCertificateAuthorityOptions, createCertificateAuthority, type IssuedCredentials } from './certificateAuthority.ts';
export { CertsError } from './certsError.ts';
export { type CertificateSummary, describeCertificate, dnsNamesOf, sha256Fingerprint } from './describeCertificate.ts';
export { isValidDomain, normalizeDomain } from './domainName.ts';
export { type IssueSftCertificateOptions, issueSftCertificate } from './issueCertificate.ts';
export { derToPem, parseCertificatesPem, readCertificatesFile, readTextFile } from './pem.ts';
export { REFUSAL_REASONS, type RefusalReason } from './refusalReason.ts';
export { loadTrustBundle, TrustBundle } from './trustBundle.ts';
export {
	type ChainVerification,
	type FederationRole,
	type Refusal,
	type VerifyCertificateChainOptions,
	verifyCertificateChain,
} from './verifyCertificateChain.ts';
export {
	type ClaimedDomainCheck,
	matchClaimedDomain,
	type PeerVerification,
	type VerifyPeerCertificateOptions,
	verifyPeerCertificate,
} from './verifyPeerCertificate.ts';
