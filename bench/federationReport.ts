import type { MediaLoadConfig } from './cliArguments.ts';
import { round } from './forwardingReport.ts';

export interface LinkDirection {
	/** e.g. "a.bench → b.bench". */
	link: string;
	from: string;
	to: string;
	/** All bytes on the pipe transport (RTP, RTX, RTCP, SRTP tags), sender side `tx` counter. */
	linkBytesPerSecond: number;
	/** Same direction as counted by the receiving SFT (`rx`). */
	linkBytesPerSecondAtReceiver: number;
	/** Retransmissions (RTX) towards the partner, after NACKs from it. */
	rtxBytesPerSecond: number;
	/** Media RTP bytes only (sft_federation_link_rtp_bytes_total, tx), per kind. */
	rtpBytesPerSecond: { audio: number; video: number };
	/** Client RTP bytes/s of every stream that had to cross in full mode. */
	publishedBytesPerSecond: number;
	publishedStreams: number;
	/** linkBytesPerSecond / publishedBytesPerSecond. */
	ratioToPublished: number;
	/** Client RTP bytes/s of the crossing streams selected by at least one receiver behind the link (mean of samples). */
	neededBytesPerSecond: number;
	neededStreams: number;
	/** linkBytesPerSecond / neededBytesPerSecond: what full mode costs over an on-demand relay. */
	ratioToNeeded: number | null;
}

export interface PathFigures {
	/** Receiver/stream pairs flowing for the whole window. */
	pairs: number;
	expected: number;
	received: number;
	lossPercent: number;
	forwardedPacketsPerSecond: number;
	delayMs: { p50: number | null; p99: number | null; max: number | null };
}

export interface FederationResult {
	config: MediaLoadConfig & {
		domains: string[];
		participantsPerDomain: number;
	};
	machine: { cpus: number; cpuModel: string; node: string; mediasoup: string; loadAverage: number };
	windowSeconds: number;
	consumers: number;
	ingressPacketsPerSecond: number;
	links: LinkDirection[];
	/** Streams that crossed a federation hop vs streams from the receiver's own SFT. */
	crossed: PathFigures;
	local: PathFigures;
	workers: { domain: string; cpuPercent: number; rssMB: number }[];
	node: { cpuPercent: number; rssMB: number };
	machineBusyPercent: number;
	/** UDP datagrams the kernel dropped for full receive buffers during the window (machine-wide, includes other processes). */
	kernelUdpDrops: number;
	senderSkipped: number;
	clientErrors: number;
	/** Receive-only WebRTC callers (werift): what a real client got during the window. */
	webrtcClients: { domain: string; streams: number; packetsPerSecond: number; errors: number }[];
}

const mbit = (bytesPerSecond: number) => round((bytesPerSecond * 8) / 1e6, 2);
const ms = (v: number | null) => (v === null ? 'n/a' : `${round(v, 2)}`);

export function markdownReport(r: FederationResult): string {
	const c = r.config;
	const lines = [
		`**${c.domains.length} domains × ${c.participantsPerDomain} participants** (${c.domains.join(', ')}; anchor ${c.domains[0]}), ` +
			`each Opus ${c.audioPacketsPerSecond} pkt/s × ${c.audioPayloadBytes} B + VP8 ${c.videoPacketsPerSecond} pkt/s × ${c.videoPayloadBytes} B; ` +
			`receivers view ${c.maxVideos} videos, hear ${c.maxAudible} loudest; window ${r.windowSeconds} s after ${c.warmupSeconds} s warm-up.`,
		'',
		'| link | link Mbit/s (tx / rx side) | of which RTX Mbit/s | published to cross Mbit/s (streams) | link / published | needed Mbit/s (streams) | link / needed |',
		'| --- | --- | --- | --- | --- | --- | --- |',
	];
	for (const l of r.links) {
		lines.push(
			`| ${l.link} | ${mbit(l.linkBytesPerSecond)} / ${mbit(l.linkBytesPerSecondAtReceiver)} | ${mbit(l.rtxBytesPerSecond)} | ${mbit(l.publishedBytesPerSecond)} (${l.publishedStreams}) | ${round(l.ratioToPublished, 3)} | ` +
				`${mbit(l.neededBytesPerSecond)} (${l.neededStreams}) | ${l.ratioToNeeded === null ? 'n/a' : round(l.ratioToNeeded, 2)} |`,
		);
	}
	lines.push('', '| streams | pairs | loss | forwarded pkt/s | delay p50 / p99 / max ms |', '| --- | --- | --- | --- | --- |');
	for (const [name, p] of [
		['crossed a federation hop', r.crossed],
		['local (same SFT)', r.local],
	] as const) {
		lines.push(
			`| ${name} | ${p.pairs} | ${p.lossPercent} % (${p.received}/${p.expected}) | ${p.forwardedPacketsPerSecond} | ${ms(p.delayMs.p50)} / ${ms(p.delayMs.p99)} / ${ms(p.delayMs.max)} |`,
		);
	}
	lines.push(
		'',
		`Ingress ${r.ingressPacketsPerSecond} pkt/s, ${r.consumers} consumers; worker CPU (% of one core) / RSS: ` +
			r.workers.map((w) => `${w.domain} ${w.cpuPercent} % / ${w.rssMB} MB`).join(', ') +
			`; Node (clients + control + federation) ${r.node.cpuPercent} % / ${r.node.rssMB} MB; machine busy ${r.machineBusyPercent} % of all cores; kernel UDP receive-buffer drops ${r.kernelUdpDrops}; ` +
			`sender skipped ${r.senderSkipped}, client errors ${r.clientErrors}.`,
		...(r.webrtcClients.length > 0
			? [
					`WebRTC callers (receive only): ${r.webrtcClients.map((w) => `${w.domain} ${w.streams} streams, ${w.packetsPerSecond} pkt/s${w.errors ? `, ${w.errors} errors` : ''}`).join('; ')}.`,
				]
			: []),
		`Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, Node ${r.machine.node}, mediasoup ${r.machine.mediasoup}, load average ${r.machine.loadAverage} at start.`,
	);
	return lines.join('\n');
}

/** One row per run of a sweep: the anchor's first link, both directions. */
export function sweepTable(results: FederationResult[]): string {
	const lines = [
		'| participants / domain | link Mbit/s per direction (A→B / B→A) | RTX Mbit/s | published to cross Mbit/s | needed Mbit/s | link / published | crossed loss | crossed delay p50 / p99 ms | worker CPU % (per domain) |',
		'| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
	];
	for (const r of results) {
		const [ab, ba] = firstLinkPair(r);
		lines.push(
			`| ${r.config.participantsPerDomain} | ${mbit(ab?.linkBytesPerSecond ?? 0)} / ${mbit(ba?.linkBytesPerSecond ?? 0)} | ${mbit(ab?.rtxBytesPerSecond ?? 0)} / ${mbit(ba?.rtxBytesPerSecond ?? 0)} | ${mbit(ab?.publishedBytesPerSecond ?? 0)} / ${mbit(ba?.publishedBytesPerSecond ?? 0)} | ` +
				`${mbit(ab?.neededBytesPerSecond ?? 0)} / ${mbit(ba?.neededBytesPerSecond ?? 0)} | ${round(ab?.ratioToPublished ?? 0, 3)} / ${round(ba?.ratioToPublished ?? 0, 3)} | ` +
				`${r.crossed.lossPercent} % | ${ms(r.crossed.delayMs.p50)} / ${ms(r.crossed.delayMs.p99)} | ${r.workers.map((w) => w.cpuPercent).join(' / ')} |`,
		);
	}
	return lines.join('\n');
}

function firstLinkPair(r: FederationResult): [LinkDirection | undefined, LinkDirection | undefined] {
	const ab = r.links[0];
	const ba = ab ? r.links.find((l) => l.from === ab.to && l.to === ab.from) : undefined;
	return [ab, ba];
}

/** Hand-written SVG: link Mbit/s (both directions, plus published and needed) vs participants per domain. */
export function sweepSvg(results: FederationResult[]): string {
	const W = 720;
	const H = 440;
	const m = { left: 70, right: 220, top: 40, bottom: 60 };
	const pw = W - m.left - m.right;
	const ph = H - m.top - m.bottom;
	const xs = results.map((r) => r.config.participantsPerDomain);
	const series: { name: string; color: string; dash?: string; values: number[] }[] = [
		{ name: 'link A→B (measured)', color: '#1f77b4', values: results.map((r) => mbit(firstLinkPair(r)[0]?.linkBytesPerSecond ?? 0)) },
		{ name: 'link B→A (measured)', color: '#d62728', values: results.map((r) => mbit(firstLinkPair(r)[1]?.linkBytesPerSecond ?? 0)) },
		{
			name: 'published to cross A→B',
			color: '#1f77b4',
			dash: '6 4',
			values: results.map((r) => mbit(firstLinkPair(r)[0]?.publishedBytesPerSecond ?? 0)),
		},
		{
			name: 'needed by viewers A→B',
			color: '#2ca02c',
			dash: '2 3',
			values: results.map((r) => mbit(firstLinkPair(r)[0]?.neededBytesPerSecond ?? 0)),
		},
	];
	const xMin = Math.min(...xs, 0);
	const xMax = Math.max(...xs, 1);
	const yMax = niceCeil(Math.max(1, ...series.flatMap((s) => s.values)));
	const x = (v: number) => m.left + ((v - xMin) / (xMax - xMin || 1)) * pw;
	const y = (v: number) => m.top + ph - (v / yMax) * ph;
	const out: string[] = [
		`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
		`<rect width="${W}" height="${H}" fill="white"/>`,
		`<text x="${m.left}" y="22" font-size="14" font-weight="bold">Federation link bandwidth vs participants per domain (${results[0]?.config.domains.length ?? 2} domains)</text>`,
	];
	for (let i = 0; i <= 5; i++) {
		const v = (yMax * i) / 5;
		out.push(
			`<line x1="${m.left}" x2="${m.left + pw}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
			`<text x="${m.left - 8}" y="${y(v) + 4}" text-anchor="end">${round(v, 1)}</text>`,
		);
	}
	for (const v of xs)
		out.push(
			`<line x1="${x(v)}" x2="${x(v)}" y1="${m.top + ph}" y2="${m.top + ph + 5}" stroke="#333"/>`,
			`<text x="${x(v)}" y="${m.top + ph + 18}" text-anchor="middle">${v}</text>`,
		);
	out.push(
		`<line x1="${m.left}" x2="${m.left + pw}" y1="${m.top + ph}" y2="${m.top + ph}" stroke="#333"/>`,
		`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + ph}" stroke="#333"/>`,
		`<text x="${m.left + pw / 2}" y="${H - 18}" text-anchor="middle">participants per domain (M)</text>`,
		`<text transform="translate(18 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">Mbit/s</text>`,
	);
	series.forEach((s, i) => {
		const points = s.values.map((v, j) => `${round(x(xs[j] ?? 0), 1)},${round(y(v), 1)}`).join(' ');
		const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
		out.push(`<polyline points="${points}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
		for (const [j, v] of s.values.entries())
			out.push(`<circle cx="${round(x(xs[j] ?? 0), 1)}" cy="${round(y(v), 1)}" r="3" fill="${s.color}"/>`);
		const ly = m.top + 10 + i * 20;
		out.push(
			`<line x1="${m.left + pw + 15}" x2="${m.left + pw + 45}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`,
			`<text x="${m.left + pw + 50}" y="${ly + 4}">${s.name}</text>`,
		);
	});
	out.push('</svg>', '');
	return out.join('\n');
}

function niceCeil(v: number): number {
	const p = 10 ** Math.floor(Math.log10(v));
	for (const f of [1, 2, 2.5, 5, 10]) if (f * p >= v) return f * p;
	return 10 * p;
}
