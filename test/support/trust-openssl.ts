// Builds peer certificates with the `openssl` command line, independently of
// the project's own issuer in certs/, so the verifier is tested against
// material it did not produce itself.
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface OpensslCa {
	name: string;
	dir: string;
	certFile: string;
	keyFile: string;
}

export interface OpensslLeaf {
	certFile: string;
	keyFile: string;
}

export interface LeafSpec {
	name: string;
	ca: OpensslCa;
	sans: string[];
	eku?: string; // default "serverAuth,clientAuth"
	notBefore?: Date;
	notAfter?: Date;
	/** Further extension lines for the openssl extfile, e.g. an unknown critical one. */
	extraExtensions?: string[];
}

export async function openssl(args: string[], cwd?: string): Promise<string> {
	const { stdout } = await run('openssl', args, { cwd, maxBuffer: 1 << 20 });
	return stdout;
}

export async function createOpensslCa(root: string, name: string, commonName: string): Promise<OpensslCa> {
	const dir = join(root, name);
	await mkdir(join(dir, 'db'), { recursive: true });
	await writeFile(join(dir, 'db', 'index.txt'), '');
	await writeFile(
		join(dir, 'ca.cnf'),
		[
			'[ ca ]',
			'default_ca = local',
			'[ local ]',
			`database = ${join(dir, 'db', 'index.txt')}`,
			`new_certs_dir = ${join(dir, 'db')}`,
			`serial = ${join(dir, 'db', 'serial')}`,
			'rand_serial = yes',
			'default_md = sha256',
			'policy = anything',
			'unique_subject = no',
			'copy_extensions = none',
			'[ anything ]',
			'commonName = supplied',
			'',
		].join('\n'),
	);
	const ca: OpensslCa = { name, dir, certFile: join(dir, 'ca.pem'), keyFile: join(dir, 'ca.key') };
	await openssl([
		'req',
		'-x509',
		'-newkey',
		'ec',
		'-pkeyopt',
		'ec_paramgen_curve:P-256',
		'-nodes',
		'-keyout',
		ca.keyFile,
		'-out',
		ca.certFile,
		'-subj',
		`/CN=${commonName}`,
		'-days',
		'3650',
		'-addext',
		'basicConstraints=critical,CA:TRUE',
		'-addext',
		'keyUsage=critical,keyCertSign,cRLSign',
	]);
	return ca;
}

/** A CA signed by `parent` (for chains with an intermediate); `extraExtensions` e.g. `nameConstraints=critical,permitted;DNS:b.test`. */
export async function createOpensslIntermediate(
	root: string,
	name: string,
	commonName: string,
	parent: OpensslCa,
	extraExtensions: string[] = [],
): Promise<OpensslCa> {
	const ca = await createOpensslCa(root, name, commonName); // directory layout + throwaway self-signed cert
	const csr = join(ca.dir, 'ca.csr');
	const ext = join(ca.dir, 'ext.cnf');
	await writeFile(
		ext,
		['basicConstraints=critical,CA:TRUE,pathlen:0', 'keyUsage=critical,keyCertSign,cRLSign', ...extraExtensions, ''].join('\n'),
	);
	await openssl(['req', '-new', '-key', ca.keyFile, '-out', csr, '-subj', `/CN=${commonName}`]);
	await openssl([
		'ca',
		'-batch',
		'-config',
		join(parent.dir, 'ca.cnf'),
		'-cert',
		parent.certFile,
		'-keyfile',
		parent.keyFile,
		'-in',
		csr,
		'-out',
		ca.certFile,
		'-notext',
		'-extfile',
		ext,
		'-days',
		'365',
	]);
	return ca;
}

/** `openssl ca` (not `x509 -req`): OpenSSL 3.0's x509 cannot set arbitrary start/end dates. */
export async function createOpensslLeaf(root: string, spec: LeafSpec): Promise<OpensslLeaf> {
	const dir = join(root, spec.name);
	await mkdir(dir, { recursive: true });
	const leaf: OpensslLeaf = { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') };
	const csr = join(dir, 'req.csr');
	const ext = join(dir, 'ext.cnf');
	await writeFile(
		ext,
		[
			'basicConstraints=critical,CA:FALSE',
			'keyUsage=critical,digitalSignature',
			`extendedKeyUsage=${spec.eku ?? 'serverAuth,clientAuth'}`,
			`subjectAltName=${spec.sans.map((san) => `DNS:${san}`).join(',')}`,
			...(spec.extraExtensions ?? []),
			'',
		].join('\n'),
	);
	await openssl([
		'req',
		'-new',
		'-newkey',
		'ec',
		'-pkeyopt',
		'ec_paramgen_curve:P-256',
		'-nodes',
		'-keyout',
		leaf.keyFile,
		'-out',
		csr,
		'-subj',
		`/CN=${spec.sans[0] ?? spec.name}`,
	]);
	const notBefore = spec.notBefore ?? new Date(Date.now() - 3_600_000);
	const notAfter = spec.notAfter ?? new Date(Date.now() + 30 * 86_400_000);
	await openssl([
		'ca',
		'-batch',
		'-config',
		join(spec.ca.dir, 'ca.cnf'),
		'-cert',
		spec.ca.certFile,
		'-keyfile',
		spec.ca.keyFile,
		'-in',
		csr,
		'-out',
		leaf.certFile,
		'-notext',
		'-extfile',
		ext,
		'-startdate',
		opensslDate(notBefore),
		'-enddate',
		opensslDate(notAfter),
	]);
	return leaf;
}

function opensslDate(date: Date): string {
	return date
		.toISOString()
		.replace(/[-:T]/g, '')
		.replace(/\.\d+Z$/, 'Z');
}

/** Leaf followed by its intermediates, as a peer presents it in TLS. */
export async function writeChain(path: string, leaf: OpensslLeaf, intermediates: OpensslCa[]): Promise<OpensslLeaf> {
	const pems = await Promise.all([leaf.certFile, ...intermediates.map((ca) => ca.certFile)].map((file) => readFile(file, 'utf8')));
	await writeFile(path, pems.join(''));
	return { certFile: path, keyFile: leaf.keyFile };
}

/** SHA-256 of a certificate as `openssl x509 -fingerprint -sha256` prints it (colon-separated). */
export async function opensslFingerprint(certFile: string): Promise<string> {
	const out = await openssl(['x509', '-in', certFile, '-noout', '-fingerprint', '-sha256']);
	return out.trim().split('=')[1] ?? '';
}

/** `openssl verify` of `leaf` against `anchor`, with `untrusted` intermediates: its verdict line(s). */
export async function opensslVerify(anchor: string, leaf: string, untrusted?: string): Promise<{ ok: boolean; output: string }> {
	const args = ['verify', '-CAfile', anchor, ...(untrusted ? ['-untrusted', untrusted] : []), leaf];
	try {
		return { ok: true, output: await openssl(args) };
	} catch (error) {
		const failure = error as { stdout?: string; stderr?: string };
		return { ok: false, output: `${failure.stdout ?? ''}${failure.stderr ?? ''}` };
	}
}

export async function writeBundle(path: string, cas: OpensslCa[]): Promise<string> {
	const pems = await Promise.all(cas.map((ca) => readFile(ca.certFile, 'utf8')));
	await writeFile(path, pems.join(''));
	return path;
}

/** The standard matrix used by the trust tests. */
export interface TrustMatrix {
	root: string;
	caA: OpensslCa;
	caB: OpensslCa;
	caUnknown: OpensslCa;
	/** caA + caB */
	bundleFile: string;
	leaves: {
		aGood: OpensslLeaf;
		bGood: OpensslLeaf;
		/** Good certificate for c.test, a domain the tests leave off the allow list. */
		cGood: OpensslLeaf;
		aUnknownCa: OpensslLeaf;
		aExpired: OpensslLeaf;
		aNotYetValid: OpensslLeaf;
		aServerAuthOnly: OpensslLeaf;
		aClientAuthOnly: OpensslLeaf;
		/** Names x.test only: presented while claiming a.test. */
		xForA: OpensslLeaf;
	};
}

export async function buildTrustMatrix(root: string): Promise<TrustMatrix> {
	const [caA, caB, caUnknown] = await Promise.all([
		createOpensslCa(root, 'ca-a', 'Partner A Federation CA'),
		createOpensslCa(root, 'ca-b', 'Partner B Federation CA'),
		createOpensslCa(root, 'ca-unknown', 'Unknown CA'),
	]);
	const year = 365 * 86_400_000;
	const now = Date.now();
	// Sequential per CA: `openssl ca` updates its index file.
	const aGood = await createOpensslLeaf(root, { name: 'a-good', ca: caA, sans: ['a.test', 'sft.a.test'] });
	const cGood = await createOpensslLeaf(root, { name: 'c-good', ca: caA, sans: ['c.test'] });
	const aExpired = await createOpensslLeaf(root, {
		name: 'a-expired',
		ca: caA,
		sans: ['a.test'],
		notBefore: new Date(now - 2 * year),
		notAfter: new Date(now - year),
	});
	const aNotYetValid = await createOpensslLeaf(root, {
		name: 'a-future',
		ca: caA,
		sans: ['a.test'],
		notBefore: new Date(now + year),
		notAfter: new Date(now + 2 * year),
	});
	const aServerAuthOnly = await createOpensslLeaf(root, { name: 'a-server-only', ca: caA, sans: ['a.test'], eku: 'serverAuth' });
	const aClientAuthOnly = await createOpensslLeaf(root, { name: 'a-client-only', ca: caA, sans: ['a.test'], eku: 'clientAuth' });
	const xForA = await createOpensslLeaf(root, { name: 'x-for-a', ca: caA, sans: ['x.test'] });
	const bGood = await createOpensslLeaf(root, { name: 'b-good', ca: caB, sans: ['b.test'] });
	const aUnknownCa = await createOpensslLeaf(root, { name: 'a-unknown-ca', ca: caUnknown, sans: ['a.test'] });
	const bundleFile = await writeBundle(join(root, 'bundle-ab.pem'), [caA, caB]);
	return {
		root,
		caA,
		caB,
		caUnknown,
		bundleFile,
		leaves: { aGood, bGood, cGood, aUnknownCa, aExpired, aNotYetValid, aServerAuthOnly, aClientAuthOnly, xForA },
	};
}
