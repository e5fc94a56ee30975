import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { RelayMode } from '../sft/MediaRelay.ts';
import { type ForwardingResult, round, table } from './forwardingReport.ts';

export interface ModeResult {
	mode: RelayMode;
	profile: string;
	domains: number;
	participantsPerDomain: number;
	machine: ForwardingResult['machine'];
	windowSeconds: number;
	/** Per directed link: bytes on it (SRTP, RTCP, RTX included) and what viewers behind it needed. */
	links: {
		from: string;
		to: string;
		linkMbit: number;
		neededMbit: number;
		ratioToNeeded: number | null;
		/** Media RTP as mediasoup counts it (headers included, SRTP tag not), retransmissions, and the needed bytes by kind. */
		rtpMbit: { audio: number; video: number };
		rtxMbit: number;
		neededByKindMbit: { audio: number; video: number };
	}[];
	/** Sums over every directed link. */
	linkMbit: number;
	neededMbit: number;
	/** From a viewer's new view to the first packet of a remote stream or layer it did not get before, ms. */
	firstFrame: { count: number; p50: number | null; p95: number | null; max: number | null; timeouts: number };
	workers: { domain: string; cpuPercent: number }[];
	nodeCpuPercent: number;
	kernelUdpDrops: number;
}

const topology = (domains: number) => (domains === 2 ? '2 domains' : `${domains}-domain star`);

/** One row per run, then per topology and size how many times more `full` puts on the links than `demand`. */
export function modesTable(results: readonly ModeResult[]): string {
	const rows = results.map((r) => [
		topology(r.domains),
		String(r.participantsPerDomain),
		r.mode,
		r.linkMbit.toFixed(2),
		r.neededMbit.toFixed(2),
		r.neededMbit > 0 ? (r.linkMbit / r.neededMbit).toFixed(3) : '–',
		r.firstFrame.count ? `${r.firstFrame.p50} / ${r.firstFrame.p95} (${r.firstFrame.count}, ${r.firstFrame.timeouts} late)` : '–',
		r.workers.map((w) => `${w.cpuPercent}`).join(' / '),
		String(r.kernelUdpDrops),
	]);
	const out = [
		table(
			[
				'topology',
				'M',
				'mode',
				'link Mbit/s (all directions)',
				'needed Mbit/s',
				'link / needed',
				'first packet of a new remote stream/layer p50 / p95 ms (n, >5 s)',
				'worker CPU % per domain',
				'kernel UDP drops',
			],
			rows,
		),
	];
	const ratios: string[][] = [];
	for (const full of results.filter((r) => r.mode === 'full')) {
		const demand = results.find(
			(r) => r.mode === 'demand' && r.domains === full.domains && r.participantsPerDomain === full.participantsPerDomain,
		);
		if (demand && demand.linkMbit > 0) {
			ratios.push([topology(full.domains), String(full.participantsPerDomain), (full.linkMbit / demand.linkMbit).toFixed(2)]);
		}
	}
	if (ratios.length) out.push('', table(['topology', 'M', 'full link bytes / demand link bytes'], ratios));
	const perLink = results.flatMap((r) =>
		r.links.map((l) => [
			topology(r.domains),
			String(r.participantsPerDomain),
			r.mode,
			`${l.from} → ${l.to}`,
			l.linkMbit.toFixed(2),
			l.neededMbit.toFixed(2),
			l.ratioToNeeded === null ? '–' : l.ratioToNeeded.toFixed(3),
			`${l.rtpMbit.video.toFixed(2)} / ${l.neededByKindMbit.video.toFixed(2)}`,
			`${l.rtpMbit.audio.toFixed(3)} / ${l.neededByKindMbit.audio.toFixed(3)}`,
			l.rtxMbit.toFixed(3),
		]),
	);
	out.push(
		'',
		table(
			[
				'topology',
				'M',
				'mode',
				'link',
				'link Mbit/s',
				'needed Mbit/s',
				'link / needed',
				'video RTP / needed',
				'audio RTP / needed',
				'RTX Mbit/s',
			],
			perLink,
		),
	);
	return out.join('\n');
}

/** Link Mbit/s against participants per domain, one line per mode, needed bytes dashed; one panel per topology. */
export async function modesSvg(results: readonly ModeResult[]): Promise<string> {
	const values = results.flatMap((r) => [
		{ topology: topology(r.domains), M: r.participantsPerDomain, series: `${r.mode}: link`, Mbit: round(r.linkMbit, 2), kind: 'link' },
		{
			topology: topology(r.domains),
			M: r.participantsPerDomain,
			series: `${r.mode}: needed`,
			Mbit: round(r.neededMbit, 2),
			kind: 'needed',
		},
	]);
	const spec = vl.compile({
		$schema: 'https://vega.github.io/schema/vega-lite/v5.json',
		title: `Inter-SFT bytes by relay mode (profile ${results[0]?.profile ?? ''}), all link directions summed`,
		data: { values },
		facet: { column: { field: 'topology', type: 'nominal', title: null } },
		spec: {
			width: 320,
			height: 240,
			mark: { type: 'line', point: true },
			encoding: {
				x: { field: 'M', type: 'quantitative', title: 'participants per domain' },
				y: { field: 'Mbit', type: 'quantitative', title: 'Mbit/s' },
				color: { field: 'series', type: 'nominal', title: null },
				strokeDash: { field: 'kind', type: 'nominal', title: null },
			},
		},
	}).spec;
	return new vega.View(vega.parse(spec), { renderer: 'none' }).toSVG();
}
