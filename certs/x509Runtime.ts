// @peculiar/x509 resolves its algorithm registry through tsyringe, which needs a
// Reflect metadata polyfill before the library is first evaluated. Keeping the
// import and the crypto-provider wiring in this one module means every other
// file in certs/ imports `x509` from here and never sees the set-up order.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/** Node's WebCrypto, typed as the DOM `Crypto` that @peculiar/x509 expects. */
export const nodeCrypto = webcrypto as unknown as Crypto;

// The library falls back to this provider for calls where we do not pass one.
x509.cryptoProvider.set(nodeCrypto);

export { x509 };
