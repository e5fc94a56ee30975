#!/usr/bin/env tsx
// Entry point of `sft-certs` / `npm run certs -- …`; all logic is in cliProgram.ts.
import { runCertsCli } from './cliProgram.ts';

const output = {
	out: (text: string) => process.stdout.write(text),
	err: (text: string) => process.stderr.write(text),
};

process.exitCode = await runCertsCli(process.argv.slice(2), output);
