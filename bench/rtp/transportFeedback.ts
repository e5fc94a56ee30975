/**
 * The receiver side of transport-wide congestion control
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01), which is what feeds
 * mediasoup's bandwidth estimator: record when each packet with a
 * transport-wide sequence number arrived, and report that in RTCP transport
 * feedback. Optionally the arrival times are those the packets would have had
 * behind a bottleneck of a given bitrate, so a raw client can stand in for a
 * viewer on a slow downlink without a real shaper.
 */
import { randomInt } from 'node:crypto';
import { findHeaderExtension } from './rtpPackets.ts';

export const TRANSPORT_CC_URI = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';

const PT_RTPFB = 205;
const FMT_TRANSPORT_CC = 15;
/** Receive deltas are in units of 250 µs; the reference time in units of 64 ms. */
const TICKS_PER_MS = 4;
const REFERENCE_MS = 64;
/** How often Chrome sends transport feedback. */
const SEND_EVERY_MS = 50;

interface Arrival {
	seq: number;
	atMs: number;
}

export class TransportFeedback {
	readonly #extensionId: number;
	#bottleneckBitsPerMs: number | undefined;
	#pending: Arrival[] = [];
	/** Unwrapped sequence number of the next packet to report. */
	#nextBase: number | undefined;
	#lastUnwrapped: number | undefined;
	/** When the emulated bottleneck has sent everything queued so far. */
	#bottleneckFreeAt = 0;
	#feedbackCount = 0;
	#sendTimer: NodeJS.Timeout | undefined;

	constructor(extensionId: number) {
		this.#extensionId = extensionId;
	}

	/** Arrival times from now on as behind a link of `bitrate` bits/s (undefined: as they really are). */
	setBottleneck(bitrate: number | undefined): void {
		this.#bottleneckBitsPerMs = bitrate === undefined ? undefined : bitrate / 1000;
	}

	/** Records one RTP packet that arrived at `arrivalMs` (any monotonic clock in ms). */
	onPacket(packet: Buffer, arrivalMs: number): void {
		const ext = findHeaderExtension(packet, this.#extensionId);
		if (!ext || ext.length < 2) return;
		const seq = this.#unwrap(packet.readUInt16BE(ext.offset));
		let atMs = arrivalMs;
		if (this.#bottleneckBitsPerMs !== undefined) {
			// The packet waits behind those still queued, then takes its own serialisation time.
			this.#bottleneckFreeAt = Math.max(atMs, this.#bottleneckFreeAt) + (packet.length * 8) / this.#bottleneckBitsPerMs;
			atMs = this.#bottleneckFreeAt;
		}
		this.#pending.push({ seq, atMs });
	}

	/** Sends feedback for what arrived every 50 ms, as Chrome does, until `stop()`. */
	startSending(mediaSsrc: number, send: (packet: Buffer) => void): void {
		if (this.#sendTimer) return;
		const senderSsrc = randomInt(1, 0xffffffff);
		this.#sendTimer = setInterval(() => {
			const packet = this.build(senderSsrc, mediaSsrc);
			if (packet) send(packet);
		}, SEND_EVERY_MS);
	}

	stop(): void {
		clearInterval(this.#sendTimer);
		this.#sendTimer = undefined;
	}

	/** RTCP transport feedback for what arrived since the last call; undefined when nothing did. */
	build(senderSsrc: number, mediaSsrc: number): Buffer | undefined {
		const base = this.#nextBase ?? Math.min(...this.#pending.map((a) => a.seq));
		const arrivals = this.#pending.filter((a) => a.seq >= base).sort((a, b) => a.seq - b.seq);
		this.#pending = [];
		const last = arrivals[arrivals.length - 1];
		const first = arrivals[0];
		if (!first || !last) return undefined;
		const count = Math.min(0xffff, last.seq - base + 1);
		this.#nextBase = base + count;
		const arrivalOf = new Map(arrivals.map((a) => [a.seq, a.atMs]));
		const reference = Math.floor(first.atMs / REFERENCE_MS);

		// Two-bit status vector chunks (7 symbols each): 0 not received, 1 small delta, 2 large delta.
		const chunks: number[] = [];
		const deltas: number[] = [];
		let previousMs = reference * REFERENCE_MS;
		let chunk = 0;
		for (let i = 0; i < count; i++) {
			const atMs = arrivalOf.get(base + i);
			let symbol = 0;
			if (atMs !== undefined) {
				const ticks = Math.max(-0x8000, Math.min(0x7fff, Math.round((atMs - previousMs) * TICKS_PER_MS)));
				previousMs += ticks / TICKS_PER_MS;
				symbol = ticks >= 0 && ticks <= 0xff ? 1 : 2;
				deltas.push(ticks);
			}
			chunk |= symbol << (2 * (6 - (i % 7)));
			if (i % 7 === 6 || i === count - 1) {
				chunks.push(0xc000 | chunk);
				chunk = 0;
			}
		}
		const deltaBytes = deltas.reduce((n, d) => n + (d >= 0 && d <= 0xff ? 1 : 2), 0);
		const length = Math.ceil((20 + 2 * chunks.length + deltaBytes) / 4) * 4;
		const packet = Buffer.alloc(length);
		packet[0] = 0x80 | FMT_TRANSPORT_CC;
		packet[1] = PT_RTPFB;
		packet.writeUInt16BE(length / 4 - 1, 2);
		packet.writeUInt32BE(senderSsrc >>> 0, 4);
		packet.writeUInt32BE(mediaSsrc >>> 0, 8);
		packet.writeUInt16BE(base & 0xffff, 12);
		packet.writeUInt16BE(count, 14);
		packet.writeUIntBE(reference & 0xffffff, 16, 3);
		packet[19] = this.#feedbackCount++ & 0xff;
		let o = 20;
		for (const c of chunks) o = packet.writeUInt16BE(c, o);
		for (const d of deltas) o = d >= 0 && d <= 0xff ? packet.writeUInt8(d, o) : packet.writeInt16BE(d, o);
		return packet;
	}

	#unwrap(seq16: number): number {
		const last = this.#lastUnwrapped;
		if (last === undefined) {
			this.#lastUnwrapped = seq16;
			return seq16;
		}
		// The 16-bit value closest to the last one seen.
		let diff = seq16 - (last & 0xffff);
		if (diff > 0x8000) diff -= 0x10000;
		else if (diff < -0x8000) diff += 0x10000;
		const unwrapped = last + diff;
		if (unwrapped > last) this.#lastUnwrapped = unwrapped;
		return unwrapped;
	}
}
