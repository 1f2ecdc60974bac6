import { AppError } from '../../domain/errors.ts';
import type { Profile } from './decode.ts';

/**
 * `go tool pprof -diff_base BASE NEW`, as a profile: NEW's samples followed by BASE's with their
 * values negated, one profile whose top report shows what grew (positive) and what shrank
 * (negative). As in pprof (driver.fetchProfiles, profile.Merge): the headers combine (earliest
 * time, summed durations, the larger period, comments once each, NEW's mappings first), the base's
 * samples stay distinct from the new ones (pprof labels them "pprof::base"), and percentages are of
 * the base's total (report.computeTotal). Function nodes merge by name when the graph is built.
 */
export function diffProfiles(next: Profile, base: Profile): Profile {
  const types = (p: Profile) => p.sampleTypes.map((t) => `${t.type}/${t.unit}`).join(', ');
  if (types(next) !== types(base)) {
    throw new AppError(
      'usage',
      `the two profiles have different sample types and cannot be compared: ${types(next)} against ${types(base)}`,
    );
  }
  const stride = next.sampleTypes.length;
  const sampleCount = next.sampleCount + base.sampleCount;
  const values = new Float64Array(sampleCount * stride);
  values.set(next.values.subarray(0, next.sampleCount * stride));
  const off = next.sampleCount * stride;
  for (let i = 0; i < base.sampleCount * stride; i++) {
    const v = base.values[i] as number;
    values[off + i] = v === 0 ? 0 : -v;
  }

  const nStack = next.stackStart[next.sampleCount] as number;
  const bStack = base.stackStart[base.sampleCount] as number;
  const stack = new Uint32Array(nStack + bStack);
  stack.set(next.stack.subarray(0, nStack));
  const locOff = next.locationCount;
  for (let k = 0; k < bStack; k++) stack[nStack + k] = (base.stack[k] as number) + locOff;
  const stackStart = new Uint32Array(sampleCount + 1);
  stackStart.set(next.stackStart.subarray(0, next.sampleCount + 1));
  for (let s = 1; s <= base.sampleCount; s++) {
    stackStart[next.sampleCount + s] = nStack + (base.stackStart[s] as number);
  }

  let bytesLabel: Float64Array | null = null;
  if (next.bytesLabel || base.bytesLabel) {
    bytesLabel = new Float64Array(sampleCount).fill(Number.NaN);
    if (next.bytesLabel) bytesLabel.set(next.bytesLabel.subarray(0, next.sampleCount));
    if (base.bytesLabel) bytesLabel.set(base.bytesLabel.subarray(0, base.sampleCount), next.sampleCount);
  }

  const locationCount = next.locationCount + base.locationCount;
  const cat = (a: Float64Array, b: Float64Array) => {
    const out = new Float64Array(locationCount);
    out.set(a.subarray(0, next.locationCount));
    out.set(b.subarray(0, base.locationCount), next.locationCount);
    return out;
  };
  const mapOff = next.mappings.length;
  const locationMapping = new Int32Array(locationCount);
  locationMapping.set(next.locationMapping.subarray(0, next.locationCount));
  for (let l = 0; l < base.locationCount; l++) {
    const m = base.locationMapping[l] as number;
    locationMapping[locOff + l] = m < 0 ? m : m + mapOff;
  }
  const nLines = next.lineStart[next.locationCount] as number;
  const bLines = base.lineStart[base.locationCount] as number;
  const lineStart = new Uint32Array(locationCount + 1);
  lineStart.set(next.lineStart.subarray(0, next.locationCount + 1));
  for (let l = 1; l <= base.locationCount; l++)
    lineStart[locOff + l] = nLines + (base.lineStart[l] as number);
  const fnOff = next.functions.length;
  const lineFunction = new Int32Array(nLines + bLines);
  lineFunction.set(next.lineFunction.subarray(0, nLines));
  for (let i = 0; i < bLines; i++) {
    const f = base.lineFunction[i] as number;
    lineFunction[nLines + i] = f < 0 ? f : f + fnOff;
  }
  const lineNumber = new Int32Array(nLines + bLines);
  lineNumber.set(next.lineNumber.subarray(0, nLines));
  lineNumber.set(base.lineNumber.subarray(0, bLines), nLines);

  const comments: string[] = [];
  for (const c of [...next.comments, ...base.comments]) if (!comments.includes(c)) comments.push(c);
  const earliest = [next.timeNanos, base.timeNanos].filter((t) => t !== 0);
  return {
    sampleTypes: next.sampleTypes,
    defaultSampleType: next.defaultSampleType || base.defaultSampleType,
    ...(next.periodType
      ? { periodType: next.periodType }
      : base.periodType
        ? { periodType: base.periodType }
        : {}),
    period: Math.max(next.period, base.period),
    timeNanos: earliest.length ? Math.min(...earliest) : 0,
    durationNanos: next.durationNanos + base.durationNanos,
    comments,
    dropFrames: next.dropFrames || base.dropFrames,
    keepFrames: next.keepFrames || base.keepFrames,
    sampleCount,
    values,
    stackStart,
    stack,
    bytesLabel,
    locationCount,
    locationId: cat(next.locationId, base.locationId),
    locationAddress: cat(next.locationAddress, base.locationAddress),
    locationMapping,
    lineStart,
    lineFunction,
    lineNumber,
    functions: [...next.functions, ...base.functions],
    mappings: [...next.mappings, ...base.mappings],
    decodedBytes: next.decodedBytes + base.decodedBytes,
    diffBaseFrom: next.sampleCount,
  };
}
