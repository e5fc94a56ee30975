import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { createCertificateAuthority } from './certificateAuthority.ts';
import { CertsError } from './certsError.ts';
import { type CertificateSummary, describeCertificate } from './describeCertificate.ts';
import { issueSftCertificate } from './issueCertificate.ts';
import { readCertificatesFile, readTextFile } from './pem.ts';
import { TrustBundle } from './trustBundle.ts';
import { type FederationRole, verifyCertificateChain } from './verifyCertificateChain.ts';
import { verifyPeerCertificate } from './verifyPeerCertificate.ts';
import { writeOutputFiles } from './writeOutputFiles.ts';

export interface CliOutput {
	out(text: string): void;
	err(text: string): void;
}

/** Exit codes: 0 success / valid, 1 certificate invalid (verify), 2 bad input or usage. */
export const EXIT_INVALID = 1;
export const EXIT_USAGE = 2;

/** Runs `sft-certs` with the given arguments (without node/script) and returns the exit code. */
export async function runCertsCli(args: readonly string[], output: CliOutput): Promise<number> {
	let exitCode = 0;
	const program = buildProgram(output, (code) => {
		exitCode = code;
	});
	try {
		await program.parseAsync([...args], { from: 'user' });
		return exitCode;
	} catch (error) {
		if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_USAGE;
		if (error instanceof CertsError) {
			output.err(`error: ${error.message}\n`);
			return EXIT_USAGE;
		}
		// Operators get one line, never a stack trace; the message still says what broke.
		output.err(`error: unexpected failure: ${error instanceof Error ? error.message : String(error)}\n`);
		return EXIT_USAGE;
	}
}

function buildProgram(output: CliOutput, setExitCode: (code: number) => void): Command {
	const program = new Command('sft-certs')
		.description('Federation CA and SFT certificate tool')
		.exitOverride()
		.showHelpAfterError()
		.configureOutput({ writeOut: output.out, writeErr: output.err });

	const ca = program.command('ca').description('federation certificate authority');
	ca.command('create')
		.description('create a federation CA (writes ca.pem and ca.key)')
		.requiredOption('--out <dir>', 'output directory')
		.option('--name <cn>', 'CA common name', 'SFT Federation CA')
		.option('--days <n>', 'lifetime in days', parseDays, 3650)
		.option('--force', 'overwrite existing files', false)
		.action(async (options: { out: string; name: string; days: number; force: boolean }) => {
			const issued = await createCertificateAuthority({ commonName: options.name, days: options.days });
			const paths = await writeOutputFiles(
				options.out,
				[
					{ name: 'ca.pem', content: issued.certificatePem, secret: false },
					{ name: 'ca.key', content: issued.privateKeyPem, secret: true },
				],
				options.force,
			);
			output.out(`created CA "${options.name}"\n  certificate: ${paths[0]}\n  private key: ${paths[1]} (mode 0600)\n`);
		});

	program
		.command('issue')
		.description('issue an SFT certificate for a federation domain (writes cert.pem and key.pem)')
		.requiredOption('--ca-cert <file>', 'CA certificate (PEM)')
		.requiredOption('--ca-key <file>', 'CA private key (PEM)')
		.requiredOption('--domain <domain>', "federation domain of the SFT's organisation")
		.option('--host <host>', 'extra SAN host name or IP (repeatable)', collect, [] as string[])
		.option('--days <n>', 'lifetime in days', parseDays, 365)
		.requiredOption('--out <dir>', 'output directory')
		.option('--force', 'overwrite existing files', false)
		.action(
			async (options: { caCert: string; caKey: string; domain: string; host: string[]; days: number; out: string; force: boolean }) => {
				const issued = await issueSftCertificate({
					caCertificatePem: await readTextFile(options.caCert, 'CA certificate'),
					caPrivateKeyPem: await readTextFile(options.caKey, 'CA key'),
					domain: options.domain,
					hosts: options.host,
					days: options.days,
				});
				for (const warning of issued.warnings) output.err(`warning: ${warning}\n`);
				const paths = await writeOutputFiles(
					options.out,
					[
						{ name: 'cert.pem', content: issued.certificatePem, secret: false },
						{ name: 'key.pem', content: issued.privateKeyPem, secret: true },
					],
					options.force,
				);
				const summary = describeCertificate(issued.certificate);
				output.out(
					`issued ${summary.subject} [${summary.subjectAltNames.join(', ')}] valid until ${summary.notAfter.toISOString()}\n` +
						`  certificate: ${paths[0]}\n  private key: ${paths[1]} (mode 0600)\n`,
				);
			},
		);

	program
		.command('inspect <file>')
		.description('show subject, SANs, issuer, validity and fingerprint of each certificate in a PEM file')
		.option('--json', 'machine-readable output', false)
		.action(async (file: string, options: { json: boolean }) => {
			const summaries = (await readCertificatesFile(file, 'certificate')).map((certificate) => describeCertificate(certificate));
			output.out(options.json ? `${JSON.stringify(summaries, null, 2)}\n` : summaries.map(formatSummary).join('\n'));
		});

	program
		.command('verify <file>')
		.description('check a certificate against a CA bundle; prints "valid" or the refusal reason')
		.requiredOption('--ca <bundle>', 'trust bundle (PEM with one or more CA certificates)')
		.option('--domain <domain>', 'domain the certificate must name in its SANs')
		.addOption(new Option('--role <role>', 'federation role to check (default: both)').choices(['client', 'server']))
		.action(async (file: string, options: { ca: string; domain?: string; role?: FederationRole }) => {
			const chainPem = await readTextFile(file, 'certificate');
			await readCertificatesFile(file, 'certificate'); // clear error when the file holds no certificate
			const trustBundle = await TrustBundle.load(options.ca);
			const roles: FederationRole[] = options.role ? [options.role] : ['client', 'server'];
			for (const role of roles) {
				const result =
					options.domain === undefined
						? await verifyCertificateChain({ chainPem, trustBundle, role })
						: await verifyPeerCertificate({ chainPem, trustBundle, role, claimedDomain: options.domain });
				if (!result.ok) {
					output.out(`${result.reason}: ${result.detail}\n`);
					setExitCode(EXIT_INVALID);
					return;
				}
			}
			output.out('valid\n');
		});

	return program;
}

function formatSummary(summary: CertificateSummary): string {
	const rows: [string, string][] = [
		['subject', summary.subject],
		['issuer', summary.issuer],
		['SANs', summary.subjectAltNames.join(', ') || '(none)'],
		['not before', summary.notBefore.toISOString()],
		['not after', summary.notAfter.toISOString()],
		['days left', String(summary.daysLeft)],
		['SHA-256', summary.fingerprintSha256],
		['serial', summary.serialNumber],
		['CA', summary.isCertificateAuthority ? 'yes' : 'no'],
		['EKU', summary.extendedKeyUsages.join(', ') || '(none)'],
	];
	return `${rows.map(([key, value]) => `${(`${key}:`).padEnd(12)} ${value}`).join('\n')}\n`;
}

function parseDays(value: string): number {
	const days = Number(value);
	if (!/^\d+$/.test(value) || days < 1 || days > 36_500) throw new InvalidArgumentError('must be an integer between 1 and 36500');
	return days;
}

function collect(value: string, previous: string[]): string[] {
	return [...previous, value];
}
