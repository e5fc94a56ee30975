// A bare socket.io-client over TLS, for handshakes our FederationClient would
// never produce (no certificate, no claimed domain, a domain the cert lacks).
import { readFileSync } from 'node:fs';
import { io } from 'socket.io-client';

export interface RawAttempt {
	connected: boolean;
	error?: string;
}

export async function rawSocketIoAttempt(options: {
	port: number;
	caFile: string;
	certFile?: string;
	keyFile?: string;
	auth?: Record<string, unknown>;
}): Promise<RawAttempt> {
	const socket = io(`https://127.0.0.1:${options.port}`, {
		transports: ['websocket'],
		reconnection: false,
		forceNew: true,
		timeout: 5000,
		ca: readFileSync(options.caFile, 'utf8'),
		rejectUnauthorized: false,
		...(options.certFile ? { cert: readFileSync(options.certFile, 'utf8') } : {}),
		...(options.keyFile ? { key: readFileSync(options.keyFile, 'utf8') } : {}),
		...(options.auth ? { auth: options.auth } : {}),
	});
	try {
		return await new Promise<RawAttempt>((resolve) => {
			socket.once('connect', () => resolve({ connected: true }));
			socket.once('connect_error', (error) => resolve({ connected: false, error: error.message }));
		});
	} finally {
		socket.close();
	}
}
