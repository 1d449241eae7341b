import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Where `npm run build:wasm` writes compiled kernels (same relative path from src/ and dist/). */
const WASM_DIR = new URL('../../build/wasm/', import.meta.url);

/** Bytes of linear memory left at the bottom for the AssemblyScript runtime's own data. */
export const WASM_RESERVED_BYTES = 65536;

const modules = new Map<string, WebAssembly.Module | null>();

/**
 * The compiled kernel `build/wasm/<name>.wasm`, or null when it has not been built; callers then
 * fall back to their JavaScript kernels. Compiled once per process.
 */
export function loadWasmModule(name: string): WebAssembly.Module | null {
  if (!modules.has(name)) {
    let module: WebAssembly.Module | null = null;
    try {
      module = new WebAssembly.Module(
        readFileSync(fileURLToPath(new URL(`${name}.wasm`, WASM_DIR))),
      );
    } catch {
      module = null;
    }
    modules.set(name, module);
  }
  return modules.get(name) ?? null;
}

/** A bump allocator of 16-byte-aligned regions, laid out before the memory is created. */
export class WasmLayout {
  private next = WASM_RESERVED_BYTES;

  /** Reserves `bytes` and returns their offset. */
  reserve(bytes: number): number {
    const offset = this.next;
    this.next += Math.ceil(bytes / 16) * 16;
    return offset;
  }

  /** 64 KiB pages needed for everything reserved so far. */
  get pages(): number {
    return Math.ceil(this.next / 65536);
  }
}
