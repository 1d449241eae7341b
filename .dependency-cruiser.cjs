/**
 * The layering of src/ (../docs and ARCHITECTURE: dependencies point down: core, math ← data,
 * domain libraries ← pipeline ← serving ← app ← cli), checked by test/architecture.test.ts.
 * Type-only imports count too: a type from a higher layer is still a dependency on it.
 */
const DOMAIN =
  '^src/(core|math|data|models|evaluation|vectors|features|bandits|experiments|privacy|auth|stages|workflow|storage)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes the modules in it one module: split out what both sides need.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'domain-not-up',
      severity: 'error',
      comment:
        'Domain libraries know nothing of the batch pipeline, HTTP, the composition root or the CLI.',
      from: { path: DOMAIN },
      to: { path: '^src/(pipeline|serving|app|cli)/' },
    },
    {
      name: 'core-math-bottom',
      severity: 'error',
      comment: 'core/ and math/ depend on nothing else in src/.',
      from: { path: '^src/(core|math)/' },
      to: { path: '^src/', pathNot: '^src/(core|math)/' },
    },
    {
      name: 'pipeline-not-up',
      severity: 'error',
      comment: 'The pipeline steps know nothing of HTTP, the composition root or the CLI.',
      from: { path: '^src/pipeline/' },
      to: { path: '^src/(serving|app|cli)/' },
    },
    {
      name: 'serving-http-only',
      severity: 'error',
      comment:
        'Serving is HTTP: it is handed its services and never builds backends (app/) or reads flags (cli/).',
      from: { path: '^src/serving/' },
      to: { path: '^src/(app|cli)/' },
    },
    {
      name: 'app-not-cli',
      severity: 'error',
      comment: 'The composition root is used by the CLI, not the other way round.',
      from: { path: '^src/app/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'backends-from-app',
      severity: 'error',
      comment:
        'Only the composition root (app/, and cli/ above it) chooses and builds storage backends: libraries take a seam (ServingStore, ArtifactStore…) or an injected opener. serving/api-document.ts builds an empty memory store to generate the OpenAPI document, serving nothing.',
      from: {
        path: '^src/',
        pathNot: '^src/(app|cli|storage)/|^src/serving/api-document\\.ts$',
      },
      to: {
        path: '^src/storage/(memory|sqlite|redis|kysely)-[^/]+$|^src/storage/artifacts/(file|s3)-artifact-store\\.ts$',
      },
    },
    {
      name: 'client-standalone',
      severity: 'error',
      comment:
        'The HTTP client is for other services and notebooks: it carries nothing of the server.',
      from: { path: '^src/client/' },
      to: { path: '^src/', pathNot: '^src/(core|client)/' },
    },
    {
      name: 'no-tests-in-src-runtime',
      severity: 'error',
      comment: 'Runtime code never imports tests or their fixtures.',
      from: { path: '^src/', pathNot: '\\.test\\.ts$' },
      to: { path: '(^test/|\\.test\\.ts$)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
  },
};
