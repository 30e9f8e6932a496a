/**
 * Progress of a CLI run on stderr: a bar with images per second on a terminal (cli-progress),
 * one line per batch otherwise, or nothing.
 */
import cliProgress from 'cli-progress';

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';
export const PROGRESS_MODES: readonly ProgressMode[] = ['auto', 'bar', 'lines', 'none'];

export class Progress {
  readonly #bar: cliProgress.SingleBar | null = null;
  readonly #lines: boolean;
  readonly #t0 = performance.now();

  constructor(
    mode: ProgressMode,
    readonly total: number,
    readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    const bar = mode === 'bar' || (mode === 'auto' && stream.isTTY === true);
    this.#lines = mode === 'lines' || (mode === 'auto' && !bar);
    if (bar) {
      this.#bar = new cliProgress.SingleBar(
        {
          stream,
          format: 'explain {bar} {value}/{total} images | {rate} img/s | {failed} failed | ETA {eta_formatted}',
          hideCursor: true,
          // Rendered also where stderr is not a terminal when asked for with --progress bar.
          noTTYOutput: mode === 'bar',
          notTTYSchedule: 1000,
        },
        cliProgress.Presets.shades_classic,
      );
      this.#bar.start(total, 0, { rate: '0.0', failed: 0 });
    }
  }

  /** Images per second since the start, over the images done. */
  rate(done: number): number {
    const s = (performance.now() - this.#t0) / 1000;
    return s > 0 ? done / s : 0;
  }

  update(done: number, failed: number): void {
    const rate = this.rate(done).toFixed(1);
    if (this.#bar) this.#bar.update(done, { rate, failed });
    else if (this.#lines)
      this.stream.write(`webgpu-cam: ${done}/${this.total} images, ${rate} img/s, ${failed} failed\n`);
  }

  stop(): void {
    this.#bar?.stop();
  }
}
