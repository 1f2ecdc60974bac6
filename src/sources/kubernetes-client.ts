import { createRequire } from 'node:module';

type ClientNode = typeof import('@kubernetes/client-node');

const require = createRequire(import.meta.url);
let loaded: ClientNode | undefined;

/**
 * @kubernetes/client-node, loaded when first needed: it costs some 85 MB of memory and seconds of
 * start-up, which a bot without cluster access (the local console, a Slack bot with no kubeconfig)
 * must not pay. (A synchronous require of the ES module: Node 22 loads ES modules without top-level
 * await that way, and loadKubeConfig stays synchronous.)
 */
export function clientNode(): ClientNode {
  loaded ??= require('@kubernetes/client-node') as ClientNode;
  return loaded;
}
