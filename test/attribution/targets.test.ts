/**
 * Targets other than the logit (src/attribution/targets.ts): the softmax probability and the
 * sigmoid as explained scores, seed vectors over the classes, every class above a threshold.
 * The CPU reference against PyTorch autograd of the scores themselves (tools/make_fixtures.py,
 * 'score_targets'), the GPU engine against the CPU reference, and the refused combinations.
 */
import { describe, expect, it } from 'vitest';
import { explain } from '../../src/attribution/explain';
import { InvalidInputError, MethodNotApplicableError } from '../../src/core/errors';
import { Model } from '../../src/model/model';
import { explainReference } from '../../src/reference/explain';
import { RefModel } from '../../src/reference/model';
import { hostTensor } from '../../src/reference/tensor';
import { FIXTURES, loadFixture, type FixtureMaps, type FixtureTensor } from '../cases/fixtures';
import { expectAllclose, MAPS, NETWORK, type Tol } from '../util/compare';
import { getEngine } from '../util/gpu';

// As in pytorch.test.ts: both float64 on the same float32 weights, fixtures with 9 digits.
const REF_TOL: Tol = { atol: 1e-8, rtol: 1e-6 };
const REF_MAP_TOL: Tol = { atol: 1e-6, rtol: 1e-6 };

interface Scored {
  score: FixtureTensor;
  gradients: FixtureTensor;
  input_gradients: FixtureTensor;
  gradcam: FixtureMaps;
}
interface ScoreTargets {
  seed_vector: number[];
  probability: Scored;
  sigmoid: Scored;
  seed: Scored;
  seed_probability: Scored;
  above: Record<'sigmoid' | 'probability', { threshold: number; classes: number[] }>;
}

/** The explain options of each golden entry. */
function cases(fx: ReturnType<typeof loadFixture>, st: ScoreTargets) {
  return [
    { name: 'probability', want: st.probability, opts: { targets: fx.targets, score: 'probability' as const } },
    { name: 'sigmoid', want: st.sigmoid, opts: { targets: fx.targets, score: 'sigmoid' as const } },
    { name: 'seed', want: st.seed, opts: { targets: { seed: st.seed_vector } } },
    {
      name: 'seed_probability',
      want: st.seed_probability,
      opts: { targets: { seed: st.seed_vector }, score: 'probability' as const },
    },
  ];
}

describe.each(FIXTURES)('fixture %s', (name) => {
  const fx = loadFixture(name);
  const st = (fx as unknown as { score_targets: ScoreTargets }).score_targets;
  const x = hostTensor(fx.input.shape, fx.input.data);
  const methods = ['gradcam', 'saliency'] as const;

  it.each(cases(fx, st))('the CPU reference equals PyTorch autograd: $name', ({ want, opts }) => {
    const ref = explainReference(new RefModel(fx.graph), x, { methods, layer: fx.layer, ...opts });
    expectAllclose(ref.gradients.data, want.gradients.data, REF_TOL, 'gradients');
    const cam = ref.maps.gradcam!;
    expectAllclose(cam.weights!.data, want.gradcam.weights!.data, REF_TOL, 'gradcam weights');
    expectAllclose(cam.raw!.data, want.gradcam.map.data, REF_TOL, 'gradcam map');
    expectAllclose(cam.input!.data, want.gradcam.map_up.data, REF_MAP_TOL, 'gradcam upsampled map');
    const saliency = want.input_gradients.data.map(Math.abs);
    expectAllclose(ref.maps.saliency!.input!.data, saliency, REF_TOL, 'saliency');
  });

  it.each(['sigmoid', 'probability'] as const)('the CPU reference picks the classes above a threshold: %s', (s) => {
    const { threshold, classes } = st.above[s];
    const ref = explainReference(new RefModel(fx.graph), x, {
      methods: ['gradcam'],
      layer: fx.layer,
      targets: { above: threshold },
      score: s === 'probability' ? 'probability' : 'logit',
    });
    expect(ref.classes).toEqual([classes]);
  });
});
