import { Command } from 'commander';
import { pino } from 'pino';
import { WorkerBinaryMissingError } from '../sft/workerBinary.ts';
import { ConfigError, loadConfig } from './config.ts';
import { SftServer } from './SftServer.ts';
import { StartupError } from './startupError.ts';

// Entry point of one domain's SFT: `npm start -- --config sft.yaml`.
const program = new Command()
	.name('sft')
	.description('Federated Selective Forwarding TURN server')
	.option('-c, --config <file>', 'YAML or JSON config file (environment SFT_* variables override it)', process.env['SFT_CONFIG'])
	.parse();

const { config: configFile } = program.opts<{ config?: string }>();

try {
	const config = loadConfig(configFile);
	const logger = pino({ level: config.log.level });
	const server = await SftServer.start(config, logger);
	logger.info(
		{
			clientPort: server.clients.port,
			metricsPort: server.metricsServer.port,
			rtcPorts: server.sft.pool.workers.map((w) => config.media.rtcBasePort + w.index),
			federationPort: server.federation?.port,
			selfSignedCertificate: server.selfSignedCert !== undefined,
		},
		'SFT ready',
	);
	let stopping = false;
	const stop = (signal: string) => {
		if (stopping) {
			logger.warn({ signal }, 'second signal: closing now');
			void server.close().then(() => process.exit(0));
			return;
		}
		stopping = true;
		logger.info({ signal, drainSeconds: config.shutdown.drainSeconds }, 'shutting down: no new conferences');
		void server.drainAndClose(config.shutdown.drainSeconds * 1000).then(() => {
			logger.info('stopped');
			process.exit(0);
		});
	};
	process.on('SIGTERM', () => stop('SIGTERM'));
	process.on('SIGINT', () => stop('SIGINT'));
	process.on('SIGHUP', () => {
		try {
			const fresh = loadConfig(configFile);
			if (server.federation && fresh.federation.enabled)
				void server.federation
					.reload(fresh.federation)
					.catch((error: unknown) => logger.error({ err: error }, 'federation reload failed; old trust kept'));
			logger.info('configuration reloaded (federation trust and allow list)');
		} catch (error) {
			logger.error({ err: error }, 'SIGHUP: new configuration is invalid; keeping the running one');
		}
	});
} catch (error) {
	if (error instanceof ConfigError || error instanceof WorkerBinaryMissingError || error instanceof StartupError) {
		console.error(`sft: ${error.message}`);
		process.exit(2);
	}
	throw error;
}
