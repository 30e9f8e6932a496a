/** The localization metrics, from the library (src/metrics/localization.ts, behind evaluate()). */
export { coveredInstances, energyInBoxes, gradientSaliency, pointingHit } from '../src/metrics/localization';
