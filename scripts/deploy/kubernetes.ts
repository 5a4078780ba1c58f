/**
 * Kubernetes manifests of the queue workers (`deploy/kubernetes/`, written by `pnpm gen:deploy`):
 * per worker app one file with its Deployment and its KEDA ScaledObject, one TriggerAuthentication
 * for the Redis trigger, and a kustomization.yaml listing them (`kubectl apply -k deploy/kubernetes`).
 *
 * - Deployment: the image of Dockerfile.worker with the app's start command, the variables of its
 *   env schema (secrets from the Secret `coldcopy-secrets`, the rest from the ConfigMap
 *   `coldcopy-config`, optional ones optional), `/livez` and `/readyz` probes on its health port,
 *   terminationGracePeriodSeconds above its shutdown grace, and CPU and memory from the seed's
 *   sizing table (QUEUE_SIZING) as requests and limits.
 * - ScaledObject: the Redis list-length trigger on the wait list of every shard of the queue, with
 *   the autoscaler's thresholds (apps/autoscaler/scaling.json; the seed's defaults for a worker it
 *   does not list): `listLength` = the scale-up backlog per replica, min/max replicas, at most
 *   `step` pods per up/down cooldown, and a scale-down stabilisation window of the hold time. With
 *   several shards the triggers are summed (scalingModifiers), as the scaler sums the shards.
 *
 * Object shapes are typed with kubernetes-models (excess properties are compile errors) and the
 * output is validated in scripts/deploy.test.ts against the Kubernetes Deployment schema and
 * KEDA's CRD schemas (scripts/deploy/schemas/keda/).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IIoK8sApiCoreV1EnvVar } from 'kubernetes-models/v1/EnvVar';
import YAML from 'yaml';
import { shardQueueName } from '../../packages/queue-core/src/redis/sharding.js';
import { type AppInfo, QUEUE_SIZING, ROOT } from './apps.js';
import { GENERATED, mustSet } from './render.js';

export const K8S_DIR = 'deploy/kubernetes';
export const SECRET_NAME = 'coldcopy-secrets';
export const CONFIG_MAP_NAME = 'coldcopy-config';
export const TRIGGER_AUTH_NAME = 'coldcopy-redis';
/** the Secret KEDA reads the Redis address and password from (host:port, not a URL) */
export const KEDA_REDIS_SECRET = 'coldcopy-keda-redis';

/** The thresholds of one worker, as the autoscaler's scaling.json gives them. */
export interface ScalingRule {
  readonly min: number;
  readonly max: number;
  readonly scaleUpBacklog: number;
  readonly scaleDownBacklog: number;
  readonly scaleDownHoldSeconds: number;
  readonly scaleUpCooldownSeconds: number;
  readonly scaleDownCooldownSeconds: number;
  readonly step: number;
  /** Bull queues of the queue (`<QUEUE>_SHARDS` of the deployment) */
  readonly shards: number;
}

export interface ScalingRules {
  readonly intervalSeconds: number;
  readonly workers: Readonly<Record<string, Partial<ScalingRule>>>;
}

/** The seed's rules for a worker scaling.json does not list: up above 1,000, down below 100 for 10 min, at most 10. */
export function defaultRule(app: AppInfo): ScalingRule {
  return {
    min: app.replicas,
    max: Math.max(app.replicas, 10),
    scaleUpBacklog: 1000,
    scaleDownBacklog: 100,
    scaleDownHoldSeconds: 600,
    scaleUpCooldownSeconds: 300,
    scaleDownCooldownSeconds: 600,
    step: 1,
    shards: 1,
  };
}

/**
 * apps/autoscaler/scaling.json when the autoscaler app exists (its own tests check the file against
 * its schema; here only the numbers are taken, with the seed's defaults for what it leaves out).
 */
export function loadScalingRules(root = ROOT): ScalingRules {
  const file = join(root, 'apps/autoscaler/scaling.json');
  if (!existsSync(file)) return { intervalSeconds: 30, workers: {} };
  const raw = JSON.parse(readFileSync(file, 'utf8')) as { intervalSeconds?: number; workers?: Record<string, Record<string, unknown>> };
  const keys = [
    'min',
    'max',
    'scaleUpBacklog',
    'scaleDownBacklog',
    'scaleDownHoldSeconds',
    'scaleUpCooldownSeconds',
    'scaleDownCooldownSeconds',
    'step',
    'shards',
  ] as const;
  const workers: Record<string, Partial<ScalingRule>> = {};
  for (const [name, rule] of Object.entries(raw.workers ?? {})) {
    workers[name] = Object.fromEntries(keys.filter((k) => typeof rule[k] === 'number').map((k) => [k, rule[k] as number]));
  }
  return { intervalSeconds: raw.intervalSeconds ?? 30, workers };
}

export function ruleOf(app: AppInfo, rules: ScalingRules): ScalingRule {
  return { ...defaultRule(app), ...(rules.workers[app.name] ?? {}) };
}

const labels = (app: AppInfo) => ({
  'app.kubernetes.io/name': app.name,
  'app.kubernetes.io/part-of': 'coldcopy',
  'app.kubernetes.io/component': 'worker',
});

/** `2g` → `2Gi`, `512m` → `512Mi` */
const quantity = (memory: string) => memory.replace(/g$/, 'Gi').replace(/m$/, 'Mi');

function containerEnv(app: AppInfo): IIoK8sApiCoreV1EnvVar[] {
  const out: IIoK8sApiCoreV1EnvVar[] = [];
  for (const v of app.env) {
    if (['HOST', 'HEALTH_HOST', 'SHUTDOWN_GRACE_SECONDS'].includes(v.name)) continue; // defaults; the pod grace is derived from the default
    if (v.name === 'NODE_ENV') out.push({ name: v.name, value: 'production' });
    else if (v.name === app.portVar) out.push({ name: v.name, value: String(app.port) });
    else {
      const required = mustSet(app, v) || v.name === 'REDIS_URL' || v.name === 'DATABASE_URL';
      const ref = { name: v.secret ? SECRET_NAME : CONFIG_MAP_NAME, key: v.name, ...(required ? {} : { optional: true }) };
      out.push({ name: v.name, valueFrom: v.secret ? { secretKeyRef: ref } : { configMapKeyRef: ref } });
    }
  }
  return out;
}

export function renderDeployment(app: AppInfo): IDeployment {
  if (app.kind !== 'worker' || !app.queue) throw new Error(`${app.name}: only queue workers get Kubernetes manifests`);
  const sizing = QUEUE_SIZING[app.queue];
  const resources = { cpu: sizing.cpu, memory: quantity(app.memory) };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: app.name, labels: labels(app) },
    spec: {
      // KEDA owns the count from here on (min of the ScaledObject)
      replicas: app.replicas,
      selector: { matchLabels: { 'app.kubernetes.io/name': app.name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels: labels(app),
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(app.port), 'prometheus.io/path': '/metrics' },
        },
        spec: {
          // the app's own grace for in-flight jobs plus the margin every platform file uses
          terminationGracePeriodSeconds: app.stopGraceSeconds,
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 },
          containers: [
            {
              name: app.name,
              image: `coldcopy/${app.name}:latest`,
              // the image's ENTRYPOINT is tini; args replace its CMD with the app's start command
              args: [...app.start],
              ports: [{ name: 'health', containerPort: app.port, protocol: 'TCP' }],
              env: containerEnv(app),
              livenessProbe: {
                httpGet: { path: app.livePath, port: 'health' },
                initialDelaySeconds: 10,
                periodSeconds: 10,
                timeoutSeconds: 2,
                failureThreshold: 6,
              },
              readinessProbe: {
                httpGet: { path: app.readyPath, port: 'health' },
                initialDelaySeconds: 5,
                periodSeconds: 10,
                timeoutSeconds: 2,
                failureThreshold: 3,
              },
              resources: { requests: resources, limits: resources },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: false, capabilities: { drop: ['ALL'] } },
            },
          ],
        },
      },
    },
  };
}

/** KEDA ScaledObject (keda.sh/v1alpha1): the fields used here, as KEDA's CRD defines them. */
export interface ScaledObject {
  apiVersion: 'keda.sh/v1alpha1';
  kind: 'ScaledObject';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    pollingInterval: number;
    minReplicaCount: number;
    maxReplicaCount: number;
    advanced: {
      horizontalPodAutoscalerConfig: {
        behavior: Record<
          'scaleUp' | 'scaleDown',
          { stabilizationWindowSeconds: number; selectPolicy: 'Max' | 'Min'; policies: { type: 'Pods'; value: number; periodSeconds: number }[] }
        >;
      };
      scalingModifiers?: { formula: string; target: string; metricType: 'AverageValue' };
    };
    triggers: { type: 'redis'; name: string; metadata: Record<string, string>; authenticationRef: { name: string } }[];
  };
}

/** Bull's wait list of one shard (default prefix `bull`, non-cluster key layout). */
export const waitList = (queue: string, shard: number, prefix = 'bull') => `${prefix}:${shardQueueName(queue as never, shard)}:wait`;

export function renderScaledObject(app: AppInfo, rule: ScalingRule, intervalSeconds: number): ScaledObject {
  if (app.kind !== 'worker' || !app.queue) throw new Error(`${app.name}: only queue workers are scaled by KEDA`);
  const shards = Array.from({ length: Math.max(1, rule.shards) }, (_, i) => i);
  const name = (shard: number) => `shard${shard}`;
  // HPA periods are at most 30 minutes
  const period = (s: number) => Math.min(1800, Math.max(1, s));
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name: app.name, labels: labels(app) },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: app.name },
      pollingInterval: intervalSeconds,
      minReplicaCount: rule.min,
      maxReplicaCount: rule.max,
      advanced: {
        horizontalPodAutoscalerConfig: {
          behavior: {
            scaleUp: {
              stabilizationWindowSeconds: 0,
              selectPolicy: 'Max',
              policies: [{ type: 'Pods', value: rule.step, periodSeconds: period(rule.scaleUpCooldownSeconds) }],
            },
            scaleDown: {
              stabilizationWindowSeconds: Math.min(3600, rule.scaleDownHoldSeconds),
              selectPolicy: 'Max',
              policies: [{ type: 'Pods', value: rule.step, periodSeconds: period(rule.scaleDownCooldownSeconds) }],
            },
          },
        },
        ...(shards.length > 1
          ? { scalingModifiers: { formula: shards.map(name).join(' + '), target: String(rule.scaleUpBacklog), metricType: 'AverageValue' as const } }
          : {}),
      },
      triggers: shards.map((shard) => ({
        type: 'redis' as const,
        name: name(shard),
        metadata: { listName: waitList(app.queue!, shard), listLength: String(rule.scaleUpBacklog), activationListLength: '0' },
        authenticationRef: { name: TRIGGER_AUTH_NAME },
      })),
    },
  };
}

export function renderTriggerAuthentication() {
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'TriggerAuthentication',
    metadata: { name: TRIGGER_AUTH_NAME, labels: { 'app.kubernetes.io/part-of': 'coldcopy' } },
    spec: {
      secretTargetRef: [
        { parameter: 'address', name: KEDA_REDIS_SECRET, key: 'address' },
        { parameter: 'password', name: KEDA_REDIS_SECRET, key: 'password' },
      ],
    },
  };
}

const header = (what: string) => `# ${what}: ${GENERATED}.\n`;
const docs = (objects: unknown[]) => objects.map((o) => YAML.stringify(o, { lineWidth: 0 })).join('---\n');

/** relative path → text of every Kubernetes file */
export function renderKubernetes(apps: readonly AppInfo[], rules: ScalingRules): Map<string, string> {
  const files = new Map<string, string>();
  const workers = apps.filter((a) => a.kind === 'worker');
  for (const app of workers) {
    files.set(
      `${K8S_DIR}/${app.name}.yaml`,
      header(`${app.name} (queue ${app.queue}): Deployment and KEDA ScaledObject`) +
        docs([renderDeployment(app), renderScaledObject(app, ruleOf(app, rules), rules.intervalSeconds)]),
    );
  }
  files.set(
    `${K8S_DIR}/keda-trigger-auth.yaml`,
    header(`KEDA TriggerAuthentication of the Redis triggers (Secret ${KEDA_REDIS_SECRET}: address host:port, password)`) +
      docs([renderTriggerAuthentication()]),
  );
  files.set(
    `${K8S_DIR}/kustomization.yaml`,
    header('kubectl apply -k deploy/kubernetes') +
      docs([
        {
          apiVersion: 'kustomize.config.k8s.io/v1beta1',
          kind: 'Kustomization',
          resources: ['keda-trigger-auth.yaml', ...workers.map((a) => `${a.name}.yaml`)],
        },
      ]),
  );
  return files;
}
