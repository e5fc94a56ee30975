/**
 * The RTCP a synthetic client exchanges with mediasoup: key frame requests it
 * obeys (PLI, FIR) and the sender reports mediasoup needs before it switches a
 * viewer between simulcast layers (transport feedback: transportFeedback.ts).
 */

const PT_SR = 200;
const PT_PSFB = 206;
const FMT_PLI = 1;
const FMT_FIR = 4;

/** Media SSRCs for which a (compound) RTCP packet asks a key frame (PLI or FIR). */
export function keyFrameRequests(packet: Buffer): number[] {
	const ssrcs: number[] = [];
	let offset = 0;
	while (offset + 4 <= packet.length) {
		const first = packet.readUInt8(offset);
		if (first >> 6 !== 2) break;
		const fmt = first & 0x1f;
		const type = packet.readUInt8(offset + 1);
		const end = offset + (packet.readUInt16BE(offset + 2) + 1) * 4;
		if (end > packet.length) break;
		if (type === PT_PSFB && fmt === FMT_PLI && end - offset >= 12) {
			ssrcs.push(packet.readUInt32BE(offset + 8));
		} else if (type === PT_PSFB && fmt === FMT_FIR) {
			for (let fci = offset + 12; fci + 8 <= end; fci += 8) ssrcs.push(packet.readUInt32BE(fci));
		}
		offset = end;
	}
	return ssrcs;
}

/** A PLI (RFC 4585 §6.3.1), for tests of the sender's key frame handling. */
export function buildPli(senderSsrc: number, mediaSsrc: number): Buffer {
	const packet = Buffer.alloc(12);
	packet[0] = 0x80 | FMT_PLI;
	packet[1] = PT_PSFB;
	packet.writeUInt16BE(2, 2);
	packet.writeUInt32BE(senderSsrc >>> 0, 4);
	packet.writeUInt32BE(mediaSsrc >>> 0, 8);
	return packet;
}

export interface SenderReportFields {
	ssrc: number;
	/** Wall-clock time the report describes, in ms since 1970. */
	wallClockMs: number;
	/** The RTP timestamp of that instant on the stream's clock. */
	rtpTimestamp: number;
	packetCount: number;
	octetCount: number;
}

/** Seconds from 1900 (NTP era 0) to 1970. */
const NTP_UNIX_OFFSET_S = 2_208_988_800;

/**
 * An RTCP sender report (RFC 3550 §6.4.1) without report blocks. mediasoup
 * maps each simulcast layer's RTP timestamps to wall-clock time with these,
 * and switches a viewer to a layer only once it has one for it.
 */
export function buildSenderReport(f: SenderReportFields): Buffer {
	const packet = Buffer.alloc(28);
	packet[0] = 0x80;
	packet[1] = PT_SR;
	packet.writeUInt16BE(6, 2);
	packet.writeUInt32BE(f.ssrc >>> 0, 4);
	const seconds = Math.floor(f.wallClockMs / 1000);
	packet.writeUInt32BE((seconds + NTP_UNIX_OFFSET_S) >>> 0, 8);
	packet.writeUInt32BE(Math.floor(((f.wallClockMs - seconds * 1000) / 1000) * 2 ** 32) >>> 0, 12);
	packet.writeUInt32BE(f.rtpTimestamp >>> 0, 16);
	packet.writeUInt32BE(f.packetCount >>> 0, 20);
	packet.writeUInt32BE(f.octetCount >>> 0, 24);
	return packet;
}
