// validate() where libxml2's wasm cannot be instantiated (a page whose
// content security policy forbids WebAssembly, a runtime without it): it
// rejects with a VirError at once instead of hanging, and a later call, once
// the wasm can load, works (the failure is not cached). Each test loads a
// fresh copy of the module, since the loaded engine is kept per module.
import { afterEach, describe, expect, it, vi } from 'vitest';

const CPU = "<cpu mode='custom' match='exact'><model>Haswell</model></cpu>";

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe('validate() when the wasm cannot load', () => {
  it('rejects with NO_SUPPORT, then works once WebAssembly is back', async () => {
    vi.resetModules();
    const { validate } = await import('../../src/xml/validate.js');
    vi.spyOn(console, 'error').mockImplementation(() => undefined); // emscripten's own report
    const refused = new Error('WebAssembly is disabled here');
    vi.stubGlobal('WebAssembly', {
      ...WebAssembly,
      instantiate: () => Promise.reject(refused),
      instantiateStreaming: () => Promise.reject(refused),
    });
    const started = Date.now();
    await expect(validate(CPU, 'cpu')).rejects.toMatchObject({ name: 'VirError', code: 'NO_SUPPORT' });
    expect(Date.now() - started).toBeLessThan(5_000);
    vi.unstubAllGlobals();
    await expect(validate(CPU, 'cpu')).resolves.toEqual({ valid: true, errors: [] });
  });

  it('checks its arguments before loading anything', async () => {
    vi.resetModules();
    const { validate } = await import('../../src/xml/validate.js');
    vi.stubGlobal('WebAssembly', undefined);
    await expect(validate(CPU, 'nonsense' as 'cpu')).rejects.toMatchObject({ code: 'INVALID_ARG' });
    // a refused document needs no wasm either
    expect(await validate('<!DOCTYPE cpu><cpu/>', 'cpu')).toMatchObject({ valid: false });
  });
});
