/** The PyTorch golden fixtures (tools/make_fixtures.py), read from test/fixtures/. */
import { readFileSync } from 'node:fs';
import type { GraphSpec } from '../../src/model/spec';

export interface FixtureTensor {
  shape: number[];
  data: number[];
}

export interface FixtureMaps {
  /** Channel methods only. */
  weights?: FixtureTensor;
  map: FixtureTensor;
  map_norm: FixtureTensor;
  map_up: FixtureTensor;
}

export interface Fixture {
  version: string;
  name: string;
  graph: GraphSpec;
  input: FixtureTensor;
  layer: string;
  /** A layer with activations of both signs, for the `prerelu:<method>` entries. */
  prerelu_layer: string;
  targets: number[];
  /** The explain options of the sampled input-gradient methods' golden values. */
  sampling: {
    smoothgrad: { samples: number; sigma: number; seed: number };
    integratedGradients: { steps: number; baseline: number };
  };
  expected: {
    logits: FixtureTensor;
    activation: FixtureTensor;
    gradients: FixtureTensor;
    input_gradients: FixtureTensor;
    /** One entry per channel or spatial method, keyed by fixtureKey(method) (cam only for GAP → linear heads). */
    [method: string]: FixtureMaps | FixtureTensor | undefined;
    guided_backprop: FixtureTensor;
    guided_gradcam: FixtureTensor;
  };
}

export const FIXTURES = ['gap_head', 'deep_head', 'residual'] as const;

/** The key of a method's maps in a fixture: its name, with '++' written 'pp' (gradcam++ → gradcampp). */
export function fixtureKey(method: string): string {
  return method.replace(/\+\+/g, 'pp');
}

export function loadFixture(name: string): Fixture {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}.json`, import.meta.url), 'utf8')) as Fixture;
}
