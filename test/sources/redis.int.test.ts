import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceError } from '../../src/domain/errors.ts';
import { encodeCommand, parseInfo, parseReply, RedisSource, RespError } from '../../src/sources/redis.ts';
import { type RedisServer, startRedis } from '../support/redis.ts';
import { freePort } from '../support/testbed.ts';

describe('the RESP codec', () => {
  it('encodes a command as an array of bulk strings', () => {
    expect(encodeCommand(['TTL', 'ké']).toString()).toBe('*2\r\n$3\r\nTTL\r\n$3\r\nké\r\n');
  });

  it('parses nested arrays, integers, nulls and errors, and waits for a whole reply', () => {
    const buf = Buffer.from('*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$-1\r\n');
    expect(parseReply(buf)).toEqual({ value: ['0', ['a', null]], next: buf.length });
    expect(parseReply(buf.subarray(0, buf.length - 3))).toBeUndefined();
    expect(parseReply(Buffer.from(':-1\r\n'))?.value).toBe(-1);
    expect(parseReply(Buffer.from('-ERR no\r\n'))?.value).toEqual(new RespError('ERR no'));
  });

  it('reads INFO text into a flat map', () => {
    expect(
      parseInfo(
        '# Stats\r\nkeyspace_hits:9\r\nkeyspace_misses:1\r\n\r\n# Keyspace\r\ndb0:keys=2,expires=1\r\n',
      ),
    ).toEqual({
      keyspace_hits: '9',
      keyspace_misses: '1',
      db0: 'keys=2,expires=1',
    });
  });
});

describe('RedisSource against a real redis-server', () => {
  let redis: RedisServer;
  let source: RedisSource;

  beforeAll(async () => {
    redis = await startRedis();
    source = new RedisSource({ url: redis.url, timeoutMs: 3000 });
  });

  afterAll(async () => {
    await redis?.stop();
  });

  it('reads keyspace hits and misses from INFO', async () => {
    await redis.command('SET', 'hot', 'v');
    for (let i = 0; i < 3; i++) await redis.command('GET', 'hot');
    await redis.command('GET', 'cold');
    const info = await source.info();
    expect(Number(info.keyspace_hits)).toBe(3);
    expect(Number(info.keyspace_misses)).toBe(1);
    expect(info.redis_version).toMatch(/^\d+\./);
  });

  it('samples keys with SCAN and counts those without expiry', async () => {
    for (let i = 0; i < 30; i++) await redis.command('SET', `session:${i}`, 'x', 'EX', '600');
    for (let i = 0; i < 5; i++) await redis.command('SET', `forever:${i}`, 'x');
    const sample = await source.sampleTtls(1000);
    expect(sample.dbSize).toBe(36);
    expect(sample.sampled).toBe(36);
    expect(sample.noExpiry).toBe(6); // 5 forever:* and "hot"
    expect(sample.examples.length).toBeLessThanOrEqual(5);
    expect(sample.examples.every((k) => k.startsWith('forever:') || k === 'hot')).toBe(true);
  });

  it('stops sampling at the limit', async () => {
    const sample = await source.sampleTtls(10);
    expect(sample.sampled).toBeLessThanOrEqual(10);
    expect(sample.sampled).toBeGreaterThan(0);
  });

  it('reads a setting with CONFIG GET', async () => {
    expect(await source.configGet('maxmemory-policy')).toBe('noeviction');
  });

  it('refuses a wrong password as an auth failure, and accepts the right one', async () => {
    const locked = await startRedis();
    try {
      await locked.command('CONFIG', 'SET', 'requirepass', 's3cret');
      const url = (password: string) => `redis://:${password}@127.0.0.1:${locked.port}/0`;
      await expect(new RedisSource({ url: url('nope'), timeoutMs: 3000 }).info()).rejects.toMatchObject({
        reason: 'auth',
      });
      const none = new RedisSource({ url: locked.url, timeoutMs: 3000 });
      await expect(none.info()).rejects.toMatchObject({ reason: 'auth' });
      const right = await new RedisSource({ url: url('s3cret'), timeoutMs: 3000 }).info();
      expect(right.redis_version).toBeDefined();
    } finally {
      await locked.stop();
    }
  });

  it('when nothing listens, the call fails as unreachable naming the target', async () => {
    const port = await freePort();
    const down = new RedisSource({ url: `redis://127.0.0.1:${port}/0`, timeoutMs: 2000 });
    const err = await down.info().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect(err).toMatchObject({ source: 'redis', reason: 'unreachable' });
    expect((err as Error).message).toContain(`127.0.0.1:${port}/0`);
  });
});
