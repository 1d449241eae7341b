/**
 * kiban's own rules for the rendered manifests, one small named function each, so that every
 * defect maps to one rule. A rule sees the whole render (cross-object rules need it) and
 * returns findings relative to one object.
 */
import {
  DEFAULT_STAGE_PREFIX,
  DEFAULT_STAGE_QUEUE,
} from '../../src/stages/runners/bullmq-stage-protocol.js';
import type { K8sObject } from './render.js';

/** The Secrets the manifests may reference: Secret name → its documented keys. */
export type SecretKeys = ReadonlyMap<string, ReadonlySet<string>>;

/** What a rule sees: every object of one rendered overlay and the documented Secret keys. */
export interface RuleContext {
  objects: readonly K8sObject[];
  secretKeys: SecretKeys;
}

/** A problem a rule found in one object (or, with object undefined, in the render as a whole). */
export interface RuleFinding {
  object?: K8sObject;
  path: string;
  message: string;
}

/** One named rule. */
export interface Rule {
  name: string;
  /** One line: what the rule requires. */
  description: string;
  check(context: RuleContext): RuleFinding[];
}

interface Container {
  object: K8sObject;
  container: Record<string, any>;
  path: string;
  init: boolean;
  pod: PodTemplate;
}

interface PodTemplate {
  object: K8sObject;
  spec: Record<string, any>;
  labels: Record<string, string>;
  path: string;
}

const WORKLOAD_TEMPLATE: Record<string, string[]> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};
/** Kinds whose pods run for good and so need readiness and liveness probes. */
const LONG_RUNNING = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet']);

function isObject(value: unknown): value is Record<string, any> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function namespaceOf(object: K8sObject): string {
  return isObject(object.metadata) && typeof object.metadata.namespace === 'string'
    ? object.metadata.namespace
    : '';
}

function nameOf(object: K8sObject): string | undefined {
  return isObject(object.metadata) && typeof object.metadata.name === 'string'
    ? object.metadata.name
    : undefined;
}

function ofKind(context: RuleContext, kind: string): K8sObject[] {
  return context.objects.filter((object) => object.kind === kind);
}

function podTemplates(context: RuleContext): PodTemplate[] {
  const templates: PodTemplate[] = [];
  for (const object of context.objects) {
    const route = WORKLOAD_TEMPLATE[object.kind];
    if (!route) continue;
    let template: unknown = object;
    for (const key of route) template = isObject(template) ? template[key] : undefined;
    if (!isObject(template) || !isObject(template.spec)) continue;
    const labels = isObject(template.metadata?.labels) ? template.metadata.labels : {};
    templates.push({ object, spec: template.spec, labels, path: `${route.join('.')}.spec` });
  }
  return templates;
}

function containers(context: RuleContext): Container[] {
  const found: Container[] = [];
  for (const pod of podTemplates(context)) {
    for (const [field, init] of [
      ['initContainers', true],
      ['containers', false],
    ] as const) {
      const list = pod.spec[field];
      if (!Array.isArray(list)) continue;
      list.forEach((container, index) => {
        if (isObject(container)) {
          found.push({
            object: pod.object,
            container,
            path: `${pod.path}.${field}[${index}]`,
            init,
            pod,
          });
        }
      });
    }
  }
  return found;
}

/** A label selector (`matchLabels`/`matchExpressions`, or a Service's plain map) is empty. */
function selectorIsEmpty(selector: unknown, plainMap = false): boolean {
  if (!isObject(selector)) return true;
  if (plainMap) return Object.keys(selector).length === 0;
  const labels = isObject(selector.matchLabels) ? Object.keys(selector.matchLabels).length : 0;
  const expressions = Array.isArray(selector.matchExpressions)
    ? selector.matchExpressions.length
    : 0;
  return labels + expressions === 0;
}

/** Whether a label selector selects a set of labels (a Service's selector is a plain map). */
function selects(selector: unknown, labels: Record<string, string>, plainMap = false): boolean {
  if (!isObject(selector)) return false;
  const matchLabels = plainMap ? selector : selector.matchLabels;
  if (isObject(matchLabels)) {
    for (const [key, value] of Object.entries(matchLabels)) {
      if (labels[key] !== value) return false;
    }
  }
  if (!plainMap && Array.isArray(selector.matchExpressions)) {
    for (const expression of selector.matchExpressions) {
      if (!isObject(expression)) return false;
      const has = Object.hasOwn(labels, expression.key);
      const values: unknown[] = Array.isArray(expression.values) ? expression.values : [];
      const ok =
        expression.operator === 'In'
          ? has && values.includes(labels[expression.key])
          : expression.operator === 'NotIn'
            ? !has || !values.includes(labels[expression.key])
            : expression.operator === 'Exists'
              ? has
              : expression.operator === 'DoesNotExist'
                ? !has
                : false;
      if (!ok) return false;
    }
  }
  return true;
}

function deploymentTemplates(context: RuleContext, namespace: string): PodTemplate[] {
  return podTemplates(context).filter(
    (pod) => pod.object.kind === 'Deployment' && namespaceOf(pod.object) === namespace,
  );
}

function declaredPorts(containerList: Record<string, any>[]): {
  numbers: Set<number>;
  names: Set<string>;
} {
  const numbers = new Set<number>();
  const names = new Set<string>();
  for (const container of containerList) {
    for (const port of Array.isArray(container.ports) ? container.ports : []) {
      if (!isObject(port)) continue;
      if (typeof port.containerPort === 'number') numbers.add(port.containerPort);
      if (typeof port.name === 'string') names.add(port.name);
    }
  }
  return { numbers, names };
}

function portIsDeclared(
  port: unknown,
  declared: { numbers: Set<number>; names: Set<string> },
): boolean {
  if (typeof port === 'number') return declared.numbers.has(port);
  if (typeof port === 'string') {
    return /^\d+$/.test(port) ? declared.numbers.has(Number(port)) : declared.names.has(port);
  }
  return false;
}

/** Every container and initContainer requests and limits cpu and memory. */
export const resources: Rule = {
  name: 'resources',
  description: 'every container and initContainer sets requests and limits for cpu and memory',
  check(context) {
    const findings: RuleFinding[] = [];
    for (const { object, container, path } of containers(context)) {
      for (const bound of ['requests', 'limits'] as const) {
        for (const resource of ['cpu', 'memory'] as const) {
          const value = container.resources?.[bound]?.[resource];
          if (value === undefined || value === null || value === '') {
            findings.push({
              object,
              path: `${path}.resources.${bound}.${resource}`,
              message: `missing: container "${container.name}" must set resources.${bound}.${resource}`,
            });
          }
        }
      }
    }
    return findings;
  },
};

/** Long-running workloads' containers have readiness and liveness probes (Jobs are exempt). */
export const probes: Rule = {
  name: 'probes',
  description:
    'every container of a long-running workload (Deployment, StatefulSet, DaemonSet) has readiness and liveness probes',
  check(context) {
    const findings: RuleFinding[] = [];
    for (const { object, container, path, init } of containers(context)) {
      if (init || !LONG_RUNNING.has(object.kind)) continue;
      for (const probe of ['readinessProbe', 'livenessProbe'] as const) {
        if (!isObject(container[probe])) {
          findings.push({
            object,
            path: `${path}.${probe}`,
            message: `missing: container "${container.name}" of a ${object.kind} needs a ${probe}`,
          });
        }
      }
    }
    return findings;
  },
};

/** Containers run as non-root (the container's securityContext, else the pod's). */
export const runAsNonRoot: Rule = {
  name: 'run-as-non-root',
  description:
    'every container runs with runAsNonRoot: true (its own securityContext or the pod’s)',
  check(context) {
    const findings: RuleFinding[] = [];
    for (const { object, container, path, pod } of containers(context)) {
      const own = container.securityContext?.runAsNonRoot;
      const effective = own ?? pod.spec.securityContext?.runAsNonRoot;
      if (effective !== true) {
        findings.push({
          object,
          path:
            own === undefined && pod.spec.securityContext?.runAsNonRoot !== undefined
              ? `${pod.path}.securityContext.runAsNonRoot`
              : `${path}.securityContext.runAsNonRoot`,
          message: `container "${container.name}" must run with runAsNonRoot: true (found ${String(effective)})`,
        });
      }
    }
    return findings;
  },
};

/** Containers set allowPrivilegeEscalation: false. */
export const noPrivilegeEscalation: Rule = {
  name: 'no-privilege-escalation',
  description: 'every container sets securityContext.allowPrivilegeEscalation: false',
  check(context) {
    return containers(context)
      .filter(({ container }) => container.securityContext?.allowPrivilegeEscalation !== false)
      .map(({ object, container, path }) => ({
        object,
        path: `${path}.securityContext.allowPrivilegeEscalation`,
        message: `container "${container.name}" must set allowPrivilegeEscalation: false (found ${String(container.securityContext?.allowPrivilegeEscalation)})`,
      }));
  },
};

/** Containers have a read-only root filesystem. */
export const readOnlyRootFilesystem: Rule = {
  name: 'read-only-root-fs',
  description: 'every container sets securityContext.readOnlyRootFilesystem: true',
  check(context) {
    return containers(context)
      .filter(({ container }) => container.securityContext?.readOnlyRootFilesystem !== true)
      .map(({ object, container, path }) => ({
        object,
        path: `${path}.securityContext.readOnlyRootFilesystem`,
        message: `container "${container.name}" must set readOnlyRootFilesystem: true (found ${String(container.securityContext?.readOnlyRootFilesystem)})`,
      }));
  },
};

/** Images carry an explicit tag (or digest) that is not `latest`. */
export const imageTag: Rule = {
  name: 'image-tag',
  description: 'every image names an explicit tag (or a digest) other than latest',
  check(context) {
    const findings: RuleFinding[] = [];
    for (const { object, container, path } of containers(context)) {
      const image = container.image;
      if (typeof image !== 'string' || image === '') {
        findings.push({ object, path: `${path}.image`, message: 'missing image' });
        continue;
      }
      if (image.includes('@sha256:')) continue;
      const lastSegment = image.slice(image.lastIndexOf('/') + 1);
      const colon = lastSegment.indexOf(':');
      const tag = colon < 0 ? '' : lastSegment.slice(colon + 1);
      if (tag === '' || tag === 'latest') {
        findings.push({
          object,
          path: `${path}.image`,
          message: `image "${image}" must name an explicit tag other than latest`,
        });
      }
    }
    return findings;
  },
};

/** Container and host ports lie in 1–65535. */
export const portRange: Rule = {
  name: 'port-range',
  description: 'every containerPort, hostPort and Service port lies in 1–65535',
  check(context) {
    const findings: RuleFinding[] = [];
    const inRange = (port: unknown) =>
      typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535;
    for (const { object, container, path } of containers(context)) {
      (Array.isArray(container.ports) ? container.ports : []).forEach(
        (port: Record<string, any>, index: number) => {
          for (const field of ['containerPort', 'hostPort'] as const) {
            if (field === 'hostPort' && port?.hostPort === undefined) continue;
            if (!inRange(port?.[field])) {
              findings.push({
                object,
                path: `${path}.ports[${index}].${field}`,
                message: `${field} ${String(port?.[field])} is outside 1–65535`,
              });
            }
          }
        },
      );
    }
    for (const service of ofKind(context, 'Service')) {
      (Array.isArray(service.spec?.ports) ? service.spec.ports : []).forEach(
        (port: Record<string, any>, index: number) => {
          if (!inRange(port?.port)) {
            findings.push({
              object: service,
              path: `spec.ports[${index}].port`,
              message: `port ${String(port?.port)} is outside 1–65535`,
            });
          }
          if (typeof port?.targetPort === 'number' && !inRange(port.targetPort)) {
            findings.push({
              object: service,
              path: `spec.ports[${index}].targetPort`,
              message: `targetPort ${port.targetPort} is outside 1–65535`,
            });
          }
        },
      );
    }
    return findings;
  },
};

/** Workload selectors are non-empty and select their own pod template. */
export const workloadSelector: Rule = {
  name: 'workload-selector',
  description: 'every workload’s spec.selector is non-empty and selects its own pod template',
  check(context) {
    const findings: RuleFinding[] = [];
    for (const pod of podTemplates(context)) {
      if (!LONG_RUNNING.has(pod.object.kind)) continue;
      const selector = pod.object.spec?.selector;
      if (selectorIsEmpty(selector)) {
        findings.push({
          object: pod.object,
          path: 'spec.selector',
          message: 'empty selector: name the labels of the pod template',
        });
      } else if (!selects(selector, pod.labels)) {
        findings.push({
          object: pod.object,
          path: 'spec.selector',
          message: 'selector does not match the pod template’s labels',
        });
      }
    }
    return findings;
  },
};

/** Every Service selects the pods of some Deployment. */
export const serviceSelector: Rule = {
  name: 'service-selector',
  description: 'every Service has a non-empty selector that matches some Deployment’s pod labels',
  check(context) {
    const findings: RuleFinding[] = [];
    for (const service of ofKind(context, 'Service')) {
      if (service.spec?.type === 'ExternalName') continue;
      const selector = service.spec?.selector;
      if (selectorIsEmpty(selector, true)) {
        findings.push({ object: service, path: 'spec.selector', message: 'empty selector' });
        continue;
      }
      const matched = deploymentTemplates(context, namespaceOf(service)).some((pod) =>
        selects(selector, pod.labels, true),
      );
      if (!matched) {
        findings.push({
          object: service,
          path: 'spec.selector',
          message: `selector ${JSON.stringify(selector)} matches no Deployment’s pod labels`,
        });
      }
    }
    return findings;
  },
};

/** Service targetPorts and probe ports name or number a declared containerPort. */
export const declaredPort: Rule = {
  name: 'declared-port',
  description:
    'every Service targetPort and every probe port names or numbers a declared containerPort',
  check(context) {
    const findings: RuleFinding[] = [];
    for (const service of ofKind(context, 'Service')) {
      const selector = service.spec?.selector;
      if (selectorIsEmpty(selector, true)) continue;
      const pods = deploymentTemplates(context, namespaceOf(service)).filter((pod) =>
        selects(selector, pod.labels, true),
      );
      if (pods.length === 0) continue;
      (Array.isArray(service.spec?.ports) ? service.spec.ports : []).forEach(
        (port: Record<string, any>, index: number) => {
          const target = port?.targetPort ?? port?.port;
          const missing = pods.filter(
            (pod) =>
              !portIsDeclared(
                target,
                declaredPorts(Array.isArray(pod.spec.containers) ? pod.spec.containers : []),
              ),
          );
          if (missing.length > 0) {
            findings.push({
              object: service,
              path: `spec.ports[${index}].targetPort`,
              message: `targetPort ${JSON.stringify(target)} is not a containerPort of ${missing.map((pod) => nameOf(pod.object)).join(', ')}`,
            });
          }
        },
      );
    }
    for (const { object, container, path } of containers(context)) {
      const declared = declaredPorts([container]);
      for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe'] as const) {
        for (const handler of ['httpGet', 'tcpSocket', 'grpc'] as const) {
          const port = container[probe]?.[handler]?.port;
          if (port === undefined) continue;
          if (!portIsDeclared(port, declared)) {
            findings.push({
              object,
              path: `${path}.${probe}.${handler}.port`,
              message: `probe port ${JSON.stringify(port)} is not a containerPort of "${container.name}"`,
            });
          }
        }
      }
    }
    return findings;
  },
};

/** Secret references name documented Secrets and keys; envFrom.secretRef is refused. */
export const secretKeys: Rule = {
  name: 'secret-keys',
  description:
    'every Secret key referenced (secretKeyRef, secret volumes, KEDA secretTargetRef) is in the documented list; envFrom.secretRef is refused (its keys cannot be checked)',
  check(context) {
    const findings: RuleFinding[] = [];
    const checkKey = (object: K8sObject, path: string, secret: unknown, key: unknown) => {
      const keys = typeof secret === 'string' ? context.secretKeys.get(secret) : undefined;
      if (!keys) {
        findings.push({
          object,
          path,
          message: `Secret ${JSON.stringify(secret)} is not in the documented list`,
        });
      } else if (key !== undefined && (typeof key !== 'string' || !keys.has(key))) {
        findings.push({
          object,
          path,
          message: `key ${JSON.stringify(key)} is not a documented key of Secret "${secret}" (documented: ${[...keys].join(', ')})`,
        });
      }
    };
    for (const { object, container, path } of containers(context)) {
      (Array.isArray(container.env) ? container.env : []).forEach(
        (env: Record<string, any>, index: number) => {
          const ref = env?.valueFrom?.secretKeyRef;
          if (isObject(ref)) {
            checkKey(object, `${path}.env[${index}].valueFrom.secretKeyRef`, ref.name, ref.key);
          }
        },
      );
      (Array.isArray(container.envFrom) ? container.envFrom : []).forEach(
        (source: Record<string, any>, index: number) => {
          if (isObject(source?.secretRef)) {
            findings.push({
              object,
              path: `${path}.envFrom[${index}].secretRef`,
              message:
                'envFrom.secretRef is refused: reference each documented key with env[].valueFrom.secretKeyRef',
            });
          }
        },
      );
    }
    for (const auth of [
      ...ofKind(context, 'TriggerAuthentication'),
      ...ofKind(context, 'ClusterTriggerAuthentication'),
    ]) {
      (Array.isArray(auth.spec?.secretTargetRef) ? auth.spec.secretTargetRef : []).forEach(
        (ref: Record<string, any>, index: number) => {
          checkKey(auth, `spec.secretTargetRef[${index}]`, ref?.name, ref?.key);
        },
      );
    }
    for (const pod of podTemplates(context)) {
      (Array.isArray(pod.spec.volumes) ? pod.spec.volumes : []).forEach(
        (volume: Record<string, any>, index: number) => {
          const sources: [Record<string, any>, string, unknown][] = [];
          if (isObject(volume?.secret)) {
            sources.push([volume.secret, `volumes[${index}].secret`, volume.secret.secretName]);
          }
          (Array.isArray(volume?.projected?.sources) ? volume.projected.sources : []).forEach(
            (source: Record<string, any>, sourceIndex: number) => {
              if (isObject(source?.secret)) {
                sources.push([
                  source.secret,
                  `volumes[${index}].projected.sources[${sourceIndex}].secret`,
                  source.secret.name,
                ]);
              }
            },
          );
          for (const [secret, path, name] of sources) {
            const items = Array.isArray(secret.items) ? secret.items : [];
            if (items.length === 0) checkKey(pod.object, `${pod.path}.${path}`, name, undefined);
            items.forEach((item: Record<string, any>, itemIndex: number) => {
              checkKey(pod.object, `${pod.path}.${path}.items[${itemIndex}]`, name, item?.key);
            });
          }
        },
      );
    }
    return findings;
  },
};

/** Secrets are referenced, never inlined: the render holds no Secret object. */
export const noInlineSecret: Rule = {
  name: 'no-inline-secret',
  description:
    'the render holds no Secret: Secrets are created outside the manifests and only referenced',
  check(context) {
    return ofKind(context, 'Secret').map((secret) => ({
      object: secret,
      path: secret.stringData !== undefined ? 'stringData' : 'data',
      message:
        'a Secret inlined in the manifests: create it outside them (see secret-keys.yaml) and reference its keys',
    }));
  },
};

/** Every ConfigMap a pod references exists in the render (and has the key referenced). */
export const configMapExists: Rule = {
  name: 'configmap-exists',
  description: 'every ConfigMap referenced (env, envFrom, volumes) exists in the render',
  check(context) {
    const findings: RuleFinding[] = [];
    const configMaps = new Map<string, K8sObject>();
    for (const configMap of ofKind(context, 'ConfigMap')) {
      configMaps.set(`${namespaceOf(configMap)}/${nameOf(configMap)}`, configMap);
    }
    const check = (object: K8sObject, path: string, name: unknown, key?: unknown) => {
      const configMap = configMaps.get(`${namespaceOf(object)}/${String(name)}`);
      if (!configMap) {
        findings.push({
          object,
          path,
          message: `ConfigMap ${JSON.stringify(name)} does not exist in the render`,
        });
      } else if (
        key !== undefined &&
        !(
          typeof key === 'string' &&
          (Object.hasOwn(configMap.data ?? {}, key) ||
            Object.hasOwn(configMap.binaryData ?? {}, key))
        )
      ) {
        findings.push({
          object,
          path,
          message: `ConfigMap "${String(name)}" has no key ${JSON.stringify(key)}`,
        });
      }
    };
    for (const { object, container, path } of containers(context)) {
      (Array.isArray(container.env) ? container.env : []).forEach(
        (env: Record<string, any>, index: number) => {
          const ref = env?.valueFrom?.configMapKeyRef;
          if (isObject(ref)) {
            check(object, `${path}.env[${index}].valueFrom.configMapKeyRef`, ref.name, ref.key);
          }
        },
      );
      (Array.isArray(container.envFrom) ? container.envFrom : []).forEach(
        (source: Record<string, any>, index: number) => {
          if (isObject(source?.configMapRef)) {
            check(object, `${path}.envFrom[${index}].configMapRef`, source.configMapRef.name);
          }
        },
      );
    }
    for (const pod of podTemplates(context)) {
      (Array.isArray(pod.spec.volumes) ? pod.spec.volumes : []).forEach(
        (volume: Record<string, any>, index: number) => {
          if (isObject(volume?.configMap)) {
            check(pod.object, `${pod.path}.volumes[${index}].configMap`, volume.configMap.name);
          }
          (Array.isArray(volume?.projected?.sources) ? volume.projected.sources : []).forEach(
            (source: Record<string, any>, sourceIndex: number) => {
              if (isObject(source?.configMap)) {
                check(
                  pod.object,
                  `${pod.path}.volumes[${index}].projected.sources[${sourceIndex}].configMap`,
                  source.configMap.name,
                );
              }
            },
          );
        },
      );
    }
    return findings;
  },
};

/** NetworkPolicies exist, and every workload's pods are selected by at least one. */
export const networkPolicy: Rule = {
  name: 'network-policy',
  description:
    'the render has NetworkPolicies, and every workload’s pods are selected by at least one',
  check(context) {
    const policies = ofKind(context, 'NetworkPolicy');
    if (policies.length === 0) {
      return [{ path: '', message: 'no NetworkPolicy in the render' }];
    }
    const findings: RuleFinding[] = [];
    for (const pod of podTemplates(context)) {
      const covered = policies.some(
        (policy) =>
          namespaceOf(policy) === namespaceOf(pod.object) &&
          isObject(policy.spec?.podSelector) &&
          (selectorIsEmpty(policy.spec.podSelector) ||
            selects(policy.spec.podSelector, pod.labels)),
      );
      if (!covered) {
        findings.push({
          object: pod.object,
          path: `${pod.path.replace(/\.spec$/, '')}.metadata.labels`,
          message: 'no NetworkPolicy selects these pods',
        });
      }
    }
    return findings;
  },
};

/** HorizontalPodAutoscalers and KEDA ScaledObjects scale a Deployment of the render. */
export const scaleTarget: Rule = {
  name: 'scale-target',
  description: 'every HorizontalPodAutoscaler and ScaledObject targets an existing Deployment',
  check(context) {
    const findings: RuleFinding[] = [];
    for (const scaler of [
      ...ofKind(context, 'HorizontalPodAutoscaler'),
      ...ofKind(context, 'ScaledObject'),
    ]) {
      const ref = scaler.spec?.scaleTargetRef;
      const kind = ref?.kind ?? (scaler.kind === 'ScaledObject' ? 'Deployment' : undefined);
      const exists =
        kind === 'Deployment' &&
        ofKind(context, 'Deployment').some(
          (deployment) =>
            nameOf(deployment) === ref?.name && namespaceOf(deployment) === namespaceOf(scaler),
        );
      if (!exists) {
        findings.push({
          object: scaler,
          path: 'spec.scaleTargetRef',
          message: `targets ${String(kind)} ${JSON.stringify(ref?.name)}, which is not a Deployment of the render`,
        });
      }
    }
    return findings;
  },
};

/** No Deployment is scaled by two autoscalers (an HPA and a KEDA ScaledObject would fight). */
export const singleAutoscaler: Rule = {
  name: 'single-autoscaler',
  description:
    'no Deployment is the target of more than one HorizontalPodAutoscaler or ScaledObject',
  check(context) {
    const findings: RuleFinding[] = [];
    const seen = new Map<string, K8sObject>();
    for (const scaler of [
      ...ofKind(context, 'HorizontalPodAutoscaler'),
      ...ofKind(context, 'ScaledObject'),
    ]) {
      const ref = scaler.spec?.scaleTargetRef;
      const key = `${namespaceOf(scaler)}/${ref?.kind ?? 'Deployment'}/${String(ref?.name)}`;
      const first = seen.get(key);
      if (first) {
        findings.push({
          object: scaler,
          path: 'spec.scaleTargetRef',
          message: `${ref?.kind ?? 'Deployment'} "${String(ref?.name)}" is already scaled by ${first.kind} "${nameOf(first)}"`,
        });
      } else seen.set(key, scaler);
    }
    return findings;
  },
};

/**
 * kiban roles that take BullMQ jobs, found by a container's leading arguments, with the flags
 * naming their queue and the CLI's defaults for them (shared with the submitting side).
 * Only the stage worker for now: its submitter and the KEDA trigger must agree with it on a
 * queue that nothing else in the manifests names.
 */
const QUEUE_ROLES = [
  {
    command: ['stage', 'bullmq-worker'],
    queueFlag: '--stage-queue',
    prefixFlag: '--queue-prefix',
    queue: DEFAULT_STAGE_QUEUE,
    prefix: DEFAULT_STAGE_PREFIX,
  },
] as const;

/** KEDA scalers that read a Redis list's length (`listName`). */
const REDIS_LIST_SCALERS = new Set(['redis', 'redis-cluster', 'redis-sentinel']);

/** The value of `--flag VALUE` or `--flag=VALUE` in a container's arguments. */
function flagValue(args: readonly unknown[], flag: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === flag) return typeof args[i + 1] === 'string' ? (args[i + 1] as string) : undefined;
    if (typeof arg === 'string' && arg.startsWith(`${flag}=`)) return arg.slice(flag.length + 1);
  }
  return undefined;
}

/** `<prefix>:<queue>` of each BullMQ queue a workload's containers take jobs from. */
function consumedQueues(context: RuleContext, workload: K8sObject): string[] {
  const queues: string[] = [];
  for (const { object, container, init } of containers(context)) {
    if (object !== workload || init) continue;
    const args: unknown[] = Array.isArray(container.args) ? container.args : [];
    for (const role of QUEUE_ROLES) {
      if (!role.command.every((word, index) => args[index] === word)) continue;
      const prefix = flagValue(args, role.prefixFlag) ?? role.prefix;
      const queue = flagValue(args, role.queueFlag) ?? role.queue;
      queues.push(`${prefix}:${queue}`);
    }
  }
  return queues;
}

/** KEDA Redis triggers of a queue worker read that worker's own queue. */
export const scaledQueue: Rule = {
  name: 'scaled-queue',
  description:
    'every KEDA Redis trigger scaling a kiban stage bullmq-worker Deployment reads the wait or active list of the queue it takes jobs from',
  check(context) {
    const findings: RuleFinding[] = [];
    for (const scaler of ofKind(context, 'ScaledObject')) {
      const ref = scaler.spec?.scaleTargetRef;
      if ((ref?.kind ?? 'Deployment') !== 'Deployment') continue;
      const deployment = ofKind(context, 'Deployment').find(
        (candidate) =>
          nameOf(candidate) === ref?.name && namespaceOf(candidate) === namespaceOf(scaler),
      );
      // A missing target is scale-target's finding.
      if (!deployment) continue;
      const queues = consumedQueues(context, deployment);
      if (queues.length === 0) continue;
      const lists = queues.flatMap((queue) => [`${queue}:wait`, `${queue}:active`]);
      (Array.isArray(scaler.spec?.triggers) ? scaler.spec.triggers : []).forEach(
        (trigger: Record<string, any>, index: number) => {
          if (!REDIS_LIST_SCALERS.has(trigger?.type)) return;
          const listName = trigger.metadata?.listName;
          if (!lists.includes(listName)) {
            findings.push({
              object: scaler,
              path: `spec.triggers[${index}].metadata.listName`,
              message: `reads ${JSON.stringify(listName)}, but Deployment "${ref.name}" takes jobs from ${queues.join(', ')}: expected one of ${lists.join(', ')}`,
            });
          }
        },
      );
    }
    return findings;
  },
};

/** PodDisruptionBudgets have a non-empty selector that matches some Deployment's pods. */
export const pdbSelector: Rule = {
  name: 'pdb-selector',
  description: 'every PodDisruptionBudget has a non-empty selector matching some Deployment’s pods',
  check(context) {
    const findings: RuleFinding[] = [];
    for (const pdb of ofKind(context, 'PodDisruptionBudget')) {
      const selector = pdb.spec?.selector;
      if (selectorIsEmpty(selector)) {
        findings.push({ object: pdb, path: 'spec.selector', message: 'empty selector' });
      } else if (
        !deploymentTemplates(context, namespaceOf(pdb)).some((pod) => selects(selector, pod.labels))
      ) {
        findings.push({
          object: pdb,
          path: 'spec.selector',
          message: 'selector matches no Deployment’s pods',
        });
      }
    }
    return findings;
  },
};

/** Objects have a name, and no two objects share group, kind, namespace and name. */
export const uniqueName: Rule = {
  name: 'unique-name',
  description: 'every object has metadata.name, unique per apiVersion group, kind and namespace',
  check(context) {
    const findings: RuleFinding[] = [];
    const seen = new Set<string>();
    for (const object of context.objects) {
      const name = nameOf(object);
      if (!name) {
        findings.push({ object, path: 'metadata.name', message: 'missing name' });
        continue;
      }
      const group = String(object.apiVersion ?? '')
        .split('/')
        .slice(0, -1)
        .join('/');
      const key = `${group}/${object.kind}/${namespaceOf(object)}/${name}`;
      if (seen.has(key)) {
        findings.push({
          object,
          path: 'metadata.name',
          message: `duplicate ${object.kind} "${name}" in namespace "${namespaceOf(object)}"`,
        });
      }
      seen.add(key);
    }
    return findings;
  },
};

/** kiban's rules, in report order. */
export const RULES: readonly Rule[] = [
  resources,
  probes,
  runAsNonRoot,
  noPrivilegeEscalation,
  readOnlyRootFilesystem,
  imageTag,
  portRange,
  workloadSelector,
  serviceSelector,
  declaredPort,
  secretKeys,
  noInlineSecret,
  configMapExists,
  networkPolicy,
  scaleTarget,
  singleAutoscaler,
  scaledQueue,
  pdbSelector,
  uniqueName,
];
