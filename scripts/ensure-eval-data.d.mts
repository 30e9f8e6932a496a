// Types for scripts/ensure-eval-data.mjs (plain JavaScript so that Node runs it without a build step).
export declare const FMNIST_DIR: string;
export declare const FMNIST_FILES: readonly string[];
export declare const EVAL_PACKAGES: readonly string[];
/** What is missing, in words, or null when nothing is. */
export declare function missing(): string[] | null;
/** Installs what is missing where it can; null when all is there, else what to install. */
export declare function ensureEvalData(): string | null;
