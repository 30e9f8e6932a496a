/** Software or hardware adapter: the decision, its reason, and the override. */
import { describe, expect, it, vi } from 'vitest';
import { InvalidInputError } from '../../src/core/errors';
import { adapterKind, describeAdapter, engineAdapter, type AdapterFacts } from '../../src/gpu/device';
import { Engine } from '../../src/gpu/engine';
import { conv2dConfig } from '../../src/ops/conv2d';
import { getEngine } from '../util/gpu';

const info = (vendor: string, architecture = '', device = '', description = '') => ({
  vendor,
  architecture,
  device,
  description,
});

describe('adapterKind', () => {
  it.each<[string, AdapterFacts, 'software' | 'hardware', string]>([
    // What Dawn's Node binding reports for SwiftShader on this machine: the flag on adapter.info.
    [
      'fallback flag on adapter.info (Dawn, newer browsers)',
      {
        info: {
          ...info('google', 'swiftshader', 'swiftshader-device-subzero-', 'SwiftShader driver 5.0.0'),
          isFallbackAdapter: true,
        },
      },
      'software',
      'isFallbackAdapter',
    ],
    [
      'fallback flag on the adapter (older browsers)',
      { isFallbackAdapter: true, info: info('') },
      'software',
      'isFallbackAdapter',
    ],
    // What headless Chromium reports for SwiftShader: only vendor and architecture are filled in.
    ['SwiftShader by name', { info: info('google', 'swiftshader') }, 'software', 'adapter info names SwiftShader'],
    [
      'llvmpipe by name',
      { info: info('mesa', '', '', 'llvmpipe (LLVM 15.0.6, 256 bits)') },
      'software',
      'adapter info names llvmpipe',
    ],
    ['lavapipe by name', { info: info('mesa', 'lavapipe') }, 'software', 'adapter info names lavapipe'],
    [
      'WARP by name',
      { info: info('microsoft', '', '', 'Microsoft Basic Render Driver') },
      'software',
      'adapter info names WARP (Microsoft Basic Render Driver)',
    ],
    [
      'a GPU by name',
      { info: info('nvidia', 'hopper', '', 'NVIDIA H200') },
      'hardware',
      'adapter info names no software renderer',
    ],
    [
      'a GPU whose name contains "warp" inside a word',
      { info: info('acme', 'warpdrive') },
      'hardware',
      'adapter info names no software renderer',
    ],
    [
      'empty adapter info (hidden by the browser)',
      { info: info('') },
      'hardware',
      'adapter info is empty: assumed hardware',
    ],
    ['no adapter info at all', {}, 'hardware', 'adapter info is empty: assumed hardware'],
    [
      'fallback flag false, empty info',
      { isFallbackAdapter: false, info: { ...info(''), isFallbackAdapter: false } },
      'hardware',
      'adapter info is empty: assumed hardware',
    ],
  ])('%s', (_what, facts, kind, reason) => {
    expect(adapterKind(facts)).toEqual({ kind, reason });
    const d = describeAdapter(facts);
    expect(d).toMatchObject({ kind, kindReason: reason, isSoftware: kind === 'software' });
  });

  it('the override wins over every rule, both ways', () => {
    const swiftshader: AdapterFacts = { isFallbackAdapter: true, info: info('google', 'swiftshader') };
    const gpu: AdapterFacts = { info: info('nvidia', 'hopper') };
    expect(adapterKind(swiftshader, 'hardware')).toEqual({
      kind: 'hardware',
      reason: 'set by EngineOptions.adapterKind',
    });
    expect(adapterKind(gpu, 'software')).toEqual({ kind: 'software', reason: 'set by EngineOptions.adapterKind' });
    expect(describeAdapter(gpu, 'software')).toMatchObject({ vendor: 'nvidia', kind: 'software', isSoftware: true });
    expect(() => adapterKind(gpu, 'gpu' as 'hardware')).toThrow(InvalidInputError);
  });

  it("an engine's description: from an adapter, a description, or nothing, with the override applied last", () => {
    expect(engineAdapter(undefined)).toMatchObject({ kind: 'hardware', isSoftware: false });
    expect(engineAdapter(undefined, 'software')).toMatchObject({
      kind: 'software',
      kindReason: 'set by EngineOptions.adapterKind',
      isSoftware: true,
    });
    const d = describeAdapter({ info: info('google', 'swiftshader') });
    expect(engineAdapter(d)).toEqual(d);
    expect(engineAdapter(d, 'hardware')).toMatchObject({ vendor: 'google', kind: 'hardware', isSoftware: false });
    // A description written before `kind` existed keeps its boolean.
    const old = { vendor: 'v', architecture: '', device: '', description: '', isSoftware: true };
    expect(engineAdapter(old as never)).toMatchObject({
      kind: 'software',
      kindReason: 'given in EngineOptions.adapter',
    });
  });
});

describe('on this machine', () => {
  it('the adapter is software by its fallback flag or its name, never by default', async () => {
    const e = await getEngine();
    if (/swiftshader/i.test(`${e.adapter.architecture} ${e.adapter.description}`)) {
      expect(e.adapter.kind).toBe('software');
      expect(e.adapter.kindReason).toMatch(/^(isFallbackAdapter|adapter info names SwiftShader)$/);
    }
    expect(e.adapter.isSoftware).toBe(e.adapter.kind === 'software');
  });

  it.each(['hardware', 'software'] as const)(
    'Engine.create({ device, adapterKind: %s }) tunes the kernels for that kind and says why',
    async (kind) => {
      const e = await getEngine();
      const log = vi.spyOn(console, 'info').mockImplementation(() => {});
      const other = await Engine.create({ device: e.device, adapterKind: kind });
      try {
        expect(other.adapter).toMatchObject({ kind, kindReason: 'set by EngineOptions.adapterKind' });
        expect(conv2dConfig(other)).toMatchObject({ tiled: true, co: kind === 'software' ? 8 : 4 });
        expect(log).toHaveBeenCalledWith(expect.stringMatching(/conv2d kernels .*set by EngineOptions\.adapterKind/));
      } finally {
        log.mockRestore();
        other.destroy();
      }
      // The given device is the caller's: still usable.
      const x = e.upload([1, 2], [2]);
      expect([...(await x.read())]).toEqual([1, 2]);
      x.destroy();
    },
  );
});
