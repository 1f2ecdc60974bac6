/**
 * A small writer of pprof's profile.proto, for synthetic profiles: the benchmark's million-sample
 * profile and tests of what the decoder and `go tool pprof` make of unusual input. It writes what
 * it is given in the order Go's runtime does (sample types, samples, then the tables).
 */

export interface ProfileSpec {
  readonly sampleTypes: readonly { type: string; unit: string }[];
  readonly defaultSampleType?: string;
  readonly periodType?: { type: string; unit: string };
  readonly period?: number;
  readonly timeNanos?: number;
  readonly durationNanos?: number;
  readonly dropFrames?: string;
  readonly keepFrames?: string;
  readonly comments?: readonly string[];
  readonly mappings?: readonly {
    id: number;
    start?: number;
    limit?: number;
    file?: string;
    buildId?: string;
    hasFunctions?: boolean;
  }[];
  readonly functions: readonly {
    id: number;
    name: string;
    systemName?: string;
    filename?: string;
    startLine?: number;
  }[];
  readonly locations: readonly {
    id: number;
    mappingId?: number;
    address?: number;
    /** Innermost (inlined callee) first, as in the proto. */
    lines?: readonly { functionId: number; line?: number }[];
  }[];
  /** Location ids leaf first; one value per sample type; optional numeric labels. */
  readonly samples: Iterable<{
    locationIds: readonly number[];
    values: readonly number[];
    numLabels?: Readonly<Record<string, number>>;
  }>;
  /** Write location ids and values unpacked (proto2 style), as some producers do. */
  readonly unpacked?: boolean;
}

class Writer {
  buf = new Uint8Array(1 << 16);
  n = 0;
  private ensure(k: number) {
    if (this.n + k <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.n + k) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.n));
    this.buf = b;
  }
  byte(b: number) {
    this.ensure(1);
    this.buf[this.n++] = b;
  }
  varint(v: number) {
    this.ensure(10);
    if (v < 0) {
      // two's complement, 10 bytes
      let big = BigInt.asUintN(64, BigInt(v));
      for (let i = 0; i < 10; i++) {
        const b = Number(big & 0x7fn);
        big >>= 7n;
        this.buf[this.n++] = big > 0n ? b | 0x80 : b;
        if (big === 0n) break;
      }
      return;
    }
    let x = v;
    while (x >= 0x80) {
      this.buf[this.n++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.buf[this.n++] = x;
  }
  tag(field: number, wire: number) {
    this.varint(field * 8 + wire);
  }
  bytes(field: number, data: Uint8Array) {
    this.tag(field, 2);
    this.varint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.n);
    this.n += data.length;
  }
  uint(field: number, v: number | undefined) {
    if (!v) return;
    this.tag(field, 0);
    this.varint(v);
  }
  take(): Uint8Array {
    const out = this.buf.slice(0, this.n);
    this.n = 0;
    return out;
  }
}

/** Yields the encoded profile in chunks (feed them to a gzip stream for large profiles). */
export function* encodeProfileChunks(spec: ProfileSpec): Generator<Uint8Array> {
  const strings: string[] = [''];
  const index = new Map<string, number>([['', 0]]);
  const str = (s: string | undefined) => {
    if (!s) return 0;
    let i = index.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(s);
      index.set(s, i);
    }
    return i;
  };
  const enc = new TextEncoder();
  const out = new Writer();
  const msg = new Writer();
  const sub = new Writer();
  const valueType = (field: number, t: { type: string; unit: string }) => {
    msg.uint(1, str(t.type));
    msg.uint(2, str(t.unit));
    out.bytes(field, msg.take());
  };
  for (const t of spec.sampleTypes) valueType(1, t);
  for (const s of spec.samples) {
    if (spec.unpacked) {
      for (const id of s.locationIds) {
        msg.tag(1, 0);
        msg.varint(id);
      }
      for (const v of s.values) {
        msg.tag(2, 0);
        msg.varint(v);
      }
    } else {
      for (const id of s.locationIds) sub.varint(id);
      msg.bytes(1, sub.take());
      for (const v of s.values) sub.varint(v);
      msg.bytes(2, sub.take());
    }
    for (const [k, v] of Object.entries(s.numLabels ?? {})) {
      sub.uint(1, str(k));
      sub.tag(3, 0);
      sub.varint(v);
      msg.bytes(3, sub.take());
    }
    out.bytes(2, msg.take());
    if (out.n > 1 << 20) yield out.take();
  }
  for (const m of spec.mappings ?? []) {
    msg.uint(1, m.id);
    msg.uint(2, m.start);
    msg.uint(3, m.limit);
    msg.uint(5, str(m.file));
    msg.uint(6, str(m.buildId));
    msg.uint(7, m.hasFunctions ? 1 : 0);
    out.bytes(3, msg.take());
  }
  for (const l of spec.locations) {
    msg.uint(1, l.id);
    msg.uint(2, l.mappingId);
    msg.uint(3, l.address);
    for (const line of l.lines ?? []) {
      sub.uint(1, line.functionId);
      sub.uint(2, line.line);
      msg.bytes(4, sub.take());
    }
    out.bytes(4, msg.take());
  }
  for (const f of spec.functions) {
    msg.uint(1, f.id);
    msg.uint(2, str(f.name));
    msg.uint(3, str(f.systemName ?? f.name));
    msg.uint(4, str(f.filename));
    msg.uint(5, f.startLine);
    out.bytes(5, msg.take());
  }
  const drop = str(spec.dropFrames);
  const keep = str(spec.keepFrames);
  const comments = (spec.comments ?? []).map(str);
  const dst = str(spec.defaultSampleType);
  const periodType = spec.periodType ? [str(spec.periodType.type), str(spec.periodType.unit)] : undefined;
  for (const s of strings) out.bytes(6, enc.encode(s));
  out.uint(7, drop);
  out.uint(8, keep);
  out.uint(9, spec.timeNanos);
  out.uint(10, spec.durationNanos);
  if (periodType) {
    msg.uint(1, periodType[0]);
    msg.uint(2, periodType[1]);
    out.bytes(11, msg.take());
  }
  out.uint(12, spec.period);
  for (const c of comments) {
    out.tag(13, 0);
    out.varint(c);
  }
  out.uint(14, dst);
  yield out.take();
}

export function encodeProfile(spec: ProfileSpec): Uint8Array {
  const chunks = [...encodeProfileChunks(spec)];
  const total = chunks.reduce((t, c) => t + c.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
