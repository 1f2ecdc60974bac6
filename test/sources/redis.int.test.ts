import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceError } from '../../src/domain/errors.ts';
import {
  displayKey,
  encodeCommand,
  parseInfo,
  parseReply,
  RedisSource,
  RespError,
  TTL_PIPELINE_BATCH,
} from '../../src/sources/redis.ts';
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

  it('encodes and reads binary keys as bytes, and shows a non-UTF-8 key as redis-cli does', () => {
    const key = Buffer.from([0xff, 0xfe, 0x3a, 0x61]);
    expect(encodeCommand(['TTL', key])).toEqual(
      Buffer.concat([Buffer.from('*2\r\n$3\r\nTTL\r\n$4\r\n'), key, Buffer.from('\r\n')]),
    );
    const reply = Buffer.concat([Buffer.from('*1\r\n$4\r\n'), key, Buffer.from('\r\n')]);
    expect(parseReply(reply, 0, 'buffer')?.value).toEqual([key]);
    expect(displayKey(key)).toBe('"\\xff\\xfe:a"');
    expect(displayKey(Buffer.from('sessión:1'))).toBe('sessión:1');
    expect(displayKey(Buffer.from('a"b\n'))).toBe('"a\\"b\\x0a"');
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

/**
 * A TCP proxy in front of redis-server that parses the commands going through it and notes, for
 * each TTL, how many answers had already come back when it was sent: TTLs sent in one round trip
 * share that number.
 */
async function roundTripCounter(targetPort: number) {
  const ttlAfterAnswers: number[] = [];
  let answers = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(client).add(upstream);
    let pending = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (let r = parseReply(pending, 0, 'buffer'); r; r = parseReply(pending, 0, 'buffer')) {
        pending = pending.subarray(r.next);
        const name = Array.isArray(r.value) ? String(r.value[0]).toUpperCase() : '';
        if (name === 'TTL') ttlAfterAnswers.push(answers);
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      answers += 1;
      client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    ttlCommands: () => ttlAfterAnswers.length,
    ttlRoundTrips: () => new Set(ttlAfterAnswers).size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('RedisSource: binary keys and pipelined TTLs, against a real redis-server', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('keeps keys that are not UTF-8 as bytes: each is sampled, its TTL read, and shown escaped', async () => {
    // Lua strings are bytes: \255\254 is 0xff 0xfe, which is not UTF-8.
    await redis.command(
      'EVAL',
      `redis.call('SET', '\\255\\254:forever', 'x')
       redis.call('SET', '\\255\\253:forever', 'x')
       redis.call('SET', '\\255\\252:session', 'x', 'EX', 600)
       redis.call('SET', 'plain:forever', 'x')`,
      '0',
    );
    const source = new RedisSource({ url: redis.url, timeoutMs: 3000 });
    const sample = await source.sampleTtls(100);
    expect(sample.sampled).toBe(4);
    expect(sample.noExpiry).toBe(3);
    expect([...sample.examples].sort()).toEqual([
      '"\\xff\\xfd:forever"',
      '"\\xff\\xfe:forever"',
      'plain:forever',
    ]);
    await redis.command('FLUSHALL');
  });

  it('reads the TTLs of a sample in one round trip per batch, not one per key', async () => {
    const keys = 2 * TTL_PIPELINE_BATCH + 500;
    await redis.command(
      'EVAL',
      `for i = 1, ${keys} do redis.call('SET', 'bulk:' .. i, 'x') end
       for i = 1, 10 do redis.call('EXPIRE', 'bulk:' .. i, 600) end`,
      '0',
    );
    const proxy = await roundTripCounter(redis.port);
    try {
      const source = new RedisSource({ url: `redis://127.0.0.1:${proxy.port}/0`, timeoutMs: 5000 });
      const sample = await source.sampleTtls(keys);
      expect(proxy.ttlRoundTrips()).toBe(Math.ceil(keys / TTL_PIPELINE_BATCH));
      expect(proxy.ttlCommands()).toBe(keys);
      expect(sample).toMatchObject({ sampled: keys, noExpiry: keys - 10, dbSize: keys });
    } finally {
      await proxy.close();
      await redis.command('FLUSHALL');
    }
  });
});
