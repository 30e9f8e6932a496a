// ESLint flat config: @eslint/js + typescript-eslint recommended rules over the TypeScript and
// JavaScript sources. `npm run lint` runs it with --max-warnings 0.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Globals for plain .js/.mjs/.cjs files (TypeScript files are checked by tsc, which knows them).
// The `globals` package is not a dependency, so the few that scripts use are listed here.
const nodeGlobals = {
  process: 'readonly',
  console: 'readonly',
  URL: 'readonly',
  setTimeout: 'readonly',
  clearTimeout: 'readonly',
  Buffer: 'readonly',
  performance: 'readonly',
};

// Layers one way (docs/ARCHITECTURE.md): each group of files may not import the layers above it.
const PURE = [
  'src/core/**',
  'src/defs/**',
  'src/methods/**',
  'src/reference/**',
  'src/model/graph.ts',
  'src/model/layers.ts',
  'src/model/spec.ts',
  'src/model/onnx_convert.ts',
  'src/model/onnx_proto.ts',
  'src/model/onnx_weights.ts',
  'src/render/colormaps.ts',
];
const SHADERS = '*.wgsl?raw';
const layers = [
  {
    files: PURE,
    forbid: [
      '**/gpu/*',
      '**/ops/*',
      '**/attribution/*',
      '**/model/model',
      '**/model/onnx',
      '**/render/*',
      '!**/render/colormaps',
      SHADERS,
    ],
    why: 'pure layers (shapes, op and method definitions, the CPU reference, the graph, the ONNX converter) load no GPU code and no shaders',
  },
  {
    files: ['src/gpu/**'],
    forbid: [
      '**/defs/*',
      '**/methods/*',
      '**/ops/*',
      '**/model/*',
      '**/attribution/*',
      '**/render/*',
      '**/reference/*',
    ],
    why: 'the GPU layer (engine, recorders, kernels) builds on src/core only',
  },
  {
    files: ['src/ops/**'],
    forbid: ['**/methods/*', '**/model/*', '**/attribution/*', '**/render/*', '**/reference/*'],
    why: 'op dispatchers build on src/core, src/defs and src/gpu only',
  },
  {
    files: ['src/model/model.ts', 'src/model/onnx.ts'],
    forbid: ['**/methods/*', '**/attribution/*', '**/render/*', '**/reference/*'],
    why: 'the executor and the ONNX loader know nothing of attribution',
  },
  {
    files: ['src/attribution/**', 'src/render/**'],
    forbid: ['**/reference/*'],
    why: 'the GPU code does not use the CPU reference',
  },
  {
    files: ['src/metrics/**'],
    forbid: ['**/reference/*', '**/render/*', '**/cli/*', '**/element/*'],
    why: 'the metrics are GPU code built on the executor and attribution; they do not use the CPU reference',
  },
  {
    files: ['src/node/**'],
    forbid: [
      '**/gpu/*',
      '**/ops/*',
      '**/model/*',
      '**/attribution/*',
      '**/render/*',
      '**/reference/*',
      '**/defs/*',
      '**/methods/*',
      SHADERS,
    ],
    why: "Node's image files (decode, encode) build on src/core only",
  },
  {
    files: ['src/cli/**'],
    forbid: ['../*', '!../node', '../*/**', SHADERS],
    why: 'the CLI is built on the public API (src/node.ts) alone, like any user of the package',
  },
  {
    files: ['src/element/**'],
    forbid: ['../*', '!../index', '../*/**', SHADERS],
    why: 'the element is built on the public API (src/index.ts) alone, like any user of the package',
  },
].map(({ files, forbid, why }) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: [{ group: forbid, message: why }] }] },
}));

export default tseslint.config(
  {
    // src/model/onnx_pb.*: generated (scripts/gen-onnx-pb.mjs).
    ignores: [
      'dist/',
      'lib/',
      'docs/api/',
      'node_modules/',
      'tools/',
      'weights/',
      'test-artifacts/',
      'test/fixtures/',
      'src/model/onnx_pb.*',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: nodeGlobals,
    },
    rules: {
      // `_`-prefixed names mark intentionally unused arguments and bindings.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  ...layers,
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...nodeGlobals, module: 'writable', require: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
