import type { Attachment } from '../../domain/finding.ts';
import { slug } from './mrkdwn.ts';

/** Hands out file names that are unique within one rendered message (the step's own files included). */
export interface FileSink {
  /** The name the full text report gets when something is left out of the message. */
  readonly reportName: string;
  /** A unique "<stem>.txt" (stem is slugged), e.g. "db-slow-queries.txt", then "db-slow-queries-2.txt". */
  reserve(stem: string): string;
}

export function createFileSink(step: string, existing: readonly Attachment[]): FileSink {
  const taken = new Set(existing.map((a) => a.filename));
  const reserve = (stem: string): string => {
    const base = slug(stem, 64);
    let name = `${base}.txt`;
    for (let n = 2; taken.has(name); n += 1) name = `${base}-${n}.txt`;
    taken.add(name);
    return name;
  };
  const reportName = reserve(`${slug(step, 40)}-report`);
  return { reportName, reserve };
}

export function textFile(filename: string, title: string, content: string): Attachment {
  return { filename, title, mimeType: 'text/plain', content };
}
