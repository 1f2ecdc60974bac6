/**
 * Vitest setup (every test file): TCP_NODELAY on every socket the tests' process connects.
 *
 * nock 15 intercepts at the socket level (@mswjs/interceptors), as soon as it is imported: a request it
 * lets through (enableNetConnect, e.g. to the emulated Slack API or the bot on 127.0.0.1) is replayed
 * onto a real socket as separate writes (headers, then body), and the client's own setNoDelay(true)
 * reaches only the interceptor's mock socket. With Nagle on, the body waits for the ACK of the headers,
 * which Linux delays by 40 ms: measured, a loopback POST from fetch takes 45-48 ms in a file that
 * imports nock and 1-3 ms with this setup (the server waits 42 ms for the body, then 0.05 ms).
 * Production never loads nock: this is a test-process fix only.
 */
import net from 'node:net';

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function connectWithoutNagle(this: net.Socket, ...args: unknown[]) {
  this.setNoDelay(true);
  return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof connect;
