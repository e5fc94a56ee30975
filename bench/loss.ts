// Residual loss across an impaired federation link: `npm run bench:loss`.
import { Command, InvalidArgumentError } from 'commander';
import { seconds } from './cliArguments.ts';
import { type LossyLinkResult, measureLossyLink } from './lossyLink.ts';

const percentList = (value: string): number[] => {
	const list = value.split(',').map(Number);
	if (list.some((n) => !Number.isFinite(n) || n < 0 || n >= 100)) throw new InvalidArgumentError('expected percentages like 1,5,10');
	return list;
};
const nonNegative = (value: string): number => {
	const n = Number(value);
	if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number >= 0');
	return n;
};

const options = new Command()
	.name('bench:loss')
	.description('Residual loss of video and audio after NACK/RTX across a federation link with user-space loss, delay and jitter')
	.option('--loss <list>', 'link loss in percent, one run each', percentList, [1, 5, 10])
	.option('--rtt <ms>', 'round-trip time of the link (half each way)', nonNegative, 30)
	.option('--jitter <ms>', 'one-way delay jitter, ± ms', nonNegative, 0)
	.option('--burst <packets>', 'mean loss burst length (1 = independent random loss)', nonNegative, 1)
	.option('-d, --duration <s>', 'measured window per run, seconds', seconds, 15)
	.option('--json', 'print the results as JSON')
	.parse()
	.opts<{ loss: number[]; rtt: number; jitter: number; burst: number; duration: number; json?: boolean }>();

const results: LossyLinkResult[] = [];
for (const loss of options.loss) {
	const impairment = { loss: loss / 100, burstLength: options.burst, delayMs: options.rtt / 2, jitterMs: options.jitter };
	const result = await measureLossyLink({ impairment, windowMs: options.duration * 1000 });
	results.push(result);
	if (!options.json) console.error(`loss ${loss} %: video ${fmt(result.video.lossPercent)} %, audio ${fmt(result.audio.lossPercent)} %`);
}
if (options.json) console.log(JSON.stringify(results, null, 2));
else {
	console.log(
		`\nRTT ${options.rtt} ms, jitter ±${options.jitter} ms, burst ${options.burst}, ${options.duration} s per run, 300 + 50 pkt/s`,
	);
	console.log('| link loss | dropped on the link | video residual loss | audio residual loss | RTX packets | video sent |');
	console.log('| --------- | ------------------- | ------------------- | ------------------- | ----------- | ---------- |');
	for (const r of results)
		console.log(
			`| ${fmt((r.impairment.loss ?? 0) * 100)} % | ${fmt(r.linkDropPercent)} % | ${fmt(r.video.lossPercent)} % (${r.video.sent - r.video.received}) | ${fmt(r.audio.lossPercent)} % (${r.audio.sent - r.audio.received}) | ${r.rtxPackets} | ${r.video.sent} |`,
		);
}
process.exit(0);

function fmt(n: number): string {
	return n.toFixed(n < 1 ? 3 : 2);
}
