/**
 * Offline validation of the Kubernetes manifests (issue 21, deliverable 3): every overlay of
 * deploy/k8s (and of the small fixture tree test/fixtures/k8s) renders with `kubectl kustomize`
 * and validates with no problem; then distinct seeded defects, each applied to a copy of a
 * rendered overlay (one through a real kustomize patch in a temporary overlay), are each caught
 * by the expected rule at the expected path. Needs kubectl: without it the suite is skipped on
 * a workstation and fails in CI (CI=true).
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type K8sObject, parseManifests, renderKustomization } from '../deploy/validate/render.js';
import type { SecretKeys } from '../deploy/validate/rules.js';
import { checkSchema } from '../deploy/validate/schema.js';
import { main } from '../deploy/validate/validate-manifests.js';
import {
  formatProblem,
  loadSecretKeys,
  type Problem,
  validateObjects,
  validateOverlays,
} from '../deploy/validate/validate.js';

const REPO = resolve(import.meta.dirname, '..');
const FIXTURES = join(REPO, 'test/fixtures/k8s');
const DEPLOY = join(REPO, 'deploy/k8s');
const IN_CI = process.env.CI === 'true';
const HAS_KUBECTL = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;

/** In CI a missing kubectl must fail: the suites then run and fail on KubectlMissingError. */
const runSuites = HAS_KUBECTL || IN_CI;

const tempDirs: string[] = [];
afterAll(async () => {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!runSuites)('kubectl is available', () => {
  it('kubectl runs (CI must install it: see .ci/run)', () => {
    expect(HAS_KUBECTL, 'kubectl is required: install it (apt-get install kubectl)').toBe(true);
  });
});

const trees: [string, string, string[]][] = [
  ['test/fixtures/k8s', FIXTURES, ['dev', 'prod']],
  ['deploy/k8s', DEPLOY, ['dev', 'prod', 'staging']],
];

interface Target {
  kind: string;
  name: string;
  path: string;
}

/** A seeded defect: mutates a copy of the render; returns where the problem must be reported. */
interface Defect {
  title: string;
  rule: string;
  /** The trees it applies to (default: every tree): some defects need objects only deploy/k8s has. */
  trees?: readonly string[];
  /** Returns the expected target, or undefined when the render lacks what the defect needs. */
  apply(objects: K8sObject[]): Target | undefined;
}

function byKind(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((object) => object.kind === kind);
}

function labelsMatch(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

/** The Deployment a Service selects (the serve role) and that Service. */
function servedDeployment(objects: K8sObject[]): { service: K8sObject; deployment: K8sObject } {
  for (const service of byKind(objects, 'Service')) {
    const deployment = byKind(objects, 'Deployment').find((candidate) =>
      labelsMatch(service.spec.selector ?? {}, candidate.spec.template.metadata.labels),
    );
    if (deployment) return { service, deployment };
  }
  throw new Error('the render has no Service selecting a Deployment');
}

/** The Deployment running `kiban stage bullmq-worker`, or undefined when the render has none. */
function stageWorker(objects: K8sObject[]): K8sObject | undefined {
  return byKind(objects, 'Deployment').find((deployment) => {
    const args: unknown[] = deployment.spec.template.spec.containers[0]?.args ?? [];
    return args[0] === 'stage' && args[1] === 'bullmq-worker';
  });
}

/** The KEDA ScaledObject scaling the stage worker, or undefined when the render has none. */
function stageWorkerScaler(objects: K8sObject[]): K8sObject | undefined {
  const deployment = stageWorker(objects);
  return byKind(objects, 'ScaledObject').find(
    (scaled) => scaled.spec.scaleTargetRef.name === deployment?.metadata.name,
  );
}

function container(deployment: K8sObject, index = 0): Record<string, any> {
  return deployment.spec.template.spec.containers[index];
}

const C0 = 'spec.template.spec.containers[0]';

function target(object: K8sObject, path: string): Target {
  return { kind: object.kind, name: object.metadata.name, path };
}

const DEFECTS: Defect[] = [
  {
    title: 'a typo’d field (imagePullPolicyy)',
    rule: 'unknown-field',
    apply(objects) {
      const { deployment } = servedDeployment(objects);
      container(deployment).imagePullPolicyy = 'IfNotPresent';
      return target(deployment, `${C0}.imagePullPolicyy`);
    },
  },
  {
    title: 'a typo’d field in a KEDA ScaledObject (pollingIntervall)',
    rule: 'unknown-field',
    apply(objects) {
      const scaled = byKind(objects, 'ScaledObject')[0];
      if (!scaled) return undefined;
      scaled.spec.pollingIntervall = 30;
      return target(scaled, 'spec.pollingIntervall');
    },
  },
  {
    title: 'a missing readiness probe',
    rule: 'probes',
    apply(objects) {
      const { deployment } = servedDeployment(objects);
      delete container(deployment).readinessProbe;
      return target(deployment, `${C0}.readinessProbe`);
    },
  },
  {
    title: 'a missing memory limit',
    rule: 'resources',
    apply(objects) {
      const { deployment } = servedDeployment(objects);
      delete container(deployment).resources.limits.memory;
      return target(deployment, `${C0}.resources.limits.memory`);
    },
  },
  {
    title: 'a Service targetPort that no container declares',
    rule: 'declared-port',
    apply(objects) {
      const { service } = servedDeployment(objects);
      service.spec.ports[0].targetPort = 'no-such-port';
      return target(service, 'spec.ports[0].targetPort');
    },
  },
  {
    title: 'a liveness probe on an undeclared port',
    rule: 'declared-port',
    apply(objects) {
      const { deployment } = servedDeployment(objects);
      container(deployment).livenessProbe = { httpGet: { path: '/healthz', port: 'no-such-port' } };
      return target(deployment, `${C0}.livenessProbe.httpGet.port`);
    },
  },
  {
    title: 'a Service selector that matches no Deployment',
    rule: 'service-selector',
    apply(objects) {
      const { service } = servedDeployment(objects);
      service.spec.selector = { 'app.kubernetes.io/name': 'nobody' };
      return target(service, 'spec.selector');
    },
  },
  {
    title: 'the latest tag',
    rule: 'image-tag',
    apply(objects) {
      const { deployment } = servedDeployment(objects);
      const image: string = container(deployment).image;
      container(deployment).image = `${image.replace(/[:@].*$/, '')}:latest`;
      return target(deployment, `${C0}.image`);
    },
  },
  {
    title: 'an untagged image',
    rule: 'image-tag',
    apply(objects) {
      const { deployment } = servedDeployment(objects);
      container(deployment).image = 'registry.example.com:5000/kiban';
      return target(deployment, `${C0}.image`);
    },
  },
  {
    title: 'runAsNonRoot: false',
    rule: 'run-as-non-root',
    apply(objects) {
      const { deployment } = servedDeployment(objects);
      container(deployment).securityContext = {
        ...container(deployment).securityContext,
        runAsNonRoot: false,
      };
      return target(deployment, `${C0}.securityContext.runAsNonRoot`);
    },
  },
  {
    title: 'privilege escalation allowed',
    rule: 'no-privilege-escalation',
    apply(objects) {
      const { deployment } = servedDeployment(objects);
      container(deployment).securityContext.allowPrivilegeEscalation = true;
      return target(deployment, `${C0}.securityContext.allowPrivilegeEscalation`);
    },
  },
  {
    title: 'a writable root filesystem',
    rule: 'read-only-root-fs',
    apply(objects) {
      const { deployment } = servedDeployment(objects);
      delete container(deployment).securityContext.readOnlyRootFilesystem;
      return target(deployment, `${C0}.securityContext.readOnlyRootFilesystem`);
    },
  },
  {
    title: 'an undocumented Secret key',
    rule: 'secret-keys',
    apply(objects) {
      for (const deployment of byKind(objects, 'Deployment')) {
        const containers: Record<string, any>[] = deployment.spec.template.spec.containers;
        for (const [c, entry] of containers.entries()) {
          const index = (entry.env ?? []).findIndex((env: any) => env.valueFrom?.secretKeyRef);
          if (index >= 0) {
            entry.env[index].valueFrom.secretKeyRef.key = 'UNDOCUMENTED_KEY';
            return target(
              deployment,
              `spec.template.spec.containers[${c}].env[${index}].valueFrom.secretKeyRef`,
            );
          }
        }
      }
      return undefined;
    },
  },
  {
    title: 'an undocumented Secret key in a KEDA TriggerAuthentication',
    rule: 'secret-keys',
    apply(objects) {
      const auth = byKind(objects, 'TriggerAuthentication').find(
        (candidate) => candidate.spec?.secretTargetRef?.length > 0,
      );
      if (!auth) return undefined;
      auth.spec.secretTargetRef[0].key = 'UNDOCUMENTED_KEY';
      return target(auth, 'spec.secretTargetRef[0]');
    },
  },
  {
    title: 'envFrom a whole Secret (its keys cannot be checked)',
    rule: 'secret-keys',
    apply(objects) {
      const { deployment } = servedDeployment(objects);
      const envFrom = (container(deployment).envFrom ??= []);
      envFrom.push({ secretRef: { name: 'kiban-everything' } });
      return target(deployment, `${C0}.envFrom[${envFrom.length - 1}].secretRef`);
    },
  },
  {
    title: 'a Secret inlined in the manifests',
    rule: 'no-inline-secret',
    apply(objects) {
      const { deployment } = servedDeployment(objects);
      const secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'kiban-inline', namespace: deployment.metadata.namespace },
        stringData: { METADATA_URL: 'postgres://kiban:hunter2@db/kiban' },
      };
      objects.push(secret);
      return target(secret, 'stringData');
    },
  },
  {
    title: 'a reference to a ConfigMap missing from the render',
    rule: 'configmap-exists',
    apply(objects) {
      const { deployment } = servedDeployment(objects);
      const env = (container(deployment).env ??= []);
      env.push({
        name: 'KIBAN_MISSING',
        valueFrom: { configMapKeyRef: { name: 'kiban-missing', key: 'x' } },
      });
      return target(deployment, `${C0}.env[${env.length - 1}].valueFrom.configMapKeyRef`);
    },
  },
  {
    title: 'an HPA targeting a missing Deployment',
    rule: 'scale-target',
    apply(objects) {
      const hpa = byKind(objects, 'HorizontalPodAutoscaler')[0];
      if (!hpa) return undefined;
      hpa.spec.scaleTargetRef.name = 'kiban-ghost';
      return target(hpa, 'spec.scaleTargetRef');
    },
  },
  {
    title: 'a KEDA ScaledObject targeting a missing Deployment',
    rule: 'scale-target',
    apply(objects) {
      const scaled = byKind(objects, 'ScaledObject')[0];
      if (!scaled) return undefined;
      scaled.spec.scaleTargetRef.name = 'kiban-ghost';
      return target(scaled, 'spec.scaleTargetRef');
    },
  },
  {
    title: 'a Deployment scaled by both an HPA and a KEDA ScaledObject',
    rule: 'single-autoscaler',
    apply(objects) {
      const scaled = byKind(objects, 'ScaledObject')[0];
      if (!scaled) return undefined;
      const hpa = {
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: { name: 'kiban-second-autoscaler', namespace: scaled.metadata.namespace },
        spec: {
          scaleTargetRef: {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: scaled.spec.scaleTargetRef.name,
          },
          minReplicas: 1,
          maxReplicas: 3,
        },
      };
      objects.push(hpa);
      // HPAs are read first: the ScaledObject is the second autoscaler of its Deployment.
      return target(scaled, 'spec.scaleTargetRef');
    },
  },
  {
    title: 'a wrong apiVersion (policy/v1beta3 PodDisruptionBudget)',
    rule: 'known-kind',
    apply(objects) {
      const pdb = byKind(objects, 'PodDisruptionBudget')[0];
      if (!pdb) return undefined;
      pdb.apiVersion = 'policy/v1beta3';
      return target(pdb, 'apiVersion');
    },
  },
  {
    title: 'a wrong type (replicas as a string)',
    rule: 'schema',
    apply(objects) {
      const { deployment } = servedDeployment(objects);
      deployment.spec.replicas = '3';
      return target(deployment, 'spec.replicas');
    },
  },
  {
    title: 'a required field missing (container name)',
    rule: 'schema',
    apply(objects) {
      const { deployment } = servedDeployment(objects);
      delete container(deployment).name;
      return target(deployment, `${C0}.name`);
    },
  },
  {
    title: 'an empty Deployment selector',
    rule: 'workload-selector',
    apply(objects) {
      const { deployment } = servedDeployment(objects);
      deployment.spec.selector = { matchLabels: {} };
      return target(deployment, 'spec.selector');
    },
  },
  {
    title: 'a PodDisruptionBudget selector matching nothing',
    rule: 'pdb-selector',
    apply(objects) {
      const pdb = byKind(objects, 'PodDisruptionBudget')[0];
      if (!pdb) return undefined;
      pdb.spec.selector = { matchLabels: { 'app.kubernetes.io/name': 'nobody' } };
      return target(pdb, 'spec.selector');
    },
  },
  {
    title: 'a duplicate object name',
    rule: 'unique-name',
    apply(objects) {
      const { service } = servedDeployment(objects);
      objects.push(structuredClone(service));
      return target(service, 'metadata.name');
    },
  },
  {
    title: 'a container port out of range',
    rule: 'port-range',
    apply(objects) {
      const { deployment } = servedDeployment(objects);
      const ports = (container(deployment).ports ??= []);
      ports.push({ name: 'debug', containerPort: 70000 });
      return target(deployment, `${C0}.ports[${ports.length - 1}].containerPort`);
    },
  },
  {
    title: 'every NetworkPolicy removed',
    rule: 'network-policy',
    apply(objects) {
      const kept = objects.filter((object) => object.kind !== 'NetworkPolicy');
      objects.splice(0, objects.length, ...kept);
      return { kind: '*', name: '*', path: '' };
    },
  },
  {
    title: 'the NetworkPolicy covering the worker pods removed',
    rule: 'network-policy',
    apply(objects) {
      const { deployment: serve } = servedDeployment(objects);
      const worker = byKind(objects, 'Deployment').find((candidate) => candidate !== serve);
      if (!worker) return undefined;
      const labels = worker.spec.template.metadata.labels;
      const kept = objects.filter(
        (object) =>
          object.kind !== 'NetworkPolicy' ||
          (Object.keys(object.spec.podSelector?.matchLabels ?? {}).length > 0 &&
            !labelsMatch(object.spec.podSelector.matchLabels, labels)),
      );
      objects.splice(0, objects.length, ...kept);
      return target(worker, 'spec.template.metadata.labels');
    },
  },
  {
    title: 'the stage-worker ScaledObject reading the task queue’s wait list',
    rule: 'scaled-queue',
    trees: ['deploy/k8s'],
    apply(objects) {
      const scaled = stageWorkerScaler(objects);
      if (!scaled) return undefined;
      scaled.spec.triggers[0].metadata.listName = 'bull:kiban-tasks:wait';
      return target(scaled, 'spec.triggers[0].metadata.listName');
    },
  },
  {
    title: 'stage workers taking jobs from a queue their ScaledObject does not read',
    rule: 'scaled-queue',
    trees: ['deploy/k8s'],
    apply(objects) {
      const scaled = stageWorkerScaler(objects);
      const deployment = stageWorker(objects);
      if (!scaled || !deployment) return undefined;
      container(deployment).args.push('--stage-queue', 'kiban-stages-gpu');
      return target(scaled, 'spec.triggers[0].metadata.listName');
    },
  },
  {
    title: 'the stage-worker ScaledObject targeting a misspelled Deployment',
    rule: 'scale-target',
    trees: ['deploy/k8s'],
    apply(objects) {
      const scaled = stageWorkerScaler(objects);
      if (!scaled) return undefined;
      scaled.spec.scaleTargetRef.name = 'kiban-stage-workers';
      return target(scaled, 'spec.scaleTargetRef');
    },
  },
  {
    title: 'the stage-worker pods left out of every NetworkPolicy',
    rule: 'network-policy',
    trees: ['deploy/k8s'],
    apply(objects) {
      const deployment = stageWorker(objects);
      if (!deployment) return undefined;
      // The default deny selects every pod: narrow it to the other roles' pods.
      const deny = byKind(objects, 'NetworkPolicy').find(
        (policy) => Object.keys(policy.spec.podSelector?.matchLabels ?? {}).length === 0,
      );
      if (!deny) return undefined;
      deny.spec.podSelector = {
        matchExpressions: [
          { key: 'app.kubernetes.io/component', operator: 'NotIn', values: ['stage-worker'] },
        ],
      };
      return target(deployment, 'spec.template.metadata.labels');
    },
  },
];

for (const [label, root, expectedOverlays] of trees) {
  describe.skipIf(!runSuites)(`manifests of ${label}`, () => {
    let renders: Awaited<ReturnType<typeof validateOverlays>>;
    let secretKeys: SecretKeys;

    beforeAll(async () => {
      renders = await validateOverlays({ root });
      secretKeys = await loadSecretKeys(join(root, 'secret-keys.yaml'));
    });

    it('renders every overlay and finds no problem', () => {
      expect(renders.map((render) => render.overlay)).toEqual(expectedOverlays);
      for (const render of renders) {
        expect(render.objects.length, render.overlay).toBeGreaterThan(5);
        expect(render.problems.map(formatProblem), render.overlay).toEqual([]);
      }
    });

    /** The richest render first: prod (autoscalers, PDB, KEDA), then staging, then dev. */
    const PREFERENCE = ['prod', 'staging', 'dev'];
    const richestFirst = () =>
      [...renders].sort((a, b) => PREFERENCE.indexOf(a.overlay) - PREFERENCE.indexOf(b.overlay));
    const prod = () => renders.find((render) => render.overlay === 'prod')!;

    /** Applies a defect to the first render that has what it needs; returns the new problems. */
    async function seeded(
      defect: Defect,
    ): Promise<{ overlay: string; expected: Target; added: Problem[] }> {
      for (const render of richestFirst()) {
        const objects: K8sObject[] = structuredClone(render.objects);
        const expected = defect.apply(objects);
        if (!expected) continue;
        const baseline = new Set(render.problems.map(formatProblem));
        const problems = await validateObjects(objects, { overlay: render.overlay, secretKeys });
        return {
          overlay: render.overlay,
          expected,
          added: problems.filter((problem) => !baseline.has(formatProblem(problem))),
        };
      }
      throw new Error(`no overlay of ${label} has what "${defect.title}" needs`);
    }

    it('seeds at least 20 distinct defects', () => {
      expect(new Set(DEFECTS.map((defect) => defect.title)).size).toBeGreaterThanOrEqual(20);
    });

    it.each(
      DEFECTS.filter((defect) => defect.trees?.includes(label) ?? true).map(
        (defect) => [defect.title, defect] as const,
      ),
    )('catches %s', async (_title, defect) => {
      const { overlay, expected, added } = await seeded(defect);
      const report = added.map(formatProblem).join('\n');
      expect(added.length, report).toBeGreaterThan(0);
      // The defect maps to its one rule, at the expected object and path.
      expect(new Set(added.map((problem) => problem.rule)), report).toEqual(new Set([defect.rule]));
      expect(added, report).toContainEqual(
        expect.objectContaining({ overlay, rule: defect.rule, ...expected }),
      );
    });

    it('catches the latest tag set by a kustomize patch in a temporary overlay', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'kiban-k8s-'));
      tempDirs.push(dir);
      const overlay = join(dir, 'overlays', 'latest');
      const { deployment } = servedDeployment(structuredClone(prod().objects));
      const image = container(deployment).image.replace(/[:@][^/]*$/, '');
      await mkdir(overlay, { recursive: true });
      await writeFile(
        join(overlay, 'kustomization.yaml'),
        [
          'apiVersion: kustomize.config.k8s.io/v1beta1',
          'kind: Kustomization',
          'resources:',
          `  - ${relative(overlay, join(root, 'overlays', 'prod'))}`,
          'images:',
          `  - name: ${image}`,
          '    newTag: latest',
          '',
        ].join('\n'),
      );
      const [result] = await validateOverlays({
        root: dir,
        secretKeysFile: join(root, 'secret-keys.yaml'),
      });
      const report = result!.problems.map(formatProblem).join('\n');
      expect(result!.problems.length, report).toBeGreaterThan(0);
      expect(new Set(result!.problems.map((problem) => problem.rule)), report).toEqual(
        new Set(['image-tag']),
      );
      expect(result!.problems, report).toContainEqual(
        expect.objectContaining({
          overlay: 'latest',
          kind: 'Deployment',
          name: deployment.metadata.name,
          path: `${C0}.image`,
        }),
      );
    });
  });
}

describe.skipIf(!runSuites)('stage workers in deploy/k8s', () => {
  it('run kiban stage bullmq-worker in every overlay as the task workers run, with fixed replicas in dev and staging and KEDA on the stage queue in prod', async () => {
    for (const overlay of ['dev', 'staging', 'prod']) {
      const objects = parseManifests(await renderKustomization(join(DEPLOY, 'overlays', overlay)));
      const deployment = stageWorker(objects);
      expect(deployment, `${overlay}: a stage-worker Deployment`).toBeDefined();
      const worker = byKind(objects, 'Deployment').find(
        (candidate) => container(candidate).args?.[0] === 'worker',
      )!;
      const stage = container(deployment!);
      // The same security context and probes as the task workers.
      expect(deployment!.spec.template.spec.securityContext).toEqual(
        worker.spec.template.spec.securityContext,
      );
      for (const field of ['securityContext', 'readinessProbe', 'livenessProbe'])
        expect(stage[field], `${overlay}: ${field}`).toEqual(container(worker)[field]);
      // Its Redis and artifact store come from the environment (the variables --redis and
      // --artifacts default to), never from arguments, where a password would show in `ps`.
      expect(stage.args).not.toContain('--redis');
      expect(stage.args).not.toContain('--artifacts');
      expect(stage.env).toContainEqual({
        name: 'KIBAN_REDIS_URL',
        valueFrom: { secretKeyRef: { name: 'kiban-redis', key: 'QUEUE_URL' } },
      });
      const envMap = byKind(objects, 'ConfigMap').find(
        (map) => map.metadata.name === stage.envFrom?.[0]?.configMapRef?.name,
      );
      expect(envMap?.data?.KIBAN_STORES_ARTIFACTS, overlay).toMatch(/^s3:\/\//);
      // It takes no inbound traffic: the only NetworkPolicy allowing ingress is serve's.
      const labels = deployment!.spec.template.metadata.labels;
      for (const policy of byKind(objects, 'NetworkPolicy')) {
        const selector = policy.spec.podSelector?.matchLabels ?? {};
        if (Object.keys(selector).length > 0 && labelsMatch(selector, labels))
          expect(policy.spec.ingress ?? [], policy.metadata.name).toEqual([]);
      }
      const scaled = stageWorkerScaler(objects);
      if (overlay === 'prod') {
        expect(deployment!.spec.replicas, 'KEDA owns the count').toBeUndefined();
        expect(scaled?.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
        expect(scaled?.spec.triggers.map((t: any) => t.metadata.listName)).toEqual([
          'kiban:kiban-stages:wait',
          'kiban:kiban-stages:active',
        ]);
      } else {
        expect(scaled, overlay).toBeUndefined();
        expect(deployment!.spec.replicas, overlay).toBe(overlay === 'dev' ? 1 : 2);
      }
    }
  });
});

describe('strict unknown-field check', () => {
  it('finds unknown fields at any depth, and accepts maps and free-form values', async () => {
    const findings = await checkSchema({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x', labels: { any: 'label' }, annotations: { 'a/b': 'c' } },
      spec: {
        selector: { matchLabels: { any: 'label' } },
        template: {
          metadata: { labels: { any: 'label' } },
          spec: {
            containers: [
              {
                name: 'c',
                image: 'i:1',
                resources: { limits: { cpu: '1', 'example.com/gpu': 1 } },
                securityContext: { capabilities: { dropp: ['ALL'] } },
              },
            ],
            nodeSelectr: { zone: 'a' },
          },
        },
      },
      statuss: {},
    });
    expect(findings.map((finding) => `${finding.rule} ${finding.path}`).sort()).toEqual([
      'unknown-field spec.template.spec.containers[0].securityContext.capabilities.dropp',
      'unknown-field spec.template.spec.nodeSelectr',
      'unknown-field statuss',
    ]);
    const keda = await checkSchema({
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: 'w' },
      spec: {
        scaleTargetRef: { name: 'w' },
        triggers: [{ type: 'redis', metadata: { anything: 'goes', listLength: '5' } }],
      },
    });
    expect(keda).toEqual([]);
  });
});

describe.skipIf(!runSuites)('validate-manifests CLI', () => {
  async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(
      args,
      (line) => out.push(line),
      (line) => err.push(line),
    );
    return { code, out, err };
  }

  it('prints its usage on --help', async () => {
    const { code, out } = await cli(['--help']);
    expect(code).toBe(0);
    expect(out.join('\n')).toContain('--overlay NAME');
    for (const rule of ['unknown-field', 'secret-keys', 'network-policy']) {
      expect(out.join('\n')).toContain(`  ${rule} `);
    }
  });

  it('exits 0 on a valid tree and 1 with one line per problem on a broken overlay', async () => {
    const valid = await cli(['--root', FIXTURES, '--overlay', 'dev', 'prod']);
    expect(valid.code, valid.out.join('\n')).toBe(0);
    expect(valid.err.join('\n')).toMatch(/^valid: dev \(\d+ objects\), prod \(\d+ objects\)$/);

    const dir = await mkdtemp(join(tmpdir(), 'kiban-k8s-'));
    tempDirs.push(dir);
    const overlay = join(dir, 'overlays', 'broken');
    await mkdir(overlay, { recursive: true });
    await writeFile(
      join(overlay, 'kustomization.yaml'),
      [
        'resources:',
        `  - ${relative(overlay, join(FIXTURES, 'overlays', 'dev'))}`,
        'patches:',
        '  - target: { kind: Deployment, name: kiban-worker }',
        '    patch: |-',
        '      - op: add',
        '        path: /spec/template/spec/containers/0/imagePullPolicyy',
        '        value: Always',
        '',
      ].join('\n'),
    );
    const broken = await cli(['--root', dir, '--secret-keys', join(FIXTURES, 'secret-keys.yaml')]);
    expect(broken.code).toBe(1);
    expect(broken.out).toEqual([
      'broken/Deployment/kiban-worker: spec.template.spec.containers[0].imagePullPolicyy: unknown field "imagePullPolicyy": not in the apps/v1 Deployment schema [unknown-field]',
    ]);
  });

  it('reports an overlay that kustomize refuses as a render problem (exit 1)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-k8s-'));
    tempDirs.push(dir);
    const overlay = join(dir, 'overlays', 'refused');
    await mkdir(overlay, { recursive: true });
    await writeFile(join(overlay, 'kustomization.yaml'), 'resources:\n  - no-such-file.yaml\n');
    const { code, out } = await cli([
      '--root',
      dir,
      '--secret-keys',
      join(FIXTURES, 'secret-keys.yaml'),
    ]);
    expect(code).toBe(1);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(
      /^refused\/\*\/\*: \.: kubectl kustomize .*no-such-file\.yaml.* \[render\]$/s,
    );
  });

  it('fails clearly (exit 2) when the documented Secret keys file is missing', async () => {
    const { code, err } = await cli([
      '--root',
      FIXTURES,
      '--secret-keys',
      join(FIXTURES, 'nope.yaml'),
    ]);
    expect(code).toBe(2);
    expect(err.join('\n')).toContain('the documented Secret keys file');
  });

  it('fails clearly (exit 2) when kubectl cannot be started', async () => {
    const { code, err } = await cli([
      '--root',
      FIXTURES,
      '--kubectl',
      join(tmpdir(), 'no-such-dir', 'kubectl'),
    ]);
    expect(code).toBe(2);
    expect(err.join('\n')).toContain('kubectl is required');
  });

  it('refuses an unknown overlay', async () => {
    const { code, err } = await cli(['--root', FIXTURES, '--overlay', 'nope']);
    expect(code).toBe(2);
    expect(err.join('\n')).toContain('unknown overlay "nope"');
  });
});
