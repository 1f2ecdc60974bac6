import { createGunzip } from 'node:zlib';
import { AppError } from '../../domain/errors.ts';
import { formatBytes } from '../format.ts';

/**
 * A hand-written decoder for pprof's profile.proto (github.com/google/pprof/proto/profile.proto).
 *
 * It reads the gzip stream chunk by chunk and never holds the decompressed protobuf whole: samples
 * go straight into compact typed arrays (location ids in 16-bit cells while they fit, values in a
 * Float64Array), so a profile of a million samples costs tens of megabytes, not hundreds.
 * Errors say what is wrong with the input: not gzip, truncated, malformed, or too large.
 */

export type ProfileDecodeProblem = 'not_gzip' | 'truncated' | 'malformed' | 'too_large' | 'empty';

export class ProfileDecodeError extends AppError {
  readonly problem: ProfileDecodeProblem;
  constructor(problem: ProfileDecodeProblem, message: string, options?: { cause?: unknown }) {
    super('usage', message, options);
    this.name = 'ProfileDecodeError';
    this.problem = problem;
  }
}

export interface ValueType {
  readonly type: string;
  readonly unit: string;
}

export interface ProfileMapping {
  readonly id: number;
  readonly start: number;
  readonly limit: number;
  readonly offset: number;
  readonly file: string;
  readonly buildId: string;
  readonly hasFunctions: boolean;
  readonly hasFilenames: boolean;
  readonly hasLineNumbers: boolean;
  readonly hasInlineFrames: boolean;
}

export interface ProfileFunction {
  readonly id: number;
  readonly name: string;
  readonly systemName: string;
  readonly filename: string;
  readonly startLine: number;
}

/** A decoded profile in columnar form. Indices, not ids, link the tables. */
export interface Profile {
  readonly sampleTypes: readonly ValueType[];
  readonly defaultSampleType: string;
  readonly periodType?: ValueType;
  readonly period: number;
  readonly timeNanos: number;
  readonly durationNanos: number;
  readonly comments: readonly string[];
  readonly dropFrames: string;
  readonly keepFrames: string;

  readonly sampleCount: number;
  /** sampleCount × sampleTypes.length values, row by row. */
  readonly values: Float64Array;
  /** Sample i's locations are stack[stackStart[i] .. stackStart[i+1]), leaf first (as in the proto). */
  readonly stackStart: Uint32Array;
  /** Location indices. */
  readonly stack: Uint16Array | Uint32Array;
  /**
   * Each sample's "bytes" numeric label (Go heap profiles: the size of each object of the sample),
   * NaN where absent; null when no sample has one.
   */
  readonly bytesLabel: Float64Array | null;

  readonly locationCount: number;
  readonly locationId: Float64Array;
  readonly locationAddress: Float64Array;
  /** Mapping index, or -1. */
  readonly locationMapping: Int32Array;
  /** Location l's lines are lineStart[l] .. lineStart[l+1]: innermost (inlined callee) first. */
  readonly lineStart: Uint32Array;
  /** Function index of each line. */
  readonly lineFunction: Int32Array;
  readonly lineNumber: Int32Array;

  readonly functions: readonly ProfileFunction[];
  readonly mappings: readonly ProfileMapping[];
  /** Bytes of protobuf decoded (after gunzip). */
  readonly decodedBytes: number;
  /**
   * A diff profile (diff.ts): samples [0, diffBaseFrom) are the new profile's, the rest the base's
   * with their values negated, as pprof's -diff_base labels them ("pprof::base"). Absent otherwise.
   */
  readonly diffBaseFrom?: number;
}

export interface DecodeOptions {
  /** Refuse a profile whose decompressed protobuf is larger than this. Default 1 GiB. */
  readonly maxDecompressedBytes?: number;
  /** What the profile is called in error messages, e.g. "cpu-aegis-api.pb.gz". */
  readonly name?: string;
  readonly signal?: AbortSignal;
}

const DEFAULT_MAX_DECOMPRESSED = 2 ** 30;

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Gunzips and decodes a pprof profile. Input is the gzipped bytes or a stream of them (a file or
 * an HTTP body). The gunzip runs off the main thread (node:zlib's stream), the decoding a chunk at
 * a time, so the event loop keeps turning while a large profile is read.
 */
export async function decodeProfile(
  input: Uint8Array | AsyncIterable<Uint8Array>,
  options: DecodeOptions = {},
): Promise<Profile> {
  const what = options.name ? `${options.name}: ` : '';
  const max = options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED;
  const parser = new ProfileParser(what);
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  let failed = false;

  const feed = async () => {
    const chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array> =
      input instanceof Uint8Array ? [input] : input;
    let head: Uint8Array | null = new Uint8Array(0);
    try {
      for await (const chunk of chunks) {
        if (gunzip.destroyed || failed) return;
        let data = chunk;
        if (head) {
          // Hold back the first byte(s) until the gzip magic can be checked.
          const joined: Uint8Array = new Uint8Array(head.length + chunk.length);
          joined.set(head);
          joined.set(chunk, head.length);
          if (joined.length < 2) {
            head = joined;
            continue;
          }
          if (!isGzip(joined)) throw notGzip(what, joined);
          head = null;
          data = joined;
        }
        if (!gunzip.write(data)) await onceDrainOrClose(gunzip);
      }
      if (gunzip.destroyed || failed) return;
      if (head) {
        throw head.length === 0
          ? new ProfileDecodeError('empty', `${what}the profile is empty (0 bytes)`)
          : notGzip(what, head);
      }
      gunzip.end();
    } catch (e) {
      gunzip.destroy(e as Error);
    }
  };
  const feeding = feed();
  try {
    let inflated = 0;
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      options.signal?.throwIfAborted();
      inflated += chunk.length;
      if (inflated > max) {
        throw new ProfileDecodeError(
          'too_large',
          `${what}the profile decompresses to more than ${formatBytes(max, 'limit')}; refused`,
        );
      }
      parser.push(chunk);
    }
    await feeding;
  } catch (e) {
    failed = true;
    gunzip.destroy();
    (input as { destroy?: () => void }).destroy?.();
    if (e instanceof AppError) throw e;
    if (options.signal?.aborted) throw e;
    throw zlibError(what, e);
  }
  return parser.finish();
}

/** Decodes an already gunzipped protobuf (tests, and profiles that arrive uncompressed). */
export function decodeProfileProto(bytes: Uint8Array, name?: string): Profile {
  const parser = new ProfileParser(name ? `${name}: ` : '');
  parser.push(bytes);
  return parser.finish();
}

function onceDrainOrClose(stream: NodeJS.WritableStream & { destroyed: boolean }): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}

function notGzip(what: string, chunk: Uint8Array): ProfileDecodeError {
  const head = Buffer.from(chunk.subarray(0, 64)).toString('latin1');
  let hint = '';
  if (/^goroutine (profile: total|\d+ \[)/.test(head))
    hint = ' (it is a goroutine dump: text, not a profile)';
  else if (/^\s*</.test(head)) hint = ' (it looks like HTML: an error page or the pprof index?)';
  else if (/^[\x20-\x7e\s]+$/.test(head)) hint = ` (it starts with text: "${head.trim().slice(0, 40)}")`;
  return new ProfileDecodeError(
    'not_gzip',
    `${what}not a gzip-compressed pprof profile: the first bytes are not the gzip magic 1f 8b${hint}`,
  );
}

function zlibError(what: string, e: unknown): ProfileDecodeError {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(err?.message ?? '')) {
    return new ProfileDecodeError(
      'truncated',
      `${what}the profile is truncated: the gzip stream ends early (an interrupted download?)`,
      { cause: e },
    );
  }
  return new ProfileDecodeError(
    'malformed',
    `${what}the gzip data is corrupt (${err?.code ?? 'zlib'}: ${err?.message ?? String(e)})`,
    { cause: e },
  );
}

// ---------------------------------------------------------------------------------------------
// Growable typed arrays

class GrowF64 {
  a = new Float64Array(1024);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  view(): Float64Array {
    return this.a.subarray(0, this.n);
  }
}

class GrowU32 {
  a = new Uint32Array(1024);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Uint32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
}

// ---------------------------------------------------------------------------------------------
// The parser

const MSG_TRUNC = 'truncated: a field runs past the end of the profile';

interface RawLocation {
  id: number;
  mappingId: number;
  address: number;
  lineFn: number[];
  lineNo: number[];
}

/**
 * Push-style parser of the top-level Profile message. Each top-level field (a sample, a location,
 * a string) is decoded once it is complete; the bytes of an incomplete one wait for the next chunk.
 */
export class ProfileParser {
  private readonly what: string;
  private leftover: Uint8Array | null = null;
  private offset = 0;

  private readonly sampleTypeRaw: [number, number][] = [];
  private readonly strings: string[] = [];
  private readonly locations: RawLocation[] = [];
  private readonly functionsRaw: [number, number, number, number, number][] = [];
  private readonly mappingsRaw: Omit<ProfileMapping, 'file' | 'buildId'>[] = [];
  private readonly mappingStrings: [number, number][] = [];
  private dropFramesX = 0;
  private keepFramesX = 0;
  private timeNanos = 0;
  private durationNanos = 0;
  private periodTypeRaw: [number, number] | undefined;
  private period = 0;
  private readonly commentX: number[] = [];
  private defaultSampleTypeX = 0;

  // Samples
  private sampleCount = 0;
  private stride = -1;
  private readonly values = new GrowF64();
  private readonly stackStart = new GrowU32();
  private stack16: Uint16Array | null = new Uint16Array(4096);
  private stack32: Uint32Array | null = null;
  private stackBig: Float64Array | null = null;
  private stackLen = 0;
  private maxLocId = 0;
  /** First numeric label of each sample: key (string index, -1 when none) and value. */
  private labelKey: Int32Array | null = null;
  private labelNum: Float64Array | null = null;
  private sampleLabelKey = -1;
  private sampleLabelNum = 0;

  constructor(what = '') {
    this.what = what;
    this.stackStart.push(0);
  }

  private fail(problem: ProfileDecodeProblem, msg: string): never {
    throw new ProfileDecodeError(problem, `${this.what}${msg}`);
  }

  private malformed(msg: string, at: number): never {
    this.fail('malformed', `malformed pprof protobuf at byte ${this.offset + at}: ${msg}`);
  }

  push(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.leftover) {
      const joined = new Uint8Array(this.leftover.length + chunk.length);
      joined.set(this.leftover, 0);
      joined.set(chunk, this.leftover.length);
      buf = joined;
      this.leftover = null;
    }
    const end = buf.length;
    let pos = 0;
    while (pos < end) {
      const start = pos;
      // tag
      let tag = 0;
      let shift = 0;
      let b = 0;
      let complete = false;
      while (pos < end) {
        b = buf[pos++] as number;
        tag += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (b < 0x80) {
          complete = true;
          break;
        }
        if (shift > 63) this.malformed('a field tag is longer than 10 bytes', start);
      }
      if (!complete) {
        pos = start;
        break;
      }
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      if (field === 0) this.malformed('field number 0', start);
      if (wire === 2) {
        let len = 0;
        shift = 0;
        complete = false;
        while (pos < end) {
          b = buf[pos++] as number;
          len += (b & 0x7f) * 2 ** shift;
          shift += 7;
          if (b < 0x80) {
            complete = true;
            break;
          }
          if (shift > 63) this.malformed('a length is longer than 10 bytes', start);
        }
        if (!complete || pos + len > end) {
          if (len > DEFAULT_MAX_DECOMPRESSED * 4) this.malformed(`a field claims ${len} bytes`, start);
          pos = start;
          break;
        }
        this.topLevelBytes(field, buf, pos, pos + len, start);
        pos += len;
      } else if (wire === 0) {
        const r = readVarintOrNull(buf, pos, end);
        if (r === null) {
          pos = start;
          break;
        }
        this.topLevelVarint(field, r.value, start);
        pos = r.pos;
      } else if (wire === 1) {
        if (pos + 8 > end) {
          pos = start;
          break;
        }
        pos += 8;
      } else if (wire === 5) {
        if (pos + 4 > end) {
          pos = start;
          break;
        }
        pos += 4;
      } else {
        this.malformed(`wire type ${wire} of field ${field} is not valid protobuf`, start);
      }
    }
    if (pos < end) this.leftover = buf.slice(pos);
    this.offset += pos;
  }

  private topLevelVarint(field: number, v: number, at: number): void {
    switch (field) {
      case 7:
        this.dropFramesX = v;
        break;
      case 8:
        this.keepFramesX = v;
        break;
      case 9:
        this.timeNanos = v;
        break;
      case 10:
        this.durationNanos = v;
        break;
      case 12:
        this.period = v;
        break;
      case 13:
        this.commentX.push(v);
        break;
      case 14:
        this.defaultSampleTypeX = v;
        break;
      case 1:
      case 2:
      case 3:
      case 4:
      case 5:
      case 6:
      case 11:
        this.malformed(`field ${field} must be a message or string, found a number`, at);
    }
  }

  private topLevelBytes(field: number, buf: Uint8Array, start: number, end: number, at: number): void {
    switch (field) {
      case 1:
        this.sampleTypeRaw.push(this.valueType(buf, start, end, at));
        break;
      case 2:
        this.sample(buf, start, end, at);
        break;
      case 3:
        this.mapping(buf, start, end, at);
        break;
      case 4:
        this.location(buf, start, end, at);
        break;
      case 5:
        this.func(buf, start, end, at);
        break;
      case 6:
        this.strings.push(utf8(buf, start, end));
        break;
      case 11:
        this.periodTypeRaw = this.valueType(buf, start, end, at);
        break;
      case 13: {
        // packed comments
        let p = start;
        while (p < end) {
          const r = this.varint(buf, p, end, at);
          this.commentX.push(r.value);
          p = r.pos;
        }
        break;
      }
      default:
        // unknown or future field: skipped, as protobuf readers do
        break;
    }
  }

  private varint(buf: Uint8Array, pos: number, end: number, at: number): { value: number; pos: number } {
    const r = readVarintOrNull(buf, pos, end);
    if (r === null) this.malformed('a number runs past the end of its message', at);
    return r;
  }

  private skip(wire: number, buf: Uint8Array, pos: number, end: number, at: number): number {
    switch (wire) {
      case 0:
        return this.varint(buf, pos, end, at).pos;
      case 1:
        if (pos + 8 > end) this.malformed(MSG_TRUNC, at);
        return pos + 8;
      case 2: {
        const r = this.varint(buf, pos, end, at);
        if (r.pos + r.value > end) this.malformed('a nested field runs past the end of its message', at);
        return r.pos + r.value;
      }
      case 5:
        if (pos + 4 > end) this.malformed(MSG_TRUNC, at);
        return pos + 4;
      default:
        this.malformed(`wire type ${wire} is not valid protobuf`, at);
    }
  }

  /** Iterates the fields of a nested message; `onVarint`/`onBytes` return false for unknown fields. */
  private fields(
    buf: Uint8Array,
    start: number,
    end: number,
    at: number,
    onField: (field: number, wire: number, pos: number) => number,
  ): void {
    let pos = start;
    while (pos < end) {
      const t = this.varint(buf, pos, end, at);
      const field = Math.floor(t.value / 8);
      const wire = t.value % 8;
      pos = t.pos;
      const next = onField(field, wire, pos);
      pos = next >= 0 ? next : this.skip(wire, buf, pos, end, at);
    }
    if (pos !== end) this.malformed('a nested message does not end where its length says', at);
  }

  private valueType(buf: Uint8Array, start: number, end: number, at: number): [number, number] {
    let type = 0;
    let unit = 0;
    this.fields(buf, start, end, at, (field, wire, pos) => {
      if (wire !== 0 || (field !== 1 && field !== 2)) return -1;
      const r = this.varint(buf, pos, end, at);
      if (field === 1) type = r.value;
      else unit = r.value;
      return r.pos;
    });
    return [type, unit];
  }

  private pushLocId(id: number): void {
    if (this.stack16) {
      if (id > 0xffff) {
        this.stack32 = new Uint32Array(Math.max(this.stack16.length, 4096));
        this.stack32.set(this.stack16.subarray(0, this.stackLen));
        this.stack16 = null;
      } else {
        if (this.stackLen === this.stack16.length) {
          const b = new Uint16Array(this.stack16.length * 2);
          b.set(this.stack16);
          this.stack16 = b;
        }
        this.stack16[this.stackLen++] = id;
        return;
      }
    }
    if (this.stack32) {
      if (id > 0xffffffff) {
        this.stackBig = new Float64Array(Math.max(this.stack32.length, 4096));
        this.stackBig.set(this.stack32.subarray(0, this.stackLen));
        this.stack32 = null;
      } else {
        if (this.stackLen === this.stack32.length) {
          const b = new Uint32Array(this.stack32.length * 2);
          b.set(this.stack32);
          this.stack32 = b;
        }
        this.stack32[this.stackLen++] = id;
        return;
      }
    }
    const big = this.stackBig as Float64Array;
    if (this.stackLen === big.length) {
      const b = new Float64Array(big.length * 2);
      b.set(big);
      this.stackBig = b;
    }
    (this.stackBig as Float64Array)[this.stackLen++] = id;
  }

  /**
   * The hot loop: a packed list of location ids. Ids below 2^28 are decoded inline with shifts,
   * and stored straight into the 16-bit cells while they fit.
   */
  private locationIds(buf: Uint8Array, start: number, stop: number, at: number): number {
    let pos = start;
    let cells = this.stack16;
    let n = this.stackLen;
    let maxId = this.maxLocId;
    while (pos < stop) {
      let b = buf[pos++] as number;
      let id = b & 0x7f;
      if (b & 0x80) {
        b = buf[pos++] as number;
        id |= (b & 0x7f) << 7;
        if (b & 0x80) {
          b = buf[pos++] as number;
          id |= (b & 0x7f) << 14;
          if (b & 0x80) {
            b = buf[pos++] as number;
            id |= (b & 0x7f) << 21;
            if (b & 0x80) {
              const r = readVarintOrNull(buf, pos - 4, stop);
              if (r === null) this.malformed('a location id runs past the end of its list', at);
              id = r.value;
              pos = r.pos;
            }
          }
        }
      }
      if (pos > stop) this.malformed('a location id runs past the end of its list', at);
      if (id === 0) this.malformed('a sample refers to location id 0 (reserved)', at);
      if (id > maxId) maxId = id;
      if (cells !== null && id <= 0xffff && n < cells.length) {
        cells[n++] = id;
        continue;
      }
      this.stackLen = n;
      this.pushLocId(id);
      n = this.stackLen;
      cells = this.stack16;
    }
    this.stackLen = n;
    this.maxLocId = maxId;
    return pos;
  }

  /** A packed list of sample values; returns how many. Non-negative values below 2^28 inline. */
  private packedValues(buf: Uint8Array, start: number, stop: number, at: number): number {
    let pos = start;
    let count = 0;
    const values = this.values;
    while (pos < stop) {
      let b = buf[pos] as number;
      let v = b & 0x7f;
      let q = pos + 1;
      if (b & 0x80) {
        b = buf[q++] as number;
        v |= (b & 0x7f) << 7;
        if (b & 0x80) {
          b = buf[q++] as number;
          v |= (b & 0x7f) << 14;
          if (b & 0x80) {
            b = buf[q++] as number;
            v |= (b & 0x7f) << 21;
            if (b & 0x80) {
              const r = readInt64(buf, pos, stop);
              if (r === null) this.malformed('a sample value runs past the end of its list', at);
              v = r.value;
              q = r.pos;
            }
          }
        }
      }
      if (q > stop) this.malformed('a sample value runs past the end of its list', at);
      pos = q;
      values.push(v);
      count++;
    }
    return count;
  }

  /** One sample: packed location ids and values (or unpacked ones), labels. */
  private sample(buf: Uint8Array, start: number, end: number, at: number): void {
    let pos = start;
    let nValues = 0;
    while (pos < end) {
      const tagByte = buf[pos] as number;
      if (tagByte === 0x0a || tagByte === 0x12) {
        // field 1 or 2, packed
        pos++;
        const l = this.varint(buf, pos, end, at);
        pos = l.pos;
        const stop = pos + l.value;
        if (stop > end) this.malformed('a packed list runs past the end of its sample', at);
        if (tagByte === 0x0a) pos = this.locationIds(buf, pos, stop, at);
        else {
          const r = this.packedValues(buf, pos, stop, at);
          nValues += r;
          pos = stop;
        }
      } else if (tagByte === 0x08) {
        // unpacked location id
        const r = this.varint(buf, pos + 1, end, at);
        if (r.value === 0) this.malformed('a sample refers to location id 0 (reserved)', at);
        if (r.value > this.maxLocId) this.maxLocId = r.value;
        this.pushLocId(r.value);
        pos = r.pos;
      } else if (tagByte === 0x10) {
        const r = readInt64(buf, pos + 1, end);
        if (r === null) this.malformed('a sample value runs past the end of its sample', at);
        this.values.push(r.value);
        nValues++;
        pos = r.pos;
      } else if (tagByte === 0x1a) {
        const l = this.varint(buf, pos + 1, end, at);
        const stop = l.pos + l.value;
        if (stop > end) this.malformed('a label runs past the end of its sample', at);
        if (this.sampleLabelKey === -1) this.label(buf, l.pos, stop, at);
        pos = stop;
      } else {
        const t = this.varint(buf, pos, end, at);
        const field = Math.floor(t.value / 8);
        if (field === 0) this.malformed('field number 0 in a sample', at);
        pos = this.skip(t.value % 8, buf, t.pos, end, at);
      }
    }
    this.recordLabel();
    if (this.stride === -1) this.stride = nValues;
    else if (nValues !== this.stride) {
      this.malformed(
        `sample ${this.sampleCount + 1} has ${nValues} values, the first sample had ${this.stride}`,
        at,
      );
    }
    this.sampleCount++;
    this.stackStart.push(this.stackLen);
  }

  /** A sample's label: only a numeric one is kept (pprof keeps only "bytes" for its reports). */
  private label(buf: Uint8Array, start: number, end: number, at: number): void {
    let key = 0;
    let num = 0;
    let hasNum = false;
    this.fields(buf, start, end, at, (field, wire, pos) => {
      if (wire !== 0 || (field !== 1 && field !== 3)) return -1;
      const r = field === 3 ? readInt64(buf, pos, end) : this.varint(buf, pos, end, at);
      if (r === null) this.malformed('a label value runs past the end of its label', at);
      if (field === 1) key = r.value;
      else {
        num = r.value;
        hasNum = true;
      }
      return r.pos;
    });
    if (hasNum) {
      this.sampleLabelKey = key;
      this.sampleLabelNum = num;
    }
  }

  private recordLabel(): void {
    const s = this.sampleCount;
    if (this.sampleLabelKey !== -1 && !this.labelKey) {
      this.labelKey = new Int32Array(Math.max(1024, s * 2)).fill(-1);
      this.labelNum = new Float64Array(this.labelKey.length);
    }
    if (this.labelKey && this.labelNum) {
      if (s >= this.labelKey.length) {
        const k = new Int32Array(this.labelKey.length * 2).fill(-1);
        k.set(this.labelKey);
        const v = new Float64Array(k.length);
        v.set(this.labelNum);
        this.labelKey = k;
        this.labelNum = v;
      }
      this.labelKey[s] = this.sampleLabelKey;
      this.labelNum[s] = this.sampleLabelNum;
    }
    this.sampleLabelKey = -1;
  }

  private mapping(buf: Uint8Array, start: number, end: number, at: number): void {
    const m = {
      id: 0,
      start: 0,
      limit: 0,
      offset: 0,
      hasFunctions: false,
      hasFilenames: false,
      hasLineNumbers: false,
      hasInlineFrames: false,
    };
    let fileX = 0;
    let buildX = 0;
    this.fields(buf, start, end, at, (field, wire, pos) => {
      if (wire !== 0 || field < 1 || field > 10) return -1;
      const r = this.varint(buf, pos, end, at);
      const v = r.value;
      switch (field) {
        case 1:
          m.id = v;
          break;
        case 2:
          m.start = v;
          break;
        case 3:
          m.limit = v;
          break;
        case 4:
          m.offset = v;
          break;
        case 5:
          fileX = v;
          break;
        case 6:
          buildX = v;
          break;
        case 7:
          m.hasFunctions = v !== 0;
          break;
        case 8:
          m.hasFilenames = v !== 0;
          break;
        case 9:
          m.hasLineNumbers = v !== 0;
          break;
        case 10:
          m.hasInlineFrames = v !== 0;
          break;
      }
      return r.pos;
    });
    this.mappingsRaw.push(m);
    this.mappingStrings.push([fileX, buildX]);
  }

  private location(buf: Uint8Array, start: number, end: number, at: number): void {
    const loc: RawLocation = { id: 0, mappingId: 0, address: 0, lineFn: [], lineNo: [] };
    this.fields(buf, start, end, at, (field, wire, pos) => {
      if (field === 4 && wire === 2) {
        const l = this.varint(buf, pos, end, at);
        const stop = l.pos + l.value;
        if (stop > end) this.malformed('a line runs past the end of its location', at);
        let fn = 0;
        let line = 0;
        this.fields(buf, l.pos, stop, at, (f, w, p) => {
          if (w !== 0 || (f !== 1 && f !== 2)) return -1;
          const r = f === 2 ? readInt64(buf, p, stop) : this.varint(buf, p, stop, at);
          if (r === null) this.malformed('a line number runs past the end of its line', at);
          if (f === 1) fn = r.value;
          else line = r.value;
          return r.pos;
        });
        loc.lineFn.push(fn);
        loc.lineNo.push(line);
        return stop;
      }
      if (wire !== 0 || field < 1 || field > 3) return -1;
      const r = this.varint(buf, pos, end, at);
      if (field === 1) loc.id = r.value;
      else if (field === 2) loc.mappingId = r.value;
      else loc.address = r.value;
      return r.pos;
    });
    this.locations.push(loc);
  }

  private func(buf: Uint8Array, start: number, end: number, at: number): void {
    const f: [number, number, number, number, number] = [0, 0, 0, 0, 0];
    this.fields(buf, start, end, at, (field, wire, pos) => {
      if (wire !== 0 || field < 1 || field > 5) return -1;
      const r = field === 5 ? readInt64(buf, pos, end) : this.varint(buf, pos, end, at);
      if (r === null) this.malformed('a start line runs past the end of its function', at);
      f[field - 1] = r.value;
      return r.pos;
    });
    this.functionsRaw.push(f);
  }

  private str(x: number, what: string): string {
    if (!Number.isInteger(x) || x < 0 || x >= this.strings.length) {
      this.fail(
        'malformed',
        `malformed pprof profile: ${what} refers to string ${x}, but the string table has ${this.strings.length}`,
      );
    }
    return this.strings[x] as string;
  }

  finish(): Profile {
    if (this.leftover && this.leftover.length > 0) {
      this.fail(
        'truncated',
        `the profile is truncated: its last field (at byte ${this.offset}) ends ${this.leftover.length} bytes into a record that needs more`,
      );
    }
    if (this.offset === 0) this.fail('empty', 'the profile is empty: no protobuf data after gunzip');
    if (this.strings.length === 0 || this.strings[0] !== '') {
      this.fail(
        'malformed',
        'malformed pprof profile: the string table must start with the empty string (is this a pprof profile?)',
      );
    }
    const sampleTypes = this.sampleTypeRaw.map(([t, u], i) => ({
      type: this.str(t, `sample type ${i + 1}`),
      unit: this.str(u, `sample type ${i + 1}`),
    }));
    if (this.sampleCount > 0 && sampleTypes.length === 0) {
      this.fail('malformed', 'malformed pprof profile: samples but no sample types');
    }
    const stride = this.sampleCount === 0 ? sampleTypes.length : this.stride;
    if (stride !== sampleTypes.length) {
      this.fail(
        'malformed',
        `malformed pprof profile: samples have ${stride} values but there are ${sampleTypes.length} sample types`,
      );
    }

    // Mappings
    const mappingIndex = new Map<number, number>();
    const mappings: ProfileMapping[] = this.mappingsRaw.map((m, i) => {
      const [fileX, buildX] = this.mappingStrings[i] as [number, number];
      if (m.id === 0) this.fail('malformed', 'malformed pprof profile: a mapping has the reserved id 0');
      if (mappingIndex.has(m.id))
        this.fail('malformed', `malformed pprof profile: two mappings have id ${m.id}`);
      mappingIndex.set(m.id, i);
      return {
        ...m,
        file: this.str(fileX, `mapping ${m.id}`),
        buildId: this.str(buildX, `mapping ${m.id}`),
      } as ProfileMapping;
    });

    // Functions
    const functionIndex = new Map<number, number>();
    const functions: ProfileFunction[] = this.functionsRaw.map(([id, name, sys, file, startLine], i) => {
      if (id === 0) this.fail('malformed', 'malformed pprof profile: a function has the reserved id 0');
      if (functionIndex.has(id))
        this.fail('malformed', `malformed pprof profile: two functions have id ${id}`);
      functionIndex.set(id, i);
      return {
        id,
        name: this.str(name, `function ${id}`),
        systemName: this.str(sys, `function ${id}`),
        filename: this.str(file, `function ${id}`),
        startLine,
      };
    });

    // Locations
    const nLoc = this.locations.length;
    const locationId = new Float64Array(nLoc);
    const locationAddress = new Float64Array(nLoc);
    const locationMapping = new Int32Array(nLoc);
    const lineStart = new Uint32Array(nLoc + 1);
    let nLines = 0;
    for (const l of this.locations) nLines += l.lineFn.length;
    const lineFunction = new Int32Array(nLines);
    const lineNumber = new Int32Array(nLines);
    const dense = this.maxLocId < 4 * (nLoc + 1024);
    const denseIndex = dense ? new Int32Array(this.maxLocId + 1).fill(-1) : null;
    const sparseIndex = dense ? null : new Map<number, number>();
    let li = 0;
    this.locations.forEach((l, i) => {
      if (l.id === 0) this.fail('malformed', 'malformed pprof profile: a location has the reserved id 0');
      locationId[i] = l.id;
      locationAddress[i] = l.address;
      const m = l.mappingId === 0 ? -1 : mappingIndex.get(l.mappingId);
      locationMapping[i] = m ?? -1;
      lineStart[i] = li;
      for (let k = 0; k < l.lineFn.length; k++) {
        const f = functionIndex.get(l.lineFn[k] as number);
        if (f === undefined) {
          this.fail(
            'malformed',
            `malformed pprof profile: location ${l.id} refers to function ${l.lineFn[k]}, which is not in the profile`,
          );
        }
        lineFunction[li] = f;
        lineNumber[li] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, l.lineNo[k] as number));
        li++;
      }
      if (denseIndex) {
        if (l.id < denseIndex.length) {
          if (denseIndex[l.id] !== -1)
            this.fail('malformed', `malformed pprof profile: two locations have id ${l.id}`);
          denseIndex[l.id] = i;
        }
      } else {
        if (sparseIndex?.has(l.id))
          this.fail('malformed', `malformed pprof profile: two locations have id ${l.id}`);
        sparseIndex?.set(l.id, i);
      }
    });
    lineStart[nLoc] = li;
    this.locations.length = 0;

    // Sample stacks: ids -> indices, in place when the indices fit the cell width.
    const n = this.stackLen;
    let stack: Uint16Array | Uint32Array;
    const src: Uint16Array | Uint32Array | Float64Array = (this.stack16 ?? this.stack32 ?? this.stackBig) as
      | Uint16Array
      | Uint32Array
      | Float64Array;
    if (src instanceof Float64Array || (src instanceof Uint16Array && nLoc > 0xffff)) {
      stack = new Uint32Array(n);
    } else {
      stack = src.subarray(0, n) as Uint16Array | Uint32Array;
    }
    const missing = denseIndex
      ? remapDense(src, stack, n, denseIndex)
      : remapSparse(src, stack, n, sparseIndex as Map<number, number>);
    if (missing >= 0) {
      this.fail(
        'malformed',
        `malformed pprof profile: a sample refers to location ${missing}, which is not in the profile`,
      );
    }
    this.stack16 = null;
    this.stack32 = null;
    this.stackBig = null;

    let bytesLabel: Float64Array | null = null;
    if (this.labelKey && this.labelNum) {
      const bytesX = this.strings.indexOf('bytes');
      bytesLabel = new Float64Array(this.sampleCount).fill(Number.NaN);
      for (let i = 0; i < this.sampleCount; i++) {
        if (this.labelKey[i] === bytesX) bytesLabel[i] = this.labelNum[i] as number;
      }
      this.labelKey = null;
      this.labelNum = null;
    }
    const values = this.values.view();
    const periodType = this.periodTypeRaw
      ? {
          type: this.str(this.periodTypeRaw[0], 'period type'),
          unit: this.str(this.periodTypeRaw[1], 'period type'),
        }
      : undefined;
    return {
      sampleTypes,
      defaultSampleType: this.str(this.defaultSampleTypeX, 'default sample type'),
      ...(periodType ? { periodType } : {}),
      period: this.period,
      timeNanos: this.timeNanos,
      durationNanos: this.durationNanos,
      comments: this.commentX.map((x) => this.str(x, 'a comment')),
      dropFrames: this.str(this.dropFramesX, 'drop_frames'),
      keepFrames: this.str(this.keepFramesX, 'keep_frames'),
      sampleCount: this.sampleCount,
      values,
      stackStart: this.stackStart.a.subarray(0, this.stackStart.n),
      stack,
      bytesLabel,
      locationCount: nLoc,
      locationId,
      locationAddress,
      locationMapping,
      lineStart,
      lineFunction,
      lineNumber,
      functions,
      mappings,
      decodedBytes: this.offset,
    };
  }
}

/** Location ids -> indices through a dense table; returns a missing id, or -1. */
function remapDense(
  src: Uint16Array | Uint32Array | Float64Array,
  dst: Uint16Array | Uint32Array,
  n: number,
  index: Int32Array,
): number {
  const size = index.length;
  for (let k = 0; k < n; k++) {
    const id = src[k] as number;
    const ix = id < size ? (index[id] as number) : -1;
    if (ix < 0) return id;
    dst[k] = ix;
  }
  return -1;
}

function remapSparse(
  src: Uint16Array | Uint32Array | Float64Array,
  dst: Uint16Array | Uint32Array,
  n: number,
  index: Map<number, number>,
): number {
  for (let k = 0; k < n; k++) {
    const id = src[k] as number;
    const ix = index.get(id);
    if (ix === undefined) return id;
    dst[k] = ix;
  }
  return -1;
}

const decoder = new TextDecoder('utf-8');
function utf8(buf: Uint8Array, start: number, end: number): string {
  // Short ASCII strings are the common case: build them without TextDecoder's call overhead.
  if (end - start < 64) {
    let s = '';
    for (let i = start; i < end; i++) {
      const c = buf[i] as number;
      if (c >= 0x80) return decoder.decode(buf.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return decoder.decode(buf.subarray(start, end));
}

/** Unsigned varint as a number (exact below 2^53), or null when it runs past `end`. */
function readVarintOrNull(buf: Uint8Array, pos: number, end: number): { value: number; pos: number } | null {
  let value = 0;
  let shift = 0;
  while (pos < end) {
    const b = buf[pos++] as number;
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return { value, pos };
    shift += 7;
    if (shift > 63) return null;
  }
  return null;
}

/** A two's-complement int64 varint (negative values take 10 bytes), or null when it runs past `end`. */
function readInt64(buf: Uint8Array, pos: number, end: number): { value: number; pos: number } | null {
  let lo = 0;
  let hi = 0;
  let shift = 0;
  while (pos < end) {
    const b = buf[pos++] as number;
    if (shift < 28) lo |= (b & 0x7f) << shift;
    else if (shift === 28) {
      lo |= (b & 0x0f) << 28;
      hi |= (b & 0x7f) >>> 4;
    } else hi |= (b & 0x7f) << (shift - 32);
    if (b < 0x80) {
      lo >>>= 0;
      hi >>>= 0;
      if (hi & 0x80000000) {
        // negative: -(~value + 1)
        const nlo = ~lo >>> 0;
        const nhi = ~hi >>> 0;
        return { value: -(nhi * 2 ** 32 + nlo + 1), pos };
      }
      return { value: hi * 2 ** 32 + lo, pos };
    }
    shift += 7;
    if (shift > 63) return null;
  }
  return null;
}
