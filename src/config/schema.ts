import { RE2JS } from 're2js';
import { z } from 'zod';
import { parseDuration } from '../domain/duration.ts';
import { RUNBOOK_ESCALATION_RULES } from '../domain/escalation.ts';
import { BASELINE_METRICS, type BaselineMetric, RUNBOOK_BASELINES } from '../domain/thresholds.ts';
import { isLabelName, isMetricName } from '../lib/prometheus-names.ts';
import { parseMemoryBytes } from '../lib/quantity.ts';

/** "5m", "30s": kept as milliseconds after parsing. */
const duration = z
  .string()
  .regex(/^\d+(\.\d+)?(ms|s|m|h|d)$/, 'a duration such as 30s, 5m or 1h')
  .transform((s) => parseDuration(s));

/** A Kubernetes memory quantity (512Mi, 4Gi, 2k): kept as text and bytes. */
const memory = z
  .string()
  .refine((s) => parseMemoryBytes(s) !== undefined, 'expected a memory quantity such as 512Mi or 4Gi')
  .transform((s) => ({ text: s, bytes: parseMemoryBytes(s) as number }));

/** A Kubernetes name (RFC 1123 label / subdomain): also what keeps it safe inside PromQL and URLs. */
const k8sName = z
  .string()
  .regex(
    /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/,
    'a Kubernetes name (lower-case letters, digits, "-" and ".")',
  );
const metricName = z
  .string()
  .refine(
    isMetricName,
    'expected a Prometheus metric name (http_requests_total, or dotted as http.server.request.duration)',
  );
const labelName = z
  .string()
  .refine(
    isLabelName,
    'expected a Prometheus label name (path, or dotted as http.route; not starting with __)',
  );
const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name in upper case');
const httpUrl = z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' });
const slackUserId = z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'a Slack user ID such as U012ABCDEF');
const slackGroupId = z.string().regex(/^S[A-Z0-9]{2,}$/, 'a Slack user-group ID such as S012ABCDEF');

const prometheusSchema = z.strictObject({
  url: httpUrl,
  timeout: duration.default(5000),
  metrics: z
    .strictObject({
      request_duration: metricName.default('aegis_http_request_duration_seconds'),
      requests_total: metricName.default('aegis_http_requests_total'),
      path_label: labelName.default('path'),
      status_label: labelName.default('status'),
      /** Label that selects the service's series, e.g. job="aegis-api"; none when the metrics are the service's alone. */
      selector: z.record(labelName, z.string()).default({}),
      /**
       * Labels that select the service's container series (cAdvisor), besides namespace and container.
       * Default: the same as `selector`; set it (often to {}) when `selector` names a label cAdvisor's
       * series lack, such as job.
       */
      container_selector: z.record(labelName, z.string()).optional(),
      container_label_value: z.string().optional(),
      /** A counter of log lines the service writes, for the checklist's "not excessive logging"; none: unknown. */
      log_lines_total: metricName.optional(),
    })
    .prefault({}),
});

/**
 * The service's own code in profiles: function-name prefixes ("github.com/acme/aegis-api", "main."; a prefix covers its subpackages).
 * Omitted: derived from each profile (steps/profiling/hot-paths.ts, lib/pprof/app-code.ts).
 */
const appPackages = z.array(z.string().min(1)).min(1).optional();

const pprofSchema = z.discriminatedUnion('mode', [
  z.strictObject({
    mode: z.literal('url'),
    base_url: httpUrl,
    timeout: duration.default(10_000),
    max_bytes: z
      .number()
      .int()
      .positive()
      .default(64 * 2 ** 20),
    app_packages: appPackages,
  }),
  z.strictObject({
    mode: z.literal('pod_proxy'),
    port: z.number().int().min(1).max(65535).default(6060),
    timeout: duration.default(10_000),
    max_bytes: z
      .number()
      .int()
      .positive()
      .default(64 * 2 ** 20),
    app_packages: appPackages,
  }),
]);

const databaseSchema = z.strictObject({
  /** Environment variable holding the URL of the read-only diagnosis role. */
  url_env: envName,
  /** Environment variable holding the URL of the role that may cancel, terminate and VACUUM. */
  action_url_env: envName.optional(),
  connect_timeout: duration.default(5000),
  statement_timeout: duration.default(10_000),
  long_query: duration.default(30_000),
  /** The application's PostgreSQL role: the checklist reads its statement_timeout (ALTER ROLE … SET). */
  app_role: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/, 'a PostgreSQL role name')
    .optional(),
  /** The application's pool size per replica, when the ConfigMap's database.max_connections is not readable. */
  pool_size: z.number().int().positive().optional(),
});

/** The service's HTTP API, probed from outside by the checklist (compression, keep-alive, timeouts). */
const apiSchema = z.strictObject({
  url: httpUrl,
  /** The path the probes GET. */
  path: z
    .string()
    .regex(/^\/[^\s]*$/, 'a path starting with /')
    .default('/api/health'),
  timeout: duration.default(5000),
  /** How long the slow-client probe waits for the server to end a request whose headers never finish. */
  slow_client_window: duration.default(15_000),
});

const serviceSchema = z.strictObject({
  name: k8sName,
  default: z.boolean().default(false),
  namespace: k8sName.default('aegis'),
  deployment: k8sName,
  container: k8sName.optional(),
  /** Label selector of the service's pods, e.g. app=aegis-api. */
  pod_selector: z.string().optional(),
  configmap: k8sName.default('aegis-config'),
  prometheus: prometheusSchema.optional(),
  pprof: pprofSchema.optional(),
  database: databaseSchema.optional(),
  api: apiSchema.optional(),
});

/**
 * Any bound may be overridden alone; the others keep the runbook's value. The order is checked on the
 * merged row, so `critical: 300` for P99 (normal 200, warning 500) is refused with all three values shown.
 */
const bound = z.number().nonnegative();
function baselineSchema(metric: BaselineMetric) {
  return z
    .strictObject({ normal: bound.optional(), warning: bound.optional(), critical: bound.optional() })
    .superRefine((b, ctx) => {
      const runbook = RUNBOOK_BASELINES[metric];
      const merged = { ...runbook, ...b };
      if (merged.normal <= merged.warning && merged.warning <= merged.critical) return;
      const shown = (['normal', 'warning', 'critical'] as const)
        .map((k) => `${k} ${merged[k]}${b[k] === undefined ? ' (runbook default)' : ''}`)
        .join(', ');
      ctx.addIssue({ code: 'custom', message: `expected normal <= warning <= critical, got ${shown}` });
    });
}

const thresholdsSchema = z.strictObject(
  Object.fromEntries(BASELINE_METRICS.map((m) => [m, baselineSchema(m).optional()])) as Record<
    BaselineMetric,
    z.ZodOptional<ReturnType<typeof baselineSchema>>
  >,
);

const escalationRuleSchema = z.strictObject({
  id: z.string().min(1),
  metric: z.enum(BASELINE_METRICS),
  above: z.number(),
  for: duration.default(0),
  action: z.enum(['page', 'scale_and_page', 'page_immediately', 'cancel_query']),
  prompt: z.string().min(1),
  auto_page: z.boolean().default(false),
});

const ACTIONS = [
  'scale',
  'set_memory_limit',
  'set_pool_size',
  'cancel_query',
  'terminate_session',
  'vacuum_analyze',
  'page',
  'silence',
] as const;
const permissionSchema = z.strictObject({
  users: z.array(slackUserId).default([]),
  groups: z.array(slackGroupId).default([]),
  /** A second authorized person must approve before it runs. */
  second_approver: z.boolean().default(false),
});

const slackChannelId = z.string().regex(/^[CG][A-Z0-9]{2,}$/, 'a Slack channel ID such as C012ABCDEF');

/** A label value pattern as Alertmanager reads it: RE2, anchored at both ends. */
const labelPattern = z
  .string()
  .max(1024)
  .superRefine((p, ctx) => {
    try {
      RE2JS.compile(`^(?:${p})$`);
    } catch (e) {
      ctx.addIssue({
        code: 'custom',
        message: `a regular expression in RE2 syntax: ${e instanceof Error ? e.message : String(e)}`,
      });
    }
  });
/** A runbook step as typed after /aegis, e.g. "latency" or "cpu 10": checked against the steps at start. */
const stepText = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]*( [^\s]+){0,5}$/,
    'a runbook step as typed after /aegis, such as "latency" or "cpu 10"',
  );

const alertRouteSchema = z.strictObject({
  /** Every listed label equals the value. */
  match: z.record(labelName, z.string().max(1024)).default({}),
  /** Every listed label matches the pattern (RE2, anchored, as in Alertmanager). */
  match_re: z.record(labelName, labelPattern).default({}),
  /** The configured service the alert is about; default: the `service` label, else the default service. */
  service: k8sName.optional(),
  /** The steps run in the incident thread when the group first fires, in order. */
  steps: z.array(stepText).min(1).max(5).optional(),
  /** PromQL the resolved update reads (before, at worst, now); default: the alert's own expression. */
  metric: z.string().min(1).max(2000).optional(),
});

const alertsSchema = z
  .strictObject({
    /** Where incident threads start; default slack.incident_channel. */
    channel: slackChannelId.optional(),
    /** How Alertmanager authenticates (webhook_configs.http_config): a bearer token or basic auth. */
    auth: z
      .strictObject({
        bearer_token_env: envName.optional(),
        basic: z.strictObject({ username: z.string().min(1).max(200), password_env: envName }).optional(),
      })
      .superRefine((a, ctx) => {
        const given = (a.bearer_token_env ? 1 : 0) + (a.basic ? 1 : 0);
        if (given !== 1)
          ctx.addIssue({
            code: 'custom',
            message: `expected exactly one of bearer_token_env or basic, found ${given === 0 ? 'neither' : 'both'}`,
          });
      }),
    /** Largest notification accepted, in bytes (413 beyond). */
    body_limit: z
      .number()
      .int()
      .min(1024)
      .max(16 * 2 ** 20)
      .default(2 ** 20),
    /** First match wins; no match: the `service` label (or the default service) and default_steps. */
    routes: z.array(alertRouteSchema).default([]),
    default_steps: z.array(stepText).min(1).max(5).default(['latency']),
    /**
     * A notification or root claimed this long ago and not finished belongs to a replica that died
     * part-way: any replica takes it up. Default: the store's DEFAULT_ALERT_STALE_CLAIM_MS (2m).
     */
    stale_claim: duration.optional(),
    /** How often each replica looks for notifications to take up, jittered. Default: 30s (incidents/sweep.ts). */
    sweep_interval: duration.optional(),
  })
  .optional();

const alertmanagerSchema = z
  .strictObject({
    /** Alertmanager's base URL, e.g. http://alertmanager.monitoring:9093: silences go to its API v2. */
    url: httpUrl,
    timeout: duration.default(5000),
    /** Credentials Alertmanager (or a proxy in front of it) wants, from the environment: one or none. */
    bearer_token_env: envName.optional(),
    basic_auth: z.strictObject({ username_env: envName, password_env: envName }).optional(),
    /** The choices of the root message's "Silence" button; the first is the button itself. */
    silence_durations: z
      .array(duration)
      .min(1)
      .max(5)
      .default([3_600_000, 4 * 3_600_000, 24 * 3_600_000]),
  })
  .optional();

export const configSchema = z
  .strictObject({
    slack: z
      .strictObject({
        mode: z.enum(['http', 'socket']).default('http'),
        port: z.number().int().min(1).max(65535).default(3000),
        host: z.string().default('0.0.0.0'),
        incident_channel: slackChannelId.optional(),
        oncall_usergroup: slackGroupId.optional(),
        /** Used by the emulated Web API of the local console and tests. */
        api_url: httpUrl.optional(),
      })
      .prefault({}),
    services: z.array(serviceSchema).min(1, 'expected at least one service'),
    store: z.strictObject({ database_url_env: envName.optional() }).prefault({}),
    grafana: z.strictObject({ url: httpUrl, dashboard_uid: z.string().optional() }).optional(),
    redis: z
      .strictObject({
        url_env: envName,
        timeout: duration.default(5000),
        /** Keys the checklist samples with SCAN to see which have no expiry. */
        ttl_sample: z.number().int().min(1).max(10_000).default(200),
      })
      .optional(),
    kubernetes: z
      .strictObject({
        /** in_cluster: the pod's service account; kubeconfig: $KUBECONFIG or ~/.kube/config. */
        auth: z.enum(['in_cluster', 'kubeconfig']).default('kubeconfig'),
        context: z.string().optional(),
        timeout: duration.default(5000),
      })
      .prefault({}),
    actions: z
      .strictObject({
        min_replicas: z.number().int().min(0).default(1),
        max_replicas: z.number().int().min(1).default(20),
        scale_step_percent: z.number().int().min(1).max(1000).default(50),
        max_memory: memory.prefault('8Gi'),
        temporary_change_reminder: duration.default(2 * 3_600_000),
        /** A click on an offer older than this asks again with the current values instead of running. */
        proposal_max_age: duration.default(30 * 60_000),
      })
      .prefault({})
      .superRefine((a, ctx) => {
        if (a.min_replicas > a.max_replicas)
          ctx.addIssue({
            code: 'custom',
            message: `expected min_replicas <= max_replicas, got ${a.min_replicas} > ${a.max_replicas}`,
          });
      }),
    thresholds: thresholdsSchema.prefault({}),
    escalation: z.array(escalationRuleSchema).default(
      RUNBOOK_ESCALATION_RULES.map((r) => ({
        id: r.id,
        metric: r.metric,
        above: r.above,
        for: r.forMs,
        action: r.action,
        prompt: r.prompt,
        auto_page: r.autoPage,
      })),
    ),
    paging: z
      .strictObject({
        routing_key_env: envName.default('PAGERDUTY_ROUTING_KEY'),
        events_url: httpUrl.default('https://events.pagerduty.com/v2/enqueue'),
        auto_page: z.boolean().default(false),
      })
      .prefault({}),
    authorization: z.partialRecord(z.enum(ACTIONS), permissionSchema).default({}),
    alerts: alertsSchema,
    alertmanager: alertmanagerSchema,
  })
  .superRefine((c, ctx) => {
    if (c.authorization.page?.second_approver) {
      // a page goes out when one authorized person confirms: on-call must not wait for a second one
      ctx.addIssue({
        code: 'custom',
        path: ['authorization', 'page', 'second_approver'],
        message: 'paging never waits for a second approver: set it to false (or leave it out)',
      });
    }
    if (c.alerts && !c.alerts.channel && !c.slack.incident_channel) {
      ctx.addIssue({
        code: 'custom',
        path: ['alerts', 'channel'],
        message: 'incident threads from alerts need a channel: set alerts.channel or slack.incident_channel',
      });
    }
    c.alerts?.routes.forEach((r, i) => {
      if (r.service && !c.services.some((s) => s.name === r.service)) {
        ctx.addIssue({
          code: 'custom',
          path: ['alerts', 'routes', i, 'service'],
          message: `expected one of the services (${c.services.map((s) => s.name).join(', ')}), got "${r.service}"`,
        });
      }
    });
    const defaults = c.services.filter((s) => s.default);
    if (defaults.length > 1 || (c.services.length > 1 && defaults.length === 0)) {
      const found = defaults.length
        ? `${defaults.length} (${defaults.map((s) => s.name).join(', ')})`
        : 'none';
      ctx.addIssue({
        code: 'custom',
        path: ['services'],
        message: `expected exactly one service with default: true, found ${found}`,
      });
    }
    const names = new Set<string>();
    c.services.forEach((s, i) => {
      if (names.has(s.name))
        ctx.addIssue({
          code: 'custom',
          path: ['services', i, 'name'],
          message: `duplicate service "${s.name}"`,
        });
      names.add(s.name);
      if (
        c.store.database_url_env &&
        s.database &&
        [s.database.url_env, s.database.action_url_env].includes(c.store.database_url_env)
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['store', 'database_url_env'],
          message: `expected a database of the store's own, got ${c.store.database_url_env}, the database service "${s.name}" diagnoses`,
        });
      }
    });
  });

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type ServiceConfig = ParsedConfig['services'][number];
export type ActionName = (typeof ACTIONS)[number];
export type AlertsConfig = NonNullable<ParsedConfig['alerts']>;
export type AlertRouteConfig = AlertsConfig['routes'][number];
