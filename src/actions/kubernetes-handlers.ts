import { z } from 'zod';
import type { ServiceConfig } from '../config/schema.ts';
import { AppError } from '../domain/errors.ts';
import type { Proposal } from '../domain/finding.ts';
import { parseMemoryBytes } from '../lib/quantity.ts';
import { ConflictError } from './errors.ts';
import { checkedParams, sameTarget } from './params.ts';
import type { ClusterActions } from './ports.ts';
import { MAX_POOL_SIZE, memoryProposal, POOL_SIZE_KEY, poolProposal, scaleProposal } from './propose.ts';
import type { ActionDeps, ActionHandler } from './types.ts';

function clusterOf(deps: ActionDeps): ClusterActions {
  if (!deps.cluster) {
    throw new AppError(
      'config',
      'the Kubernetes API is not configured for actions (kubernetes in the configuration)',
    );
  }
  return deps.cluster;
}

const scaleParams = z.strictObject({
  to: z.number().int(),
  from: z.number().int().min(0),
  namespace: z.string().optional(),
  deployment: z.string().optional(),
});

/** The runbook's `kubectl scale deployment aegis-api -n aegis --replicas=N`, through the scale subresource. */
export const scaleHandler: ActionHandler = {
  verb: 'scale deployments',
  check(p, service, deps) {
    const params = checkedParams(p, scaleParams);
    sameTarget(service, params);
    if (p.change.to !== String(params.to)) {
      throw new AppError(
        'usage',
        `this button's dialog says ${p.change.to} but it carries ${params.to}: run the step again`,
      );
    }
    const { min_replicas: min, max_replicas: max } = deps.config.actions;
    if (params.to < min || params.to > max) {
      throw new AppError(
        'out_of_range',
        `${params.to} replicas is outside the configured bounds ${min}..${max} (actions.min_replicas, actions.max_replicas)`,
      );
    }
  },
  async prepare(p, service, deps) {
    const { to, from } = checkedParams(p, scaleParams);
    const cluster = clusterOf(deps);
    const { namespace, deployment } = service;
    const live = await cluster.readScale(namespace, deployment);
    const what = `replicas of deployment/${deployment} in ${namespace}`;
    if (live.replicas !== from) {
      if (live.replicas === to) {
        throw new ConflictError(
          `deployment/${deployment} already has ${to} replicas (it had ${from} when this was proposed): nothing to do`,
        );
      }
      throw new ConflictError(
        `the replicas of deployment/${deployment} changed meanwhile: the button saw ${from}, now there are ${live.replicas}`,
        scaleProposal(service, live.replicas, to, p.reason),
      );
    }
    return {
      what,
      from: String(live.replicas),
      to: String(to),
      async apply() {
        await cluster.scale(namespace, deployment, to, live.resourceVersion);
        return {
          summary: `scaled deployment/${deployment} in ${namespace} from ${live.replicas} to ${to} replicas`,
          rollout: { namespace, deployment },
        };
      },
    };
  },
};

const memoryParams = z.strictObject({
  to: z.string().min(1).max(32),
  from: z.string().min(1).max(32),
  container: z.string().max(253).optional(),
  revert: z.boolean().optional(),
  namespace: z.string().optional(),
  deployment: z.string().optional(),
});

function memoryBytes(text: string, what: string): number {
  const bytes = parseMemoryBytes(text);
  if (bytes === undefined || bytes <= 0) {
    throw new AppError('usage', `${what} "${text}" is not a memory quantity such as 512Mi or 4Gi`);
  }
  return bytes;
}

/** The runbook's temporary fix for memory exhaustion: a JSON patch of the container's memory limit. */
export const memoryLimitHandler: ActionHandler = {
  verb: 'change memory limits',
  check(p, service, deps) {
    const params = checkedParams(p, memoryParams);
    sameTarget(service, params);
    if (p.change.to !== params.to) {
      throw new AppError(
        'usage',
        `this button's dialog says ${p.change.to} but it carries ${params.to}: run the step again`,
      );
    }
    if (params.container && service.container && params.container !== service.container) {
      throw new AppError(
        'usage',
        `the button names container ${params.container}, but service ${service.name} is container ${service.container}`,
      );
    }
    const bytes = memoryBytes(params.to, 'the memory limit');
    const max = deps.config.actions.max_memory;
    if (bytes > max.bytes) {
      throw new AppError(
        'out_of_range',
        `a memory limit of ${params.to} is above the configured maximum ${max.text} (actions.max_memory)`,
      );
    }
  },
  async prepare(p, service, deps) {
    const params = checkedParams(p, memoryParams);
    const cluster = clusterOf(deps);
    const { namespace, deployment } = service;
    const live = await cluster.readMemoryLimit(namespace, deployment, service.container ?? params.container);
    if (params.container && params.container !== live.container) {
      throw new ConflictError(
        `deployment/${deployment} has no container ${params.container} any more (the first container is ${live.container}): run the step again`,
      );
    }
    const toBytes = memoryBytes(params.to, 'the memory limit');
    const what = `memory limit of container ${live.container} in deployment/${deployment} (${namespace})`;
    const sawNone = params.from === 'none';
    const same = sawNone
      ? live.limit === undefined
      : live.limit !== undefined &&
        (live.limit === params.from || live.limitBytes === parseMemoryBytes(params.from));
    if (!same) {
      if (live.limitBytes === toBytes) {
        throw new ConflictError(
          `the memory limit of ${live.container} is already ${live.limit}: nothing to do`,
        );
      }
      throw new ConflictError(
        `the memory limit of ${live.container} changed meanwhile: the button saw ${params.from}, now it is ${live.limit ?? 'none'}`,
        memoryProposal(service, live.container, live.limit, params.to, p.reason, {
          toBytes,
          ...(live.limitBytes !== undefined ? { fromBytes: live.limitBytes } : {}),
        }),
      );
    }
    if (live.requestBytes !== undefined && toBytes < live.requestBytes) {
      throw new AppError(
        'out_of_range',
        `a memory limit of ${params.to} is below the container's memory request: Kubernetes would refuse it`,
      );
    }
    const raising = live.limitBytes === undefined || toBytes > live.limitBytes;
    return {
      what,
      from: live.limit ?? 'none',
      to: params.to,
      async apply() {
        await cluster.setMemoryLimit(namespace, deployment, live, params.to);
        const temporary =
          raising && !params.revert && live.limit !== undefined
            ? {
                text: `The memory limit of ${live.container} in deployment/${deployment} raised to ${params.to} is temporary (runbook: Memory Exhaustion): revert to ${live.limit}?`,
                revert: revertProposal(service, live.container, params.to, live.limit),
              }
            : undefined;
        return {
          summary: `set the memory limit of container ${live.container} in deployment/${deployment} (${namespace}) from ${live.limit ?? 'none'} to ${params.to}`,
          rollout: { namespace, deployment },
          ...(temporary ? { temporary } : {}),
        };
      },
    };
  },
};

function revertProposal(
  service: ServiceConfig,
  container: string,
  raised: string,
  original: string,
): Proposal {
  return memoryProposal(
    service,
    container,
    raised,
    original,
    'The raised memory limit is a temporary fix (runbook: Memory Exhaustion)',
    {
      revert: true,
    },
  );
}

const poolParams = z.strictObject({
  to: z.number().int(),
  from: z.union([z.string().max(32), z.number()]),
  restart: z.boolean().optional(),
  key: z.string().optional(),
  configmap: z.string().optional(),
  namespace: z.string().optional(),
});

/** The runbook's connection-pool fix: database.max_connections in the service's ConfigMap, restart on request. */
export const poolSizeHandler: ActionHandler = {
  verb: 'change the database pool size',
  check(p, service) {
    const params = checkedParams(p, poolParams);
    if (params.namespace !== undefined && params.namespace !== service.namespace) {
      throw new AppError(
        'usage',
        `the button names namespace ${params.namespace}, but service ${service.name} is in ${service.namespace}`,
      );
    }
    if (params.configmap !== undefined && params.configmap !== service.configmap) {
      throw new AppError(
        'usage',
        `the button names ConfigMap ${params.configmap}, but service ${service.name} uses ${service.configmap}`,
      );
    }
    if (params.key !== undefined && params.key !== POOL_SIZE_KEY) {
      throw new AppError('usage', `the pool size lives in ${POOL_SIZE_KEY}, not ${params.key}`);
    }
    if (p.change.to !== String(params.to)) {
      throw new AppError(
        'usage',
        `this button's dialog says ${p.change.to} but it carries ${params.to}: run the step again`,
      );
    }
    if (params.to < 1 || params.to > MAX_POOL_SIZE) {
      throw new AppError('out_of_range', `a pool size of ${params.to} is outside 1..${MAX_POOL_SIZE}`);
    }
  },
  async prepare(p, service, deps) {
    const params = checkedParams(p, poolParams);
    const cluster = clusterOf(deps);
    const restart = params.restart ?? false;
    const { namespace, configmap, deployment } = service;
    const live = await cluster.readConfigValue(namespace, configmap, POOL_SIZE_KEY);
    const saw = String(params.from);
    // "unknown": the diagnosis could not read the ConfigMap; the dialog said so, so any live value is accepted.
    if (saw !== 'unknown' && saw !== (live.value ?? 'unset')) {
      if (live.value === String(params.to) && !restart) {
        throw new ConflictError(
          `${POOL_SIZE_KEY} in ConfigMap ${configmap} is already ${params.to}: nothing to do`,
        );
      }
      throw new ConflictError(
        `${POOL_SIZE_KEY} in ConfigMap ${configmap} changed meanwhile: the button saw ${saw}, now it is ${live.value ?? 'unset'}`,
        poolProposal(service, live.value, params.to, restart, p.reason),
      );
    }
    return {
      what: `${POOL_SIZE_KEY} in ConfigMap ${configmap} (${namespace})${restart ? `, then restart deployment/${deployment}` : ''}`,
      from: live.value ?? 'unset',
      to: String(params.to),
      async apply() {
        if (live.value !== String(params.to)) {
          await cluster.setConfigValue(namespace, configmap, POOL_SIZE_KEY, live, String(params.to));
        }
        const changed = `set ${POOL_SIZE_KEY} in ConfigMap ${configmap} (${namespace}) from ${live.value ?? 'unset'} to ${params.to}`;
        if (!restart) {
          return {
            summary: `${changed}; it takes effect when the pods restart (/aegis pool ${params.to} ${service.name} --restart restarts them)`,
          };
        }
        await cluster.restartRollout(namespace, deployment, (deps.now ?? (() => new Date()))());
        return {
          summary: `${changed}, and restarted deployment/${deployment}`,
          rollout: { namespace, deployment },
        };
      },
    };
  },
};
