import { expect } from "chai";

import { ByteReader } from "../../sdk/crypto/envelope-v2";

/**
 * ByteReader re-chunks any stream into segments. The browser's seal and open go through it once per
 * segment, so a read that starts a chunk it fits in must be a view of that chunk, not a fresh 1 MiB copy.
 */
describe("sdk/crypto/envelope-v2 ByteReader", () => {
  const chunk = (length: number, fill: number) => new Uint8Array(length).fill(fill);

  it("hands out views of the source's chunks when segments and chunks line up (no copy)", async () => {
    const header = chunk(162, 1);
    const segments = [chunk(4096, 2), chunk(4096, 3), chunk(100, 4)];
    const reader = new ByteReader([header, ...segments]);
    const head = await reader.read(162);
    expect(head.buffer).to.equal(header.buffer);
    for (const segment of segments.slice(0, 2)) {
      const read = await reader.read(4096);
      expect(read.buffer, "a read that starts a chunk is a view of it").to.equal(segment.buffer);
      expect(read.byteOffset).to.equal(0);
      expect(read.length).to.equal(4096);
    }
    const last = await reader.read(4096);
    expect(Array.from(last)).to.deep.equal(Array.from(segments[2]));
    expect((await reader.read(4096)).length).to.equal(0);
    expect(reader.position).to.equal(162 + 4096 * 2 + 100);
  });

  it("still joins and splits chunks of any size, empty ones included, byte for byte", async () => {
    const total = 10_000;
    const bytes = Uint8Array.from({ length: total }, (_, i) => (i * 31) & 0xff);
    const cuts = [0, 0, 7, 7, 1000, 4096, 4097, 9000, total];
    const parts = cuts.slice(1).map((end, i) => bytes.slice(cuts[i], end));
    for (const size of [1, 7, 4096, 5000, total, total + 1]) {
      const reader = new ByteReader(parts);
      const out: number[] = [];
      for (;;) {
        const read = await reader.read(size);
        if (read.length === 0) break;
        out.push(...read);
        if (read.length < size) expect((await reader.read(size)).length, "nothing after a short read").to.equal(0);
      }
      expect(out.length, `reads of ${size}`).to.equal(total);
      expect(Uint8Array.from(out)).to.deep.equal(bytes);
    }
  });
});
