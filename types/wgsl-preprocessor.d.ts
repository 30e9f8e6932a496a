declare module 'wgsl-preprocessor/wgsl-preprocessor.js' {
  /** Template-literal tag: resolves `#if ${cond}` / `#elif` / `#else` / `#endif` blocks. */
  export function wgsl(strings: TemplateStringsArray | readonly string[], ...values: unknown[]): string;
}
