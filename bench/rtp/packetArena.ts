/**
 * Buffers for outgoing load packets, reused round-robin from one arena: no
 * allocation, and no filler to write, per packet. A slot comes round again
 * only after SLOTS more packets (a third of a second at the largest loads),
 * long after the socket has handed its bytes to the kernel; a writer rewrites
 * every byte up to the end of its stamp, so a stale stamp can only sit after
 * the real one, where a receiver (which takes the first) never looks.
 */
const SLOT_BYTES = 1280;
const SLOTS = 8192;
const FILLER = 0xaa;

let arena: Buffer | undefined;
let next = 0;

/** `size` bytes for one packet: header, codec bytes and stamp to be written, filler already in place. */
export function packetBuffer(size: number): Buffer {
	if (size > SLOT_BYTES) return Buffer.alloc(size, FILLER);
	arena ??= Buffer.alloc(SLOT_BYTES * SLOTS, FILLER);
	const start = next * SLOT_BYTES;
	next = (next + 1) % SLOTS;
	return arena.subarray(start, start + size);
}
