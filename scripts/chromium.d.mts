// Types for scripts/chromium.mjs (plain JavaScript so that Node runs it without a build step).
export declare const CANDIDATES: readonly string[];
export declare function findChromium(env?: NodeJS.ProcessEnv): string | null;
export declare function isRoot(): boolean;
export declare function chromiumArgs(userDataDir: string, env?: NodeJS.ProcessEnv): string[];
/** True when the machine shows a GPU device node (/dev/dri/renderD*, /dev/nvidia0). */
export declare function hasGPU(): boolean;
