/**
 * deploy/rbac.yaml as an authorizer: maps a Kubernetes API request (method + path) to the verb,
 * API group, resource, subresource, namespace and name RBAC sees, and says whether the bot's Role grants it.
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

export interface RbacRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

export interface RbacManifest {
  readonly serviceAccount: { name: string; namespace: string };
  /** Role rules by namespace, for Roles bound to the service account. */
  readonly rulesByNamespace: ReadonlyMap<string, readonly RbacRule[]>;
  readonly kinds: readonly string[];
}

export interface ResourceAccess {
  readonly verb: string;
  readonly group: string;
  /** "deployments/scale", "pods/log", "configmaps". */
  readonly resource: string;
  readonly namespace: string;
  readonly name?: string;
}

type Doc = {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  rules?: RbacRule[];
  roleRef?: { kind?: string; name?: string };
  subjects?: { kind?: string; name?: string; namespace?: string }[];
};

export const RBAC_FILE = new URL('../../deploy/rbac.yaml', import.meta.url);

export function loadRbac(file: URL = RBAC_FILE): RbacManifest {
  const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Doc);
  const sa = docs.find((d) => d.kind === 'ServiceAccount');
  if (!sa?.metadata?.name || !sa.metadata.namespace)
    throw new Error('deploy/rbac.yaml has no ServiceAccount with a namespace');
  const account = { name: sa.metadata.name, namespace: sa.metadata.namespace };
  const rulesByNamespace = new Map<string, RbacRule[]>();
  for (const b of docs.filter((d) => d.kind === 'RoleBinding')) {
    const bound = b.subjects?.some(
      (s) => s.kind === 'ServiceAccount' && s.name === account.name && s.namespace === account.namespace,
    );
    if (!bound || b.roleRef?.kind !== 'Role') continue;
    const ns = b.metadata?.namespace;
    const role = docs.find(
      (d) => d.kind === 'Role' && d.metadata?.name === b.roleRef?.name && d.metadata?.namespace === ns,
    );
    if (!ns || !role) continue;
    rulesByNamespace.set(ns, [...(rulesByNamespace.get(ns) ?? []), ...(role.rules ?? [])]);
  }
  return { serviceAccount: account, rulesByNamespace, kinds: docs.map((d) => d.kind ?? '?') };
}

/** What RBAC checks for a request, as the API server's RequestInfo resolver would derive it. */
export function accessOf(method: string, path: string, query = ''): ResourceAccess | undefined {
  const core = /^\/api\/v1\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+)(?:\/([^/]+))?)?/.exec(path);
  const named = /^\/apis\/([^/]+)\/([^/]+)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+)(?:\/([^/]+))?)?/.exec(
    path,
  );
  let group: string;
  let namespace: string;
  let resource: string;
  let name: string | undefined;
  let sub: string | undefined;
  if (core) {
    [group, namespace, resource, name, sub] = ['', core[1] as string, core[2] as string, core[3], core[4]];
  } else if (named) {
    [group, namespace, resource, name, sub] = [
      named[1] as string,
      named[3] as string,
      named[4] as string,
      named[5],
      named[6],
    ];
  } else {
    return undefined;
  }
  const watch = /[?&]watch=(true|1)/.test(query);
  const verb = (() => {
    switch (method.toUpperCase()) {
      case 'GET':
      case 'HEAD':
        return name ? 'get' : watch ? 'watch' : 'list';
      case 'PATCH':
        return 'patch';
      case 'PUT':
        return 'update';
      case 'POST':
        return 'create';
      case 'DELETE':
        return name ? 'delete' : 'deletecollection';
      default:
        return method.toLowerCase();
    }
  })();
  // pods/{name}:{port}/proxy/...: the resource name RBAC sees is the pod's name with the port
  return {
    verb,
    group,
    namespace,
    resource: sub ? `${resource}/${sub}` : resource,
    ...(name ? { name } : {}),
  };
}

export function allows(rbac: RbacManifest, a: ResourceAccess): boolean {
  const rules = rbac.rulesByNamespace.get(a.namespace) ?? [];
  return rules.some(
    (r) =>
      (r.apiGroups.includes(a.group) || r.apiGroups.includes('*')) &&
      (r.resources.includes(a.resource) || r.resources.includes('*')) &&
      (r.verbs.includes(a.verb) || r.verbs.includes('*')) &&
      (!r.resourceNames ||
        r.resourceNames.length === 0 ||
        (a.name !== undefined && r.resourceNames.includes(a.name))),
  );
}

/** Every request RBAC would refuse, described; empty when all are granted. */
export function refusedRequests(
  rbac: RbacManifest,
  requests: readonly { method: string; path: string; query?: string }[],
): string[] {
  const refused: string[] = [];
  for (const r of requests) {
    const a = accessOf(r.method, r.path, r.query ?? '');
    if (!a) {
      refused.push(`${r.method} ${r.path}: not a namespaced resource request`);
      continue;
    }
    if (!allows(rbac, a)) {
      refused.push(
        `${r.method} ${r.path}: ${a.verb} ${a.group ? `${a.group}/` : ''}${a.resource}${a.name ? ` ${a.name}` : ''} in ${a.namespace}`,
      );
    }
  }
  return refused;
}
