/**
 * The evaluation's progress bar over scenes (cli-progress). Without a terminal (CI logs) it
 * prints the bar every 10 s instead of redrawing it.
 */
import { Presets, SingleBar } from 'cli-progress';

/** A bar labelled `label`, counting scenes. */
export function sceneBar(label: string): SingleBar {
  return new SingleBar(
    {
      format: `${label} {bar} {value}/{total} scenes | {eta_formatted} left`,
      noTTYOutput: true,
      notTTYSchedule: 10_000,
    },
    Presets.shades_classic,
  );
}
