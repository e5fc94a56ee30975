import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { measureLossyLink } from '../bench/lossyLink.ts';
import { ImpairmentModel, seededRandom } from '../bench/net/impairment.ts';

const test = suite('lossy federation link');

function runs(model: ImpairmentModel, packets: number): { lost: number; bursts: number[]; delays: number[] } {
	const bursts: number[] = [];
	const delays: number[] = [];
	let lost = 0;
	let burst = 0;
	for (let i = 0; i < packets; i++) {
		const verdict = model.next();
		if (verdict.drop) {
			lost++;
			burst++;
		} else {
			delays.push(verdict.delayMs);
			if (burst > 0) bursts.push(burst);
			burst = 0;
		}
	}
	return { lost, bursts, delays };
}

test('the impairment model loses the asked share, in bursts of the asked mean length, with delay and jitter', () => {
	const random = runs(new ImpairmentModel({ loss: 0.05, delayMs: 15 }, seededRandom(7)), 100_000);
	assert.ok(Math.abs(random.lost / 100_000 - 0.05) < 0.004, `random loss ${random.lost / 1000} %`);
	assert.ok(random.delays.every((d) => d === 15));
	const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
	assert.ok(mean(random.bursts) < 1.2, `random loss comes mostly alone (mean burst ${mean(random.bursts)})`);
	const bursty = runs(new ImpairmentModel({ loss: 0.05, burstLength: 4, delayMs: 20, jitterMs: 5 }, seededRandom(8)), 100_000);
	assert.ok(Math.abs(bursty.lost / 100_000 - 0.05) < 0.008, `bursty loss ${bursty.lost / 1000} %`);
	assert.ok(Math.abs(mean(bursty.bursts) - 4) < 0.5, `mean burst ${mean(bursty.bursts)}`);
	assert.ok(bursty.delays.every((d) => d >= 15 && d <= 25) && Math.max(...bursty.delays) - Math.min(...bursty.delays) > 9);
	const reordered = runs(new ImpairmentModel({ reorder: 0.1, delayMs: 5 }, seededRandom(9)), 10_000);
	const held = reordered.delays.filter((d) => d > 5).length;
	assert.ok(held > 800 && held < 1200, `${held} of 10,000 held back`);
	assert.is(runs(new ImpairmentModel({ down: true }), 1000).lost, 1000, 'an outage drops everything');
});

test('5 % random loss and 30 ms RTT on the link: NACK/RTX keep video residual loss under 0.5 %', async () => {
	const result = await measureLossyLink({ impairment: { loss: 0.05, delayMs: 15 }, windowMs: 5000 });
	console.log(
		`  video ${result.video.lossPercent.toFixed(3)} % of ${result.video.sent}, audio ${result.audio.lossPercent.toFixed(3)} % of ${result.audio.sent}, link dropped ${result.linkDropPercent.toFixed(2)} %, ${result.rtxPackets} RTX`,
	);
	assert.ok(result.linkDropPercent > 3 && result.linkDropPercent < 7, `the link dropped ${result.linkDropPercent} % of packets`);
	assert.ok(result.rtxPackets > 0, 'the anchor retransmitted what was lost');
	assert.ok(result.video.sent > 1000, `${result.video.sent} video packets in the window`);
	assert.ok(result.video.lossPercent < 0.5, `video residual loss ${result.video.lossPercent} %`);
});

test.run();
